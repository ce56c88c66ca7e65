//go:build amd64 && !purego

package decode

import (
	"bytes"
	"testing"
)

// TestMaskAsmBothPaths checks both vector paths of maskAsm against RFC 6455
// 5.3 byte by byte: maskCopy takes the AVX2 one wherever the CPU has it, so
// the SSE2 one, which older CPUs take, would otherwise go untested. Every
// length up to 300 crosses the 16-, 32-, 64- and 128-byte steps and the
// overlapping last vector; in place and copying; every key position.
func TestMaskAsmBothPaths(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	lengths := []int{1021, 4096, 4099, 65536 + 7}
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	for _, avx2 := range []bool{false, true} {
		if avx2 && !maskAVX2 {
			continue
		}
		for _, n := range lengths {
			src := benchRandom(n, uint64(n))
			for pos := range 4 {
				want := fzMaskRef(src, key, pos)
				space := bytes.Repeat([]byte{0xA5}, n+64)
				dst := space[32 : 32+n]
				maskAsm(dst, src, key, pos, avx2)
				if !bytes.Equal(dst, want) {
					t.Fatalf("avx2=%t, %d bytes, pos %d: copying differs from RFC 6455 5.3", avx2, n, pos)
				}
				if !bytes.Equal(space[:32], bytes.Repeat([]byte{0xA5}, 32)) || !bytes.Equal(space[32+n:], bytes.Repeat([]byte{0xA5}, 32)) {
					t.Fatalf("avx2=%t, %d bytes, pos %d: wrote outside dst", avx2, n, pos)
				}
				in := bytes.Clone(src)
				maskAsm(in, in, key, pos, avx2)
				if !bytes.Equal(in, want) {
					t.Fatalf("avx2=%t, %d bytes, pos %d: in place differs from RFC 6455 5.3", avx2, n, pos)
				}
			}
		}
	}
}

// BenchmarkUnmaskSSE2 measures the SSE2 path, the one CPUs without AVX2
// take, on the sizes of BenchmarkUnmask.
func BenchmarkUnmaskSSE2(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, sz := range benchSizes {
		buf := benchRandom(sz.n, 1)
		b.Run("op=Mask/size="+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				maskAsm(buf, buf, key, 1, false)
			}
		})
	}
}
