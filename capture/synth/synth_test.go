package synth_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wstap/wstap/capture/synth"
)

func TestConversations(t *testing.T) {
	convs := testConvs()
	_, data := writeFile(t, convs)
	segs := readSegs(t, data)
	for _, c := range convs {
		t.Run(c.wireClient, func(t *testing.T) { checkConv(t, segs, c) })
	}
	for i := 1; i < len(segs); i++ {
		if segs[i].at.Before(segs[i-1].at) {
			t.Fatalf("packet %d is earlier than the one before", i+1)
		}
	}
}

// wrapISN starts both directions just below 2^32, so that the 100 KiB
// messages carry the sequence numbers across the wrap (RFC 9293 3.4).
func wrapISN(uint64) (uint32, uint32) { return 0xffffffff - 3000, 0xffffffff - 40000 }

// writeWrapped writes a conversation whose sequence numbers wrap.
func writeWrapped(t testing.TB) (conv, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	synth.SetISN(w, wrapISN)
	c := newConv("192.0.2.40:50040", "198.51.100.40:8080", "wrap", false)
	writeConvs(t, w, []conv{c})
	return c, buf.Bytes()
}

func TestSequenceWraps(t *testing.T) {
	c, data := writeWrapped(t)
	checkConv(t, readSegs(t, data), c)
}

// TestDeterministic: the same calls give the same file, byte for byte.
func TestDeterministic(t *testing.T) {
	_, a := writeFile(t, testConvs())
	_, b := writeFile(t, testConvs())
	if !bytes.Equal(a, b) {
		t.Fatal("two runs of the same calls wrote different files")
	}
}

// TestISNsDiffer: streams get initial sequence numbers of their own.
func TestISNsDiffer(t *testing.T) {
	_, data := writeFile(t, testConvs())
	seen := map[uint32]bool{}
	for _, s := range readSegs(t, data) {
		if s.syn {
			if seen[s.seq] {
				t.Fatalf("ISN %d used twice", s.seq)
			}
			seen[s.seq] = true
		}
	}
}

func TestClosed(t *testing.T) {
	cl, sv := netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:80")
	tests := []struct {
		name string
		run  func(s *synth.Stream, at time.Time) error
	}{
		{"data after own FIN", func(s *synth.Stream, at time.Time) error {
			must(t, s.CloseWrite(true, at))
			return s.Write(true, at, []byte("x"))
		}},
		{"second FIN", func(s *synth.Stream, at time.Time) error {
			must(t, s.CloseWrite(false, at))
			return s.CloseWrite(false, at)
		}},
		{"data after RST", func(s *synth.Stream, at time.Time) error {
			must(t, s.Reset(false, at))
			return s.Write(true, at, []byte("x"))
		}},
		{"FIN after RST", func(s *synth.Stream, at time.Time) error {
			must(t, s.Reset(true, at))
			return s.CloseWrite(false, at)
		}},
		{"second RST", func(s *synth.Stream, at time.Time) error {
			must(t, s.Reset(true, at))
			return s.Reset(false, at)
		}},
		{"RST after both FINs", func(s *synth.Stream, at time.Time) error {
			must(t, s.CloseWrite(true, at))
			must(t, s.CloseWrite(false, at))
			return s.Reset(true, at)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := synth.NewWriter(io.Discard)
			must(t, err)
			s, err := w.Open(cl, sv, epoch)
			must(t, err)
			if err := tc.run(s, epoch); !errors.Is(err, synth.ErrClosed) {
				t.Fatalf("got %v, want ErrClosed", err)
			}
			// The refusal is the stream's alone: the Writer goes on.
			other, err := w.Open(sv, cl, epoch)
			must(t, err)
			must(t, other.Write(true, epoch, []byte("still fine")))
		})
	}
}

// TestHalfClose: after one side's FIN the other goes on sending, and the
// side that closed goes on acknowledging (RFC 9293 3.6).
func TestHalfClose(t *testing.T) {
	c := conv{client: netip.MustParseAddrPort("192.0.2.1:1000"), server: netip.MustParseAddrPort("[2001:db8::2]:80"),
		wireClient: "[::ffff:192.0.2.1]:1000", wireServer: "[2001:db8::2]:80"}
	c.steps = []step{
		{kind: stepWrite, fromClient: true, data: []byte("request")},
		{kind: stepCloseWrite, fromClient: true},
		{kind: stepWrite, fromClient: false, data: pattern(10000, 1)},
		{kind: stepWrite, fromClient: false},
		{kind: stepWrite, fromClient: false, data: []byte("tail")},
		{kind: stepCloseWrite, fromClient: false},
	}
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	must(t, err)
	writeConvs(t, w, []conv{c})
	checkConv(t, readSegs(t, buf.Bytes()), c)
}

func TestRefused(t *testing.T) {
	good := netip.MustParseAddrPort("192.0.2.1:1000")
	tests := []struct {
		name           string
		client, server netip.AddrPort
		at             time.Time
	}{
		{"no client", netip.AddrPort{}, good, epoch},
		{"no server", good, netip.AddrPort{}, epoch},
		{"same endpoint", good, good, epoch},
		{"same endpoint once unmapped", netip.MustParseAddrPort("[::ffff:192.0.2.1]:1000"), good, epoch},
		{"zero time", good, netip.MustParseAddrPort("192.0.2.2:80"), time.Time{}},
		{"before 1970", good, netip.MustParseAddrPort("192.0.2.2:80"), time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"after 2262", good, netip.MustParseAddrPort("192.0.2.2:80"), time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := synth.NewWriter(&buf)
			must(t, err)
			must(t, w.Flush())
			n := buf.Len()
			if s, err := w.Open(tc.client, tc.server, tc.at); err == nil || s != nil {
				t.Fatalf("Open gave %v, %v; want an error", s, err)
			} else {
				t.Log(err)
			}
			must(t, w.Flush())
			if buf.Len() != n {
				t.Fatalf("a refused Open wrote %d bytes", buf.Len()-n)
			}
		})
	}
	w, err := synth.NewWriter(io.Discard)
	must(t, err)
	s, err := w.Open(good, netip.MustParseAddrPort("192.0.2.2:80"), epoch)
	must(t, err)
	if err := s.Write(true, time.Time{}, []byte("x")); err == nil {
		t.Fatal("Write took a zero time")
	}
}

// TestEmptyWrite: an empty chunk writes nothing.
func TestEmptyWrite(t *testing.T) {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	must(t, err)
	s, err := w.Open(netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:80"), epoch)
	must(t, err)
	must(t, w.Flush())
	n := buf.Len()
	must(t, s.Write(true, epoch, nil))
	must(t, w.Flush())
	if buf.Len() != n {
		t.Fatalf("an empty write wrote %d bytes", buf.Len()-n)
	}
}

// failAfter accepts n bytes, then fails every write.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		n := f.n
		f.n = 0
		return n, errDiskFull
	}
	f.n -= len(b)
	return len(b), nil
}

// TestWriteError: an error of the file is returned by the call that met
// it and by every later one, and nothing more is written.
func TestWriteError(t *testing.T) {
	w, err := synth.NewWriter(&failAfter{n: 1 << 20})
	must(t, err)
	s, err := w.Open(netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:80"), epoch)
	must(t, err)
	err = s.Write(true, epoch, make([]byte, 2<<20))
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Write: got %v, want the disk's error", err)
	}
	t.Log(err)
	for name, err := range map[string]error{
		"Write":      s.Write(false, epoch, []byte("x")),
		"CloseWrite": s.CloseWrite(true, epoch),
		"Reset":      s.Reset(true, epoch),
		"Flush":      w.Flush(),
	} {
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%s after the error: got %v", name, err)
		}
	}
	if _, err := w.Open(netip.MustParseAddrPort("192.0.2.3:1000"), netip.MustParseAddrPort("192.0.2.2:80"), epoch); !errors.Is(err, errDiskFull) {
		t.Errorf("Open after the error: got %v", err)
	}
}

// TestLargeWriteMemory: a 16 MiB message goes out segment by segment,
// without a copy of it and without allocating per segment.
func TestLargeWriteMemory(t *testing.T) {
	const size = 16 << 20
	// budget is what the whole write may allocate: a few small error-free
	// bookkeeping objects at most, nothing per segment (there are 11,500).
	const budget = 64 << 10
	w, err := synth.NewWriter(io.Discard)
	must(t, err)
	s, err := w.Open(netip.MustParseAddrPort("[2001:db8::1]:1000"), netip.MustParseAddrPort("[2001:db8::2]:80"), epoch)
	must(t, err)
	msg := make([]byte, size)
	must(t, s.Write(true, epoch, []byte("warm up the buffers")))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	must(t, s.Write(true, epoch, msg))
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > budget {
		t.Fatalf("a %d-byte write allocated %d bytes", size, n)
	}
	allocs := testing.AllocsPerRun(10, func() {
		if err := s.Write(false, epoch, msg[:64<<10]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a 64 KiB write made %v allocations", allocs)
	}
}

// concurrentConvs writes n connections at once, each direction of each
// from its own goroutine as a proxy relays them, in chunks of random
// sizes, each direction ending with a FIN. It returns the conversations as
// scripts (the order of the calls of one direction is kept; how the
// directions and connections interleave is up to the scheduler).
func concurrentConvs(t testing.TB, w *synth.Writer, n int) []conv {
	t.Helper()
	convs := make([]conv, n)
	streams := make([]*synth.Stream, n)
	for i := range convs {
		c := &convs[i]
		c.raw = true
		if i%2 == 0 {
			c.wireClient, c.wireServer = fmt.Sprintf("192.0.2.%d:%d", 100+i, 40000+i), "198.51.100.1:8080"
		} else {
			c.wireClient, c.wireServer = fmt.Sprintf("[2001:db8::%x]:%d", 100+i, 40000+i), "[2001:db8::1]:9000"
		}
		c.client, c.server = netip.MustParseAddrPort(c.wireClient), netip.MustParseAddrPort(c.wireServer)
		s, err := w.Open(c.client, c.server, epoch)
		must(t, err)
		streams[i] = s
	}
	// chunksPerSide and maxChunk make a few hundred KiB per connection:
	// many segments, many interleavings, a fast test.
	const chunksPerSide, maxChunk = 40, 6000
	scripts := make([][2][]step, n)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range convs {
		for side := range 2 {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(side)))
			fromClient := side == 0
			for range chunksPerSide {
				scripts[i][side] = append(scripts[i][side], step{kind: stepWrite, fromClient: fromClient, data: pattern(rng.IntN(maxChunk), rng.IntN(256))})
			}
			scripts[i][side] = append(scripts[i][side], step{kind: stepCloseWrite, fromClient: fromClient})
			wg.Add(1)
			go func(s *synth.Stream, steps []step) {
				defer wg.Done()
				for _, st := range steps {
					var err error
					if st.kind == stepWrite {
						err = s.Write(st.fromClient, time.Now(), st.data)
					} else {
						err = s.CloseWrite(st.fromClient, time.Now())
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}(streams[i], scripts[i][side])
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	must(t, w.Flush())
	for i := range convs {
		convs[i].steps = append(scripts[i][0], scripts[i][1]...)
	}
	return convs
}

// concurrentStreams is how many connections the concurrency tests run.
const concurrentStreams = 8

func TestConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	must(t, err)
	convs := concurrentConvs(t, w, concurrentStreams)
	segs := readSegs(t, buf.Bytes())
	for _, c := range convs {
		t.Run(c.wireClient, func(t *testing.T) { checkConv(t, segs, c) })
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
