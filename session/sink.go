package session

import (
	"context"
	"fmt"
	"time"

	"github.com/wstap/wstap/decode"
)

// flushEvery is how often a sink is flushed while it follows the store:
// soon enough for a dump to read as live, rarely enough that a busy
// capture costs one write per batch, not one per line.
const flushEvery = 100 * time.Millisecond

// followBatch is how long a sink that caught up with the store waits,
// once woken, for more to be recorded before it looks.
const followBatch = 10 * time.Millisecond

// EventSink is a sink that wants the conversation as decoder events, in
// the order they were recorded: the dump and the NDJSON stream. Its
// events are rebuilt from the store (or rendered on a Sequencer's lanes,
// see RenderingSink); what they point to is valid only during the call,
// as a decoder's are.
type EventSink interface {
	Event(e decode.Event) error
	Flush() error
}

// ConnSink is a sink that writes whole connections, each once it ended:
// the JSON and HAR exports. It reads the connection from the store.
type ConnSink interface {
	WriteConn(s *Store, id ConnID) error
	Flush() error
}

// Following is a sink following the store's log on a goroutine of its
// own. Decoding never waits for it: the store is the queue, and a sink
// that falls behind (a slow disk, a blocked pipe) only lags.
type Following struct {
	store  *Store
	runCtx context.Context
	finish context.CancelFunc
	flush  func() error
	done   chan struct{}
	err    error
	// slot is its place in the store's progress.
	slot int
	// end, when set, is called when the sink stops, last.
	end func() error
}

// FollowEvents starts following the store with an event sink. A
// RenderingSink has the events of the Sequencers made from then on
// rendered on their lanes (see RenderingSink); the others' events, and
// every event of other sinks, are rebuilt from the store.
func (s *Store) FollowEvents(sink EventSink) *Following {
	r := newEventReplay(s, sink)
	f := s.follow(r.flush)
	rs, ok := sink.(RenderingSink)
	if !ok {
		f.end = r.stop
		go f.run(func(_ int, it Item) error { return r.item(it) })
		return f
	}
	h := hotSink{sink: rs, queue: newHotQueue()}
	s.mu.Lock()
	s.hot = append(s.hot, h)
	s.mu.Unlock()
	f.end = func() error {
		h.queue.stop() // no lane waits for it any more
		return r.stop()
	}
	go f.run(func(pos int, it Item) error {
		if b, ok := h.queue.take(pos); ok {
			return r.rendered(b)
		}
		return r.item(it)
	})
	return f
}

// FollowConns starts following the store with a connection sink: it is
// given each connection when its closed item is reached.
func (s *Store) FollowConns(sink ConnSink) *Following {
	f := s.follow(sink.Flush)
	go f.run(func(_ int, it Item) error {
		if it.Kind != decode.EventClosed {
			return nil
		}
		return sink.WriteConn(s, it.Conn)
	})
	return f
}

func (s *Store) follow(flush func() error) *Following {
	slot := s.follower()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Following{store: s, slot: slot, finish: cancel, done: make(chan struct{})}
	f.runCtx, f.flush = ctx, flush
	return f
}

// run is the sink's goroutine: it handles the log's items in order,
// flushing on a timer, until Finish, and then up to the end of the log.
// What it handled is flushed at most flushEvery later, also when nothing
// more comes.
func (f *Following) run(handle func(pos int, it Item) error) {
	defer close(f.done)
	defer func() {
		if f.end != nil {
			if err := f.end(); err != nil && f.err == nil {
				f.err = err
			}
		}
		if f.err != nil {
			// Its connections are never let go: pacing would wait for
			// ever.
			f.store.unpaced.Store(true)
		}
	}()
	ctx := f.runCtx
	next := 0
	var batch []Item // the items of the log read in one go
	reported := 0    // blocks of the log passed, as last told the store
	lastFlush := time.Now()
	dirty := false
	flush := func() bool {
		if err := f.flush(); err != nil {
			f.err = err
			return false
		}
		lastFlush, dirty = time.Now(), false
		return true
	}
	for {
		changed := f.store.Changed()
		finishing := ctx.Err() != nil
		have := f.store.Items()
		for next < have {
			var err error
			if batch, err = f.store.ItemsFrom(next, batch[:0]); err != nil {
				f.err = err
				return
			}
			for _, it := range batch {
				if err := handle(next, it); err != nil {
					f.err = err
					return
				}
				if it.Kind == decode.EventClosed {
					f.store.handled(it.Conn)
				}
				dirty = true
				if next%256 == 0 && time.Since(lastFlush) >= flushEvery && !flush() {
					return
				}
				next++
			}
		}
		if next/blockRecords > reported {
			reported = next / blockRecords
			f.store.passed(f.slot, next)
		}
		if finishing {
			flush()
			return
		}
		var timeout <-chan time.Time
		var wait *time.Timer
		if dirty {
			wait = time.NewTimer(max(0, flushEvery-time.Since(lastFlush)))
			timeout = wait.C
		}
		select {
		case <-changed:
			// Let more come before looking: a busy capture records
			// thousands of items a millisecond, and waking for each would
			// cost more than handling them. Not when a file's reading is
			// about to wait for the sinks (Pace): it would wait for the
			// pause.
			if f.store.endedBytes.Load() < paceBytes/2 {
				pause := time.NewTimer(followBatch)
				select {
				case <-pause.C:
				case <-ctx.Done():
				}
				pause.Stop()
			}
		case <-ctx.Done():
		case <-timeout:
			if !flush() {
				return
			}
		}
		if wait != nil {
			wait.Stop()
		}
	}
}

// Finish tells the sink that nothing more will be recorded, waits until
// it handled the whole log and flushed, and returns its first error.
func (f *Following) Finish() error {
	f.finish()
	<-f.done
	return f.err
}

// Problem returns problem i of connection id.
func (s *Store) Problem(id ConnID, i int) (decode.Problem, error) {
	sc, err := s.lockConn(id)
	if err != nil {
		return decode.Problem{}, err
	}
	defer sc.mu.Unlock()
	if i < 0 || i >= len(sc.problems) {
		return decode.Problem{}, fmt.Errorf("connection %s has no problem %d", sc.meta.ID, i)
	}
	return sc.problems[i], nil
}

// Totals are what a store holds, for a run's summary.
type Totals struct {
	Connections, Messages, Problems, Errors int64
}

// Totals counts the connections, messages and problems in the store, and
// the problems of error severity among them. Problems a connection only
// counted (past the cap per kind) are included, and so are the
// connections let go.
func (s *Store) Totals() Totals {
	s.mu.Lock()
	t := s.letGoTotals
	var kept []*storedConn
	s.conns.each(func(_ ConnID, sc *storedConn) { kept = append(kept, sc) })
	s.mu.Unlock()
	for _, sc := range kept {
		sc.mu.Lock()
		if sc.gone.Load() {
			// Let go since: not in the totals taken above.
			t.add(1, sc.letGoMessages, sc.letGoProblems, sc.letGoErrors)
		} else {
			problems, errors := sc.problemCounts()
			t.add(1, sc.messageCount(), problems, errors)
		}
		sc.mu.Unlock()
	}
	return t
}

// add counts conns more connections with their messages, problems and
// errors.
func (t *Totals) add(conns, messages, problems, errors int) {
	t.Connections += int64(conns)
	t.Messages += int64(messages)
	t.Problems += int64(problems)
	t.Errors += int64(errors)
}
