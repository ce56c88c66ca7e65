package session

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

// TestSpillReadBack appends payloads of every size class (small ones into
// their stream's extent, large ones written directly) from several
// streams at once, so that extents fill, grow and are written while others
// are being filled, and reads them back in random order after overwriting
// some: from extents still in memory, from cached chunks and from the
// file. It also checks that each stream's bytes lie together.
func TestSpillReadBack(t *testing.T) {
	sp, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	rng := rand.New(rand.NewPCG(1, 2))
	streams := make([]spillStream, 7)
	var want [][]byte
	var offs []int64
	var owner []int
	for total := 0; total < 6*maxActiveBytes/4; {
		n := rng.IntN(3000)
		if rng.IntN(40) == 0 {
			n = directPayload + rng.IntN(3*maxExtent)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		k := rng.IntN(len(streams))
		off, err := sp.append(&streams[k], b)
		if err != nil {
			t.Fatal(err)
		}
		want, offs, owner = append(want, b), append(offs, off), append(owner, k)
		total += n
		if rng.IntN(500) == 0 {
			if err := sp.flush(&streams[rng.IntN(len(streams))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A small payload of a stream follows the one before it in the same
	// extent, unless that extent was full.
	together, apart := 0, 0
	last := map[int]int{}
	for i := range want {
		if j, ok := last[owner[i]]; ok && len(want[i]) > 0 && len(want[i]) < directPayload && len(want[j]) < directPayload {
			if offs[i] == offs[j]+int64(len(want[j])) {
				together++
			} else {
				apart++
			}
		}
		last[owner[i]] = i
	}
	if together < 10*apart {
		t.Errorf("%d payloads follow their stream's last one, %d do not", together, apart)
	}
	// Overwrite a piece of every tenth payload, wherever it lives now.
	for i := 0; i < len(want); i += 10 {
		if len(want[i]) < 8 {
			continue
		}
		patch := []byte(fmt.Sprintf("%08d", i))
		at := rng.IntN(len(want[i]) - 7)
		if err := sp.overwrite(offs[i]+int64(at), patch); err != nil {
			t.Fatal(err)
		}
		copy(want[i][at:], patch)
	}
	check := func(when string) {
		for _, i := range rng.Perm(len(want)) {
			got, err := sp.readAt(nil, offs[i], len(want[i]))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[i]) {
				t.Fatalf("%s: payload %d (%d bytes at %d) reads back differently", when, i, len(want[i]), offs[i])
			}
		}
	}
	check("with extents in memory")
	for i := range streams {
		if err := sp.flush(&streams[i]); err != nil {
			t.Fatal(err)
		}
	}
	check("all written")
	if _, err := sp.readAt(nil, sp.size()-1, 2); err == nil {
		t.Error("a read past the end succeeded")
	}
}

// TestSpillUnlinked: the spill file is gone from its directory as soon as
// it is made, so that nothing is left behind whatever ends the process.
func TestSpillUnlinked(t *testing.T) {
	dir := t.TempDir()
	sp, err := newSpill(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	if _, err := sp.append(&spillStream{}, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the spill directory holds %v", entries)
	}
}

// TestSpillWriteFailure: once a write fails (a full disk), append says so
// with the file's name, appends nothing more, and what was written before
// stays readable.
func TestSpillWriteFailure(t *testing.T) {
	sp, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	first := bytes.Repeat([]byte("kept "), bigPayload/5+1)
	off, err := sp.append(&spillStream{}, first) // written at once
	if err != nil {
		t.Fatal(err)
	}
	// The same file, read-only: writes fail from now on, reads work.
	ro, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", sp.f.Fd()))
	if err != nil {
		t.Skipf("no /proc to reopen the spill file read-only: %v", err)
	}
	sp.f = ro
	if _, err := sp.append(&spillStream{}, bytes.Repeat([]byte("x"), bigPayload)); err == nil {
		t.Fatal("append succeeded on a file that cannot be written")
	} else if !bytes.Contains([]byte(err.Error()), []byte("writing the spill file")) {
		t.Errorf("error %q does not say what failed", err)
	}
	if _, err := sp.append(&spillStream{}, []byte("more")); err == nil {
		t.Error("append succeeded after a failure")
	}
	got, err := sp.readAt(nil, off, len(first))
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("what was written before the failure: %v", err)
	}
}

// TestSpillWriteBack: filled extents wait in memory up to writeBackBytes
// and are read from there; past it the oldest are written and read back
// from the file; a stream let go drops what still waits without writing
// it, and forgets the rest.
func TestSpillWriteBack(t *testing.T) {
	sp, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	var short spillStream
	piece := bytes.Repeat([]byte("short connection "), 100)
	var offs []int64
	for range 50 {
		off, err := sp.append(&short, piece)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	if err := sp.flush(&short); err != nil {
		t.Fatal(err)
	}
	if sp.writes != 0 || sp.waitingBytes == 0 {
		t.Fatalf("a short stream was written at once (%d writes, %d bytes waiting)", sp.writes, sp.waitingBytes)
	}
	for _, off := range offs {
		if got, err := sp.readAt(nil, off, len(piece)); err != nil || !bytes.Equal(got, piece) {
			t.Fatalf("reading a waiting extent at %d: %v", off, err)
		}
	}

	// A long stream goes past the budget: its oldest extents are written
	// (and the short one's, older still), and read back from the file
	// once the recent ones are let go of too.
	var long spillStream
	big := make([]byte, directPayload/2)
	var longOffs []int64
	for i := range 2 * (writeBackBytes + recentBytes) / len(big) {
		for j := range big {
			big[j] = byte(i + j)
		}
		off, err := sp.append(&long, big)
		if err != nil {
			t.Fatal(err)
		}
		longOffs = append(longOffs, off)
	}
	if sp.writes == 0 || sp.waitingBytes > writeBackBytes {
		t.Fatalf("past the budget: %d writes, %d bytes waiting", sp.writes, sp.waitingBytes)
	}
	for i, off := range longOffs {
		for j := range big {
			big[j] = byte(i + j)
		}
		if got, err := sp.readAt(nil, off, len(big)); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("reading back payload %d at %d: %v", i, off, err)
		}
	}
	if got, err := sp.readAt(nil, offs[0], len(piece)); err != nil || !bytes.Equal(got, piece) {
		t.Fatalf("reading back the short stream from the file: %v", err)
	}
	// Whole blocks, as records are read: from the file at once, or from
	// memory for the pages held there (the newest extents).
	fromFile := 0
	for i, off := range longOffs {
		for j := range big {
			big[j] = byte(i + j)
		}
		sp.mu.Lock()
		inFile := sp.pages[off/spillPage] == nil
		sp.mu.Unlock()
		if inFile {
			fromFile++
		}
		if got, err := sp.readWhole([]byte("x"), off, len(big)); err != nil || !bytes.Equal(got, append([]byte("x"), big...)) {
			t.Fatalf("reading payload %d at %d whole (from the file: %v): %v", i, off, inFile, err)
		}
	}
	if fromFile == 0 || fromFile == len(longOffs) {
		t.Fatalf("%d of %d payloads read whole from the file, want some but not all", fromFile, len(longOffs))
	}

	// Let go: nothing of the long stream is held any more, and the
	// waiting bytes it had are gone without a write.
	writes := sp.writes
	sp.letGo(&long)
	if len(long.held) != 0 || sp.waitingBytes != 0 || sp.writes != writes {
		t.Fatalf("after letting go: %d extents held, %d bytes waiting, %d more writes", len(long.held), sp.waitingBytes, sp.writes-writes)
	}
	for _, e := range sp.pages {
		if e.owner == &long {
			t.Fatal("a page still maps to an extent of the stream let go")
		}
	}
}

// TestSpillConcurrent: decoders append to streams of their own, small
// payloads and direct ones, while readers read back what was appended
// before, from every place it can be (an extent being filled or written,
// a recent one, a cached chunk, the file). Every read gives the bytes
// appended. Each stream has an owner whose lock is held to append to it
// and to read it back, as a connection's is in the store.
func TestSpillConcurrent(t *testing.T) {
	sp, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	type written struct {
		owner int
		off   int64
		data  []byte
	}
	var owners [4]sync.Mutex
	var mu sync.Mutex
	var done []written
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var st spillStream
			for i := range 3000 {
				n := 1 + rng.IntN(2000)
				if i%50 == 0 {
					n = directPayload + rng.IntN(maxExtent)
				}
				b := bytes.Repeat([]byte{byte(w*16 + i%16)}, n)
				owners[w].Lock()
				off, err := sp.append(&st, b)
				owners[w].Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				done = append(done, written{w, off, b})
				mu.Unlock()
			}
			owners[w].Lock()
			defer owners[w].Unlock()
			if err := sp.flush(&st); err != nil {
				t.Error(err)
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				if len(done) == 0 {
					mu.Unlock()
					continue
				}
				// Mostly the latest: their neighbours in the file are
				// being written.
				i := rng.IntN(len(done))
				if rng.IntN(4) > 0 {
					i = max(0, len(done)-1-rng.IntN(16))
				}
				w := done[i]
				mu.Unlock()
				owners[w.owner].Lock()
				got, err := sp.readAt(nil, w.off, len(w.data))
				owners[w.owner].Unlock()
				if err != nil || !bytes.Equal(got, w.data) {
					t.Errorf("%d bytes at %d read back wrong: %v", len(w.data), w.off, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	for _, w := range done {
		if got, err := sp.readAt(nil, w.off, len(w.data)); err != nil || !bytes.Equal(got, w.data) {
			t.Fatalf("%d bytes at %d read back wrong at the end: %v", len(w.data), w.off, err)
		}
	}
}

// readThrough reads n bytes at off through rc, or with readAt when a copy
// does not hold that many, as the store does.
func readThrough(sp *spill, off int64, n int, st *spillStream, rc *readCopy) ([]byte, error) {
	p, ok, err := sp.readCopied(off, n, [2]*spillStream{st}, rc)
	if ok {
		return p, err
	}
	return sp.readAt(nil, off, n)
}

// TestSpillReadCopied: bytes that no longer change read through a
// reader's copy are the bytes appended, in any order and across streams,
// while another stream goes on appending (extents written back, their
// buffers reused, chunks of the file cached and evicted).
func TestSpillReadCopied(t *testing.T) {
	sp, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	type written struct {
		off    int64
		data   []byte
		stream *spillStream
	}
	rng := rand.New(rand.NewPCG(9, 9))
	var ended []written
	var streams [3]spillStream
	for st := range streams {
		stream := &streams[st]
		for i := range 400 {
			b := bytes.Repeat([]byte{byte(st*100 + i%100)}, 1+rng.IntN(3000))
			off, err := sp.append(stream, b)
			if err != nil {
				t.Fatal(err)
			}
			ended = append(ended, written{off, b, stream})
		}
		if err := sp.flush(stream); err != nil {
			t.Fatal(err)
		}
	}
	var busy spillStream
	filler := bytes.Repeat([]byte("busy "), 4000)
	var rc readCopy
	for i := range 20000 {
		if i%10 == 0 {
			if _, err := sp.append(&busy, filler); err != nil {
				t.Fatal(err)
			}
		}
		w := ended[rng.IntN(len(ended))]
		if rng.IntN(3) > 0 && i > 0 {
			// Mostly the next payload of the one read before: in
			// the copy.
			w = ended[min(len(ended)-1, i%len(ended))]
		}
		got, err := readThrough(sp, w.off, len(w.data), w.stream, &rc)
		if err != nil || !bytes.Equal(got, w.data) {
			t.Fatalf("read %d: %d bytes at %d read back wrong: %v", i, len(w.data), w.off, err)
		}
	}
	if sp.writes == 0 {
		t.Fatal("nothing was written back: the test did not reach the file")
	}

	// The copy is the reader's own: the extent it was read from is then
	// written back, forgotten and its buffer filled again by another
	// stream, and what the copy holds is still what was appended.
	var ended2 spillStream
	first, second := bytes.Repeat([]byte{1}, 100), bytes.Repeat([]byte{2}, 100)
	off1, err := sp.append(&ended2, first)
	if err != nil {
		t.Fatal(err)
	}
	off2, err := sp.append(&ended2, second)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.flush(&ended2); err != nil {
		t.Fatal(err)
	}
	rc = readCopy{}
	if got, err := readThrough(sp, off1, len(first), &ended2, &rc); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("reading the first payload: %v", err)
	}
	// Short streams of a page each: their extents take the recycled
	// buffers of that size, the latest first.
	for range (writeBackBytes + recentBytes + maxFreeBytes) / spillPage * 2 {
		var short spillStream
		if _, err := sp.append(&short, filler[:spillPage-100]); err != nil {
			t.Fatal(err)
		}
		if err := sp.flush(&short); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readThrough(sp, off2, len(second), &ended2, &rc); err != nil || !bytes.Equal(got, second) {
		t.Fatalf("the second payload, from the copy, after its extent's buffer was used again: %v", err)
	}
}

// TestSpillCopyStaysInStream: streams appended to in turn lie in the file
// in interleaved extents; a reader's copy read from the file holds only
// its own stream's bytes, so that reading one stream back in order does
// not read the others'.
func TestSpillCopyStaysInStream(t *testing.T) {
	sp, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	sp.reclaim = true // streams note the spans they wrote
	type written struct {
		off  int64
		data []byte
	}
	var streams [3]spillStream
	var appended [3][]written
	rng := rand.New(rand.NewPCG(5, 5))
	// More than waits and stays recent in memory: the first half of each
	// stream is read from the file.
	for total := 0; total < 2*(writeBackBytes+recentBytes); {
		for st := range streams {
			b := make([]byte, 1+rng.IntN(3000))
			for i := range b {
				b[i] = byte(st*50 + rng.IntN(50))
			}
			off, err := sp.append(&streams[st], b)
			if err != nil {
				t.Fatal(err)
			}
			appended[st] = append(appended[st], written{off, b})
			total += len(b)
		}
	}
	for st := range streams {
		if err := sp.flush(&streams[st]); err != nil {
			t.Fatal(err)
		}
	}
	for st := range streams {
		var rc readCopy
		copies := 0
		for i, w := range appended[st] {
			before := rc.start
			got, err := readThrough(sp, w.off, len(w.data), &streams[st], &rc)
			if err != nil || !bytes.Equal(got, w.data) {
				t.Fatalf("stream %d, payload %d: %d bytes at %d read back wrong: %v", st, i, len(w.data), w.off, err)
			}
			if i >= len(appended[st])/2 || rc.start == before {
				continue
			}
			copies++
			// A new copy, from the file: within one span the stream wrote.
			in := false
			sp.mu.Lock()
			for _, span := range streams[st].written {
				in = in || span.start <= rc.start && rc.start+int64(len(rc.data)) <= span.end
			}
			sp.mu.Unlock()
			if !in {
				t.Fatalf("stream %d, payload %d: the copy of [%d, %d) runs out of the stream's spans", st, i, rc.start, rc.start+int64(len(rc.data)))
			}
		}
		if copies == 0 {
			t.Fatalf("stream %d: nothing was copied from the file", st)
		}
	}
}
