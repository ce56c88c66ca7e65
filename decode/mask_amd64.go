//go:build amd64 && !purego

package decode

// maskAVX2 is set once, when the package is initialised, to whether the
// CPU and the operating system support AVX2; it never changes after that.
// SSE2 is part of every amd64 CPU and needs no check.
var maskAVX2 = cpuHasAVX2()

// maskCopy writes src XOR key into dst, which must be at least as long as
// src and either equal to src or not overlap it (RFC 6455 5.3). pos is the
// payload position of src[0]; it returns the position after src.
//
// The work is done in vector registers (mask_amd64.s): 128 bytes a round
// with AVX2 where the CPU has it, 64 bytes a round with SSE2 otherwise. A
// vector holds the 4-byte key repeated; since 32, 16, 8 and 4 are multiples
// of the key length, only the last 2- and 1-byte steps rotate it. The
// function is small enough to be inlined, which matters for the many
// payloads of a few dozen bytes.
func maskCopy(dst, src []byte, key [4]byte, pos int) int {
	maskAsm(dst[:len(src)], src, key, pos, maskAVX2)
	return pos + len(src)
}

// maskAsm is in mask_amd64.s.
//
//go:noescape
func maskAsm(dst, src []byte, key [4]byte, pos int, avx2 bool)

// cpuHasAVX2 reports whether AVX2 instructions may be used: the CPU has
// them (CPUID leaf 7) and the operating system saves the YMM registers
// (OSXSAVE and XCR0). It is in mask_amd64.s.
func cpuHasAVX2() bool
