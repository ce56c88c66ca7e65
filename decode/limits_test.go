package decode

import (
	"bytes"
	"testing"
)

// TestMaxMessageSize checks the retain limit on a fragmented message: what
// is past the limit is not kept, the message says it is truncated and has
// its full size, text past the limit is still checked, and the next
// message is whole.
func TestMaxMessageSize(t *testing.T) {
	const limit = 64 << 10
	text := bytesOf(300000, "abcdefghij")
	text[250000] = 0xff // past the limit: must still be found
	var s script
	s.handshake()
	var frames int
	for off := 0; off < len(text); off += 70000 {
		end := min(off+70000, len(text))
		op := OpContinuation
		if off == 0 {
			op = OpText
		}
		s.client(wsFrame{op: op, more: end < len(text), payload: text[off:end], key: &testKey}.bytes())
		frames++
		if off == 70000 {
			s.client(cf(OpPing, "between"))
		}
	}
	s.client(cf(OpText, "next"))
	c := decodeWhole(&s, Options{MaxMessageSize: limit})

	var m *Message
	for i := range c.Messages {
		if c.Messages[i].Opcode == OpText && c.Messages[i].Size > 1000 {
			m = &c.Messages[i]
		}
	}
	if m == nil {
		t.Fatalf("the large message is missing")
	}
	if !m.Truncated || m.Size != int64(len(text)) || len(m.Payload) != limit || !bytes.Equal(m.Payload, text[:limit]) || m.TextValid {
		t.Fatalf("large message: truncated %v size %d kept %d", m.Truncated, m.Size, len(m.Payload))
	}
	if cap(m.Payload) > 2*limit {
		t.Fatalf("payload capacity %d for a %d-byte limit", cap(m.Payload), limit)
	}
	if len(m.Frames) != frames {
		t.Fatalf("message has %d frames, want %d", len(m.Frames), frames)
	}
	kept := 0
	for _, fi := range m.Frames {
		kept += len(c.Frames[fi].Payload)
	}
	if kept != limit {
		t.Fatalf("frames keep %d bytes in all, want %d", kept, limit)
	}
	p := mustOneProblem(t, c, KindMessageTruncated)
	if p.Severity != Warning || p.Frame != m.Frames[0] {
		t.Fatalf("truncation problem %+v", p)
	}
	if u := mustOneProblem(t, c, KindInvalidUTF8); u.Frame != m.Frames[3] {
		t.Fatalf("invalid UTF-8 past the limit reported at frame %d, want %d", u.Frame, m.Frames[3])
	}
	last := c.Messages[len(c.Messages)-1]
	if string(last.Payload) != "next" || last.Truncated || !last.TextValid {
		t.Fatalf("the next message %+v", last)
	}
	if c.Messages[0].Opcode != OpPing || string(c.Messages[0].Payload) != "between" {
		t.Fatalf("the ping between fragments %+v", c.Messages[0])
	}
}

// TestMaxMessageSizeControl: a control payload is bounded by the same
// limit.
func TestMaxMessageSizeControl(t *testing.T) {
	var s script
	s.handshake()
	s.server(sf(OpPing, string(bytesOf(100, "p"))))
	c := decodeWhole(&s, Options{MaxMessageSize: 10})
	m := c.Messages[0]
	if !m.Truncated || len(m.Payload) != 10 || m.Size != 100 || len(c.Frames[0].Payload) != 10 {
		t.Fatalf("ping over the limit %+v", m)
	}
}

// TestDecompressionBomb sends 10 MB of zeros compressed to about 10 KB
// with an expansion limit of 1 MB: the message stops at the limit and says
// so, the retained payload stays within the limit, and the messages after
// it, compressed or not, decode.
func TestDecompressionBomb(t *testing.T) {
	const limit = 1 << 20
	bomb := newDeflater(false).compress(make([]byte, 10<<20))
	if len(bomb) > 20<<10 {
		t.Fatalf("bomb compressed to %d bytes", len(bomb))
	}
	var s script
	s.deflateHandshake("server_no_context_takeover")
	// In three frames, as a sender may fragment it.
	third := len(bomb) / 3
	s.server(wsFrame{op: OpBinary, rsv: 4, more: true, payload: bomb[:third]}.bytes())
	s.server(wsFrame{op: OpContinuation, more: true, payload: bomb[third : 2*third]}.bytes())
	s.server(wsFrame{op: OpContinuation, payload: bomb[2*third:]}.bytes())
	s.server(wsFrame{op: OpText, rsv: 4, payload: newDeflater(false).compress([]byte("after the bomb"))}.bytes())
	s.server(sf(OpText, "plain"))
	// The same bomb as text.
	s.server(wsFrame{op: OpText, rsv: 4, payload: bomb}.bytes())
	s.server(wsFrame{op: OpText, rsv: 4, payload: newDeflater(false).compress([]byte("after the text bomb"))}.bytes())

	for _, opts := range []Options{{MaxInflateSize: limit}, {MaxInflateSize: limit, MaxMessageSize: 100 << 10}} {
		c := decodeWhole(&s, opts)
		if len(c.Messages) != 5 {
			t.Fatalf("%d messages, want 5; problems:%s", len(c.Messages), listProblems(c.Problems))
		}
		retain := min(int64(limit), opts.MaxMessageSize)
		if opts.MaxMessageSize == 0 {
			retain = limit
		}
		for _, i := range []int{0, 3} {
			m := c.Messages[i]
			if !m.Truncated || m.Raw || m.Size != limit || int64(len(m.Payload)) != retain {
				t.Fatalf("bomb %d: truncated %v raw %v size %d kept %d", i, m.Truncated, m.Raw, m.Size, len(m.Payload))
			}
			if int64(cap(m.Payload)) > 2*retain {
				t.Fatalf("bomb %d: payload capacity %d for %d retained", i, cap(m.Payload), retain)
			}
			if m.TextValid {
				t.Fatalf("a truncated text message is not valid text")
			}
		}
		ps := problemsOf(c, KindInflateLimit)
		if len(ps) != 2 || ps[0].Severity != Error || ps[0].Frame != 2 || ps[0].MessageIndex != 0 || ps[1].MessageIndex != 3 {
			t.Fatalf("inflate-limit problems:%s", listProblems(c.Problems))
		}
		if n := len(problemsOf(c, KindInvalidUTF8)); n != 0 {
			t.Fatalf("a text bomb cut at the limit is not invalid text:%s", listProblems(c.Problems))
		}
		for i, want := range map[int]string{1: "after the bomb", 2: "plain", 4: "after the text bomb"} {
			if m := c.Messages[i]; string(m.Payload) != want || m.Truncated || !m.TextValid {
				t.Fatalf("message %d %+v, want %q", i, m, want)
			}
		}
	}
}

// TestInflateLimitExact: a message that inflates to exactly the limit is
// not a bomb.
func TestInflateLimitExact(t *testing.T) {
	var s script
	s.deflateHandshake("")
	s.server(wsFrame{op: OpBinary, rsv: 4, payload: newDeflater(true).compress(make([]byte, 5000))}.bytes())
	c := decodeWhole(&s, Options{MaxInflateSize: 5000})
	if m := c.Messages[0]; m.Truncated || m.Size != 5000 || len(m.Payload) != 5000 || len(c.Problems) != 0 {
		t.Fatalf("message of exactly the limit: %+v problems:%s", m, listProblems(c.Problems))
	}
}

// TestDecoderKeepsNothing: the listener sees every frame, message and
// problem with the right content, the counts are kept, and the decoder's
// buffers stay small after 200 messages: it keeps nothing it emitted.
func TestDecoderKeepsNothing(t *testing.T) {
	var s script
	s.deflateHandshake("")
	z := newDeflater(true)
	for i := 0; i < 200; i++ {
		msg := bytesOf(1000+i, "streaming ")
		s.client(wsFrame{op: OpText, rsv: 4, payload: z.compress(msg), key: &testKey}.bytes())
		s.server(cf(OpBinary, "masked server frame"))
	}
	var frames, messages, problems int
	var bad bool
	c := &Connection{}
	d := NewDecoder(c, Options{}, func(e Event) {
		switch e.Kind {
		case EventFrame:
			bad = bad || e.Index != frames
			frames++
		case EventMessage:
			bad = bad || e.Index != messages
			if e.Message.From == Client {
				want := bytesOf(1000+messages/2, "streaming ")
				bad = bad || !bytes.Equal(e.Message.Payload, want)
			} else {
				bad = bad || string(e.Message.Payload) != "masked server frame"
			}
			messages++
		case EventProblem:
			bad = bad || e.Problem.Kind != KindMaskedServerFrame
			problems++
		}
	})
	for i, st := range s.steps {
		d.Feed(st.side, stepTime(i), st.b)
	}
	d.End(stepTime(len(s.steps)))
	if bad || frames != 400 || messages != 400 || problems != 100 {
		t.Fatalf("listener saw %d frames, %d messages, %d problems; content wrong: %v", frames, messages, problems, bad)
	}
	for _, dir := range d.dirs {
		if n := cap(dir.msg.buf) + cap(dir.inflated) + cap(dir.ctrl); n > 2*maxReusedBuffer {
			t.Fatalf("the %s direction holds %d bytes of buffers after 200 messages", dir.side, n)
		}
	}
	if c.FrameCount != 400 || c.MessageCount != 400 || c.ProblemCount != 100 || c.SuppressedProblems != 100 {
		t.Fatalf("counts %d %d %d suppressed %d", c.FrameCount, c.MessageCount, c.ProblemCount, c.SuppressedProblems)
	}
}
