package export_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// dumpAt is the time of the hand-made events: lines show it as
// 2026-11-21T05:26:41.123456Z.
func dumpAt() time.Time { return time.Date(2026, 11, 21, 5, 26, 41, 123456000, time.UTC) }

// dumpTime returns dumpAt()+d as the start of a dump line writes it.
func dumpTime(d time.Duration) string {
	return dumpAt().Add(d).Format("2006-01-02T15:04:05.000000Z")
}

// dumpEvents runs events through a Dumper and returns what it wrote.
func dumpEvents(t *testing.T, opts export.Options, color bool, events ...decode.Event) string {
	t.Helper()
	var b bytes.Buffer
	d := export.NewDumper(&b, opts)
	d.SetColor(color)
	for _, e := range events {
		if err := d.Event(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dumpDecoded decodes the parts (a side, then the bytes it sent, 1 ms
// apart) as one streaming connection and returns its dump.
func dumpDecoded(t *testing.T, opts export.Options, c *decode.Connection, parts ...any) string {
	t.Helper()
	var b bytes.Buffer
	d := export.NewDumper(&b, opts)
	dec := decode.NewDecoder(c, decode.Options{}, func(e decode.Event) {
		if err := d.Event(e); err != nil {
			t.Fatal(err)
		}
	})
	for i := 0; i < len(parts); i += 2 {
		dec.Feed(parts[i].(decode.Side), dumpAt().Add(time.Duration(i/2)*time.Millisecond), []byte(parts[i+1].(string)))
	}
	dec.End(dumpAt().Add(time.Second))
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// wsFrame returns a whole frame, masked with 01 02 03 04 when masked.
func wsFrame(op decode.Opcode, masked bool, payload string) string {
	h := decode.FrameHeader{Fin: true, Opcode: op, Masked: masked, MaskKey: [4]byte{1, 2, 3, 4}, Length: uint64(len(payload))}
	p := []byte(payload)
	if masked {
		decode.Mask(h.MaskKey, 0, p)
	}
	return string(append(decode.AppendFrameHeader(nil, h), p...))
}

const dumpKey = "dGhlIHNhbXBsZSBub25jZQ=="

// upgrade is an RFC 6455 Upgrade request for target with extra header
// lines, and accepted the 101 that answers it.
func upgrade(target, extra string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + dumpKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

func accepted(extra string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + decode.AcceptKey(dumpKey) + "\r\n" + extra + "\r\n"
}

// TestDumpLine pins the message line: escaped control characters, a close
// code and reason, a preview cut before a multi-byte character, flags, a
// reserved opcode, an unknown time, and an id that is not a plain token.
func TestDumpLine(t *testing.T) {
	at := time.Date(2026, 11, 21, 5, 26, 41, 123456789, time.UTC) // written truncated to the microsecond
	c := &decode.Connection{ID: "7"}
	for _, tc := range []struct {
		m    decode.Message
		c    *decode.Connection
		want string
	}{
		{m: decode.Message{From: decode.Client, Time: at, Opcode: decode.OpText, Size: 11, Payload: []byte("a\tb\nc\x00d\x1be")},
			want: `2026-11-21T05:26:41.123456Z #7 client->server text 11 "a\tb\nc\x00d\x1be"`},
		{m: decode.Message{From: decode.Server, Time: at, Opcode: decode.OpClose, Size: 5, Payload: []byte("\x03\xe8bye"),
			Close: &decode.Close{HasCode: true, Code: 1000, Reason: "bye"}},
			want: `2026-11-21T05:26:41.123456Z #7 server->client close 5 1000 "bye"`},
		{m: decode.Message{From: decode.Server, Time: at, Opcode: decode.OpClose, Close: &decode.Close{}},
			want: `2026-11-21T05:26:41.123456Z #7 server->client close 0 (no code)`},
		{m: decode.Message{From: decode.Server, Time: at, Opcode: decode.OpClose, Size: 2 + 100, Close: &decode.Close{HasCode: true, Code: 1001, Reason: strings.Repeat("r", 100)}},
			want: `2026-11-21T05:26:41.123456Z #7 server->client close 102 1001 "` + strings.Repeat("r", 80) + `"...`},
		{m: decode.Message{From: decode.Client, Time: at, Opcode: decode.OpText, Size: 81, Payload: []byte(strings.Repeat("a", 79) + "é"), Compressed: true, Truncated: true},
			want: `2026-11-21T05:26:41.123456Z #7 client->server text 81 "` + strings.Repeat("a", 79) + `"... [compressed] [truncated]`},
		{m: decode.Message{From: decode.Server, Time: at, Opcode: decode.OpBinary, Size: 3, Payload: []byte{0xff, 0x00, 0x41}, Raw: true},
			want: `2026-11-21T05:26:41.123456Z #7 server->client binary 3 ff 00 41 [raw]`},
		{m: decode.Message{From: decode.Client, Time: at, Opcode: decode.OpBinary, Size: 10, Payload: []byte(`{"a":"é"}`)},
			want: `2026-11-21T05:26:41.123456Z #7 client->server binary 10 "{\"a\":\"é\"}"`},
		{m: decode.Message{From: decode.Client, Time: at, Opcode: 3, Size: 1, Payload: []byte("x")},
			want: `2026-11-21T05:26:41.123456Z #7 client->server op3 1 "x"`},
		{m: decode.Message{From: decode.Client, Opcode: decode.OpPing},
			want: `- #7 client->server ping 0 ""`},
		{m: decode.Message{From: decode.Client, Time: at, Opcode: decode.OpPong}, c: &decode.Connection{ID: "a\nb"},
			want: `2026-11-21T05:26:41.123456Z #"a\nb" client->server pong 0 ""`},
	} {
		cc := c
		if tc.c != nil {
			cc = tc.c
		}
		if got := string(export.AppendDumpLine(nil, cc, &tc.m)); got != tc.want {
			t.Errorf("\n got: %s\nwant: %s", got, tc.want)
		}
	}
}

// TestDumpEventLines pins the line of every kind of event: header lines
// of accepted, refused, unanswered, draft and half-captured handshakes,
// plain exchanges, problems, and the close in each way a connection ends.
func TestDumpEventLines(t *testing.T) {
	ms := time.Millisecond
	req := func(target string) *decode.Request {
		return &decode.Request{Method: "GET", Target: target, Proto: "HTTP/1.1", Time: dumpAt()}
	}
	resp := func(status int, reason string) *decode.Response {
		return &decode.Response{Proto: "HTTP/1.1", Status: status, Reason: reason, Time: dumpAt().Add(ms)}
	}
	conn := func(mod func(c *decode.Connection)) *decode.Connection {
		c := &decode.Connection{ID: "1", Client: "127.0.0.1:51234", Server: "127.0.0.1:20001", Source: "pcap",
			Protocol: decode.ProtocolRFC6455, State: decode.StateClosed,
			Opened: dumpAt(), LastSeen: dumpAt().Add(2 * time.Second), Bytes: [2]int64{1, 2}}
		mod(c)
		return c
	}
	ev := func(k decode.EventKind, c *decode.Connection) decode.Event { return decode.Event{Kind: k, Conn: c} }
	msg := func(c *decode.Connection, from decode.Side, text string) decode.Event {
		return decode.Event{Kind: decode.EventMessage, Conn: c, Message: &decode.Message{
			From: from, Time: dumpAt().Add(3 * ms), Opcode: decode.OpText, Size: int64(len(text)), Payload: []byte(text)}}
	}
	problem := func(c *decode.Connection, sev decode.Severity, kind decode.Kind, text string) decode.Event {
		return decode.Event{Kind: decode.EventProblem, Conn: c, Problem: &decode.Problem{
			Severity: sev, Kind: kind, Message: text, Time: dumpAt().Add(4 * ms), Frame: -1, MessageIndex: -1, Offset: -1}}
	}
	open := conn(func(c *decode.Connection) {
		c.URL, c.Request, c.Response = "ws://127.0.0.1:20001/chat?room=1", req("/chat?room=1"), resp(101, "Switching Protocols")
		c.Subprotocol, c.Extensions = "chat", "permessage-deflate; client_max_window_bits=15"
		c.Close = &decode.Close{From: decode.Client, HasCode: true, Code: 4001, Reason: "bye\n"}
		c.CloseReply = &decode.Close{From: decode.Server}
	})
	refused := conn(func(c *decode.Connection) {
		c.URL, c.Request, c.Response, c.State = "ws://127.0.0.1:20001/chat", req("/chat"), resp(403, "Forbidden"), decode.StateRejected
	})
	hixie := conn(func(c *decode.Connection) {
		c.URL, c.Request, c.Response = "ws://example.com/demo", req("/demo"), resp(101, "WebSocket Protocol Handshake")
		c.Protocol, c.Subprotocol = decode.ProtocolHixie76, "sample"
		c.Close = &decode.Close{From: decode.Server, Time: dumpAt()}
	})
	unanswered := conn(func(c *decode.Connection) { c.URL, c.Request = "ws://127.0.0.1:20001/chat", req("/chat") })
	noRequest := conn(func(c *decode.Connection) {
		c.Response = resp(101, "Switching Protocols")
		c.Close = &decode.Close{From: decode.Server, HasCode: true, Code: 1000}
	})
	midStream := conn(func(c *decode.Connection) { c.State = decode.StateOpen })
	plain := conn(func(c *decode.Connection) { c.Protocol, c.State = decode.ProtocolUnknown, decode.StateNotWebSocket })
	x := &decode.Exchange{Request: &decode.Request{Method: "POST", Target: "/api?k=v", Time: dumpAt(), BodySize: 3, Headers: []decode.Header{{Name: "Host", Value: "example.com"}}},
		Response: &decode.Response{Status: 201, Reason: "Created", Time: dumpAt().Add(ms), BodySize: 1}}
	noAnswer := &decode.Exchange{Request: &decode.Request{Method: "GET", Target: "/", Time: dumpAt()}}
	noReq := &decode.Exchange{Request: &decode.Request{}, Response: &decode.Response{Status: 200, Reason: "OK", Time: dumpAt().Add(ms), BodySize: 0}}
	// The refused Upgrade that becomes an exchange when the client tries
	// again: the decoder emits it while it is still the connection's.
	retried := conn(func(c *decode.Connection) {
		c.URL, c.Request, c.Response, c.State = "ws://127.0.0.1:20001/chat", req("/chat"), resp(401, "Unauthorized"), decode.StateRejected
	})

	t0, t1, t2, t3, t4 := dumpTime(0), dumpTime(ms), dumpTime(2*time.Second), dumpTime(3*ms), dumpTime(4*ms)
	for _, tc := range []struct {
		name   string
		events []decode.Event
		want   []string
	}{
		{"accepted", []decode.Event{ev(decode.EventOpened, open), ev(decode.EventHandshake, open), msg(open, decode.Client, "hi"), msg(open, decode.Server, "ho"), ev(decode.EventClosed, open)}, []string{
			t1 + ` #1 websocket 127.0.0.1:51234 GET ws://127.0.0.1:20001/chat?room=1 -> 101 Switching Protocols, subprotocol chat, extensions "permessage-deflate; client_max_window_bits=15"`,
			t3 + ` #1 client->server text 2 "hi"`,
			t3 + ` #1 server->client text 2 "ho"`,
			t2 + ` #1 closed by client 4001 "bye\n", server answered (no code); client->server 1 message (1 byte), server->client 1 message (2 bytes), duration 2.00s`,
		}},
		{"refused", []decode.Event{ev(decode.EventHandshake, refused), ev(decode.EventClosed, refused)}, []string{
			t1 + ` #1 websocket 127.0.0.1:51234 GET ws://127.0.0.1:20001/chat -> 403 Forbidden, upgrade refused`,
			t2 + ` #1 closed after the upgrade was refused; client->server 1 byte, server->client 2 bytes, duration 2.00s`,
		}},
		{"hixie", []decode.Event{ev(decode.EventHandshake, hixie), ev(decode.EventClosed, hixie)}, []string{
			t1 + ` #1 websocket 127.0.0.1:51234 GET ws://example.com/demo -> 101 WebSocket Protocol Handshake, hixie-76, subprotocol sample`,
			t2 + ` #1 closed by server (no code), no answer from client; client->server 0 messages (1 byte), server->client 0 messages (2 bytes), duration 2.00s`,
		}},
		{"unanswered", []decode.Event{problem(unanswered, decode.Warning, decode.KindNoResponse, "no answer"), ev(decode.EventHandshake, unanswered), ev(decode.EventClosed, unanswered)}, []string{
			t4 + ` #1 warning no-response: no answer`,
			t2 + ` #1 websocket 127.0.0.1:51234 GET ws://127.0.0.1:20001/chat -> no answer`,
			t2 + ` #1 closed before the server answered; client->server 1 byte, server->client 2 bytes, duration 2.00s`,
		}},
		{"answered without the Upgrade captured", []decode.Event{problem(noRequest, decode.Warning, decode.KindHandshakeMissing, "only the 101"), ev(decode.EventHandshake, noRequest), msg(noRequest, decode.Server, "x"), ev(decode.EventClosed, noRequest)}, []string{
			t4 + ` #1 warning handshake-missing: only the 101`,
			t1 + ` #1 websocket 127.0.0.1:51234 to 127.0.0.1:20001 -> 101 Switching Protocols, request not captured`,
			t3 + ` #1 server->client text 1 "x"`,
			t2 + ` #1 closed by server 1000 "", no answer from client; client->server 0 messages (1 byte), server->client 1 message (2 bytes), duration 2.00s`,
		}},
		{"mid-stream, problem first", []decode.Event{ev(decode.EventOpened, midStream), problem(midStream, decode.Warning, decode.KindHandshakeMissing, "not captured"), msg(midStream, decode.Client, "a"), msg(midStream, decode.Client, "b"), ev(decode.EventClosed, midStream)}, []string{
			t4 + ` #1 websocket 127.0.0.1:51234 to 127.0.0.1:20001, handshake not captured`,
			t4 + ` #1 warning handshake-missing: not captured`,
			t3 + ` #1 client->server text 1 "a"`,
			t3 + ` #1 client->server text 1 "b"`,
			t2 + ` #1 closed without a close handshake: the TCP connection ended; client->server 2 messages (1 byte), server->client 0 messages (2 bytes), duration 2.00s`,
		}},
		{"mid-stream, message first", []decode.Event{msg(midStream, decode.Server, "a"), problem(midStream, decode.Error, decode.KindMissingBytes, "gap")}, []string{
			t3 + ` #1 websocket 127.0.0.1:51234 to 127.0.0.1:20001, handshake not captured`,
			t3 + ` #1 server->client text 1 "a"`,
			t4 + ` #1 error missing-bytes: gap`,
		}},
		{"mid-stream, closed first", []decode.Event{ev(decode.EventClosed, midStream)}, []string{
			t2 + ` #1 websocket 127.0.0.1:51234 to 127.0.0.1:20001, handshake not captured`,
			t2 + ` #1 closed without a close handshake: the TCP connection ended; client->server 0 messages (1 byte), server->client 0 messages (2 bytes), duration 2.00s`,
		}},
		{"plain HTTP", []decode.Event{
			ev(decode.EventOpened, plain),
			problem(plain, decode.Error, decode.KindHandshakeMalformed, "bad head"),
			{Kind: decode.EventExchange, Conn: plain, Exchange: x},
			{Kind: decode.EventExchange, Conn: plain, Index: 1, Exchange: noReq},
			{Kind: decode.EventExchange, Conn: plain, Index: 2, Exchange: noAnswer},
			ev(decode.EventClosed, plain),
		}, []string{
			t4 + ` #1 error handshake-malformed: bad head`,
			t1 + ` #1 http 127.0.0.1:51234 POST http://example.com/api?k=v -> 201 Created, request body 3 bytes, response body 1 byte`,
			t1 + ` #1 http 127.0.0.1:51234 to 127.0.0.1:20001 (request not captured) -> 200 OK, response body 0 bytes`,
			t0 + ` #1 http 127.0.0.1:51234 GET http://127.0.0.1:20001/ -> no answer`,
			t2 + ` #1 closed, plain HTTP; 3 exchanges, client->server 1 byte, server->client 2 bytes, duration 2.00s`,
		}},
		{"refused, then retried", []decode.Event{
			ev(decode.EventHandshake, retried),
			{Kind: decode.EventExchange, Conn: retried, Exchange: &decode.Exchange{Request: retried.Request, Response: retried.Response}},
		}, []string{
			t1 + ` #1 websocket 127.0.0.1:51234 GET ws://127.0.0.1:20001/chat -> 401 Unauthorized, upgrade refused`,
		}},
		{"frames and opened print nothing", []decode.Event{ev(decode.EventOpened, open), {Kind: decode.EventFrame, Conn: open, Frame: &decode.Frame{}}, {Kind: decode.EventMessage}, {Kind: decode.EventProblem, Conn: open}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := dumpEvents(t, export.Options{}, false, tc.events...)
			want := strings.Join(tc.want, "\n")
			if want != "" {
				want += "\n"
			}
			if got != want {
				diffLines(t, "dump", []byte(got), []byte(want))
			}
		})
	}
}

// TestDumpDecoded: problems are inline, right where the decoder finds
// them, between the header line and the close line of their connection.
func TestDumpDecoded(t *testing.T) {
	c := &decode.Connection{ID: "4", Client: "127.0.0.1:5000", Server: "127.0.0.1:80"}
	got := dumpDecoded(t, export.Options{}, c,
		decode.Client, upgrade("/", ""),
		decode.Server, accepted(""),
		decode.Client, string([]byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}),
		decode.Client, string([]byte{0x81, 0x02, 'y', 'o'}),
		decode.Server, string([]byte{0x88, 0x01, 0x03}))
	want := strings.Join([]string{
		dumpTime(time.Millisecond) + " #4 websocket 127.0.0.1:5000 GET ws://example.com/ -> 101 Switching Protocols",
		dumpTime(2*time.Millisecond) + ` #4 client->server text 2 "hi"`,
		dumpTime(3*time.Millisecond) + " #4 error unmasked-client-frame: client frame 1 is not masked (RFC 6455 5.1)",
		dumpTime(3*time.Millisecond) + ` #4 client->server text 2 "yo"`,
		dumpTime(4*time.Millisecond) + " #4 error short-close-payload: server Close frame 2 has a 1-byte payload; a body starts with a 2-byte code (RFC 6455 5.5.1)",
		dumpTime(4*time.Millisecond) + " #4 server->client close 1 (no code)",
		dumpTime(time.Second) + " #4 closed by server (no code), no answer from client; client->server 2 messages (162 bytes), server->client 1 message (132 bytes), duration 1.00s",
	}, "\n") + "\n"
	if got != want {
		diffLines(t, "dump", []byte(got), []byte(want))
	}
}

// TestDumpPlural: every count agrees with its noun, in every line of the
// session and of connections with one of everything.
func TestDumpPlural(t *testing.T) {
	_, session := streamed(t, export.Options{})
	c := &decode.Connection{ID: "1", Client: "a:1", Server: "b:2"}
	one := dumpDecoded(t, export.Options{}, c,
		decode.Client, "GET /x HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n\r\nx",
		decode.Server, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny")
	all := string(session) + one
	for _, want := range []string{"1 exchange,", "response body 1 byte", "request body 1 byte", "5 messages (1228 bytes)", "3 messages (384 bytes)"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in\n%s", want, all)
		}
	}
	if m := regexp.MustCompile(`(^|[^0-9])1 (messages|bytes|exchanges)\b|([02-9]|[0-9]{2,}) (message|byte|exchange)\b`).FindString(all); m != "" {
		t.Errorf("plural slip %q in\n%s", m, all)
	}
	line := dumpEvents(t, export.Options{}, false, decode.Event{Kind: decode.EventClosed, Conn: &decode.Connection{ID: "2", Protocol: decode.ProtocolRFC6455, State: decode.StateClosed}})
	if !strings.HasSuffix(line, " #2 closed without a close handshake: the TCP connection ended; client->server 0 messages, server->client 0 messages\n") {
		t.Errorf("empty connection: %s", line)
	}
}

// hostileEvents is a session whose every peer-controlled string tries to
// break a line or reach the terminal: newlines, carriage returns, ESC,
// bytes that are not UTF-8, Unicode line separators and bidi overrides,
// in payloads, close reasons, the URL, the reason phrase, header values,
// problem texts, ids and addresses.
func hostileEvents(t *testing.T) string {
	t.Helper()
	const evil = "a\nb\rc\x1b[31md\x00e\x7f\xff\xfe\u2028\u2029\u0085\u202e\x9b2J"
	c := &decode.Connection{ID: "1", Client: "127.0.0.1:5000", Server: "127.0.0.1:80"}
	decoded := dumpDecoded(t, export.Options{}, c,
		decode.Client, "GET /p\x1b[2J?q=\xff\x01 HTTP/1.1\r\nHost: ex\x1bample.com\x7f\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: \x1b[31m\xff\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: p\x1b\r\n"+
			"Sec-WebSocket-Extensions: permessage-deflate\x1b]0;title\x07\r\n\r\n",
		decode.Server, "HTTP/1.1 101 Switching \x1b[5mProtocols\xff\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: \x1b\r\nSec-WebSocket-Protocol: p\x1b\r\nSec-WebSocket-Extensions: x-\x1b[1m\r\n\r\n",
		decode.Client, wsFrame(decode.OpText, true, evil),
		decode.Server, wsFrame(decode.OpBinary, false, evil),
		decode.Server, wsFrame(decode.OpBinary, false, "\x1b\x1b\x1b\x00\x00"),
		decode.Server, wsFrame(decode.OpText, false, strings.Repeat("\u2028", 40)),
		decode.Client, wsFrame(decode.OpClose, true, "\x03\xe8"+evil),
		decode.Client, "\x00\x1bjunk\n\n")
	// What the decoder does not let through (ids, addresses, exchange
	// targets) can still come from an imported file.
	weird := &decode.Connection{ID: "9\n\x1b", Client: "\x1b]0;x\x07", Server: "s\n", Protocol: decode.ProtocolRFC6455, State: decode.StateClosed,
		URL: "ws://h/\n\x1b", Request: &decode.Request{Method: "G\nET", Target: "/\n"}, Response: &decode.Response{Status: 101, Reason: "\n\x1b"},
		Subprotocol: "\x1b\n", Extensions: "\x1b\n",
		Close: &decode.Close{From: decode.Client, HasCode: true, Code: 1000, Reason: evil}}
	imported := dumpEvents(t, export.Options{}, false,
		decode.Event{Kind: decode.EventExchange, Conn: weird, Exchange: &decode.Exchange{
			Request:  &decode.Request{Method: "P\rOST", Target: "/\x1b", Headers: []decode.Header{{Name: "Host", Value: "h\n\x1b"}}},
			Response: &decode.Response{Status: 200, Reason: evil}}},
		decode.Event{Kind: decode.EventHandshake, Conn: weird},
		decode.Event{Kind: decode.EventProblem, Conn: weird, Problem: &decode.Problem{Kind: "k\n\x1b", Message: evil}},
		decode.Event{Kind: decode.EventMessage, Conn: weird, Message: &decode.Message{Opcode: decode.OpText, Payload: []byte(evil)}},
		decode.Event{Kind: decode.EventClosed, Conn: weird})
	return decoded + imported
}

// TestDumpOneLine: whatever the traffic holds, each line the dump writes
// is one line of printable text: no control character but the final
// newline, valid UTF-8, no Unicode line or paragraph separator, no
// character that is not printable (bidi overrides, C1 controls).
func TestDumpOneLine(t *testing.T) {
	out := hostileEvents(t)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// header, 4 messages, a problem or more, the close; then the
	// imported connection's exchange, header, problem, message and close.
	if len(lines) < 14 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !utf8.ValidString(l) {
			t.Errorf("not UTF-8: %q", l)
		}
		for _, r := range l {
			if r < 0x20 || r == 0x7f || !strconv.IsPrint(r) {
				t.Errorf("character %U in line %q", r, l)
				break
			}
		}
	}
	// The imported connection's lines are all there, each where it
	// belongs, with its kind in the third field.
	for _, want := range []string{
		` #"9\n\x1b" http "\x1b]0;x\a" "P\rOST" "http://h\n\x1b/\x1b" -> 200 a\nb\rc\x1b[31md\x00e\x7f\xff\xfe\u2028\u2029\u0085\u202e\x9b2J, response body 0 bytes`,
		` #"9\n\x1b" websocket "\x1b]0;x\a" "G\nET" "ws://h/\n\x1b" -> 101 \n\x1b, subprotocol "\x1b\n", extensions "\x1b\n"`,
		`- #"9\n\x1b" warning k\n\x1b: a\nb\rc\x1b[31md\x00e\x7f\xff\xfe\u2028\u2029\u0085\u202e\x9b2J`,
		`- #"9\n\x1b" client->server text 0 "a\nb\rc\x1b[31md\x00e\x7f\xff\xfe\u2028\u2029\u0085\u202e\x9b2J"`,
		`- #"9\n\x1b" closed by client 1000 "a\nb\rc\x1b[31md\x00e\x7f\xff\xfe\u2028\u2029\u0085\u202e\x9b2J", no answer from server`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no line with\n%s\nin\n%s", want, out)
		}
	}
}

// TestDumpQuoting: a text preview is quoted exactly as strconv.Quote
// quotes the payload, for random payloads biased towards the characters
// that need escaping: the dump's own quoting is checked against the
// standard library's.
func TestDumpQuoting(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", " ", `"`, `\`, "\n", "\x00", "\x1b", "\x7f", "\xff", "\xc3", "é", "\u2028", "\u0085", "\u202e", "\U0001F600", "\U000E0001", "\ufffd", "\xed\xa0\x80", "\t"}
	c := &decode.Connection{ID: "1"}
	for i := 0; i < 20000; i++ {
		// At most 80 bytes: the whole payload is in the preview.
		var p []byte
		for n := rng.Intn(30); n > 0; n-- {
			if a := alphabet[rng.Intn(len(alphabet))]; len(p)+len(a) <= 80 {
				p = append(p, a...)
			}
		}
		m := decode.Message{Opcode: decode.OpText, Size: int64(len(p)), Payload: p}
		line := string(export.AppendDumpLine(nil, c, &m))
		want := strconv.Quote(string(p))
		if !strings.HasSuffix(line, " "+want) {
			t.Fatalf("payload %q:\n got: %s\nwant suffix: %s", p, line, want)
		}
	}
}

// TestDumpColor: without color the output holds no escape byte; with
// color each line has the color of its kind, from its start to a reset
// before its newline, and is the plain line otherwise.
func TestDumpColor(t *testing.T) {
	sgrPattern := regexp.MustCompile("\x1b\\[[0-9;]*m") // an ANSI SGR sequence
	_, plain := streamed(t, export.Options{})
	if i := bytes.IndexByte(plain, 0x1b); i >= 0 {
		t.Fatalf("escape byte at %d of the plain dump", i)
	}
	if strings.Contains(hostileEvents(t), "\x1b") {
		t.Fatal("escape byte in the plain dump of hostile traffic")
	}
	var colored bytes.Buffer
	d := export.NewDumper(&colored, export.Options{})
	d.SetColor(true)
	sessionConns(t, func(e decode.Event) {
		if err := d.Event(e); err != nil {
			t.Fatal(err)
		}
	})
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := sgrPattern.ReplaceAll(colored.Bytes(), nil); !bytes.Equal(got, plain) {
		diffLines(t, "colored dump without its colors", got, plain)
	}
	kinds := map[string]string{
		"client->server": "\x1b[36m", "server->client": "\x1b[32m",
		"error": "\x1b[31m", "warning": "\x1b[33m",
		"websocket": "\x1b[1m", "http": "\x1b[1m", "closed": "\x1b[2m",
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(colored.String(), "\n"), "\n") {
		kind := strings.Fields(sgrPattern.ReplaceAllString(l, ""))[2]
		want, ok := kinds[kind]
		if !ok {
			t.Fatalf("line of unknown kind %q: %q", kind, l)
		}
		seen[kind] = true
		if !strings.HasPrefix(l, want) || !strings.HasSuffix(l, "\x1b[0m") || strings.Count(l, "\x1b") != 2 {
			t.Errorf("%s line not colored %q: %q", kind, want, l)
		}
	}
	for kind := range kinds {
		if !seen[kind] && kind != "warning" {
			t.Errorf("the session has no %s line", kind)
		}
	}
	warn := dumpEvents(t, export.Options{}, true, decode.Event{Kind: decode.EventProblem, Conn: &decode.Connection{ID: "1"},
		Problem: &decode.Problem{Severity: decode.Warning, Kind: "k", Message: "m"}})
	if warn != "\x1b[33m- #1 warning k: m\x1b[0m\n" {
		t.Errorf("warning line %q", warn)
	}
}

// TestDumpRedacted: with redaction, no secret of the session reaches the
// dump: not in the URL, not in the subprotocol, not in a problem that
// quotes a hidden header; and the same dump without redaction has them
// all, so that the test tests something.
func TestDumpRedacted(t *testing.T) {
	opts := export.Options{Redact: export.Redaction{Defaults: true, Headers: []string{"X-Api-Key", "Sec-WebSocket-Protocol", "Sec-WebSocket-Key"}, Query: []string{"room"}}}
	run := func(opts export.Options) string {
		_, dump := streamed(t, opts)
		c := &decode.Connection{ID: "9", Client: "127.0.0.1:5000", Server: "127.0.0.1:80"}
		// The server picks a token the client did not offer, and the key
		// is malformed: both problems quote the hidden headers.
		return string(dump) + dumpDecoded(t, opts, c,
			decode.Client, "GET /ws?api_key=k3y-s3cr3t&x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: n0t-a-k3y-s3cr3t\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: bearer.t0k3n-s3cr3t, chat\r\n\r\n",
			decode.Server, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n"+
				"Sec-WebSocket-Protocol: "+strings.Repeat("0ther-s3cr3t", 5)+"\r\n\r\n")
	}
	secrets := []string{"s3cr3t", "room=1", "t0k3n", "0ther", "k3y"}
	clear := run(export.Options{})
	for _, s := range secrets {
		if !strings.Contains(clear, s) {
			t.Errorf("the dump without redaction lacks %q: the test does not test it", s)
		}
	}
	redacted := run(opts)
	for _, s := range secrets {
		if strings.Contains(redacted, s) {
			t.Errorf("redacted dump shows %q:\n%s", s, redacted)
		}
	}
	for _, want := range []string{
		"ws?room=REDACTED&access_token=REDACTED&lang=en -> 101 Switching Protocols, subprotocol REDACTED",
		"GET ws://example.com/ws?api_key=REDACTED&x=1",
		"error bad-key: Sec-WebSocket-Key \"REDACTED\" is not",
		"the server chose subprotocol \"REDACTED\", which the client did not offer (offered: REDACTED;",
	} {
		if !strings.Contains(redacted, want) {
			t.Errorf("redacted dump lacks %q:\n%s", want, redacted)
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestDumpBuffered: events do not write through one by one; Flush writes
// everything at once, and a failing writer is reported by Flush, and by
// Event once the buffer is full.
func TestDumpBuffered(t *testing.T) {
	var w writeLog
	d := export.NewDumper(&w, export.Options{})
	sessionConns(t, func(e decode.Event) {
		if err := d.Event(e); err != nil {
			t.Fatal(err)
		}
	})
	if len(w.writes) != 0 {
		t.Fatalf("%d writes before Flush", len(w.writes))
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, golden := streamed(t, export.Options{}); len(w.writes) != 1 || !bytes.Equal(w.writes[0], golden) {
		t.Fatalf("%d writes after Flush, want the whole dump in one", len(w.writes))
	}

	f := export.NewDumper(failWriter{}, export.Options{})
	c := &decode.Connection{ID: "1"}
	m := &decode.Message{Opcode: decode.OpText, Payload: bytes.Repeat([]byte("x"), 80)}
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = f.Event(decode.Event{Kind: decode.EventMessage, Conn: c, Message: m})
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Event on a failing writer: %v", err)
	}
	if err := f.Flush(); err == nil {
		t.Error("Flush on a failing writer succeeded")
	}
}

// TestDumpAllocs: a message line costs no allocation, with or without
// color, once its connection is known.
func TestDumpAllocs(t *testing.T) {
	for _, color := range []bool{false, true} {
		d := export.NewDumper(io.Discard, export.Options{Redact: sharingRedaction})
		d.SetColor(color)
		events := smallMessages(1000)
		d.Event(events[0])
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			d.Event(events[i%len(events)])
			i++
		})
		if allocs != 0 {
			t.Errorf("color %v: %v allocations per message", color, allocs)
		}
	}
}

// smallMessages returns the events of n small messages of one connection,
// both ways, text and binary, the shape of a chat or a ticker; the first
// event is the handshake.
func smallMessages(n int) []decode.Event {
	c := smallConnection(n)
	events := []decode.Event{{Kind: decode.EventHandshake, Conn: &c.Connection}}
	for i := range c.Messages {
		events = append(events, decode.Event{Kind: decode.EventMessage, Conn: &c.Connection, Index: i, Message: &c.Messages[i]})
	}
	return events
}

// smallConnection is a connection holding n small messages with their
// frames, for the dump and the JSON writer to write the same thing.
func smallConnection(n int) *session.Conversation {
	c := &session.Conversation{Connection: decode.Connection{ID: "12", Client: "127.0.0.1:51234", Server: "127.0.0.1:20001", Protocol: decode.ProtocolRFC6455, State: decode.StateOpen,
		URL: "ws://127.0.0.1:20001/ticker?room=1", Request: &decode.Request{Method: "GET", Target: "/ticker?room=1", Time: dumpAt()},
		Response: &decode.Response{Status: 101, Reason: "Switching Protocols", Time: dumpAt()}}}
	payloads := [][]byte{[]byte(`{"price":101.5,"size":3,"side":"buy"}`), {0, 1, 2, 3, 4, 5, 6, 7}, []byte("ok")}
	for i := 0; i < n; i++ {
		p := payloads[i%len(payloads)]
		op := decode.OpText
		if i%len(payloads) == 1 {
			op = decode.OpBinary
		}
		from := decode.Side(i % 2)
		at := dumpAt().Add(time.Duration(i) * time.Millisecond)
		c.Frames = append(c.Frames, decode.Frame{From: from, Time: at, Fin: true, Opcode: op, Masked: from == decode.Client, Length: uint64(len(p)), HeaderLen: 2, Payload: p, Message: i})
		c.Messages = append(c.Messages, decode.Message{From: from, Time: at, LastTime: at, Opcode: op, Frames: []int{i}, Size: int64(len(p)), WireSize: int64(len(p) + 2), Payload: p, TextValid: op == decode.OpText})
	}
	c.FrameCount, c.MessageCount = n, n
	return c
}

const benchMessages = 10000

// BenchmarkDump writes the lines of many small messages, as a busy live
// capture does: compare ns/message with BenchmarkDumpJSONReference.
func BenchmarkDump(b *testing.B) {
	for _, color := range []bool{false, true} {
		name := "plain"
		if color {
			name = "color"
		}
		b.Run(name, func(b *testing.B) {
			events := smallMessages(benchMessages)
			b.ReportAllocs()
			for b.Loop() {
				d := export.NewDumper(io.Discard, export.Options{})
				d.SetColor(color)
				for _, e := range events {
					d.Event(e)
				}
				d.Flush()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchMessages), "ns/message")
		})
	}
}

// BenchmarkDumpJSONReference writes the same messages with the JSON
// writer, the bar the dump must not be slower than.
func BenchmarkDumpJSONReference(b *testing.B) {
	c := smallConnection(benchMessages)
	b.ReportAllocs()
	for b.Loop() {
		w := export.NewJSONWriter(io.Discard, export.Options{})
		w.Write(c)
		w.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchMessages), "ns/message")
}

// TestDumpImported: a connection loaded from a HAR, which records neither
// the client's address nor byte counts, shows "-" for the address and
// leaves out the totals it does not have, rather than claiming zeros.
func TestDumpImported(t *testing.T) {
	c := &decode.Connection{ID: "1", Protocol: decode.ProtocolRFC6455, State: decode.StateClosed, Source: "har",
		URL: "wss://example.com/ws", Request: &decode.Request{Method: "GET", Target: "/ws"}, Response: &decode.Response{Status: 101},
		Opened: dumpAt(), LastSeen: dumpAt().Add(1500 * time.Millisecond)}
	// What LoadEvents emits for such a HAR entry.
	m := &decode.Message{From: decode.Server, Time: dumpAt(), Opcode: decode.OpText, Size: 2, Payload: []byte("hi")}
	got := dumpEvents(t, export.Options{}, false,
		decode.Event{Kind: decode.EventOpened, Conn: c}, decode.Event{Kind: decode.EventHandshake, Conn: c},
		decode.Event{Kind: decode.EventMessage, Conn: c, Message: m}, decode.Event{Kind: decode.EventClosed, Conn: c})
	want := dumpTime(0) + " #1 websocket - GET wss://example.com/ws -> 101\n" +
		dumpTime(0) + ` #1 server->client text 2 "hi"` + "\n" +
		dumpTime(1500*time.Millisecond) + " #1 closed without a close handshake: the TCP connection ended; client->server 0 messages, server->client 1 message, duration 1.50s\n"
	if got != want {
		diffLines(t, "dump", []byte(got), []byte(want))
	}
}

// TestDumpDuration: the close line's duration has three significant
// figures or so, in a unit chosen after rounding, in ASCII.
func TestDumpDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0us"},
		{999 * time.Microsecond, "999us"},
		{time.Millisecond, "1.0ms"},
		{173500 * time.Microsecond, "173.5ms"},
		{999960 * time.Microsecond, "1.00s"},
		{33050 * time.Millisecond, "33.05s"},
		{59996 * time.Millisecond, "1m0s"},
		{time.Hour + 2*time.Minute + 3400*time.Millisecond, "1h2m3s"},
	} {
		c := &decode.Connection{ID: "1", State: decode.StateNotWebSocket, Opened: dumpAt(), LastSeen: dumpAt().Add(tc.d)}
		got := dumpEvents(t, export.Options{}, false, decode.Event{Kind: decode.EventClosed, Conn: c})
		if want := " #1 closed, plain HTTP; duration " + tc.want + "\n"; !strings.HasSuffix(got, want) {
			t.Errorf("%v: %q, want suffix %q", tc.d, got, want)
		}
	}
}
