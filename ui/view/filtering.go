package view

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
	"github.com/wstap/wstap/ui/filter"
)

// connMatches are the messages of one connection a filter selected, and
// their frames, both ascending: the timeline of the connection under the
// filter, in message and in frame mode.
type connMatches struct {
	msgs   []int32
	frames []int32
}

// filterState is a filter in force: the expression, what it selected so
// far, and the goroutine that keeps it current while traffic arrives.
type filterState struct {
	expr string
	f    *filter.Filter
	// work is the first pass over what the store held, while it runs.
	work *work
	// stop ends the goroutine that examines new messages.
	stop context.CancelFunc
	// conns are the connections with a selected message (or that the
	// filter selects by themselves), ascending.
	conns []session.ConnID
	per   map[session.ConnID]*connMatches
	// matched counts the messages selected.
	matched int64
	// want is the connection (and its item) that was selected when the
	// filter was set: it is selected again when the filter finds it.
	wantConn session.ConnID
	wantItem int
	// none is what conn returns for a connection without a match.
	none connMatches
}

// conn returns what the filter selected of connection id.
func (fs *filterState) conn(id session.ConnID) *connMatches {
	if cm := fs.per[id]; cm != nil {
		return cm
	}
	return &fs.none
}

// Filter returns the filter expression in force, or "".
func (b *Browser) Filter() string {
	if b.flt == nil {
		return ""
	}
	return b.flt.expr
}

// FilterMatches returns how many messages the filter selected so far.
func (b *Browser) FilterMatches() int64 {
	if b.flt == nil {
		return 0
	}
	return b.flt.matched
}

// SetFilter puts the filter expr in force ("" removes it). An expression
// that does not parse is refused with a *filter.Error that says where;
// the filter in force stays. The filter runs over what the store holds on
// a goroutine of its own, handing what it finds to the lists as it goes
// (with its progress, for Work), then keeps examining what arrives.
func (b *Browser) SetFilter(expr string) error {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		if b.flt != nil {
			b.dropFilter()
			b.SetStatus("filter removed", StyleNormal)
		}
		return nil
	}
	f, err := filter.Parse(expr)
	if err != nil {
		return err
	}
	if b.flt != nil {
		b.stopFilter()
	}
	ctx, w := b.startWork("filtering", "messages")
	fs := &filterState{expr: expr, f: f, work: w, stop: w.cancel, per: map[session.ConnID]*connMatches{}, wantConn: b.conn, wantItem: b.Item()}
	b.flt = fs
	b.rebuildRows()
	b.refresh()
	store, post := b.store, b.opts.Post
	goSafe(post, nil, func() {
		runFilter(ctx, store, f, func(batch *filterBatch) {
			post(func() { b.applyFilter(fs, batch) })
		})
	})
	return nil
}

// stopFilter ends the filter's goroutine.
func (b *Browser) stopFilter() {
	fs := b.flt
	if fs.work != nil {
		b.endWork(fs.work)
		fs.work = nil
	}
	fs.stop()
}

// dropFilter removes the filter: every connection and message is shown
// again, the selection staying where it was.
func (b *Browser) dropFilter() {
	if b.flt == nil {
		return
	}
	b.stopFilter()
	b.flt = nil
	b.rebuildRows()
	b.reselect()
}

// reselect brings the lists up to date after their rows changed, keeping
// the selected connection and item.
func (b *Browser) reselect() {
	id, item := b.conn, b.Item()
	b.refresh()
	if r := b.rows.rowOf(id, b.stored); r >= 0 && b.conn != id {
		b.SelectConn(r)
	}
	if item >= 0 && !b.Time.Following() {
		if r, _ := b.timeline.Find(item); r < b.timeline.Len() {
			b.Time.Select(r)
		}
	}
}

// filterBatch is what a filter's goroutine found since its last batch.
type filterBatch struct {
	refs []session.MessageRef
	// frames are the frames of refs, one after the other; frameEnds[j]
	// is where those of refs[j] end.
	frames    []int32
	frameEnds []int32
	// conns are connections the filter selects by themselves (url:,
	// host:, id:, problem), with or without a message.
	conns []session.ConnID
	// examined and total are the progress of the first pass.
	examined, total int64
	// caughtUp says that everything the store held was examined.
	caughtUp bool
	err      error
}

// runFilter examines the store's messages with f until ctx is done,
// handing what it selected to deliver: every postEvery during a pass, and
// at the end of each. After the first pass it waits for the store to
// change and examines what was added.
func runFilter(ctx context.Context, store *session.Store, f *filter.Filter, deliver func(*filterBatch)) {
	cur := &filterBatch{}
	match := func(c *decode.Connection, m *decode.Message) bool {
		if !f.Match(c, m) {
			return false
		}
		for _, fi := range m.Frames {
			cur.frames = append(cur.frames, int32(fi))
		}
		cur.frameEnds = append(cur.frameEnds, int32(len(cur.frames)))
		return true
	}
	v := store.NewView(-1, f.NeedsPayload(), match)
	handed, checked := 0, 0
	var examined int64
	var th throttle
	send := func(caughtUp bool, total int64) {
		for ; handed < v.Len(); handed++ {
			cur.refs = append(cur.refs, v.At(handed))
		}
		// Connections the filter decides by themselves are looked at
		// once, when they first appear.
		for n := store.Len(); checked < n; checked++ {
			info, err := store.Info(session.ConnID(checked))
			if err != nil {
				break
			}
			if decided, ok := f.MatchConnection(&info.Connection); decided && ok {
				cur.conns = append(cur.conns, session.ConnID(checked))
			}
		}
		cur.examined, cur.total, cur.caughtUp = examined, max(total, examined), caughtUp
		deliver(cur)
		cur = &filterBatch{}
	}
	for {
		changed := store.Changed()
		total := store.Totals().Messages
		base := examined
		err := v.Update(ctx, func(n int) {
			examined = base + int64(n)
			if th.due() {
				send(false, total)
			}
		})
		if err != nil {
			if ctx.Err() == nil {
				deliver(&filterBatch{err: fmt.Errorf("filtering: %w", err)})
			}
			return
		}
		send(true, total)
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
		// Let more arrive before looking: a busy proxy records thousands
		// of messages a second, and one pass over them all is cheaper
		// than one per message.
		select {
		case <-ctx.Done():
			return
		case <-afterPostEvery():
		}
	}
}

// applyFilter takes a batch of what filter fs found into the lists, on
// the UI goroutine. A batch of a filter no longer in force is dropped.
func (b *Browser) applyFilter(fs *filterState, batch *filterBatch) {
	if b.flt != fs {
		return
	}
	if batch.err != nil {
		b.dropFilter()
		b.SetStatus(batch.err.Error(), StyleError)
		return
	}
	newConns := false
	add := func(id session.ConnID) *connMatches {
		cm := fs.per[id]
		if cm == nil {
			cm = &connMatches{}
			fs.per[id] = cm
			i, _ := slices.BinarySearch(fs.conns, id)
			fs.conns = slices.Insert(fs.conns, i, id)
			newConns = true
		}
		return cm
	}
	start := int32(0)
	for j, ref := range batch.refs {
		cm := add(ref.Conn)
		cm.msgs = append(cm.msgs, ref.Index)
		for _, fi := range batch.frames[start:batch.frameEnds[j]] {
			cm.frames = insertSorted(cm.frames, fi)
		}
		start = batch.frameEnds[j]
	}
	fs.matched += int64(len(batch.refs))
	for _, id := range batch.conns {
		add(id)
	}
	if newConns {
		b.rebuildRows()
	}
	first := fs.work != nil
	if first {
		fs.work.done, fs.work.total = batch.examined, batch.total
		if batch.caughtUp {
			b.endWork(fs.work)
			fs.work = nil
			b.SetStatus(fmt.Sprintf("filter %s: %s in %s", fs.f, Plural(fs.matched, "message"), Plural(int64(len(fs.conns)), "connection")), StyleNormal)
		}
	}
	if !first && b.paused {
		return
	}
	b.refresh()
	if fs.wantConn >= 0 && !b.Conns.Following() {
		if r := b.rows.rowOf(fs.wantConn, b.stored); r >= 0 {
			if b.conn != fs.wantConn {
				b.SelectConn(r)
			}
			if fs.wantItem >= 0 && !b.Time.Following() {
				if r, _ := b.timeline.Find(fs.wantItem); r < b.timeline.Len() {
					b.Time.Select(r)
				}
			}
			fs.wantConn = -1
		}
	}
}

// insertSorted inserts v into the ascending list s, which it usually
// goes at the end of (frames arrive in order, but for a control frame
// between the fragments of a message, which completes first).
func insertSorted(s []int32, v int32) []int32 {
	i := len(s)
	for i > 0 && s[i-1] > v {
		i--
	}
	if i > 0 && s[i-1] == v {
		return s
	}
	return slices.Insert(s, i, v)
}
