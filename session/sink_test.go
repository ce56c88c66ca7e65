package session

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

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
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"}, ConnOptions{})
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
	conversation(tap.Open(&decode.Connection{ID: tap.NextID()}, ConnOptions{}), rand.New(rand.NewPCG(1, 1)), 50)
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

// TestConnSinkOrder: with OrderedEnd, connections are given to a
// connection sink in the order they were released, not the order their
// decoders ended.
func TestConnSinkOrder(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	sink := &connSink{}
	f := s.FollowConns(sink)
	var conns []*Conn
	for range 4 {
		c := tap.Open(&decode.Connection{ID: tap.NextID()}, ConnOptions{OrderedEnd: true})
		conversation(c, rand.New(rand.NewPCG(2, 2)), 5) // ends its decoder
		conns = append(conns, c)
	}
	for _, i := range []int{2, 0, 3, 1} {
		conns[i].Release()
	}
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sink.ids); got != "[3 1 4 2]" {
		t.Errorf("connections given in order %s, want [3 1 4 2]", got)
	}
}
