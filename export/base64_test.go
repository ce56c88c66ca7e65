package export

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// TestAppendBase64 compares appendBase64 with encoding/base64 for every
// length up to 300 and some large ones, appended to empty and non-empty
// buffers.
func TestAppendBase64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{1000, 4095, 4096, 65536, 100001}
	for n := range 301 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		for _, prefix := range [][]byte{nil, []byte(`"data": "`)} {
			want := base64.StdEncoding.AppendEncode(append([]byte(nil), prefix...), src)
			got := appendBase64(append([]byte(nil), prefix...), src)
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes after %q: got %.40q..., want %.40q...", n, prefix, got, want)
			}
		}
	}
}

// FuzzAppendBase64: any input encodes as encoding/base64 encodes it.
func FuzzAppendBase64(f *testing.F) {
	f.Add([]byte("any carnal pleasure."))
	f.Fuzz(func(t *testing.T, src []byte) {
		if got, want := appendBase64(nil, src), base64.StdEncoding.AppendEncode(nil, src); !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// BenchmarkBase64 encodes a 64 KiB binary payload with appendBase64 and
// with encoding/base64.
func BenchmarkBase64(b *testing.B) {
	src := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	dst := make([]byte, 0, base64.StdEncoding.EncodedLen(len(src)))
	b.Run("appendBase64", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			dst = appendBase64(dst[:0], src)
		}
	})
	b.Run("encoding/base64", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			dst = base64.StdEncoding.AppendEncode(dst[:0], src)
		}
	})
}
