package view

import (
	"testing"
	"time"

	"github.com/wstap/wstap/internal/livetest"
	"github.com/wstap/wstap/internal/teststore"
	"github.com/wstap/wstap/session"
)

// benchConns and benchMessages shape the benchmark's session: a million
// messages on 20 long connections, as the long capture of the read
// benchmark has them.
const (
	benchConns    = 20
	benchMessages = 1_000_000
)

func millionStore(b *testing.B) *session.Store {
	b.Helper()
	s := teststore.New(b)
	tap := session.NewTap(s, session.TapOptions{})
	start := time.Now()
	livetest.Ticks(tap, benchConns, benchMessages)
	b.Logf("recorded %d messages in %v", benchMessages, time.Since(start).Round(time.Millisecond))
	return s
}

// BenchmarkFilter: a filter over a million messages, off the UI
// goroutine, to the end of its first pass: a header-only filter, and a
// payload search that reads every payload from the spill file.
func BenchmarkFilter(b *testing.B) {
	store := millionStore(b)
	for _, expr := range []string{"server and size>50", `"seq\":99999,"`} {
		b.Run(expr, func(b *testing.B) {
			br, q := newBrowser(b, store, Options{})
			for b.Loop() {
				if err := br.SetFilter(expr); err != nil {
					b.Fatal(err)
				}
				q.settle(b, br)
			}
			b.ReportMetric(float64(br.FilterMatches()), "matches")
			br.SetFilter("")
		})
	}
}
