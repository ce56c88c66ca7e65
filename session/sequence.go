package session

import "sync"

// A source that decodes connections on several goroutines (a capture read
// with workers) records each connection's events as they come, so the
// events of different connections would interleave in the store's log
// differently from run to run. A stream of the conversation (the dump,
// NDJSON) should read the same every time. The source numbers its steps
// (a feed, a gap, an end, in the capture's order) and decodes each on one
// of its lanes; the Sequencer puts the log's items in the order of the
// steps that made them, as one goroutine decoding every step in turn
// would have. The connections' records are stored at once, as before;
// only the log's small items wait for the steps before theirs. A
// connection shown on a lane takes its place in the store's list when
// its first item reaches the log: the list is in the order of the
// capture too, as the terminal UI shows it.

// Sequencer orders the log items of the steps its lanes decode.
type Sequencer struct {
	store *Store
	lanes []*Lane

	mu sync.Mutex
	// next is the first step not decoded yet, and done the steps decoded
	// after it.
	next int64
	done map[int64]struct{}
	// merged is the buffer of the items put in the log at once.
	merged []pendingItem
}

// Lane is one decoding goroutine's part of a Sequencer: the steps it
// decodes, and the items they recorded that wait for earlier steps.
type Lane struct {
	q *Sequencer
	// step is the step being decoded; only the lane's goroutine uses it.
	step int64

	mu    sync.Mutex
	items []pendingItem
}

// pendingItem is an item on its way to the log: the step that made it (on
// a lane), and its connection, whose place in the list (it.Conn) is given
// when its first item is put in the log.
type pendingItem struct {
	step int64
	it   Item
	sc   *storedConn
}

// Sequencer returns a sequencer with lanes lanes, for steps numbered from
// 0 up without a gap.
func (t *Tap) Sequencer(lanes int) *Sequencer {
	q := &Sequencer{store: t.store, done: map[int64]struct{}{}}
	for range lanes {
		q.lanes = append(q.lanes, &Lane{q: q})
	}
	return q
}

// Lane returns lane i.
func (q *Sequencer) Lane(i int) *Lane { return q.lanes[i] }

// Begin says that step is decoded next on the lane: what it records goes
// in the log after everything earlier steps record.
func (l *Lane) Begin(step int64) { l.step = step }

// add keeps an item of connection sc, of the lane's current step, until
// its turn.
func (l *Lane) add(sc *storedConn, it Item) {
	l.mu.Lock()
	l.items = append(l.items, pendingItem{l.step, it, sc})
	l.mu.Unlock()
}

// Done says that the lane decoded steps (in increasing order): the items
// of every step before the first one not decoded yet go to the log.
func (l *Lane) Done(steps []int64) {
	q := l.q
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range steps {
		q.done[s] = struct{}{}
	}
	advanced := false
	for {
		if _, ok := q.done[q.next]; !ok {
			break
		}
		delete(q.done, q.next)
		q.next++
		advanced = true
	}
	if advanced {
		q.commit()
	}
}

// commit puts the items of the steps before next in the log, in the order
// of their steps; the caller holds q.mu.
func (q *Sequencer) commit() {
	// Each lane's items are in the order of its steps, and a step is one
	// lane's: merging the lanes' prefixes gives the order of the steps.
	heads := make([][]pendingItem, len(q.lanes))
	for i, l := range q.lanes {
		l.mu.Lock()
		n := 0
		for n < len(l.items) && l.items[n].step < q.next {
			n++
		}
		heads[i] = append([]pendingItem(nil), l.items[:n]...)
		l.items = l.items[:copy(l.items, l.items[n:])]
		l.mu.Unlock()
	}
	q.merged = q.merged[:0]
	for {
		pick := -1
		for i, h := range heads {
			if len(h) > 0 && (pick < 0 || h[0].step < heads[pick][0].step) {
				pick = i
			}
		}
		if pick < 0 {
			break
		}
		q.merged = append(q.merged, heads[pick][0])
		heads[pick] = heads[pick][1:]
	}
	if len(q.merged) > 0 {
		q.store.logItems(q.merged)
	}
}

// logItems appends items to the log, giving their connections a place in
// the list first when they have none (see Sequencer), and wakes who waits
// for them.
func (s *Store) logItems(items []pendingItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, li := range items {
		if li.sc.id < 0 {
			s.register(li.sc)
		}
		li.it.Conn = li.sc.id
		s.logItem(li.it)
	}
	s.notify()
}

// SetLane makes the connection's log items wait on lane l for their turn
// (nil: straight to the log). The connection's steps are then decoded on
// that lane only.
func (c *Conn) SetLane(l *Lane) { c.lane = l }
