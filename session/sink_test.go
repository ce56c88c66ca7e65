package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
)

// blockingSink records the events it gets, and blocks in its first one
// until released.
type blockingSink struct {
	release chan struct{}
	mu      sync.Mutex
	got     []string
	flushes int
}

func (b *blockingSink) Event(e decode.Event) error {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	s := fmt.Sprintf("%s %s %d", e.Conn.ID, e.Kind, e.Index)
	if e.Message != nil {
		s += fmt.Sprintf(" %d", len(e.Message.Payload))
	}
	b.got = append(b.got, s)
	return nil
}

func (b *blockingSink) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushes++
	return nil
}

// TestSinkNeverStallsDecoding: a sink that blocks does not hold decoding
// up: the whole conversation is recorded while it sits in its first
// event; released, it gets every event, in order, and is flushed.
func TestSinkNeverStallsDecoding(t *testing.T) {
	s := testStore(t)
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	sink := &blockingSink{release: make(chan struct{})}
	f := s.FollowEvents(sink)
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"})
	conversation(c, rand.New(rand.NewPCG(3, 3)), 3000)
	sink.mu.Lock()
	n := len(sink.got)
	sink.mu.Unlock()
	if n != 0 {
		t.Fatalf("the blocked sink handled %d events", n)
	}
	if st := tap.Stats(); st.Messages < 3000 {
		t.Fatalf("%d messages recorded while the sink was blocked", st.Messages)
	}
	close(sink.release)
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	want := obs.conns["1"]
	// opened, handshake, messages, problems, closed: each once, in order.
	msgs, probs := 0, 0
	for _, line := range sink.got {
		var id, kind string
		var idx int
		fmt.Sscanf(line, "%s %s %d", &id, &kind, &idx)
		switch kind {
		case "message":
			if idx != msgs {
				t.Fatalf("message %d came after %d", idx, msgs-1)
			}
			msgs++
		case "problem":
			if idx != probs {
				t.Fatalf("problem %d came after %d", idx, probs-1)
			}
			probs++
		}
	}
	if msgs != len(want.Messages) || probs != len(want.Problems) || sink.got[0] != "1 opened 0" || sink.got[len(sink.got)-1] != "1 closed 0" {
		t.Fatalf("the sink got %d messages and %d problems of %d and %d; first %q, last %q",
			msgs, probs, len(want.Messages), len(want.Problems), sink.got[0], sink.got[len(sink.got)-1])
	}
	if sink.flushes == 0 {
		t.Error("the sink was never flushed")
	}
}

type failingSink struct{ n int }

func (f *failingSink) Event(decode.Event) error {
	f.n++
	if f.n == 3 {
		return errors.New("disk full")
	}
	return nil
}
func (f *failingSink) Flush() error { return nil }

// TestSinkError: a sink's error stops it and is what Finish returns;
// recording goes on.
func TestSinkError(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	f := s.FollowEvents(&failingSink{})
	conversation(tap.Open(&decode.Connection{ID: tap.NextID()}), rand.New(rand.NewPCG(1, 1)), 50)
	if err := f.Finish(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Finish: %v", err)
	}
	if s.Len() != 1 || tap.Stats().Messages < 50 {
		t.Fatalf("recording stopped with the sink")
	}
}

// connSink collects the ids of the connections it is given.
type connSink struct{ ids []string }

func (c *connSink) WriteConn(s *Store, id ConnID) error {
	info, err := s.Info(id)
	if err != nil {
		return err
	}
	if !info.Ended {
		return fmt.Errorf("connection %s given before it ended", info.ID)
	}
	c.ids = append(c.ids, info.ID)
	return nil
}
func (c *connSink) Flush() error { return nil }

// TestSequencerOrder: connections decoded on two lanes, their steps
// finished out of order, reach the store's list and a connection sink in
// the order of their steps, whichever lane finished first.
func TestSequencerOrder(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	sink := &connSink{}
	f := s.FollowConns(sink)
	onLanes(tap, []int64{2, 0, 3, 1}, func(k int, c *Conn) {
		conversation(c, rand.New(rand.NewPCG(2, 2)), 5) // ends its decoder
		// Step 0 is done at k 1: nothing may be in the list before.
		if k <= 1 && s.Len() != 0 {
			t.Fatalf("a connection took a place in the list before step 0 was done")
		}
	})
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sink.ids); got != "[2 4 1 3]" {
		t.Errorf("connections given in order %s, want [2 4 1 3] (their steps' order)", got)
	}
	for i, want := range []string{"2", "4", "1", "3"} {
		if info, err := s.Info(ConnID(i)); err != nil || info.ID != want {
			t.Errorf("place %d in the list: %q (%v), want %q", i, info.ID, err, want)
		}
	}
}

// onLanes decodes connection k whole as step steps[k] on lane k%2 of a
// sequencer of two lanes, feed feeding it; the lanes say so in the
// order k.
func onLanes(tap *Tap, steps []int64, feed func(k int, c *Conn)) {
	q := tap.Sequencer(2)
	for k, step := range steps {
		c := tap.Open(&decode.Connection{ID: tap.NextID()})
		lane := q.Lane(k % 2)
		c.SetLane(lane)
		lane.Begin(step)
		feed(k, c)
		lane.Done([]int64{step})
	}
}

// wholeSink reads each connection it is given whole.
type wholeSink struct{ got []*Conversation }

func (w *wholeSink) WriteConn(s *Store, id ConnID) error {
	c, err := s.Conversation(id)
	if err != nil {
		return err
	}
	w.got = append(w.got, c)
	return nil
}
func (w *wholeSink) Flush() error { return nil }

// TestStoreLetGo: with LetGo, each connection is read whole by every sink
// that follows the store, then let go: its payloads never reach the spill
// file, nothing of it stays in the store but what the totals count, and a
// later read says it was let go rather than giving anything.
func TestStoreLetGo(t *testing.T) {
	s := testStoreWith(t, StoreOptions{LetGo: true})
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	whole := &wholeSink{}
	conns := s.FollowConns(whole)
	open := make(chan struct{})
	close(open)
	replay := &blockingSink{release: open}
	events := s.FollowEvents(replay)
	for i := range 5 {
		c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test", Opened: t0})
		conversation(c, rand.New(rand.NewPCG(uint64(i), 3)), 200)
	}
	for _, f := range []*Following{conns, events} {
		if err := f.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	if len(whole.got) != 5 {
		t.Fatalf("the sink was given %d connections, want 5", len(whole.got))
	}
	for _, got := range whole.got {
		if d := diffConversation(obs.conns[got.ID], got); d != "" {
			t.Fatalf("connection %s as the sink read it: %s", got.ID, d)
		}
	}
	if len(replay.got) < 5*200 {
		t.Errorf("the event sink got %d events", len(replay.got))
	}
	if s.sp.writes != 0 {
		t.Errorf("%d writes to the spill file for connections let go before the budget filled", s.sp.writes)
	}
	held := 0
	for _, e := range s.sp.pages {
		if e.owner != &s.itemStream { // the log stays
			held++
		}
	}
	if s.sp.waitingBytes != 0 || held != 0 {
		t.Errorf("after letting go: %d bytes waiting, %d pages of connections held", s.sp.waitingBytes, held)
	}
	problems := 0
	for _, c := range obs.conns {
		problems += len(c.Problems)
	}
	if tot := s.Totals(); tot.Connections != 5 || tot.Messages < 5*200 || tot.Problems != int64(problems) || problems == 0 {
		t.Errorf("totals after letting go: %+v, want %d problems", tot, problems)
	}
	if _, err := s.Conversation(0); err == nil || !strings.Contains(err.Error(), "let go") {
		t.Errorf("reading a connection let go: %v", err)
	}
	if _, err := s.Info(1); err == nil || !strings.Contains(err.Error(), "let go") {
		t.Errorf("the metadata of a connection let go: %v", err)
	}
	// Nothing stays of a connection let go in the store's table: a proxy
	// left running sees connections by the million.
	s.conns.each(func(id ConnID, _ *storedConn) {
		t.Errorf("connection %d is still in the table after it was let go", id)
	})
}

// TestStorePace: with LetGo, Pace holds a file's reading back while the
// connections that ended wait for a sink (having first asked the source
// to hand over the work it holds), lets it go on once the sink caught up
// and let them go, and never holds it back once a sink stopped (its
// connections would wait for ever) or its context is done.
func TestStorePace(t *testing.T) {
	s := testStoreWith(t, StoreOptions{LetGo: true})
	tap := NewTap(s, TapOptions{})
	stuck := &blockingSink{release: make(chan struct{})}
	f := s.FollowEvents(stuck)
	for i := 0; s.endedBytes.Load() <= paceBytes; i++ {
		if i == 100 {
			t.Fatalf("100 connections ended with %d bytes", s.endedBytes.Load())
		}
		c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test", Opened: t0})
		conversation(c, rand.New(rand.NewPCG(uint64(i), 9)), 200)
	}
	paced := make(chan struct{})
	handedOver := make(chan struct{})
	go func() {
		s.Pace(context.Background(), func() { close(handedOver) })
		close(paced)
	}()
	select {
	case <-handedOver: // before waiting, the source hands its work over
	case <-time.After(10 * time.Second):
		t.Fatal("Pace waits without asking the source to hand its work over")
	}
	select {
	case <-paced:
		t.Fatal("Pace returned while the sink sat on its first event")
	case <-time.After(50 * time.Millisecond):
	}
	close(stuck.release)
	<-paced // the sink handles every connection, which are let go
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	if n := s.endedBytes.Load(); n != 0 {
		t.Errorf("%d bytes of ended connections left after the sink caught up", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.endedBytes.Add(2 * paceBytes) // as if a sink lagged
	s.Pace(ctx, nil)                // returns: ctx is done

	// A sink that failed never lets its connections go.
	s2 := testStoreWith(t, StoreOptions{LetGo: true})
	tap2 := NewTap(s2, TapOptions{})
	failed := s2.FollowEvents(&failingSink{})
	for i := 0; s2.endedBytes.Load() <= paceBytes; i++ {
		c := tap2.Open(&decode.Connection{ID: tap2.NextID(), Source: "test", Opened: t0})
		conversation(c, rand.New(rand.NewPCG(uint64(i), 9)), 200)
	}
	if failed.Finish() == nil {
		t.Fatal("the failing sink did not fail")
	}
	s2.Pace(context.Background(), nil) // returns: the sink stopped
}

// TestSequencerRandom: lanes on goroutines of their own decode random
// steps of random connections and say so in random batches; the log has
// every item once, in the order of the steps (and within a step, in the
// order recorded), and the connections their places in the order of their
// first steps.
func TestSequencerRandom(t *testing.T) {
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 77))
		s := testStore(t)
		tap := NewTap(s, TapOptions{})
		const lanes, conns, steps = 3, 12, 400
		q := tap.Sequencer(lanes)
		cs := make([]*Conn, conns)
		scs := make([]*storedConn, conns)
		for i := range cs {
			cs[i] = tap.Open(&decode.Connection{ID: tap.NextID()})
			cs[i].SetLane(q.Lane(i % lanes))
			s.mu.Lock()
			scs[i] = s.newConn(cs[i].conn, "")
			s.mu.Unlock()
		}
		// Step k belongs to connection owner[k] and records n[k] items.
		owner, n := make([]int, steps), make([]int, steps)
		var want []string
		first := map[int]bool{}
		var placeOrder []int
		for k := range steps {
			owner[k], n[k] = rng.IntN(conns), rng.IntN(3)
			for j := range n[k] {
				want = append(want, fmt.Sprintf("%d/%d", owner[k], j))
			}
			if n[k] > 0 && !first[owner[k]] {
				first[owner[k]] = true
				placeOrder = append(placeOrder, owner[k])
			}
		}
		var wg sync.WaitGroup
		for l := range lanes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lane := q.Lane(l)
				lrng := rand.New(rand.NewPCG(seed, uint64(l)))
				var batch []int64
				for k := range steps {
					if owner[k]%lanes != l {
						continue
					}
					lane.Begin(int64(k))
					for j := range n[k] {
						// Index carries the item's number in its step.
						lane.add(scs[owner[k]], Item{Kind: decode.EventMessage, Index: j}, decode.Event{})
					}
					batch = append(batch, int64(k))
					if lrng.IntN(4) == 0 {
						lane.Done(batch)
						batch = batch[:0]
					}
				}
				lane.Done(batch)
			}()
		}
		wg.Wait()
		connOf := map[ConnID]int{}
		for i, sc := range scs {
			connOf[sc.id] = i
		}
		var got []string
		for i := range s.Items() {
			it, err := s.Item(i)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d/%d", connOf[it.Conn], it.Index))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: the log is not in the order of the steps:\ngot  %v\nwant %v", seed, got, want)
		}
		for place, i := range placeOrder {
			if scs[i].id != ConnID(place) {
				t.Fatalf("seed %d: connection %d has place %d, want %d", seed, i, scs[i].id, place)
			}
		}
	}
}

// TestStepSet holds the Sequencer's set of steps done against a map: steps
// added out of order and far ahead, taken out from the first on, with the
// ring wrapped around when it grows.
func TestStepSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	var set stepSet
	model := map[int64]bool{}
	first := int64(0)
	grown := 0
	for round := range 2000 {
		// Steps ahead of first, mostly near it, now and then past the
		// ring's end (a lane that ran ahead), which makes it grow
		// wherever its head is.
		for k := range rng.IntN(8) {
			step := first + int64(rng.IntN(40))
			if round%250 == 1 && k == 0 {
				step = first + int64(len(set.ring)+rng.IntN(100))
			}
			if model[step] {
				continue
			}
			model[step] = true
			before, head := len(set.ring), set.head
			set.add(step - first)
			if len(set.ring) != before && head != 0 {
				grown++ // from a wrapped ring
			}
		}
		// Take out what is done from first on; now and then make first
		// done to go on.
		if rng.IntN(3) == 0 && !model[first] {
			model[first] = true
			set.add(0)
		}
		for {
			took := set.takeFirst()
			if took != model[first] {
				t.Fatalf("round %d: step %d taken %v, in the set %v", round, first, took, model[first])
			}
			if !took {
				break
			}
			delete(model, first)
			first++
		}
	}
	if grown < 3 || first < 1000 {
		t.Fatalf("the test wants the ring grown from a wrapped head (%d times) and many steps taken (%d)", grown, first)
	}
}

// copyingSink keeps a copy of every message event as it got it, with the
// connection's state then.
type copyingSink struct {
	msgs   []decode.Message
	states []decode.State
	kinds  []decode.EventKind
}

func (c *copyingSink) Event(e decode.Event) error {
	c.kinds = append(c.kinds, e.Kind)
	if e.Kind != decode.EventMessage {
		return nil
	}
	c.msgs = append(c.msgs, *copyEvent(e).Message)
	c.states = append(c.states, e.Conn.State)
	return nil
}

func (c *copyingSink) Flush() error { return nil }

// TestReplayPipe: the events an event sink gets through the replay's pipe
// (see replayPipe) are those the decoder emitted, payloads, frames and
// closes included, over many batches, with payloads larger than a batch's
// arena, and the events other than messages in their places.
func TestReplayPipe(t *testing.T) {
	s := testStore(t)
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	sink := &copyingSink{}
	f := s.FollowEvents(sink)
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test", Opened: t0})
	rng := rand.New(rand.NewPCG(8, 8))
	c.Feed(decode.Client, t0, []byte(upgrade))
	c.Feed(decode.Server, t0, []byte(accepted))
	at := t0
	for i := range 4000 {
		at = at.Add(time.Millisecond)
		n := rng.IntN(400)
		if i%1000 == 999 {
			n = pipeArena + 1000 + i // larger than an arena
		}
		p := make([]byte, n)
		for j := range p {
			p[j] = 'a' + byte(rng.IntN(26))
		}
		c.Feed(decode.Server, at, frame(decode.OpText, true, 0, nil, p))
	}
	c.Feed(decode.Client, at, frame(decode.OpClose, true, 0, &testKey, []byte("\x03\xe8bye")))
	c.Feed(decode.Server, at, frame(decode.OpClose, true, 0, nil, []byte("\x03\xe8")))
	c.End(at)
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	want := obs.conns[c.conn.ID]
	if len(sink.msgs) != len(want.Messages) || len(want.Messages) != 4002 {
		t.Fatalf("the sink got %d messages, the decoder emitted %d", len(sink.msgs), len(want.Messages))
	}
	for i, m := range sink.msgs {
		w := want.Messages[i]
		if !bytes.Equal(m.Payload, w.Payload) || !slices.Equal(m.Frames, w.Frames) || m.Size != w.Size || !m.Time.Equal(w.Time) ||
			(m.Close == nil) != (w.Close == nil) || m.Close != nil && (m.Close.Code != w.Close.Code || m.Close.Reason != w.Close.Reason) {
			t.Fatalf("message %d: got %d bytes, frames %v, close %+v; want %d bytes, frames %v, close %+v",
				i, len(m.Payload), m.Frames, m.Close, len(w.Payload), w.Frames, w.Close)
		}
	}
	if sink.states[0] != decode.StateOpen || sink.states[len(sink.states)-1] == decode.StateOpen {
		t.Errorf("states %s ... %s: the connection's state as each message was recorded", sink.states[0], sink.states[len(sink.states)-1])
	}
	if sink.kinds[0] != decode.EventOpened || sink.kinds[len(sink.kinds)-1] != decode.EventClosed {
		t.Errorf("first event %s, last %s", sink.kinds[0], sink.kinds[len(sink.kinds)-1])
	}
}

// gatedSink is a copyingSink whose first event waits for open.
type gatedSink struct {
	copyingSink
	open chan struct{}
}

func (g *gatedSink) Event(e decode.Event) error {
	<-g.open
	return g.copyingSink.Event(e)
}

// TestReplayPipeEventsStay: what an event in the replay's pipe points to
// does not change while it waits to be rendered, also when the replay
// went on past the connection's close meanwhile: each message comes with
// the state the connection had when it was recorded.
func TestReplayPipeEventsStay(t *testing.T) {
	s := testStore(t)
	sink := &gatedSink{open: make(chan struct{})}
	f := s.FollowEvents(sink)
	tap := NewTap(s, TapOptions{})
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test", Opened: t0})
	c.Feed(decode.Client, t0, []byte(upgrade))
	c.Feed(decode.Server, t0, []byte(accepted))
	const msgs = 300 // the whole log fits in the pipe
	for i := range msgs {
		c.Feed(decode.Server, t0, frame(decode.OpText, true, 0, nil, fmt.Appendf(nil, "message %d", i)))
	}
	c.Feed(decode.Client, t0, frame(decode.OpClose, true, 0, &testKey, []byte("\x03\xe8bye")))
	c.Feed(decode.Server, t0, frame(decode.OpClose, true, 0, nil, []byte("\x03\xe8")))
	c.End(t0)
	// Let the replay read the whole log into its pipe, past the close,
	// while the sink holds the first event.
	time.Sleep(20 * followBatch)
	close(sink.open)
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(sink.msgs) != msgs+2 {
		t.Fatalf("%d messages", len(sink.msgs))
	}
	for i, m := range sink.msgs[:msgs] {
		if sink.states[i] != decode.StateOpen || string(m.Payload) != fmt.Sprintf("message %d", i) {
			t.Fatalf("message %d: %q with the connection %s", i, m.Payload, sink.states[i])
		}
	}
	if sink.states[msgs+1] == decode.StateOpen {
		t.Errorf("the connection is still open at the close's answer")
	}
}

// TestReplayPipeLetsGo: a batch the renderer is done with holds nothing of
// its events, so that a payload too large for the arena, copied to memory
// of its own, is not kept until its place is used again.
func TestReplayPipeLetsGo(t *testing.T) {
	p := newReplayPipe(&copyingSink{})
	c := &decode.Connection{ID: "1"}
	big := &decode.Message{Opcode: decode.OpBinary, Payload: make([]byte, 2*pipeArena), Frames: []int{0}}
	if err := p.add(decode.Event{Kind: decode.EventMessage, Conn: c, Message: big}); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	for range pipeBatches - 1 {
		b := <-p.free
		for i, m := range b.msgs[:cap(b.msgs)] {
			if m.Payload != nil || m.Frames != nil {
				t.Fatalf("a rendered batch still holds message %d's payload (%d bytes)", i, len(m.Payload))
			}
		}
		for i, e := range b.events[:cap(b.events)] {
			if e.Conn != nil || e.Message != nil {
				t.Fatalf("a rendered batch still holds event %d", i)
			}
		}
	}
}
