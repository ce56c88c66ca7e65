package decode

import (
	"bytes"
	"math/rand"
	"testing"
)

// maskNaive is the masking algorithm of RFC 6455 5.3 as the RFC writes it,
// one byte at a time: transformed-octet-i = original-octet-i XOR
// masking-key-octet-(i MOD 4), where i counts from the payload's start, so
// a piece that starts at payload position pos uses key[(pos+i) MOD 4]. It
// returns a new slice and is the reference the word-at-a-time code is
// checked against.
func maskNaive(b []byte, key [4]byte, pos int) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ key[(pos+i)%4]
	}
	return out
}

// maskInput is a payload whose bytes all differ from their neighbours, so
// that a key applied at the wrong position shows.
func maskInput(n int, r *rand.Rand) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

var maskKeys = [][4]byte{
	testKey,
	{0x00, 0x00, 0x00, 0x00},
	{0xff, 0xff, 0xff, 0xff},
	{0x01, 0x02, 0x04, 0x80},
}

// TestMaskMatchesNaive checks Mask (in place) and maskCopy (copying)
// against the reference for every length 0..300 (which crosses the 8- and
// 64-byte word loops and their tails), some large lengths, and every
// starting key position.
func TestMaskMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var lengths []int
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 1021, 4096, 4099, 65536+7, 1<<20+3)
	for _, key := range maskKeys {
		for _, n := range lengths {
			src := maskInput(n, r)
			orig := bytes.Clone(src)
			for pos := 0; pos < 4; pos++ {
				want := maskNaive(src, key, pos)

				in := bytes.Clone(src)
				if end := Mask(key, pos, in); end != pos+n {
					t.Fatalf("Mask(key %x, pos %d, %d bytes) returned %d, want %d", key, pos, n, end, pos+n)
				}
				if !bytes.Equal(in, want) {
					t.Fatalf("Mask in place, key %x, pos %d, %d bytes: first difference at %d", key, pos, n, firstDiff(in, want))
				}

				dst := make([]byte, n+8)
				for i := range dst {
					dst[i] = 0xA5
				}
				if end := maskCopy(dst, src, key, pos); end != pos+n {
					t.Fatalf("maskCopy returned %d, want %d", end, pos+n)
				}
				if !bytes.Equal(dst[:n], want) {
					t.Fatalf("maskCopy, key %x, pos %d, %d bytes: first difference at %d", key, pos, n, firstDiff(dst[:n], want))
				}
				if !bytes.Equal(dst[n:], bytes.Repeat([]byte{0xA5}, 8)) {
					t.Fatalf("maskCopy of %d bytes wrote past the end of dst: % x", n, dst[n:])
				}
				if !bytes.Equal(src, orig) {
					t.Fatalf("maskCopy changed its source")
				}

				// The portable word loop, which architectures without
				// an assembly version use.
				gen := make([]byte, n)
				if end := maskGeneric(gen, src, key, pos); end != pos+n || !bytes.Equal(gen, want) {
					t.Fatalf("maskGeneric, key %x, pos %d, %d bytes: first difference at %d", key, pos, n, firstDiff(gen, want))
				}
				gen = bytes.Clone(src)
				maskGeneric(gen, gen, key, pos)
				if !bytes.Equal(gen, want) {
					t.Fatalf("maskGeneric in place, key %x, pos %d, %d bytes differs", key, pos, n)
				}
			}
		}
	}
}

// TestMaskRoundTrip checks that masking twice gives the original: masking
// and unmasking are the same operation (RFC 6455 5.3).
func TestMaskRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for n := 0; n < 200; n += 7 {
		src := maskInput(n, r)
		b := bytes.Clone(src)
		Mask(testKey, 3, b)
		if n >= 4 && bytes.Equal(b, src) {
			t.Fatalf("masking %d bytes changed nothing", n)
		}
		Mask(testKey, 3, b)
		if !bytes.Equal(b, src) {
			t.Fatalf("mask twice of %d bytes is not the identity", n)
		}
	}
}

// TestMaskResumable unmasks a payload in pieces cut at arbitrary points,
// threading the returned position, as the decoder does with a payload that
// arrives in chunks: the result must equal unmasking it whole.
func TestMaskResumable(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for trial := 0; trial < 500; trial++ {
		n := r.Intn(700)
		src := maskInput(n, r)
		key := [4]byte{byte(r.Intn(256)), byte(r.Intn(256)), byte(r.Intn(256)), byte(r.Intn(256))}
		want := maskNaive(src, key, 0)

		inPlace := bytes.Clone(src)
		copied := make([]byte, n)
		pos, pos2 := 0, 0
		for off := 0; off < n; {
			k := min(n-off, 1+r.Intn(90))
			pos = Mask(key, pos, inPlace[off:off+k])
			pos2 = maskCopy(copied[off:off+k], src[off:off+k], key, pos2)
			off += k
		}
		if pos != n || pos2 != n {
			t.Fatalf("positions after the pieces are %d and %d, want %d", pos, pos2, n)
		}
		if !bytes.Equal(inPlace, want) {
			t.Fatalf("trial %d: pieced in-place unmask of %d bytes differs at %d", trial, n, firstDiff(inPlace, want))
		}
		if !bytes.Equal(copied, want) {
			t.Fatalf("trial %d: pieced copying unmask of %d bytes differs at %d", trial, n, firstDiff(copied, want))
		}
	}
}

// TestMaskRFCExample unmasks the masked "Hello" of RFC 6455 5.7.
func TestMaskRFCExample(t *testing.T) {
	b := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}
	Mask(testKey, 0, b)
	if string(b) != "Hello" {
		t.Fatalf("unmasked RFC 6455 5.7 example is %q, want Hello", b)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
