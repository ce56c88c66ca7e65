//go:build amd64 && !purego

#include "textflag.h"

// func maskAsm(dst, src []byte, key [4]byte, pos int, avx2 bool)
//
// dst[i] = src[i] ^ key[(pos+i) mod 4], for i < len(src). dst is as long
// as src, and equal to it or disjoint.
//
// Whole vectors are masked from the start; the bytes that do not fill one
// are covered by one more vector ending at the last byte, which overlaps
// the one before it. That vector is loaded and masked before anything is
// stored, so the overlap is written twice with the same value even when
// dst is src, and the tail costs one step instead of a 8/4/2/1 cascade.
// Blocks start at multiples of 4 bytes from src[0] except that last one,
// which needs the key rotated by len(src) mod 4.
TEXT ·maskAsm(SB), NOSPLIT, $0-65
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	LEAQ key+48(FP), AX
	MOVL (AX), AX            // the four key bytes; key[0] is the low byte
	MOVQ pos+56(FP), CX
	ANDQ $3, CX
	SHLQ $3, CX
	RORL CX, AX              // AX = key for a block at src[0]
	MOVQ src_len+32(FP), R10
	MOVL AX, DX
	MOVQ R10, CX
	ANDQ $3, CX
	SHLQ $3, CX
	RORL CX, DX              // DX = key for a block ending at src[n]
	MOVQ AX, BX
	SHLQ $32, BX
	ORQ  BX, AX              // AX, DX: the keys repeated to 8 bytes
	MOVQ DX, BX
	SHLQ $32, BX
	ORQ  BX, DX
	MOVQ R10, CX             // CX = bytes left for whole blocks
	CMPQ CX, $16
	JB   small
	LEAQ (DI)(CX*1), R9      // R9 = end of dst
	MOVQ AX, X0
	PUNPCKLQDQ X0, X0        // X0, X5: the keys repeated to 16 bytes
	MOVQ DX, X5
	PUNPCKLQDQ X5, X5
	CMPQ CX, $64
	JB   sse
	CMPB avx2+64(FP), $0
	JE   sse

	VPBROADCASTQ X0, Y0      // Y0, Y5: the keys repeated to 32 bytes
	VPBROADCASTQ X5, Y5
	VPXOR -32(SI)(CX*1), Y5, Y6  // the last 32 bytes, before any store

avx128:
	CMPQ    CX, $128
	JB      avx32
	VPXOR   0(SI), Y0, Y1
	VPXOR   32(SI), Y0, Y2
	VPXOR   64(SI), Y0, Y3
	VPXOR   96(SI), Y0, Y4
	VMOVDQU Y1, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $128, CX
	JMP     avx128

avx32:
	CMPQ    CX, $32
	JB      avxtail
	VPXOR   (SI), Y0, Y1
	VMOVDQU Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $32, CX
	JMP     avx32

avxtail:
	VMOVDQU Y6, -32(R9)
	VZEROUPPER
	RET

sse:
	MOVOU -16(SI)(CX*1), X6  // the last 16 bytes, before any store
	PXOR  X5, X6

sse64:
	CMPQ  CX, $64
	JB    sse16
	MOVOU 0(SI), X1
	MOVOU 16(SI), X2
	MOVOU 32(SI), X3
	MOVOU 48(SI), X4
	PXOR  X0, X1
	PXOR  X0, X2
	PXOR  X0, X3
	PXOR  X0, X4
	MOVOU X1, 0(DI)
	MOVOU X2, 16(DI)
	MOVOU X3, 32(DI)
	MOVOU X4, 48(DI)
	ADDQ  $64, SI
	ADDQ  $64, DI
	SUBQ  $64, CX
	JMP   sse64

sse16:
	CMPQ  CX, $16
	JB    ssetail
	MOVOU (SI), X1
	PXOR  X0, X1
	MOVOU X1, (DI)
	ADDQ  $16, SI
	ADDQ  $16, DI
	SUBQ  $16, CX
	JMP   sse16

ssetail:
	MOVOU X6, -16(R9)
	RET

small:
	// Under 16 bytes: two overlapping words, or single bytes.
	CMPQ CX, $8
	JB   small4
	MOVQ (SI), BX
	MOVQ -8(SI)(CX*1), R11
	XORQ AX, BX
	XORQ DX, R11
	MOVQ R11, -8(DI)(CX*1)
	MOVQ BX, (DI)
	RET

small4:
	CMPQ CX, $4
	JB   small1
	MOVL (SI), BX
	MOVL -4(SI)(CX*1), R11
	XORL AX, BX
	XORL DX, R11
	MOVL R11, -4(DI)(CX*1)
	MOVL BX, (DI)
	RET

small1:
	TESTQ CX, CX
	JZ    done

loop1:
	MOVB (SI), BX
	XORB AX, BX
	MOVB BX, (DI)
	RORL $8, AX              // the next byte takes the next key byte
	INCQ SI
	INCQ DI
	DECQ CX
	JNZ  loop1

done:
	RET

// func cpuHasAVX2() bool
TEXT ·cpuHasAVX2(SB), NOSPLIT, $0-1
	MOVL $0, AX
	CPUID
	CMPL AX, $7              // leaf 7 must exist
	JB   no
	MOVL $1, AX
	MOVL $0, CX
	CPUID
	ANDL $0x18000000, CX     // OSXSAVE (bit 27) and AVX (bit 28)
	CMPL CX, $0x18000000
	JNE  no
	MOVL $0, CX
	XGETBV                   // XCR0: the OS saves XMM (bit 1) and YMM (bit 2)
	ANDL $6, AX
	CMPL AX, $6
	JNE  no
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	ANDL $0x20, BX           // AVX2 (leaf 7, EBX bit 5)
	JZ   no
	MOVB $1, ret+0(FP)
	RET

no:
	MOVB $0, ret+0(FP)
	RET
