package view

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// postEvery is how often work running in the background hands its
// progress to the UI: twenty times a second reads as live, and costs the
// UI goroutine nothing it would notice.
const postEvery = 50 * time.Millisecond

// work is a task running off the UI goroutine (a filter's first pass, a
// search, an export): what it is, how far it got, and how to stop it.
type work struct {
	what   string
	done   int64
	total  int64
	unit   string
	cancel context.CancelFunc
	// started is when it started: progress is shown only for work that
	// takes long enough to be noticed.
	started time.Time
}

// Work says what runs in the background: a description with its
// progress ("filtering 45% (450,000 of 1,000,000 messages)"), or "" when
// nothing runs.
func (b *Browser) Work() string {
	w := b.work
	if w == nil {
		return ""
	}
	s := w.what
	if w.total > 0 {
		pct := min(100*w.done/w.total, 100)
		s += fmt.Sprintf(" %d%% (%s of %s %s)", pct, Count(w.done), Count(w.total), w.unit)
	} else if w.done > 0 {
		s += fmt.Sprintf(" (%s %s)", Count(w.done), w.unit)
	}
	return s + "; esc cancels"
}

// Busy reports whether work runs in the background that esc would
// cancel.
func (b *Browser) Busy() bool { return b.work != nil }

// startWork registers background work; the previous one is cancelled.
func (b *Browser) startWork(what, unit string) (context.Context, *work) {
	b.CancelWork()
	ctx, cancel := context.WithCancel(context.Background())
	w := &work{what: what, unit: unit, cancel: cancel, started: time.Now()}
	b.work = w
	return ctx, w
}

// endWork says that w ended; a later work is left alone.
func (b *Browser) endWork(w *work) {
	if b.work == w {
		b.work = nil
	}
	w.cancel()
}

// CancelWork stops what runs in the background: a filter's first pass
// (the filter is then removed), a search or an export (its file is not
// written). It reports whether something was running.
func (b *Browser) CancelWork() bool {
	w := b.work
	if w == nil {
		return false
	}
	b.work = nil
	w.cancel()
	if b.flt != nil && b.flt.work == w {
		b.dropFilter()
		b.SetStatus("filter cancelled; everything is shown", StyleWarning)
		return true
	}
	b.SetStatus(w.what+": cancelled", StyleWarning)
	return true
}

// throttle calls post at most every postEvery, and always for the last
// call (flush). It is used by one goroutine.
type throttle struct {
	last time.Time
}

func (t *throttle) due() bool {
	if now := time.Now(); now.Sub(t.last) >= postEvery {
		t.last = now
		return true
	}
	return false
}

// goSafe runs f on a goroutine of its own; a panic in it is handed to
// the UI goroutine through post, where the UI restores the terminal
// before the program dies, instead of dying with the terminal in raw
// mode.
func goSafe(post func(func()), wg *sync.WaitGroup, f func()) {
	if wg != nil {
		wg.Add(1)
	}
	go func() {
		if wg != nil {
			defer wg.Done()
		}
		defer func() {
			if p := recover(); p != nil {
				post(func() { panic(p) })
			}
		}()
		f()
	}()
}

// afterPostEvery returns a channel that receives after postEvery.
func afterPostEvery() <-chan time.Time { return time.After(postEvery) }
