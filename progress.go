package main

import (
	"fmt"
	"io"
	"time"

	"github.com/wstap/wstap/capture"
)

// progressEvery is the least time between two updates of the progress
// line: often enough to look alive, rarely enough to cost nothing.
const progressEvery = 200 * time.Millisecond

// progressBar shows how far a read got on one line of a terminal: bytes,
// percent of the file when its size is known, and messages found.
type progressBar struct {
	w       io.Writer
	name    string
	size    int64
	read    *countingReader
	tracker *capture.Tracker
	last    time.Time
	shown   bool
}

func (p *progressBar) update() {
	now := time.Now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	msgs := p.tracker.Stats().Messages
	if p.size > 0 {
		fmt.Fprintf(p.w, "\r\033[Kreading %s: %s of %s (%d%%), %s", p.name, mb(p.read.n), mb(p.size), p.read.n*100/p.size, plural(msgs, "message"))
	} else {
		fmt.Fprintf(p.w, "\r\033[Kreading %s: %s, %s", p.name, mb(p.read.n), plural(msgs, "message"))
	}
	p.shown = true
}

// clear removes the progress line (the next update draws it again).
func (p *progressBar) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
