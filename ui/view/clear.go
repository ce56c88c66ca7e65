package view

import (
	"slices"

	"github.com/wstap/wstap/session"
)

// clearState is what a clear hid: the connections that had ended by
// then, and in those still open, the messages and frames recorded until
// then. Nothing is removed from the store: an export of the whole session
// still has it all.
type clearState struct {
	// below is how many connections the store had; of those, only kept
	// (ascending) are still shown.
	below session.ConnID
	kept  []session.ConnID
	// cuts are, per kept connection, the first message and frame shown.
	cuts map[session.ConnID][2]int
}

// cutOf returns the first message (or frame) of connection id that a
// clear left shown; 0 without a clear.
func (c *clearState) cutOf(id session.ConnID, frames bool) int {
	if c == nil {
		return 0
	}
	cut, ok := c.cuts[id]
	if !ok {
		return 0
	}
	if frames {
		return cut[1]
	}
	return cut[0]
}

// shows reports whether a clear left connection id shown.
func (c *clearState) shows(id session.ConnID) bool {
	if c == nil || id >= c.below {
		return true
	}
	_, ok := slices.BinarySearch(c.kept, id)
	return ok
}

// Clear empties the view: the connections that ended are no longer
// listed, and the timelines of those still open start after what they
// show now. The data stays in the store (an export of the whole session
// has it); a clear is undone by Unclear.
func (b *Browser) Clear() {
	b.refresh()
	c := &clearState{below: session.ConnID(b.stored), cuts: map[session.ConnID][2]int{}}
	for id := range c.below {
		info, err := b.store.Info(id)
		if err != nil || info.Ended {
			continue
		}
		c.kept = append(c.kept, id)
		c.cuts[id] = [2]int{info.MessageCount, info.FrameCount}
	}
	b.clear = c
	b.rebuildRows()
	b.Conns.Reset()
	b.Conns.follow = true
	b.conn = -1
	b.refresh()
	b.SetStatus("view cleared: new traffic only (the session keeps everything; u brings it back)", StyleNormal)
}

// Unclear shows again what a clear hid.
func (b *Browser) Unclear() {
	if b.clear == nil {
		return
	}
	b.clear = nil
	b.rebuildRows()
	id := b.conn
	b.conn = -1
	b.refresh()
	if r := b.rows.rowOf(id, b.stored); r >= 0 {
		b.SelectConn(r)
	}
	b.SetStatus("everything is shown again", StyleNormal)
}

// Cleared reports whether a clear hides part of the session.
func (b *Browser) Cleared() bool { return b.clear != nil }

// rebuildRows makes the rows of the connection list from the filter and
// the clear.
func (b *Browser) rebuildRows() {
	switch {
	case b.flt != nil:
		rows := connRows{}
		for _, id := range b.flt.conns {
			if b.clear.shows(id) {
				rows.explicit = append(rows.explicit, id)
			}
		}
		b.rows = rows
	case b.clear != nil:
		b.rows = connRows{explicit: b.clear.kept, tail: true, from: b.clear.below}
	default:
		b.rows = allConns()
	}
}
