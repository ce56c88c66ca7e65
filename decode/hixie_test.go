package decode

import (
	"bytes"
	"testing"
)

// TestHixieChallengeExample checks the MD5 answer of the example in
// draft-ietf-hybi-thewebsocketprotocol-00 (sections 1.3 and 5.2).
func TestHixieChallengeExample(t *testing.T) {
	got, ok := HixieChallenge(hixieKey1, hixieKey2, []byte(hixieKey3))
	if !ok || string(got[:]) != hixieAnswer {
		t.Fatalf("HixieChallenge = %q %v, want %q", got, ok, hixieAnswer)
	}
	// Key numbers: digits divided by the count of spaces (4.1 step 23).
	if n, ok := hixieKeyNumber(hixieKey1); !ok || n != 4146546015/5 {
		t.Fatalf("key1 number %d %v", n, ok)
	}
	if n, ok := hixieKeyNumber(hixieKey2); !ok || n != 1299853100/5 {
		t.Fatalf("key2 number %d %v", n, ok)
	}
	for _, bad := range []string{"123", "1 2 3 4", ""} {
		if _, ok := hixieKeyNumber(bad); ok {
			t.Errorf("key %q accepted", bad)
		}
	}
	if _, ok := HixieChallenge(hixieKey1, hixieKey2, []byte("short")); ok {
		t.Errorf("a key3 of 5 bytes was accepted")
	}
}

// hixie76Script is the draft's example handshake followed by frames in
// both directions and the closing handshake.
func hixie76Script(answer string) (*script, []int64) {
	var s script
	var offs []int64
	s.client(hixie76Request())
	s.server(hixie76Response(answer))
	offs = append(offs, s.client(hixieText("Hello")))
	offs = append(offs, s.server(hixieText("¡Hola! 😀"), hixieText("")))
	// A length-prefixed frame: type 0x80, length 200 in two 7-bit groups.
	payload := bytesOf(200, "0123456789")
	offs = append(offs, s.server([]byte{0x80, 0x81, 0x48}, payload))
	offs = append(offs, s.client([]byte{0xFF, 0x00}))
	offs = append(offs, s.server([]byte{0xFF, 0x00}))
	return &s, offs
}

// TestHixie76Conversation decodes the draft's handshake and hixie frames:
// 0x00..0xFF text, a length-prefixed frame and the 0xFF 0x00 close, fed
// whole and one byte at a time.
func TestHixie76Conversation(t *testing.T) {
	s, offs := hixie76Script(hixieAnswer)
	for _, split := range []struct {
		name string
		f    splitter
	}{{"whole", whole}, {"bytewise", bytewise}} {
		t.Run(split.name, func(t *testing.T) {
			c := decodeScript(s, Options{}, split.f, false).conn
			if len(c.Problems) != 0 {
				t.Fatalf("problems:%s", listProblems(c.Problems))
			}
			if c.Protocol != ProtocolHixie76 || c.Subprotocol != "sample" || c.URL != "ws://example.com/demo" {
				t.Fatalf("protocol %s subprotocol %q url %q", c.Protocol, c.Subprotocol, c.URL)
			}
			if string(c.Request.Body) != hixieKey3 || string(c.Response.Body) != hixieAnswer || c.Response.Status != 101 {
				t.Fatalf("key3 %q answer %q", c.Request.Body, c.Response.Body)
			}
			want := []struct {
				from    Side
				op      Opcode
				payload string
				hdr     int
				off     int64
				step    int
			}{
				{Client, OpText, "Hello", 2, offs[0], 2},
				{Server, OpText, "¡Hola! 😀", 2, offs[1], 3},
				{Server, OpText, "", 2, offs[1] + int64(len(hixieText("¡Hola! 😀"))), 3},
				{Server, OpBinary, string(bytesOf(200, "0123456789")), 3, offs[2], 4},
				{Client, OpClose, "", 2, offs[3], 5},
				{Server, OpClose, "", 2, offs[4], 6},
			}
			if len(c.Frames) != len(want) || len(c.Messages) != len(want) {
				t.Fatalf("%d frames, %d messages; want %d", len(c.Frames), len(c.Messages), len(want))
			}
			for i, w := range want {
				var payload []byte
				if w.payload != "" {
					payload = []byte(w.payload)
				}
				f, m := c.Frames[i], c.Messages[i]
				if f.From != w.from || f.Opcode != w.op || string(f.Payload) != w.payload || !f.Fin || f.Masked ||
					f.Length != uint64(len(w.payload)) || f.HeaderLen != w.hdr || f.Offset != w.off ||
					!f.Time.Equal(stepTime(w.step)) || f.Message != i {
					t.Errorf("frame %d: %+v, want %+v", i, f, w)
				}
				if m.From != w.from || m.Opcode != w.op || !bytes.Equal(m.Payload, payload) && len(m.Payload)+len(payload) > 0 ||
					m.Size != int64(len(w.payload)) || m.WireSize != int64(len(w.payload)+w.hdr) ||
					len(m.Frames) != 1 || m.Frames[0] != i || m.TextValid != (w.op == OpText) {
					t.Errorf("message %d: %+v", i, m)
				}
			}
			if c.Close == nil || c.Close.From != Client || c.Close.HasCode || c.CloseReply == nil || c.CloseReply.From != Server {
				t.Fatalf("close %+v reply %+v", c.Close, c.CloseReply)
			}
			if c.State != StateClosed {
				t.Fatalf("state %s after both closes", c.State)
			}
		})
	}
}

// TestHixie76BadChallenge: a wrong 16-byte answer is a bad-challenge
// problem, and frames are still decoded.
func TestHixie76BadChallenge(t *testing.T) {
	s, _ := hixie76Script("8jKS'y:G*Co,Wxa+")
	c := decodeWhole(s, Options{})
	p := mustOneProblem(t, c, KindBadChallenge)
	if p.Severity != Error || p.From != Server || len(c.Problems) != 1 {
		t.Fatalf("problems:%s", listProblems(c.Problems))
	}
	if len(c.Messages) != 6 || string(c.Messages[0].Payload) != "Hello" {
		t.Fatalf("frames after a bad challenge: %d messages", len(c.Messages))
	}
}

// TestHixie76BadKeys: keys whose digits do not divide by their spaces are
// bad keys, not a bad challenge.
func TestHixie76BadKeys(t *testing.T) {
	var s script
	req := bytes.Replace(hixie76Request(), []byte(hixieKey1), []byte("1234"), 1)
	s.client(req)
	s.server(hixie76Response(hixieAnswer))
	s.server(hixieText("still shown"))
	c := decodeWhole(&s, Options{})
	p := mustOneProblem(t, c, KindBadKey)
	if p.From != Client || len(problemsOf(c, KindBadChallenge)) != 0 {
		t.Fatalf("problems:%s", listProblems(c.Problems))
	}
	if len(c.Messages) != 1 || string(c.Messages[0].Payload) != "still shown" {
		t.Fatalf("messages %+v", c.Messages)
	}
}

// TestHixie75Conversation decodes draft-hixie-thewebsocketprotocol-75:
// no keys, no challenge, frames right after the 101.
func TestHixie75Conversation(t *testing.T) {
	var s script
	s.client(head("GET /demo HTTP/1.1", hdrs{{"Upgrade", "WebSocket"}, {"Connection", "Upgrade"},
		{"Host", "example.com"}, {"Origin", "http://example.com"}, {"WebSocket-Protocol", "sample"}}))
	s.server(head("HTTP/1.1 101 Web Socket Protocol Handshake", hdrs{{"Upgrade", "WebSocket"}, {"Connection", "Upgrade"},
		{"WebSocket-Origin", "http://example.com"}, {"WebSocket-Location", "ws://example.com/demo"},
		{"WebSocket-Protocol", "sample"}}), hixieText("welcome"))
	s.client(hixieText("hi"), hixieText("bad \xc3\x28"))
	for _, split := range []splitter{whole, bytewise} {
		c := decodeScript(&s, Options{}, split, true).conn
		if c.Protocol != ProtocolHixie75 || c.Subprotocol != "sample" {
			t.Fatalf("protocol %s subprotocol %q", c.Protocol, c.Subprotocol)
		}
		if len(c.Messages) != 3 || string(c.Messages[0].Payload) != "welcome" || c.Messages[0].From != Server ||
			string(c.Messages[1].Payload) != "hi" || c.Messages[1].From != Client {
			t.Fatalf("messages %+v", c.Messages)
		}
		p := mustOneProblem(t, c, KindInvalidUTF8)
		if p.Frame != 2 || p.From != Client || c.Messages[2].TextValid || len(c.Problems) != 1 {
			t.Fatalf("problems:%s", listProblems(c.Problems))
		}
	}
}

// TestHixieGap: after a gap a hixie direction skips to the next frame end
// and goes on; a gap inside a length-prefixed payload only loses bytes.
func TestHixieGap(t *testing.T) {
	var s script
	s.client(hixie76Request())
	s.server(hixie76Response(hixieAnswer))
	full := hixieText("this frame loses its middle")
	s.server(full[:5])
	s.gap(Server, 6)
	s.server(full[11:])
	s.server(hixieText("next"))
	lp := append([]byte{0x80, 0x0a}, "0123456789"...)
	s.client(lp[:4])
	s.gap(Client, 3)
	s.client(lp[7:])
	s.client(hixieText("after"))
	c := decodeWhole(&s, Options{})
	var got []string
	for _, m := range c.Messages {
		got = append(got, m.From.String()+":"+string(m.Payload))
	}
	want := []string{"server:next", "client:01\x00\x00\x0056789", "client:after"}
	if len(got) != 3 || got[0] != want[0] || got[2] != want[2] || c.Messages[1].Size != 10 {
		t.Fatalf("messages %q, want %q", got, want)
	}
	if n := len(problemsOf(c, KindMissingBytes)); n != 2 {
		t.Fatalf("%d missing-bytes problems:%s", n, listProblems(c.Problems))
	}
}
