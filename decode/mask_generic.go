//go:build !amd64 || purego

package decode

// maskCopy writes src XOR key into dst, which must be at least as long as
// src and either equal to src or not overlap it (RFC 6455 5.3). pos is the
// payload position of src[0]; it returns the position after src. Without
// an assembly version for the architecture it is the portable word loop.
func maskCopy(dst, src []byte, key [4]byte, pos int) int {
	return maskGeneric(dst, src, key, pos)
}
