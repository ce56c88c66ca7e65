package export_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// writeLog records every Write call, to see what reached the writer when.
type writeLog struct{ writes [][]byte }

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

// TestNDJSONBuffered: events reach the writer only at Flush, in one
// write, as whole lines; every line is a JSON object that names its event
// and connection, and frame events write nothing.
func TestNDJSONBuffered(t *testing.T) {
	var w writeLog
	n := export.NewNDJSONWriter(&w, export.Options{})
	var events int
	sessionConns(t, func(e decode.Event) {
		if err := n.Event(e); err != nil {
			t.Fatal(err)
		}
		events++
	})
	if len(w.writes) != 0 {
		t.Fatalf("%d writes before Flush", len(w.writes))
	}
	if err := n.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 1 {
		t.Fatalf("%d writes at Flush, want 1", len(w.writes))
	}
	kinds := map[string]int{}
	for _, line := range strings.SplitAfter(string(w.writes[0]), "\n") {
		if line == "" {
			continue
		}
		var v struct {
			Event string `json:"event"`
			Conn  string `json:"conn"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil || v.Event == "" || v.Conn == "" || !strings.HasSuffix(line, "}\n") {
			t.Fatalf("line %q: %v", line, err)
		}
		kinds[v.Event]++
	}
	want := map[string]int{"opened": 3, "exchange": 1, "handshake": 3, "message": 17, "problem": 1, "closed": 3}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s events, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}

// TestImportMatchesLive: a session loaded from a JSON export, followed
// from the store as the commands follow it, produces the same dump lines
// as the live decoder did, and the same message and problem lines in
// NDJSON. A JSON export lists a connection's problems after its messages,
// so an import shows them there: lines are compared in order for the
// messages, as sets for the problems.
func TestImportMatchesLive(t *testing.T) {
	liveND, liveDump := streamed(t, export.Options{})
	data := writeJSON(t, export.Options{}, sessionSources(t)...)
	st := newTestStore(t)
	var nd, dump bytes.Buffer
	fn := st.FollowEvents(export.NewNDJSONWriter(&nd, export.Options{}))
	fd := st.FollowEvents(export.NewDumper(&dump, export.Options{}))
	im := session.NewTap(st, session.TapOptions{}).Import()
	if err := export.LoadEvents(t.Context(), "s.json", bytes.NewReader(data), im.Event); err != nil {
		t.Fatal(err)
	}
	im.Close()
	for _, f := range []*session.Following{fn, fd} {
		if err := f.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	sorted := func(b []byte) []byte {
		ls := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		slices.Sort(ls)
		return []byte(strings.Join(ls, "\n"))
	}
	if got, want := sorted(dump.Bytes()), sorted(liveDump); !bytes.Equal(got, want) {
		diffLines(t, "imported dump, sorted", got, want)
	}
	pick := func(b []byte, event string) []string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, `{"event": "`+event+`"`) {
				out = append(out, l)
			}
		}
		return out
	}
	if got, want := pick(nd.Bytes(), "message"), pick(liveND, "message"); !slices.Equal(got, want) || len(want) != 17 {
		t.Fatalf("imported NDJSON messages differ (%d lines, live %d)", len(got), len(want))
	}
	got, want := pick(nd.Bytes(), "problem"), pick(liveND, "problem")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) != 1 {
		t.Fatalf("imported NDJSON problems differ:\n%s\nlive:\n%s", got, want)
	}
}

// edgeConnections are connections a capture produces that lack parts of a
// normal session: frames without the handshake, a plain HTTP connection,
// an IPv6 server with a zone, hixie-76 framing, an unanswered Upgrade.
func edgeConnections(t *testing.T) []*session.Conversation {
	t.Helper()
	at := time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)
	st := newTestStore(t)
	tap := session.NewTap(st, session.TapOptions{})
	feed := func(id, client, server string, parts ...any) *session.Conversation {
		d := tap.Open(&decode.Connection{ID: id, Client: client, Server: server, Source: "pcap"})
		for i := 0; i < len(parts); i += 2 {
			d.Feed(parts[i].(decode.Side), at.Add(time.Duration(i)*time.Millisecond), []byte(parts[i+1].(string)))
		}
		d.End(at.Add(time.Second))
		if !d.Shown() {
			t.Fatalf("connection %s is not shown", id)
		}
		c, err := st.Conversation(d.ID())
		if err != nil {
			t.Fatal(err)
		}
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
	return []*session.Conversation{
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
