// Package teststore makes stores for the tests of the packages that read
// one (the terminal UI's model and screens): empty, or loaded from export
// files as "wstap read" loads them.
package teststore

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// New makes an empty store in the test's temporary directory, closed when
// the test ends.
func New(tb testing.TB) *session.Store {
	tb.Helper()
	s, err := session.NewStore(session.StoreOptions{SpillDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Load makes a store holding files (HAR or JSON exports), loaded through
// a tap as "wstap read" loads them.
func Load(tb testing.TB, files ...string) *session.Store {
	tb.Helper()
	s := New(tb)
	tap := session.NewTap(s, session.TapOptions{})
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		im := tap.Import()
		err = export.LoadEvents(context.Background(), name, f, im.Event)
		im.Close()
		f.Close()
		if err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// Sample is the JSON export of a sample capture: export's golden files,
// which its tests keep equal to what reading samples/ gives. The UI is
// tested on the conversations the command shows without decoding pcap
// (ui never imports capture).
func Sample(name string) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "export", "testdata", "golden", "samples", name+".json")
}
