package session

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
)

// lineSink is a rendering sink whose line for an event is its index,
// padded to lineBytes. WriteRendered waits for release once it was
// called (if release is set), or fails with fail.
type lineSink struct {
	out     bytes.Buffer
	calls   int
	blocked chan struct{} // closed at the first WriteRendered
	release chan struct{}
	fail    error
	events  int
}

const lineBytes = 1 << 10

type lineRenderer struct{}

func (lineRenderer) Render(b []byte, e decode.Event) []byte {
	at := len(b)
	b = strconv.AppendInt(b, int64(e.Index), 10)
	for len(b)-at < lineBytes-1 {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

func (s *lineSink) NewRenderer() Renderer { return lineRenderer{} }

func (s *lineSink) WriteRendered(b []byte) error {
	s.calls++
	if s.calls == 1 && s.blocked != nil {
		close(s.blocked)
	}
	if s.release != nil {
		<-s.release
	}
	if s.fail != nil {
		return s.fail
	}
	s.out.Write(b)
	return nil
}

func (s *lineSink) Event(decode.Event) error { s.events++; return nil }
func (s *lineSink) Flush() error             { return nil }

// laneProducer records n message items of one connection on a lane of its
// own, a step each, with a Done after each, and reports the most its
// sink's queue held after a step.
func laneProducer(t *testing.T, s *Store, n int) (done chan struct{}, most *int) {
	tap := NewTap(s, TapOptions{})
	q := tap.Sequencer(1)
	if len(q.hot) != 1 {
		t.Fatalf("the Sequencer renders for %d sinks, want 1", len(q.hot))
	}
	c := tap.Open(&decode.Connection{ID: tap.NextID()})
	s.mu.Lock()
	sc := s.newConn(c.conn, "")
	s.mu.Unlock()
	lane := q.Lane(0)
	done, most = make(chan struct{}), new(int)
	go func() {
		defer close(done)
		for k := range n {
			lane.Begin(int64(k))
			lane.add(sc, Item{Kind: decode.EventMessage, Index: k}, decode.Event{Kind: decode.EventMessage, Index: k})
			lane.Done([]int64{int64(k)})
			h := q.hot[0].queue
			h.mu.Lock()
			*most = max(*most, h.size)
			h.mu.Unlock()
		}
	}()
	return done, most
}

// TestHotQueueHoldsLanesBack: a rendering sink that stops writing holds
// the decoding lanes back once its queue is full: the queue never holds
// more than its bound and one step's rendering, and once the sink goes
// on, it gets every line, in order.
func TestHotQueueHoldsLanesBack(t *testing.T) {
	s := testStore(t)
	sink := &lineSink{blocked: make(chan struct{}), release: make(chan struct{})}
	f := s.FollowEvents(sink)
	const n = 4 * hotQueueBytes / lineBytes
	done, most := laneProducer(t, s, n)
	<-sink.blocked
	hot, _ := s.hotSinks()
	q := hot[0].queue
	full := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !full; time.Sleep(time.Millisecond) {
		q.mu.Lock()
		full = q.size >= hotQueueBytes
		q.mu.Unlock()
	}
	if !full {
		t.Fatal("the queue never filled")
	}
	select {
	case <-done:
		t.Fatalf("the lane recorded all %d items while the sink wrote nothing", n)
	default:
	}
	close(sink.release)
	<-done
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	if bound := hotQueueBytes + lineBytes + hotEntryBytes; *most > bound {
		t.Errorf("the queue held %d bytes, more than %d", *most, bound)
	}
	lines := bytes.Split(bytes.TrimSuffix(sink.out.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != n || sink.events != 0 {
		t.Fatalf("the sink got %d lines and %d events to render, want %d and none", len(lines), sink.events, n)
	}
	for i, l := range lines {
		if got := string(bytes.TrimRight(l, " ")); got != fmt.Sprint(i) {
			t.Fatalf("line %d is %q", i, got)
		}
	}
}

// TestHotSinkFailureLetsLanesGo: a rendering sink that failed holds
// nothing back: the lanes record far more than its queue holds, and
// Finish reports the sink's error.
func TestHotSinkFailureLetsLanesGo(t *testing.T) {
	s := testStore(t)
	broken := errors.New("broken pipe")
	sink := &lineSink{fail: broken}
	f := s.FollowEvents(sink)
	const n = 4 * hotQueueBytes / lineBytes
	done, _ := laneProducer(t, s, n)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the lane waits for a sink that failed")
	}
	if err := f.Finish(); !errors.Is(err, broken) {
		t.Fatalf("Finish returned %v, want the sink's error", err)
	}
}

// TestUnkeptOnLanes: in a store that lets connections go, followed only by
// sinks that render on the lanes, the connections decoded there keep no
// frames, messages or exchanges (the spill file reserves nothing for
// them), while the totals still count every message and problem; a sink
// that reads connections from the store gets them whole.
func TestUnkeptOnLanes(t *testing.T) {
	run := func(withConnSink bool) (reserved int64, totals Totals, messages, problems int, lines int, whole []*Conversation) {
		s := testStoreWith(t, StoreOptions{LetGo: true})
		var counted struct {
			sync.Mutex
			messages, problems int
		}
		tap := NewTap(s, TapOptions{Observe: func(e decode.Event) {
			counted.Lock()
			defer counted.Unlock()
			switch e.Kind {
			case decode.EventMessage:
				counted.messages++
			case decode.EventProblem:
				counted.problems++
			}
		}})
		sink := &lineSink{}
		followers := []*Following{s.FollowEvents(sink)}
		ws := &wholeSink{}
		if withConnSink {
			followers = append(followers, s.FollowConns(ws))
		}
		onLanes(tap, []int64{0, 1, 2, 3}, func(k int, c *Conn) {
			conversation(c, rand.New(rand.NewPCG(uint64(k), 5)), 300)
		})
		for _, f := range followers {
			if err := f.Finish(); err != nil {
				t.Fatal(err)
			}
		}
		return s.sp.size(), s.Totals(), counted.messages, counted.problems, sink.out.Len() / lineBytes, ws.got
	}
	reserved, totals, messages, problems, lines, _ := run(false)
	keptReserved, keptTotals, _, _, keptLines, whole := run(true)
	if totals.Messages != int64(messages) || totals.Problems != int64(problems) || totals.Connections != 4 {
		t.Errorf("without records kept the totals are %+v, want 4 connections, %d messages and %d problems", totals, messages, problems)
	}
	if keptTotals != totals || lines != keptLines || lines < messages {
		t.Errorf("with a connection sink: totals %+v and %d lines, without: %+v and %d lines", keptTotals, keptLines, totals, lines)
	}
	if reserved*100 > keptReserved {
		t.Errorf("the spill file reserved %d bytes without a connection sink, %d with one: the records were kept", reserved, keptReserved)
	}
	if len(whole) != 4 {
		t.Fatalf("the connection sink got %d connections, want 4", len(whole))
	}
	got := 0
	for _, c := range whole {
		got += len(c.Messages)
	}
	if got != messages {
		t.Errorf("the connection sink read %d messages, want %d", got, messages)
	}
}
