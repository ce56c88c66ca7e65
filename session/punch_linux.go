//go:build linux

package session

import (
	"os"

	"golang.org/x/sys/unix"
)

// punchHole gives the disk blocks of the n bytes at off back to the file
// system; the file keeps its size and reads zeros there (fallocate(2),
// FALLOC_FL_PUNCH_HOLE, which ext4, xfs, btrfs and tmpfs support).
func punchHole(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	if err := rc.Control(func(fd uintptr) {
		perr = unix.Fallocate(int(fd), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	}); err != nil {
		return err
	}
	return perr
}
