package view

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// sample is the JSON export of a sample capture: export's golden files,
// which its tests keep equal to what reading samples/ gives. The UI is
// tested on the conversations the command shows, without decoding pcap
// here (ui never imports capture).
func sample(name string) string {
	return filepath.Join("..", "..", "export", "testdata", "golden", "samples", name+".json")
}

func newStore(t testing.TB) *session.Store {
	t.Helper()
	s, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// loadStore loads files into a new store, as "wstap read" does with an
// export.
func loadStore(t testing.TB, files ...string) *session.Store {
	t.Helper()
	s := newStore(t)
	tap := session.NewTap(s, session.TapOptions{})
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		im := tap.Import()
		err = export.LoadEvents(context.Background(), name, f, im.Event)
		im.Close()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// queue runs what a Browser posts on the test's goroutine, as the UI
// goroutine would.
type queue struct{ ch chan func() }

func newQueue() *queue { return &queue{ch: make(chan func(), 1<<16)} }

func (q *queue) post(f func()) { q.ch <- f }

// settle runs what was posted until b has no work left.
func (q *queue) settle(t testing.TB, b *Browser) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-q.ch:
			f()
			continue
		default:
		}
		if !b.Busy() {
			return
		}
		select {
		case f := <-q.ch:
			f()
		case <-deadline:
			t.Fatalf("work did not end: %s", b.Work())
		}
	}
}

// newBrowser makes a Browser of store whose posts run through a queue.
func newBrowser(t testing.TB, store *session.Store, opts Options) (*Browser, *queue) {
	q := newQueue()
	opts.Post = q.post
	b := New(store, opts)
	b.Conns.SetHeight(10)
	b.Time.SetHeight(10)
	return b, q
}
