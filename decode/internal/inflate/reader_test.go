package inflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

// tail ends a permessage-deflate message for the reader: the sync flush's
// 00 00 ff ff the sender removed (RFC 7692 7.2.1), then an empty final
// stored block.
var tail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// compressor compresses messages as a permessage-deflate sender does, with
// Go's compress/flate: one sync flush per message, its last four bytes
// removed, the window kept across messages unless reset.
type compressor struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newCompressor(t testing.TB, level int) *compressor {
	c := &compressor{}
	w, err := flate.NewWriter(&c.buf, level)
	if err != nil {
		t.Fatal(err)
	}
	c.w = w
	return c
}

func (c *compressor) compress(t testing.TB, msg []byte) []byte {
	c.buf.Reset()
	if _, err := c.w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := c.buf.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("a sync flush ends with 00 00 ff ff; got % x", out[max(0, len(out)-4):])
	}
	return append([]byte(nil), out[:len(out)-4]...)
}

// inflateAll reads one message started on r, through reads of size step.
func inflateAll(r *Reader, compressed []byte, step int) ([]byte, error) {
	r.Start(append(append([]byte(nil), compressed...), tail...))
	var out []byte
	buf := make([]byte, step)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// message makes a message of the shapes permessage-deflate carries: JSON
// that repeats itself, binary noise, long runs, and now and then one
// larger than the window.
func message(r *rand.Rand, i int) []byte {
	switch r.Intn(10) {
	case 0:
		b := make([]byte, r.Intn(300))
		r.Read(b)
		return b
	case 1:
		return bytes.Repeat([]byte{byte(r.Intn(256))}, r.Intn(70000))
	case 2:
		var b bytes.Buffer
		for b.Len() < 40000+r.Intn(40000) {
			fmt.Fprintf(&b, `{"seq":%d,"noise":%d},`, b.Len(), r.Int63())
		}
		return b.Bytes()
	case 3:
		return nil
	default:
		return fmt.Appendf(nil, `{"type":"tick","seq":%d,"price":%d.%02d,"symbol":"%s"}`, i, r.Intn(1000), r.Intn(100), []string{"ABC", "XYZ", "QQQ"}[r.Intn(3)])
	}
}

// TestMessagesAgainstCompressFlate inflates sequences of messages written
// by compress/flate at every level, with the context kept (one Reset for
// the whole sequence) and without (a Reset per message), through reads of
// several sizes, and compares every message with what was compressed.
func TestMessagesAgainstCompressFlate(t *testing.T) {
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		for _, takeover := range []bool{true, false} {
			for _, step := range []int{1, 7, 4096, 100 << 10} {
				t.Run(fmt.Sprintf("level%d/takeover=%v/read%d", level, takeover, step), func(t *testing.T) {
					rnd := rand.New(rand.NewSource(int64(level*10 + step)))
					c := newCompressor(t, level)
					var r Reader
					r.Reset(1 << 15)
					for i := range 120 {
						if !takeover {
							c.w.Reset(&c.buf)
							r.Reset(1 << 15)
						}
						msg := message(rnd, i)
						got, err := inflateAll(&r, c.compress(t, msg), step)
						if err != nil {
							t.Fatalf("message %d (%d bytes): %v", i, len(msg), err)
						}
						if !bytes.Equal(got, msg) {
							t.Fatalf("message %d: inflated %d bytes, want %d", i, len(got), len(msg))
						}
					}
				})
			}
		}
	}
}

// TestWindowLimit: with a window smaller than 32 KiB a distance further
// back than the window is corrupt input, one within it is not; and after
// Reset nothing before it can be reached.
func TestWindowLimit(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	first := make([]byte, 2000)
	rnd.Read(first) // incompressible: the only matches are made below
	for _, tc := range []struct {
		back  int
		reset bool
		fails bool
	}{
		{back: 900},
		{back: 1100, fails: true},
		{back: 900, reset: true, fails: true},
	} {
		c := newCompressor(t, flate.DefaultCompression)
		c1 := c.compress(t, first)
		second := first[len(first)-tc.back : len(first)-tc.back+100]
		c2 := c.compress(t, second)
		if _, err := io.ReadAll(flate.NewReader(bytes.NewReader(append(c2, tail...)))); err == nil {
			t.Fatal("the second message does not refer back")
		}
		var r Reader
		r.Reset(1 << 10)
		if got, err := inflateAll(&r, c1, 4096); err != nil || !bytes.Equal(got, first) {
			t.Fatalf("first message: %v", err)
		}
		if tc.reset {
			r.Reset(1 << 10)
		}
		got, err := inflateAll(&r, c2, 4096)
		var corrupt CorruptInputError
		if tc.fails != errors.As(err, &corrupt) {
			t.Errorf("%d bytes back, reset %v: error %v", tc.back, tc.reset, err)
		}
		if !tc.fails && !bytes.Equal(got, second) {
			t.Errorf("%d bytes back: wrong output", tc.back)
		}
	}
}

// TestTablesKept: dynamic blocks with the same code lengths build their
// tables once; a block with other lengths builds them again, and what each
// inflates is right either way.
func TestTablesKept(t *testing.T) {
	c := newCompressor(t, flate.BestSpeed)
	same := []byte(`{"type":"heartbeat","seq":1,"payload":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}`)
	other := []byte(`{"type":"quote","symbols":["ABC","DEF","GHI"],"bid":[1.25,2.5,3.75],"ask":[1.5,2.75,4.0]} zzzzzzzzzzzzz`)
	var r Reader
	r.Reset(1 << 15)
	builds := func() int { return r.built }
	for i, msg := range [][]byte{same, same, same, other, same} {
		c.w.Reset(&c.buf) // each message alone: the same bytes, the same header
		before := builds()
		got, err := inflateAll(&r, c.compress(t, msg), 4096)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("message %d: %v", i, err)
		}
		rebuilt := builds() > before
		if want := i == 0 || i == 3 || i == 4; rebuilt != want {
			t.Errorf("message %d: tables built %v, want %v", i, rebuilt, want)
		}
	}
}

// TestBrokenInput: input cut anywhere ends in io.ErrUnexpectedEOF or a
// CorruptInputError, never a panic, and the output before it is a prefix
// of the message; with flipped bits it fails where compress/flate fails,
// and inflates as it does otherwise.
func TestBrokenInput(t *testing.T) {
	rnd := rand.New(rand.NewSource(5))
	c := newCompressor(t, flate.DefaultCompression)
	var msg []byte
	for len(msg) < 50000 {
		msg = append(msg, message(rnd, len(msg))...)
	}
	comp := c.compress(t, msg)
	var r Reader
	for cut := 0; cut < len(comp); cut += 1 + cut/8 {
		r.Reset(1 << 15)
		r.Start(comp[:cut]) // no tail: the stream ends early
		got, err := io.ReadAll(&r)
		var corrupt CorruptInputError
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &corrupt) {
			t.Fatalf("cut at %d: error %v", cut, err)
		}
		if !bytes.HasPrefix(msg, got) {
			t.Fatalf("cut at %d: output is not a prefix of the message", cut)
		}
	}
	for i := range 400 {
		bad := append(append([]byte(nil), comp...), tail...)
		for range 1 + rnd.Intn(4) {
			bad[rnd.Intn(len(bad))] ^= 1 << rnd.Intn(8)
		}
		r.Reset(1 << 15)
		r.Start(bad)
		got, err := io.ReadAll(&r)
		want, wantErr := io.ReadAll(flate.NewReader(bytes.NewReader(bad)))
		if (err == nil) != (wantErr == nil) || (err == nil && !bytes.Equal(got, want)) {
			t.Fatalf("flipped stream %d: error %v, compress/flate %v; output equal %v", i, err, wantErr, bytes.Equal(got, want))
		}
	}
}

// FuzzAgainstCompressFlate: on any input the reader and compress/flate
// agree on the output and on whether the stream is valid.
func FuzzAgainstCompressFlate(f *testing.F) {
	c := newCompressor(f, flate.BestSpeed)
	f.Add(append(c.compress(f, []byte(`{"hello":"world","hello2":"world"}`)), tail...))
	f.Add([]byte{0x01, 0x00, 0x00, 0xff, 0xff})
	f.Add([]byte{0x03, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Reader
		r.Reset(1 << 15)
		r.Start(in)
		got, err := io.ReadAll(io.LimitReader(&r, 1<<20))
		want, wantErr := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(in)), 1<<20))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("error %v, compress/flate %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("inflated %d bytes, compress/flate %d", len(got), len(want))
		}
	})
}
