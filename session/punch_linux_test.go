//go:build linux

package session

import (
	"bytes"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/wstap/wstap/decode"
	"golang.org/x/sys/unix"
)

// allocated is how many bytes of disk the spill file takes.
func allocated(t *testing.T, sp *spill) int64 {
	t.Helper()
	fi, err := sp.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestSpillReclaim: a spill that reclaims gives the disk blocks of a
// stream it lets go back, those written through the write-back and those
// written at once alike, and what another stream wrote reads back
// unchanged; one that does not reclaim keeps them, as does one draining
// (about to be closed).
func TestSpillReclaim(t *testing.T) {
	for _, mode := range []string{"reclaim", "off", "draining"} {
		sp, err := newSpill(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		sp.reclaim = mode != "off"
		reclaim := mode == "reclaim"
		var kept, long spillStream
		piece := bytes.Repeat([]byte("kept connection "), 200)
		var keptOffs []int64
		for range 100 {
			off, err := sp.append(&kept, piece)
			if err != nil {
				t.Fatal(err)
			}
			keptOffs = append(keptOffs, off)
		}
		if err := sp.flush(&kept); err != nil {
			t.Fatal(err)
		}
		// Past the write-back budget and the recent extents: the kept
		// stream is written and read back from the file, as are the
		// long one's oldest extents; its big payloads are written at
		// once.
		small := make([]byte, directPayload/2)
		for i := range 2 * (writeBackBytes + recentBytes) / len(small) {
			small[0] = byte(i)
			if _, err := sp.append(&long, small); err != nil {
				t.Fatal(err)
			}
		}
		big := make([]byte, bigPayload)
		for range 8 {
			if _, err := sp.append(&long, big); err != nil {
				t.Fatal(err)
			}
		}
		before := allocated(t, sp)
		if mode == "draining" {
			sp.draining()
		}
		if before < writeBackBytes {
			t.Fatalf("%s: %d bytes on disk before letting go, want at least %d", mode, before, writeBackBytes)
		}
		sp.letGo(&long)
		after := allocated(t, sp)
		keptBytes := int64(len(keptOffs) * len(piece))
		if reclaim {
			if after > keptBytes+maxExtent {
				t.Errorf("%d bytes on disk after letting the long stream go (%d before), want at most the kept stream's %d and an extent", after, before, keptBytes)
			}
			if got := sp.reclaimed.Load(); got < before-after {
				t.Errorf("reclaimed %d bytes, but the disk shrank by %d", got, before-after)
			}
		} else if after < before || sp.reclaimed.Load() != 0 {
			t.Errorf("%s: %d bytes on disk before, %d after, %d reclaimed", mode, before, after, sp.reclaimed.Load())
		}
		for _, off := range keptOffs {
			if got, err := sp.readAt(nil, off, len(piece)); err != nil || !bytes.Equal(got, piece) {
				t.Fatalf("%s: reading the kept stream at %d: %v", mode, off, err)
			}
		}
		sp.close()
	}
}

// isHole says whether the n bytes at off of the spill file hold no data
// on disk (SEEK_DATA finds none before their end).
func isHole(t *testing.T, sp *spill, off, n int64) bool {
	t.Helper()
	next, err := unix.Seek(int(sp.f.Fd()), off, unix.SEEK_DATA)
	if err == unix.ENXIO {
		return true // no data from off to the end of the file
	}
	if err != nil {
		t.Fatal(err)
	}
	return next >= off+n
}

// TestStoreReclaimsLog: with LetGo, the blocks of the store's log that
// every follower passed are given back to the disk once written; before
// the followers passed them they were on it.
func TestStoreReclaimsLog(t *testing.T) {
	s := testStoreWith(t, StoreOptions{LetGo: true})
	tap := NewTap(s, TapOptions{})
	held := &blockingSink{release: make(chan struct{})}
	events := s.FollowEvents(held)
	conns := s.FollowConns(&connSink{})
	// The event sink holds everything back: nothing is let go past what
	// its replay copied into its pipe's batches (a block of the log
	// each, see replayPipe), and the connections' payloads push the log's
	// first blocks out to the file.
	for i := 0; s.sp.size() < 2*writeBackBytes; i++ {
		c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test", Opened: t0})
		conversation(c, rand.New(rand.NewPCG(uint64(i), 5)), 300)
	}
	s.mu.Lock()
	blocks := append([]int64(nil), s.items.spilled...)
	s.mu.Unlock()
	held1 := pipeBatches + 1 // the first block no batch of the pipe holds
	if len(blocks) < held1+3 || isHole(t, s.sp, blocks[held1], blockRecords*itemRecSize) {
		t.Fatalf("%d blocks of the log spilled, block %d on disk: %v", len(blocks), held1, len(blocks) > held1 && !isHole(t, s.sp, blocks[held1], blockRecords*itemRecSize))
	}
	close(held.release)
	for _, f := range []*Following{events, conns} {
		if err := f.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	for b, off := range blocks {
		if !isHole(t, s.sp, off, blockRecords*itemRecSize) {
			t.Errorf("block %d of the log (at %d), which every follower passed, is still on disk", b, off)
		}
	}
}

// TestSpillPass: blocks passed while in memory are never written when
// their extent is passed whole (it is forgotten, and leaves the
// write-back budget), and punched out when their extent is written with
// others not yet passed, which read back unchanged.
func TestSpillPass(t *testing.T) {
	sp, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	sp.reclaim = true
	const block = blockRecords * itemRecSize
	var log spillStream
	appendBlocks := func(n int) (offs []int64, blocks [][]byte) {
		for i := range n {
			b := bytes.Repeat([]byte{byte(len(offs) + i + 1)}, block)
			off, err := sp.append(&log, b)
			if err != nil {
				t.Fatal(err)
			}
			offs, blocks = append(offs, off), append(blocks, b)
		}
		return offs, blocks
	}
	// Passed whole: never written.
	offs, _ := appendBlocks(20)
	if err := sp.flush(&log); err != nil {
		t.Fatal(err)
	}
	sp.mu.Lock()
	waiting := sp.waitingBytes
	sp.mu.Unlock()
	for _, off := range offs {
		if !sp.pass(off, block) {
			t.Fatalf("the block at %d, in memory, was not taken as passed", off)
		}
	}
	sp.mu.Lock()
	left, writes := sp.waitingBytes, sp.writes
	sp.mu.Unlock()
	if waiting < 20*block || left != 0 || writes != 0 {
		t.Fatalf("%d bytes waited, %d wait after passing them all, %d writes: want 0 and 0", waiting, left, writes)
	}
	if got := allocated(t, sp); got != 0 {
		t.Errorf("%d bytes on disk for a log passed whole in memory", got)
	}
	// Passed while being filled: forgotten once filled.
	offs, _ = appendBlocks(3)
	for _, off := range offs {
		if !sp.pass(off, block) {
			t.Fatalf("the block at %d, in memory, was not taken as passed", off)
		}
	}
	if err := sp.flush(&log); err != nil {
		t.Fatal(err)
	}
	sp.mu.Lock()
	left = sp.waitingBytes
	sp.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d bytes wait after an extent passed while being filled was filled", left)
	}
	// Partly passed, then written: the passed part goes (two extents
	// whole, and two blocks of a third), the rest stays.
	const passed = 12
	offs, blocks := appendBlocks(20)
	if err := sp.flush(&log); err != nil {
		t.Fatal(err)
	}
	for _, off := range offs[:passed] {
		if !sp.pass(off, block) {
			t.Fatalf("the block at %d, in memory, was not taken as passed", off)
		}
	}
	sp.mu.Lock()
	sp.maxWaiting = 0
	err = sp.writeBack() // releases mu
	if err != nil {
		t.Fatal(err)
	}
	for i, off := range offs {
		if i < passed {
			// Its extent may have been forgotten whole before the write,
			// or punched after it: a hole either way.
			if !isHole(t, sp, off, block) {
				t.Errorf("passed block %d (at %d) is on disk", i, off)
			}
			continue
		}
		if got, err := sp.readAt(nil, off, block); err != nil || !bytes.Equal(got, blocks[i]) {
			t.Fatalf("block %d, not passed, reads back wrong (%v)", i, err)
		}
		if sp.pass(off, block) {
			t.Errorf("block %d, written, was taken as passed in memory", i)
		}
	}
	if sp.writes == 0 {
		t.Fatal("nothing was written")
	}
}
