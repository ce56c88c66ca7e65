package view

import (
	"testing"
	"time"

	"github.com/wstap/wstap/session"
)

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
