package session

import (
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
)

// TestDecoderPanicContained: a panic while decoding one connection (here
// made by the Observe hook, which runs on the decoding call's stack, as a
// decoder bug would) becomes an internal-error problem on it; what it
// recorded before is kept, it ends, and the other connection decodes on.
func TestDecoderPanicContained(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{Observe: func(e decode.Event) {
		if e.Kind == decode.EventMessage && e.Conn.ID == "bad" && string(e.Message.Payload) == "boom" {
			panic("a decoder bug")
		}
	}})
	open := func(id string) *Conn {
		c := tap.Open(&decode.Connection{ID: id, Client: "127.0.0.1:1", Server: "127.0.0.1:2", Source: "test"})
		c.Feed(decode.Client, t0, []byte(upgrade))
		c.Feed(decode.Server, t0, []byte(accepted))
		return c
	}
	bad, good := open("bad"), open("good")
	at := t0.Add(time.Second)
	for _, p := range []string{"before", "boom", "after"} {
		for _, c := range []*Conn{bad, good} {
			c.Feed(decode.Client, at, frame(decode.OpText, true, 0, &testKey, []byte(p)))
		}
	}
	bad.End(at)
	good.End(at)
	conns, err := s.Ended()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Conversation{}
	for _, c := range conns {
		byID[c.ID] = c
	}
	b, g := byID["bad"], byID["good"]
	if b == nil || g == nil {
		t.Fatalf("ended connections %v, want both", len(conns))
	}
	if len(b.Messages) != 1 || string(b.Messages[0].Payload) != "before" {
		t.Errorf("the broken connection kept %d messages, want the one before the panic", len(b.Messages))
	}
	if len(b.Problems) != 1 || b.Problems[0].Kind != decode.KindInternalError || !strings.Contains(b.Problems[0].Message, "a decoder bug") || !strings.Contains(b.Problems[0].Message, "guard_test.go") {
		t.Errorf("problems %+v, want one internal-error naming the panic and where", b.Problems)
	}
	if len(g.Messages) != 3 || len(g.Problems) != 0 {
		t.Errorf("the other connection: %d messages, %d problems", len(g.Messages), len(g.Problems))
	}
}

// TestStorePanicNotContained: a panic in the store's own code (here made
// by taking a connection's records from under it) goes on, rather than
// being recorded into the store, which may hold its locks: that waited on
// them for ever, and the run hung.
func TestStorePanicNotContained(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	c := tap.Open(&decode.Connection{ID: "1", Client: "127.0.0.1:1", Server: "127.0.0.1:2", Source: "test"})
	c.Feed(decode.Client, t0, []byte(upgrade))
	c.Feed(decode.Server, t0, []byte(accepted))
	c.stored.connRecords = nil // a store bug
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		c.Feed(decode.Client, t0, frame(decode.OpText, true, 0, &testKey, []byte("boom")))
	}()
	select {
	case r := <-done:
		if r == nil {
			t.Fatal("the store's panic was swallowed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("recording a panic of the store hung")
	}
}
