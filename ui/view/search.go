package view

import (
	"context"
	"fmt"
	"strings"

	"github.com/wstap/wstap/session"
	"github.com/wstap/wstap/ui/filter"
)

// searchState is the last search: n and N look for its next match.
type searchState struct {
	expr string
	f    *filter.Filter
}

// searchConn is one connection a search goes through: the messages shown
// of it, and where to start (the position in them).
type searchConn struct {
	id    session.ConnID
	shown Index
	start int
}

// SearchExpr returns the expression of the last search, or "".
func (b *Browser) SearchExpr() string {
	if b.search == nil {
		return ""
	}
	return b.search.expr
}

// Search looks for the next message (the previous one, backward) that
// expr selects, after the selected one, in the messages shown, going on
// into the next connections and around. It selects what it finds without
// filtering anything out. expr is in the filter's language; one that
// does not parse is refused with a *filter.Error. The search runs on a
// goroutine of its own, with its progress for Work.
func (b *Browser) Search(expr string, backward bool) error {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil
	}
	f, err := filter.Parse(expr)
	if err != nil {
		return err
	}
	b.search = &searchState{expr: expr, f: f}
	b.SearchNext(backward)
	return nil
}

// SearchNext looks for the next match of the last search (backward: the
// previous one).
func (b *Browser) SearchNext(backward bool) {
	if b.search == nil {
		b.SetStatus("no search yet: s starts one", StyleWarning)
		return
	}
	plan, total := b.searchPlan(backward)
	if len(plan) == 0 {
		b.SetStatus("nothing to search", StyleWarning)
		return
	}
	ctx, w := b.startWork("searching", "messages")
	w.total = total
	f, store, post := b.search.f, b.store, b.opts.Post
	goSafe(post, nil, func() {
		runSearch(ctx, store, f, plan, backward, func(done int64, hit *session.MessageRef, end bool) {
			post(func() { b.searchResult(w, done, hit, end) })
		})
	})
}

// searchPlan lists the connections to go through, from the selected one
// (after its selected message) around to it again (up to that message),
// and how many messages that is.
func (b *Browser) searchPlan(backward bool) ([]searchConn, int64) {
	n := b.rows.len(b.stored)
	if n == 0 {
		return nil, 0
	}
	cur := max(b.Conns.Selected(), 0)
	msg := b.selectedMessage()
	var plan []searchConn
	var total int64
	step := 1
	if backward {
		step = -1
	}
	for k := 0; k <= n; k++ {
		r := ((cur+k*step)%n + n) % n
		id := b.rows.at(r)
		shown := b.shownMessages(id)
		sc := searchConn{id: id, shown: shown}
		switch {
		case k == 0 && msg >= 0:
			// The selected connection, after the selected message.
			p, ok := shown.Find(msg)
			if backward {
				sc.start = p - 1
			} else if ok {
				sc.start = p + 1
			} else {
				sc.start = p
			}
		case k == n:
			// Around to the selected connection, up to its selected
			// message.
			if msg < 0 {
				continue
			}
			p, ok := shown.Find(msg)
			if backward {
				if ok {
					p++
				}
				sc.shown = sliceIndex(shown, p, shown.Len())
				sc.start = sc.shown.Len() - 1
			} else {
				sc.shown = sliceIndex(shown, 0, p)
			}
		case backward:
			sc.start = shown.Len() - 1
		}
		total += int64(sc.shown.Len())
		plan = append(plan, sc)
	}
	return plan, total
}

// sliceIndex returns positions from to to-1 of x.
func sliceIndex(x Index, from, to int) Index {
	from, to = clamp(from, 0, x.Len()), clamp(to, 0, x.Len())
	if to < from {
		to = from
	}
	if x.explicit {
		return Index{list: x.list[from:to], explicit: true}
	}
	return Index{lo: x.lo + from, hi: x.lo + to}
}

// selectedMessage returns the message selected in the timeline (in frame
// mode, the selected frame's), or -1.
func (b *Browser) selectedMessage() int {
	item := b.Item()
	if item < 0 || !b.frames {
		return item
	}
	f, err := b.r.FramePrefix(b.conn, item, 0)
	if err != nil {
		return -1
	}
	return f.Message
}

// shownMessages returns the messages of connection id the timeline would
// show (in message mode), as they are now. The list shares the filter's,
// which only grows at its end, so reading it from another goroutine is
// safe up to its length now.
func (b *Browser) shownMessages(id session.ConnID) Index {
	from := b.clear.cutOf(id, false)
	if b.flt != nil {
		return listIndex(b.flt.conn(id).msgs, from)
	}
	info, err := b.store.Info(id)
	if err != nil {
		return Index{}
	}
	return rangeIndex(from, info.MessageCount)
}

// runSearch goes through the plan, reading each message (with its payload
// when f needs it) until f selects one, and reports progress and the
// result through report.
func runSearch(ctx context.Context, store *session.Store, f *filter.Filter, plan []searchConn, backward bool, report func(done int64, hit *session.MessageRef, end bool)) {
	r := store.NewReader()
	var done int64
	var th throttle
	for _, sc := range plan {
		info, err := store.Info(sc.id)
		if err != nil {
			continue
		}
		if decided, ok := f.MatchConnection(&info.Connection); decided && !ok {
			done += int64(sc.shown.Len())
			continue
		}
		for p := sc.start; p >= 0 && p < sc.shown.Len(); {
			if done%256 == 0 {
				if ctx.Err() != nil {
					return
				}
				if th.due() {
					report(done, nil, false)
				}
			}
			i := sc.shown.At(p)
			msg, err := r.MessageHead(sc.id, i)
			if err == nil && f.NeedsPayload() {
				msg, err = r.Message(sc.id, i)
			}
			done++
			if err == nil && f.Match(&info.Connection, msg) {
				report(done, &session.MessageRef{Conn: sc.id, Index: int32(i)}, true)
				return
			}
			if backward {
				p--
			} else {
				p++
			}
		}
	}
	report(done, nil, true)
}

// searchResult takes a search's progress or result on the UI goroutine.
func (b *Browser) searchResult(w *work, done int64, hit *session.MessageRef, end bool) {
	if b.work != w {
		return // cancelled, or replaced by other work
	}
	w.done = done
	if !end {
		return
	}
	b.endWork(w)
	if hit == nil {
		b.SetStatus(fmt.Sprintf("search %s: no match", b.search.f), StyleWarning)
		return
	}
	b.JumpTo(hit.Conn, int(hit.Index))
	b.SetStatus(fmt.Sprintf("search %s: message %d of connection %s", b.search.f, hit.Index, b.info.ID), StyleAccent)
}

// JumpTo selects message i of connection id (in frame mode, its first
// frame), and gives the keys to the timeline.
func (b *Browser) JumpTo(id session.ConnID, i int) {
	if r := b.rows.rowOf(id, b.stored); r >= 0 {
		b.SelectConn(r)
	}
	if b.conn != id {
		return
	}
	target := i
	if b.frames {
		m, err := b.r.MessageHead(id, i)
		if err != nil || len(m.Frames) == 0 {
			return
		}
		target = m.Frames[0]
	}
	if r, ok := b.timeline.Find(target); ok {
		b.Time.Select(r)
	}
	b.focus = AreaTimeline
}
