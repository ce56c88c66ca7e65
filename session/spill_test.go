package session

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// TestSpillReadBack appends payloads of every size class (small ones that
// stay in the buffers, large ones written directly), past both buffers so
// that most of them are read back from the file through the chunk cache,
// and reads them back in random order, in pieces, after overwriting some.
func TestSpillReadBack(t *testing.T) {
	sp, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	rng := rand.New(rand.NewPCG(1, 2))
	var want [][]byte
	var offs []int64
	for total := 0; total < 3*spillBuffer; {
		n := rng.IntN(5000)
		if rng.IntN(50) == 0 {
			n = spillBuffer/4 + rng.IntN(spillBuffer/2) // written directly
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		off, err := sp.append(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(offs) > 0 && off != offs[len(offs)-1]+int64(len(want[len(want)-1])) {
			t.Fatalf("payload %d at %d; the one before ended at %d", len(offs), off, offs[len(offs)-1]+int64(len(want[len(want)-1])))
		}
		want, offs = append(want, b), append(offs, off)
		total += n
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
	for _, i := range rng.Perm(len(want)) {
		got, err := sp.readAt(nil, offs[i], len(want[i]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("payload %d (%d bytes at %d) reads back differently", i, len(want[i]), offs[i])
		}
	}
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
	if _, err := sp.append([]byte("payload")); err != nil {
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
	first := bytes.Repeat([]byte("kept "), spillBuffer/5+1)
	off, err := sp.append(first) // over a quarter of a buffer: written directly
	if err != nil {
		t.Fatal(err)
	}
	// The same file, read-only: writes fail from now on, reads work.
	ro, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", sp.f.Fd()))
	if err != nil {
		t.Skipf("no /proc to reopen the spill file read-only: %v", err)
	}
	sp.f = ro
	if _, err := sp.append(bytes.Repeat([]byte("x"), spillBuffer)); err == nil {
		t.Fatal("append succeeded on a file that cannot be written")
	} else if !bytes.Contains([]byte(err.Error()), []byte("writing the spill file")) {
		t.Errorf("error %q does not say what failed", err)
	}
	if _, err := sp.append([]byte("more")); err == nil {
		t.Error("append succeeded after a failure")
	}
	got, err := sp.readAt(nil, off, len(first))
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("what was written before the failure: %v", err)
	}
}
