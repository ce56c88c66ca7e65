package session

import (
	"sync"

	"github.com/wstap/wstap/decode"
)

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
	// hot are the rendering sinks that followed the store when the
	// Sequencer was made: its lanes render the events for them.
	hot []hotSink
	// unkept is set when those are all the sinks that follow the store,
	// and it lets connections go (StoreOptions.LetGo, which nothing
	// browses afterwards): nobody will read the frames, messages and
	// exchanges of the connections decoded on the lanes, and they are
	// not kept. The NDJSON of a capture of 600,000 messages took 2.3 s
	// of CPU instead of 3.1, its dump 2.0 s instead of 2.9.
	unkept bool

	mu sync.Mutex
	// next is the first step not decoded yet, and done the steps decoded
	// after it.
	next int64
	done stepSet
	// heads, at and merged are the buffers of commit: the items each
	// lane hands over, how many of each were merged, and those items in
	// the order of their steps.
	heads [][]pendingItem
	// headsHot and mergedHot are the same for the items' renderings, when
	// the lanes render for hot sinks: beside the items rather than in
	// them, so that a Sequencer without hot sinks moves items of 48
	// bytes, not 112 (with room for two renderings in every item, --json
	// took 3% more CPU).
	headsHot  [][]renderings
	mergedHot []renderings
	at        []int
	merged    []pendingItem
}

// stepSet is a set of steps at or after a first one (the Sequencer's
// next), a flag per step in a ring that grows when a step lies past its
// end. The lanes say which steps they decoded a batch at a time, so the
// steps done ahead of next are never more than the batches queued to the
// lanes: a few thousand flags serve a whole capture. A map took a hash to
// add each step and two to take it out, 2-3% of the decoding workers'
// time on a capture of a million packets.
type stepSet struct {
	ring []bool // ring[(head+i) % len(ring)] is step first+i; len is a power of two
	head int
}

// add puts the step off steps after the first in the set.
func (s *stepSet) add(off int64) {
	if off >= int64(len(s.ring)) {
		n := max(len(s.ring), 64)
		for int64(n) <= off {
			n *= 2
		}
		grown := make([]bool, n)
		for i := range s.ring {
			grown[i] = s.ring[(s.head+i)&(len(s.ring)-1)]
		}
		s.ring, s.head = grown, 0
	}
	s.ring[(s.head+int(off))&(len(s.ring)-1)] = true
}

// takeFirst takes the first step out of the set and reports whether it
// was in it; when it was, the step after it becomes the first.
func (s *stepSet) takeFirst() bool {
	if len(s.ring) == 0 || !s.ring[s.head] {
		return false
	}
	s.ring[s.head] = false
	s.head = (s.head + 1) & (len(s.ring) - 1)
	return true
}

// Lane is one decoding goroutine's part of a Sequencer: the steps it
// decodes, and the items they recorded that wait for earlier steps.
type Lane struct {
	q *Sequencer
	// step is the step being decoded, and recorded the items its steps
	// recorded since the last Done: only the lane's goroutine uses them.
	// They join items, which commit takes from on any lane's goroutine,
	// at Done, under one lock for the batch rather than one per item.
	step     int64
	recorded []pendingItem
	// recordedHot are their renderings, one for each of recorded, when
	// the lane renders; itemsHot are those of items.
	recordedHot []renderings
	// renderers render the items' events for the Sequencer's hot sinks
	// (only the lane's goroutine uses them).
	renderers []laneRenderer

	mu       sync.Mutex
	items    []pendingItem
	itemsHot []renderings
}

// pendingItem is an item on its way to the log: the step that made it (on
// a lane), and its connection, whose place in the list (it.Conn) is given
// when its first item is put in the log.
type pendingItem struct {
	step int64
	it   Item
	sc   *storedConn
}

// renderings are what an item's event rendered to for each of the
// Sequencer's hot sinks.
type renderings [maxHot]rendered

// Sequencer returns a sequencer with lanes lanes, for steps numbered from
// 0 up without a gap.
func (t *Tap) Sequencer(lanes int) *Sequencer {
	q := &Sequencer{store: t.store, heads: make([][]pendingItem, lanes), headsHot: make([][]renderings, lanes), at: make([]int, lanes)}
	q.hot, q.unkept = t.store.hotSinks()
	for range lanes {
		l := &Lane{q: q}
		for _, h := range q.hot {
			l.renderers = append(l.renderers, newLaneRenderer(h.sink.NewRenderer()))
		}
		q.lanes = append(q.lanes, l)
	}
	return q
}

// Lane returns lane i.
func (q *Sequencer) Lane(i int) *Lane { return q.lanes[i] }

// Begin says that step is decoded next on the lane: what it records goes
// in the log after everything earlier steps record.
func (l *Lane) Begin(step int64) { l.step = step }

// add keeps an item of connection sc, of the lane's current step, until
// its turn, with what its event e renders to for the hot sinks.
func (l *Lane) add(sc *storedConn, it Item, e decode.Event) {
	l.recorded = append(l.recorded, pendingItem{step: l.step, it: it, sc: sc})
	if len(l.renderers) > 0 {
		var r renderings
		for i := range l.renderers {
			r[i] = l.renderers[i].render(e)
		}
		l.recordedHot = append(l.recordedHot, r)
	}
}

// Done says that the lane decoded steps (in increasing order): the items
// of every step before the first one not decoded yet go to the log.
func (l *Lane) Done(steps []int64) {
	if len(l.recorded) > 0 {
		l.mu.Lock()
		l.items = append(l.items, l.recorded...)
		l.itemsHot = append(l.itemsHot, l.recordedHot...)
		l.mu.Unlock()
		clear(l.recorded) // their connections are not held here
		clear(l.recordedHot)
		l.recorded, l.recordedHot = l.recorded[:0], l.recordedHot[:0]
	}
	q := l.q
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range steps {
		q.done.add(s - q.next)
	}
	advanced := false
	for q.done.takeFirst() {
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
	heads := q.heads
	for i, l := range q.lanes {
		l.mu.Lock()
		n := 0
		for n < len(l.items) && l.items[n].step < q.next {
			n++
		}
		heads[i] = append(heads[i][:0], l.items[:n]...)
		l.items = l.items[:copy(l.items, l.items[n:])]
		if len(q.hot) > 0 {
			q.headsHot[i] = append(q.headsHot[i][:0], l.itemsHot[:n]...)
			rest := copy(l.itemsHot, l.itemsHot[n:])
			clear(l.itemsHot[rest:])
			l.itemsHot = l.itemsHot[:rest]
		}
		l.mu.Unlock()
	}
	q.merged, q.mergedHot = q.merged[:0], q.mergedHot[:0]
	at := q.at
	clear(at)
	for {
		pick := -1
		for i, h := range heads {
			if at[i] < len(h) && (pick < 0 || h[at[i]].step < heads[pick][at[pick]].step) {
				pick = i
			}
		}
		if pick < 0 {
			break
		}
		q.merged = append(q.merged, heads[pick][at[pick]])
		if len(q.hot) > 0 {
			q.mergedHot = append(q.mergedHot, q.headsHot[pick][at[pick]])
		}
		at[pick]++
	}
	if len(q.merged) > 0 {
		// The hot sinks' queues live in memory: a sink that fell behind
		// holds the decoding back (which, a file's, waits for the sinks
		// anyway: see Pace), rather than the queue growing.
		for _, h := range q.hot {
			h.queue.waitRoom()
		}
		q.store.logItems(q.merged, q.mergedHot, q.hot)
	}
	// The buffers do not hold the connections until they are used again.
	for i := range heads {
		clear(heads[i])
		clear(q.headsHot[i])
	}
	clear(q.merged)
	clear(q.mergedHot)
}

// logItems appends items to the log, giving their connections a place in
// the list first when they have none (see Sequencer), and wakes who waits
// for them. The items' renderings for the hot sinks (rendered[k] those of
// items[k]) go into their queues first, so that a follower finds an
// item's there once it sees the item.
func (s *Store) logItems(items []pendingItem, rendered []renderings, hot []hotSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for i, h := range hot {
		h.queue.push(s.items.n, rendered, i)
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
