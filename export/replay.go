package export

import (
	"slices"
	"time"

	"github.com/wstap/wstap/decode"
)

// Replay calls l with the events a decoder would have emitted for c, in
// the order it would have: opened, the plain exchanges, the handshake,
// frames with the messages they complete, problems where they were found,
// closed. It serves connections loaded from a file, which have no decoder,
// so that streaming outputs (the dump, NDJSON, a live view) treat them
// like captured ones.
//
// A frame's problems follow the frame, a message's problems precede the
// message, and problems with neither are placed by time.
func Replay(c *decode.Connection, l decode.Listener) {
	l(decode.Event{Kind: decode.EventOpened, Conn: c})
	for i := range c.Exchanges {
		l(decode.Event{Kind: decode.EventExchange, Conn: c, Index: i, Exchange: &c.Exchanges[i]})
	}

	byFrame := map[int][]int{}
	byMessage := map[int][]int{}
	var loose []int // problems with no frame or message, in time order
	for i := range c.Problems {
		p := &c.Problems[i]
		switch {
		case p.Frame >= 0 && p.Frame < len(c.Frames):
			byFrame[p.Frame] = append(byFrame[p.Frame], i)
		case p.MessageIndex >= 0 && p.MessageIndex < len(c.Messages):
			byMessage[p.MessageIndex] = append(byMessage[p.MessageIndex], i)
		default:
			loose = append(loose, i)
		}
	}
	slices.SortStableFunc(loose, func(a, b int) int { return c.Problems[a].Time.Compare(c.Problems[b].Time) })
	problem := func(i int) {
		l(decode.Event{Kind: decode.EventProblem, Conn: c, Index: i, Problem: &c.Problems[i]})
	}
	// looseUntil emits the loose problems found before or at t.
	looseUntil := func(t time.Time, all bool) {
		for len(loose) > 0 && (all || !c.Problems[loose[0]].Time.After(t)) {
			problem(loose[0])
			loose = loose[1:]
		}
	}

	if c.Request != nil || c.Response != nil {
		var t time.Time
		if c.Response != nil {
			t = c.Response.Time
		} else {
			t = c.Request.Time
		}
		looseUntil(t, false)
		l(decode.Event{Kind: decode.EventHandshake, Conn: c})
	}

	next := 0 // next message to emit
	message := func() {
		m := &c.Messages[next]
		looseUntil(m.Time, false)
		for _, pi := range byMessage[next] {
			problem(pi)
		}
		l(decode.Event{Kind: decode.EventMessage, Conn: c, Index: next, Message: m})
		next++
	}
	for fi := range c.Frames {
		f := &c.Frames[fi]
		looseUntil(f.Time, false)
		l(decode.Event{Kind: decode.EventFrame, Conn: c, Index: fi, Frame: f})
		for _, pi := range byFrame[fi] {
			problem(pi)
		}
		for next < len(c.Messages) && lastFrame(&c.Messages[next]) <= fi {
			message()
		}
	}
	for next < len(c.Messages) {
		message()
	}
	looseUntil(time.Time{}, true)
	l(decode.Event{Kind: decode.EventClosed, Conn: c})
}

// lastFrame returns the index of a message's last frame, or -1.
func lastFrame(m *decode.Message) int {
	last := -1
	for _, f := range m.Frames {
		last = max(last, f)
	}
	return last
}
