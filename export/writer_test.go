package export_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
)

// writeLog records every Write call, to see what reached the writer when.
type writeLog struct{ writes [][]byte }

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

// TestNDJSONFlushedPerEvent: each event reaches the writer as one whole
// line in one write, as it happens, so a killed process loses nothing it
// reported; every line is a JSON object that names its event.
func TestNDJSONFlushedPerEvent(t *testing.T) {
	var w writeLog
	n := export.NewNDJSONWriter(&w, export.Options{})
	kinds := map[string]int{}
	session(t, func(e decode.Event) {
		before := len(w.writes)
		if err := n.Event(e); err != nil {
			t.Fatal(err)
		}
		if e.Kind == decode.EventFrame {
			if len(w.writes) != before {
				t.Fatalf("a frame event was written")
			}
			return
		}
		if len(w.writes) != before+1 {
			t.Fatalf("%s event: %d writes, want 1", e.Kind, len(w.writes)-before)
		}
		line := w.writes[before]
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("%s event is not one line: %q", e.Kind, line)
		}
		var v struct {
			Event string `json:"event"`
			Conn  string `json:"conn"`
		}
		if err := json.Unmarshal(line, &v); err != nil || v.Event != e.Kind.String() || v.Conn != e.Conn.ID {
			t.Fatalf("line %s: %v, event %q conn %q", line, err, v.Event, v.Conn)
		}
		kinds[v.Event]++
	})
	want := map[string]int{"opened": 3, "exchange": 1, "handshake": 3, "message": 17, "problem": 1, "closed": 3}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s events, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}

// TestReplayMatchesLive: a session loaded from a file produces, through
// Replay, the same dump as the live decoder did, and the same message and
// problem lines in NDJSON; every message comes after its frames.
func TestReplayMatchesLive(t *testing.T) {
	liveND, liveDump := streamed(t, export.Options{})
	loaded := load(t, "s.json", writeJSON(t, export.Options{}, session(t, nil)...))
	var nd, dump bytes.Buffer
	n := export.NewNDJSONWriter(&nd, export.Options{})
	d := export.NewDumper(&dump, export.Options{})
	for _, c := range loaded {
		seen := map[int]bool{}
		var kinds []decode.EventKind
		export.Replay(c, func(e decode.Event) {
			kinds = append(kinds, e.Kind)
			switch e.Kind {
			case decode.EventFrame:
				seen[e.Index] = true
			case decode.EventMessage:
				for _, f := range e.Message.Frames {
					if !seen[f] {
						t.Fatalf("connection %s: message %d before its frame %d", c.ID, e.Index, f)
					}
				}
			}
			n.Event(e)
			d.Event(e)
		})
		if kinds[0] != decode.EventOpened || kinds[len(kinds)-1] != decode.EventClosed {
			t.Fatalf("connection %s: events start with %s and end with %s", c.ID, kinds[0], kinds[len(kinds)-1])
		}
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dump.Bytes(), liveDump) {
		diffLines(t, "replayed dump", dump.Bytes(), liveDump)
	}
	pick := func(b []byte) []string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, `{"event": "message"`) || strings.HasPrefix(l, `{"event": "problem"`) {
				out = append(out, l)
			}
		}
		return out
	}
	got, want := pick(nd.Bytes()), pick(liveND)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) != 18 {
		t.Fatalf("replayed NDJSON messages and problems differ (%d lines, live %d)", len(got), len(want))
	}
}

// edgeConnections are connections a capture produces that lack parts of a
// normal session: frames without the handshake, a plain HTTP connection,
// an IPv6 server with a zone, hixie-76 framing, an unanswered Upgrade.
func edgeConnections(t *testing.T) []*decode.Connection {
	t.Helper()
	at := time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)
	feed := func(id, client, server string, parts ...any) *decode.Connection {
		c := &decode.Connection{ID: id, Client: client, Server: server, Source: "pcap"}
		d := decode.NewDecoder(c, decode.Options{}, nil)
		for i := 0; i < len(parts); i += 2 {
			d.Feed(parts[i].(decode.Side), at.Add(time.Duration(i)*time.Millisecond), []byte(parts[i+1].(string)))
		}
		d.End(at.Add(time.Second))
		return c
	}
	frame := func(op decode.Opcode, masked bool, payload string) string {
		h := decode.FrameHeader{Fin: true, Opcode: op, Masked: masked, MaskKey: [4]byte{1, 2, 3, 4}, Length: uint64(len(payload))}
		p := []byte(payload)
		if masked {
			decode.Mask(h.MaskKey, 0, p)
		}
		return string(append(decode.AppendFrameHeader(nil, h), p...))
	}
	return []*decode.Connection{
		feed("1", "10.0.0.1:5000", "10.0.0.2:80",
			decode.Client, frame(decode.OpText, true, "mid-stream"),
			decode.Server, frame(decode.OpBinary, false, "\x01\x02")),
		feed("2", "[fe80::1%eth0]:5000", "[fe80::2%eth0]:8080",
			decode.Client, "GET /api HTTP/1.1\r\nHost: [fe80::2]:8080\r\nContent-Length: 3\r\nContent-Type: application/json\r\n\r\n{1}",
			decode.Server, "HTTP/1.1 302 Found\r\nLocation: /login\r\nSet-Cookie: a=b; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure\r\nContent-Length: 4\r\n\r\n\xff\xfe\x00\x01"),
		feed("3", "192.0.2.1:1", "192.0.2.9:80",
			decode.Client, "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\nOrigin: http://example.com\r\n\r\n",
			decode.Server, "HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nWebSocket-Origin: http://example.com\r\nWebSocket-Location: ws://example.com/demo\r\n\r\n",
			decode.Client, "\x00hixie text\xff"),
		feed("4", "192.0.2.1:2", "example.net:80",
			decode.Client, "GET /ws?token=t HTTP/1.1\r\nHost: example.net\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
	}
}

// TestEdgeConnections: every such connection exports to a HAR that passes
// the schema and to JSON that reads back identically, with its messages
// and exchanges kept.
func TestEdgeConnections(t *testing.T) {
	conns := edgeConnections(t)
	sch := harSchema(t)
	har := writeHAR(t, export.Options{Redact: export.Redaction{Defaults: true}}, conns...)
	validateHAR(t, sch, "edge connections", har)
	fromHAR := load(t, "edge.har", writeHAR(t, export.Options{}, conns...))
	j := writeJSON(t, export.Options{}, conns...)
	fromJSON := load(t, "edge.json", j)
	if j2 := writeJSON(t, export.Options{}, fromJSON...); !bytes.Equal(j2, bytes.ReplaceAll(j, []byte(`"source": "pcap"`), []byte(`"source": "json"`))) {
		diffLines(t, "edge JSON round trip", j2, j)
	}
	if len(fromHAR) != len(conns) {
		t.Fatalf("%d connections from the HAR, want %d", len(fromHAR), len(conns))
	}
	for i, c := range conns {
		sameMessages(t, "HAR of edge connection "+c.ID, messagesOf(fromHAR[i]), messagesOf(c))
		if len(fromHAR[i].Exchanges) != len(c.Exchanges) {
			t.Errorf("edge connection %s: %d exchanges from the HAR, want %d", c.ID, len(fromHAR[i].Exchanges), len(c.Exchanges))
		}
	}
	// What each is expected to be, so that the test exercises what it says.
	if len(conns[0].Messages) != 2 || conns[0].Request != nil {
		t.Errorf("mid-stream connection: %d messages, request %v", len(conns[0].Messages), conns[0].Request)
	}
	if conns[1].State != decode.StateNotWebSocket || len(conns[1].Exchanges) != 1 {
		t.Errorf("plain connection: state %s, %d exchanges", conns[1].State, len(conns[1].Exchanges))
	}
	if conns[2].Protocol != decode.ProtocolHixie75 || len(conns[2].Messages) != 1 {
		t.Errorf("hixie connection: %s, %d messages", conns[2].Protocol, len(conns[2].Messages))
	}
	if conns[3].Response != nil {
		t.Errorf("unanswered connection has a response")
	}
	for _, want := range []string{
		`"serverIPAddress": "fe80::2"`,
		`"url": "http://[fe80::2]:8080/api"`,
		`"postData": {"mimeType": "application/json", "text": "{1}"}`,
		`"content": {"size": 4, "mimeType": "x-unknown", "text": "//4AAQ==", "encoding": "base64"}`,
		`"redirectURL": "/login"`,
		`"url": "ws://example.net/ws?token=REDACTED"`,
		`"status": 0`,
	} {
		if !bytes.Contains(har, []byte(want)) {
			t.Errorf("HAR lacks %s", want)
		}
	}
	if bytes.Contains(har, []byte(`"serverIPAddress": "example.net"`)) {
		t.Errorf("a host name was written as serverIPAddress")
	}
}
