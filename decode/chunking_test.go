package decode

import (
	"math/rand"
	"reflect"
	"testing"
	"time"
)

// Chunking must not matter (the design's rule 2): a conversation fed whole,
// one byte at a time, or cut at random points gives deeply equal results:
// frames, messages, problems, exchanges, close, state, and the events in
// the same order. Every chunk of a capture step carries the step's time,
// so times must be equal too; when steps of one side are merged into one
// chunk the times of what they held change, and only those are normalised.

// chunkScripts are the conversations the chunking tests feed.
func chunkScripts() map[string]*script {
	out := map[string]*script{}

	// Every length form in both directions, fragments with pings between
	// them, and the closing handshake.
	{
		var s script
		s.handshake()
		for _, n := range []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 70000} {
			s.client(wsFrame{op: OpBinary, payload: bytesOf(n, "client payload "), key: &testKey}.bytes())
			s.server(wsFrame{op: OpBinary, payload: bytesOf(n, "server payload ")}.bytes())
		}
		text := []byte("fragmented text with ünïcödé split 😀 across frames")
		for i, cut := range []int{0, 3, 27, 28, 45, 47, len(text)} {
			if i == 0 {
				continue
			}
			prev := []int{0, 3, 27, 28, 45, 47}[i-1]
			op := OpContinuation
			if prev == 0 {
				op = OpText
			}
			s.client(wsFrame{op: op, more: cut < len(text), payload: text[prev:cut], key: &testKey}.bytes())
			s.client(cf(OpPing, "ping between fragments"))
			s.server(sf(OpPong, "pong"))
		}
		s.server(wsFrame{op: OpText, more: true, payload: []byte("a")}.bytes(), sf(OpPing, ""),
			wsFrame{op: OpContinuation, more: true, payload: bytesOf(300, "b")}.bytes(), sf(OpContinuation, "c"))
		s.client(cf(OpClose, closePayload(1001, "going away")))
		s.server(sf(OpClose, closePayload(1001, "")))
		out["length forms"] = &s
	}

	// permessage-deflate with context takeover on both sides: fragmented
	// compressed messages, uncompressed ones between, pings inside.
	{
		var s script
		s.deflateHandshake("")
		zc, zs := newDeflater(true), newDeflater(true)
		r := rand.New(rand.NewSource(5))
		for i := 0; i < 30; i++ {
			msg := bytesOf(10+r.Intn(3000), "the same words again and again, ")
			zp := zc.compress(msg)
			cut := len(zp) / 2
			s.client(wsFrame{op: OpText, rsv: 4, more: true, payload: zp[:cut], key: &testKey}.bytes())
			if i%3 == 0 {
				s.client(cf(OpPing, "p"))
			}
			s.client(wsFrame{op: OpContinuation, payload: zp[cut:], key: &testKey}.bytes())
			s.server(wsFrame{op: OpBinary, rsv: 4, payload: zs.compress(msg)}.bytes())
			if i%5 == 0 {
				s.server(sf(OpText, "uncompressed"))
			}
		}
		s.server(sf(OpClose, closePayload(1000, "")))
		s.client(cf(OpClose, closePayload(1000, "")))
		out["deflate takeover"] = &s
	}

	// No context takeover and a small window; one message breaks the rule.
	{
		var s script
		s.deflateHandshake("server_no_context_takeover; client_max_window_bits=10")
		for i := 0; i < 5; i++ {
			s.server(wsFrame{op: OpText, rsv: 4, payload: newDeflater(false).compress(bytesOf(500, "abc"))}.bytes())
		}
		s.server(wsFrame{op: OpText, rsv: 4, payload: helloFirst}.bytes(), wsFrame{op: OpText, rsv: 4, payload: helloSecond}.bytes())
		s.server(wsFrame{op: OpText, rsv: 4, payload: helloFirst}.bytes())
		zc := newDeflater(true)
		for i := 0; i < 5; i++ {
			s.client(wsFrame{op: OpText, rsv: 4, payload: zc.compress(bytesOf(100+i, "xyz")), key: &testKey}.bytes())
		}
		out["no context takeover"] = &s
	}

	// Plain HTTP (starting with HEAD) before the Upgrade.
	{
		var s script
		plainHTTPScript(&s)
		s.handshake()
		s.client(cf(OpText, "upgraded"))
		s.server(sf(OpText, "yes"))
		out["plain HTTP first"] = &s
	}

	// A refused Upgrade, then a second one that works.
	{
		var s script
		s.client(upgradeRequest(upgradeHeaders()))
		s.server(head("HTTP/1.1 401 Unauthorized", hdrs{{"Transfer-Encoding", "chunked"}}), []byte("4\r\nno!!\r\n0\r\n\r\n"))
		s.client(upgradeRequest(upgradeHeaders().set("Authorization", "Basic dTpw")), cf(OpText, "early"))
		s.server(switching(acceptHeaders()), sf(OpText, "welcome"))
		out["rejected then accepted"] = &s
	}

	// Hixie-76 and hixie-75.
	{
		s, _ := hixie76Script(hixieAnswer)
		s.client([]byte{0x01, 'x', 0xFF})
		out["hixie-76"] = s
		var s75 script
		s75.client(head("GET /demo HTTP/1.1", hdrs{{"Upgrade", "WebSocket"}, {"Connection", "Upgrade"}, {"Host", "example.com"}}))
		s75.server(head("HTTP/1.1 101 Web Socket Protocol Handshake", hdrs{{"Upgrade", "WebSocket"}, {"Connection", "Upgrade"}}),
			hixieText("one"), hixieText("two"))
		s75.client(hixieText("three"), []byte{0x80, 0x03, 'a', 'b', 'c'})
		out["hixie-75"] = &s75
	}

	// A capture that starts in the middle of the conversation.
	{
		var s script
		tail := sf(OpText, "the end of a message the capture missed")
		s.server(tail[5:])
		s.server(sf(OpText, "first whole"), sf(OpText, "second"), sf(OpBinary, "third"))
		s.client(cf(OpText, "client one"), cf(OpText, "client two"), cf(OpText, "client three"))
		s.server([]byte{0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00})
		s.server(wsFrame{op: OpText, rsv: 4, payload: helloFirst}.bytes())
		out["no handshake"] = &s
	}

	// Gaps: inside a payload, across frames, inside the held client bytes.
	{
		var s script
		s.handshake()
		big := cf(OpBinary, string(bytesOf(5000, "gap ")))
		s.client(big[:100])
		s.gap(Client, 1000)
		s.client(big[1100:])
		s.client(cf(OpText, "after a gap inside a payload"))
		s.server(sf(OpText, "server"))
		frame := sf(OpBinary, string(bytesOf(400, "x")))
		s.server(frame[:50])
		s.gap(Server, 500)
		s.server([]byte("ABCDEFGHIJ"), sf(OpText, "found again"), sf(OpText, "and again"))
		out["gaps"] = &s
	}

	// A gap in the client's bytes while they wait for the answer.
	{
		var s script
		s.client(upgradeRequest(upgradeHeaders()), cf(OpText, "held"))
		held := cf(OpBinary, string(bytesOf(300, "h")))
		s.client(held[:40])
		s.gap(Client, 100)
		s.client(held[140:], cf(OpText, "after the gap"))
		s.server(switching(acceptHeaders()))
		s.server(sf(OpText, "answer"))
		out["gap while held"] = &s
	}

	// The caller's labels the wrong way round.
	{
		var s script
		s.handshake()
		s.client(cf(OpText, "hello"))
		s.server(sf(OpText, "hello back"))
		for i := range s.steps {
			s.steps[i].side = s.steps[i].side.Other()
		}
		out["swapped labels"] = &s
	}

	// Every problem case of problems_test.go.
	for _, tc := range problemCases() {
		var s script
		tc.build(&s)
		out["problem: "+tc.name] = &s
	}
	return out
}

// TestChunkingInvariance feeds every script whole, one byte at a time and
// cut at random points with many seeds, and requires identical results.
func TestChunkingInvariance(t *testing.T) {
	seeds := 25
	if testing.Short() {
		seeds = 5
	}
	for name, s := range chunkScripts() {
		t.Run(name, func(t *testing.T) {
			opts := scriptOptions(name)
			want := decodeScript(s, opts, whole, true)
			if want.conn.FrameCount == 0 && len(want.conn.Exchanges) == 0 && want.conn.Request == nil {
				t.Fatalf("the script decodes to nothing")
			}
			t.Logf("%d frames, %d messages, %d problems, %d exchanges, state %s", len(want.conn.Frames),
				len(want.conn.Messages), len(want.conn.Problems), len(want.conn.Exchanges), want.conn.State)
			check := func(how string, got result) {
				t.Helper()
				if d := diffConn(want.conn, got.conn); d != "" {
					t.Fatalf("%s differs from whole: %s", how, d)
				}
				if !reflect.DeepEqual(want.events, got.events) {
					t.Fatalf("%s: events differ:\n%v\nvs\n%v", how, want.events, got.events)
				}
			}
			check("one byte at a time", decodeScript(s, opts, bytewise, true))
			for seed := int64(0); seed < int64(seeds); seed++ {
				check("random split", decodeScript(s, opts, randomSplits(rand.New(rand.NewSource(seed))), true))
			}
			// Steps of one side merged: the same bytes in fewer chunks.
			merged := mergeSteps(s)
			a, b := decodeScript(s, opts, whole, true), decodeScript(merged, opts, bytewise, true)
			zeroTimes(a.conn)
			zeroTimes(b.conn)
			if d := diffConn(a.conn, b.conn); d != "" {
				t.Fatalf("merged steps differ: %s", d)
			}
			if !reflect.DeepEqual(a.events, b.events) {
				t.Fatalf("merged steps: events differ")
			}
		})
	}
}

// scriptOptions are the options chunk script name is decoded with.
func scriptOptions(name string) Options {
	opts := Options{}
	if name == "problem: message over the retain limit" {
		opts.MaxMessageSize = 8
	}
	for _, tc := range problemCases() {
		if name == "problem: "+tc.name {
			opts = tc.opts
		}
	}
	return opts
}

// mergeSteps joins consecutive byte steps of the same side.
func mergeSteps(s *script) *script {
	out := &script{pos: s.pos}
	for _, st := range s.steps {
		n := len(out.steps)
		if n > 0 && st.gap == 0 && st.note == nil && out.steps[n-1].gap == 0 && out.steps[n-1].note == nil && out.steps[n-1].side == st.side {
			out.steps[n-1].b = append(append([]byte(nil), out.steps[n-1].b...), st.b...)
			continue
		}
		out.steps = append(out.steps, st)
	}
	return out
}

// zeroTimes clears every capture time in c.
func zeroTimes(c *recorded) {
	var zero time.Time
	c.Opened, c.LastSeen = zero, zero
	for i := range c.Frames {
		c.Frames[i].Time = zero
	}
	for i := range c.Messages {
		c.Messages[i].Time, c.Messages[i].LastTime = zero, zero
		if c.Messages[i].Close != nil {
			c.Messages[i].Close.Time = zero
		}
	}
	for i := range c.Problems {
		c.Problems[i].Time = zero
	}
	for _, cl := range []*Close{c.Close, c.CloseReply} {
		if cl != nil {
			cl.Time = zero
		}
	}
	if c.Request != nil {
		c.Request.Time = zero
	}
	if c.Response != nil {
		c.Response.Time = zero
	}
	for _, ex := range c.Exchanges {
		if ex.Request != nil {
			ex.Request.Time = zero
		}
		if ex.Response != nil {
			ex.Response.Time = zero
		}
	}
}
