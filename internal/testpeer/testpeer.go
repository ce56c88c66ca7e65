// Package testpeer finds the real programs that tests talk to (tshark,
// tcpdump, chromium, openssl, tmux): a test that needs one skips on a
// machine without it, and fails instead when WSTAP_REQUIRE_PEERS=1 (as CI
// sets it), so that a test silently skipped in CI proves nothing.
package testpeer

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of program, skipping or failing t when it is
// not installed.
func Require(t testing.TB, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		if Required() {
			t.Fatalf("%s is required (WSTAP_REQUIRE_PEERS=1) but not installed: %v", program, err)
		}
		t.Skipf("%s is not installed", program)
	}
	return path
}

// Required reports whether tests must not skip for want of a peer.
func Required() bool { return os.Getenv("WSTAP_REQUIRE_PEERS") == "1" }
