package decode

import (
	"encoding/binary"
	"math/bits"
)

// Mask applies the masking algorithm of RFC 6455 5.3 to b in place:
//
//	transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4)
//
// pos is the payload position of b[0] (only pos mod 4 matters), so a payload
// that arrives in pieces can be unmasked piece by piece. It returns the
// position after b. Masking and unmasking are the same operation.
func Mask(key [4]byte, pos int, b []byte) int {
	return maskCopy(b, b, key, pos)
}

// maskGeneric is maskCopy in portable Go. It works a machine word at a
// time, eight words per round: the payload is the hot path of the decoder
// (every byte a client sends goes through here once), and a byte loop is
// several times slower than the copy it replaces. It is the implementation
// on architectures without an assembly version, and the reference the
// assembly is tested against.
func maskGeneric(dst, src []byte, key [4]byte, pos int) int {
	n := len(src)
	if n == 0 {
		return pos
	}
	dst = dst[:n]
	// Rotate the key so that its first byte applies to src[0]. Little
	// endian: byte 0 of the word is the lowest byte.
	k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*(pos&3))
	k64 := uint64(k32)<<32 | uint64(k32)
	i := 0
	for ; n-i >= 64; i += 64 {
		s := src[i : i+64 : i+64]
		d := dst[i : i+64 : i+64]
		binary.LittleEndian.PutUint64(d[0:8], binary.LittleEndian.Uint64(s[0:8])^k64)
		binary.LittleEndian.PutUint64(d[8:16], binary.LittleEndian.Uint64(s[8:16])^k64)
		binary.LittleEndian.PutUint64(d[16:24], binary.LittleEndian.Uint64(s[16:24])^k64)
		binary.LittleEndian.PutUint64(d[24:32], binary.LittleEndian.Uint64(s[24:32])^k64)
		binary.LittleEndian.PutUint64(d[32:40], binary.LittleEndian.Uint64(s[32:40])^k64)
		binary.LittleEndian.PutUint64(d[40:48], binary.LittleEndian.Uint64(s[40:48])^k64)
		binary.LittleEndian.PutUint64(d[48:56], binary.LittleEndian.Uint64(s[48:56])^k64)
		binary.LittleEndian.PutUint64(d[56:64], binary.LittleEndian.Uint64(s[56:64])^k64)
	}
	for ; n-i >= 8; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:i+8], binary.LittleEndian.Uint64(src[i:i+8])^k64)
	}
	for ; i < n; i++ {
		dst[i] = src[i] ^ byte(k32)
		k32 = bits.RotateLeft32(k32, -8)
	}
	return pos + n
}
