package tui

import (
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/wstap/wstap/internal/livetest"
	"github.com/wstap/wstap/session"
)

// benchConns and benchMessages shape the benchmark's session: a million
// messages on 20 long connections, as the long capture of the read
// benchmark has them.
const (
	benchConns    = 20
	benchMessages = 1_000_000
)

// millionStore records benchMessages JSON-ish text messages, both ways,
// on benchConns connections, through the tap and the decoder.
func millionStore(b *testing.B) *session.Store {
	b.Helper()
	s, err := session.NewStore(session.StoreOptions{SpillDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tap := session.NewTap(s, session.TapOptions{})
	start := time.Now()
	livetest.Ticks(tap, benchConns, benchMessages)
	b.Logf("recorded %d messages in %v", benchMessages, time.Since(start).Round(time.Millisecond))
	return s
}

// screenApp makes the UI of store on a simulation screen of 120x40,
// drawn by hand (no event loop): what one redraw costs, alone.
func screenApp(b *testing.B, store *session.Store, live bool) (*App, tcell.SimulationScreen) {
	sim := tcell.NewSimulationScreen("UTF-8")
	a, err := New(store, Options{Title: "bench", Live: live, Screen: sim})
	if err != nil {
		b.Fatal(err)
	}
	sim.SetSize(120, 40)
	a.root.SetRect(0, 0, 120, 40)
	b.Cleanup(sim.Fini)
	return a, sim
}

// BenchmarkFirstDraw: from a store of a million messages to the first
// screen drawn (the UI made, the lists sized, every row in view read).
func BenchmarkFirstDraw(b *testing.B) {
	store := millionStore(b)
	for b.Loop() {
		a, sim := screenApp(b, store, false)
		a.root.Draw(sim)
		sim.Show()
	}
}

// BenchmarkRedraw: one redraw of the whole screen, following the newest
// message of a connection of 50,000, with its details.
func BenchmarkRedraw(b *testing.B) {
	store := millionStore(b)
	a, sim := screenApp(b, store, true)
	a.b.Refresh()
	a.root.Draw(sim)
	b.ReportAllocs()
	for b.Loop() {
		a.b.Refresh()
		a.root.Draw(sim)
		sim.Show()
	}
}
