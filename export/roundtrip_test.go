package export_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// msg is what every format must keep of a message: who sent it, its
// opcode, and every payload byte.
type msg struct {
	from    decode.Side
	op      decode.Opcode
	payload string
}

func (m msg) String() string { return fmt.Sprintf("%s op%d %q", m.from, m.op, m.payload) }

func messagesOf(c *session.Conversation) []msg {
	var out []msg
	for _, m := range c.Messages {
		out = append(out, msg{m.From, m.Opcode, string(m.Payload)})
	}
	return out
}

func sameMessages(t *testing.T, what string, got, want []msg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: message %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestRoundTripHAR: capture -> HAR -> Load -> JSON keeps every message
// byte for byte, as the direct JSON export has it.
func TestRoundTripHAR(t *testing.T) {
	conns := sessionConns(t, nil)
	direct := load(t, "direct.json", writeJSON(t, export.Options{}, conns...))
	viaHAR := load(t, "session.har", writeHAR(t, export.Options{}, conns...))
	again := load(t, "again.json", writeJSON(t, export.Options{}, viaHAR...))
	if len(direct) != len(conns) || len(again) != len(conns) {
		t.Fatalf("%d connections, %d after JSON, %d after HAR and JSON", len(conns), len(direct), len(again))
	}
	total := 0
	for i, c := range conns {
		want := messagesOf(c)
		total += len(want)
		sameMessages(t, "JSON of connection "+c.ID, messagesOf(direct[i]), want)
		sameMessages(t, "HAR then JSON of connection "+c.ID, messagesOf(again[i]), want)
		h := again[i]
		if h.ID != c.ID || h.URL != c.URL || h.Client != c.Client || h.Server != c.Server || h.State != c.State {
			t.Errorf("connection %s came back as id %q url %q client %q server %q state %s", c.ID, h.ID, h.URL, h.Client, h.Server, h.State)
		}
		if fmt.Sprint(h.Request.Headers) != fmt.Sprint(c.Request.Headers) {
			t.Errorf("connection %s: request headers changed:\n%v\n%v", c.ID, h.Request.Headers, c.Request.Headers)
		}
		if len(h.Exchanges) != len(c.Exchanges) {
			t.Errorf("connection %s: %d exchanges, want %d", c.ID, len(h.Exchanges), len(c.Exchanges))
		}
		if len(h.Problems) != len(c.Problems) {
			t.Errorf("connection %s: %d problems, want %d", c.ID, len(h.Problems), len(c.Problems))
		}
		if (h.Close == nil) != (c.Close == nil) || c.Close != nil && (h.Close.Code != c.Close.Code || h.Close.Reason != c.Close.Reason || h.Close.From != c.Close.From) {
			t.Errorf("connection %s: close %+v, want %+v", c.ID, h.Close, c.Close)
		}
		for j, m := range h.Messages {
			if !m.Time.Equal(c.Messages[j].Time.Truncate(time.Microsecond)) {
				t.Errorf("connection %s message %d: time %v, want %v", c.ID, j, m.Time, c.Messages[j].Time)
			}
		}
	}
	if total < 15 {
		t.Fatalf("only %d messages in the session; the fixtures are not being decoded", total)
	}
}

// TestRoundTripJSONIdentical: JSON -> Load -> JSON gives the same file,
// except that the source becomes "json"; and from then on it is identical.
func TestRoundTripJSONIdentical(t *testing.T) {
	j1 := writeJSON(t, export.Options{}, sessionConns(t, nil)...)
	j2 := writeJSON(t, export.Options{}, load(t, "j1.json", j1)...)
	want := bytes.ReplaceAll(j1, []byte(`"source": "pcap"`), []byte(`"source": "json"`))
	if !bytes.Equal(j2, want) {
		diffLines(t, "JSON -> Load -> JSON", j2, want)
	}
	j3 := writeJSON(t, export.Options{}, load(t, "j2.json", j2)...)
	if !bytes.Equal(j3, j2) {
		diffLines(t, "second round", j3, j2)
	}
}

func diffLines(t *testing.T, what string, got, want []byte) {
	t.Helper()
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < min(len(gl), len(wl)); i++ {
		if gl[i] != wl[i] {
			t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s", what, i+1, gl[i], wl[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", what, len(gl), len(wl))
}

// rawHAR reads what a HAR says with encoding/json alone, independently of
// the importer, to count and compare what it must keep.
type rawHAR struct {
	Log struct {
		Entries []struct {
			ResourceType string `json:"_resourceType"`
			Request      struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
			Messages []struct {
				Type   string  `json:"type"`
				Time   float64 `json:"time"`
				Opcode int     `json:"opcode"`
				Data   string  `json:"data"`
			} `json:"_webSocketMessages"`
		} `json:"entries"`
	} `json:"log"`
}

func readRaw(t *testing.T, path string) (rawHAR, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h rawHAR
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	return h, data
}

// TestImportRealHAR loads the HAR files that Chrome DevTools and mitmproxy
// wrote and checks, against an independent reading of each file, that
// every message is kept with its direction, opcode, bytes and time; then
// writes them out again as a HAR that passes the schema (which the Chrome
// original does not) and reads that back with nothing lost.
func TestImportRealHAR(t *testing.T) {
	sch := harSchema(t)
	for _, tc := range []struct {
		file       string
		conns, ws  int
		messages   int
		schemaFail bool // the original breaks the schema
	}{
		{"chromium_har-importer_webinspector.har", 5, 1, 6, true},
		{"mitmproxy_websocket.har", 3, 3, 5, false},
		{"mitmproxy_chrome_export_nows.har", 3, 0, 0, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, data := readRaw(t, filepath.Join("testdata", tc.file))
			if err := harValid(sch, data); (err != nil) != tc.schemaFail {
				t.Fatalf("schema verdict on the original: %v, expected failure %v", err, tc.schemaFail)
			}
			conns := load(t, tc.file, data)
			if len(conns) != len(raw.Log.Entries) || len(conns) != tc.conns {
				t.Fatalf("%d connections from %d entries, want %d", len(conns), len(raw.Log.Entries), tc.conns)
			}
			ws, total := 0, 0
			for i, e := range raw.Log.Entries {
				c := conns[i]
				if c.Source != "har" || c.ID != fmt.Sprint(i+1) {
					t.Errorf("entry %d: source %q id %q", i, c.Source, c.ID)
				}
				isWS := e.ResourceType == "websocket"
				if !isWS {
					if c.State != decode.StateNotWebSocket || len(c.Exchanges) != 1 || c.Exchanges[0].Request.Method != e.Request.Method {
						t.Errorf("entry %d (%s %s): state %s, %d exchanges", i, e.Request.Method, e.Request.URL, c.State, len(c.Exchanges))
					}
					continue
				}
				ws++
				var want []msg
				var times []time.Time
				for _, m := range e.Messages {
					p := []byte(m.Data)
					if m.Opcode != 1 {
						var err error
						if p, err = base64.StdEncoding.DecodeString(m.Data); err != nil {
							t.Fatal(err)
						}
					}
					side := decode.Client
					if m.Type == "receive" {
						side = decode.Server
					}
					want = append(want, msg{side, decode.Opcode(m.Opcode), string(p)})
					times = append(times, time.UnixMicro(int64(m.Time*1e6+0.5)))
				}
				total += len(want)
				sameMessages(t, fmt.Sprintf("entry %d", i), messagesOf(c), want)
				for j, m := range c.Messages {
					if d := m.Time.Sub(times[j]); d < -time.Microsecond || d > time.Microsecond {
						t.Errorf("entry %d message %d: time %v, want %v", i, j, m.Time, times[j])
					}
					if len(m.Frames) != 1 || c.Frames[m.Frames[0]].Length != uint64(len(m.Payload)) || !c.Frames[m.Frames[0]].Fin {
						t.Errorf("entry %d message %d: frames %v", i, j, m.Frames)
					}
				}
				if !strings.HasPrefix(c.URL, "ws://") && !strings.HasPrefix(c.URL, "wss://") {
					t.Errorf("entry %d: URL %q is not ws: or wss:", i, c.URL)
				}
				if c.Request == nil || c.Response == nil || c.Response.Status != 101 {
					t.Errorf("entry %d: handshake not loaded", i)
				}
			}
			if ws != tc.ws || total != tc.messages {
				t.Fatalf("%d WebSocket entries with %d messages, want %d with %d", ws, total, tc.ws, tc.messages)
			}

			// Out again, valid, and back in with the same messages.
			har := writeHAR(t, export.Options{}, conns...)
			validateHAR(t, sch, tc.file+" re-exported", har)
			back := load(t, "re-exported.har", har)
			if len(back) != len(conns) {
				t.Fatalf("%d connections after re-export, want %d", len(back), len(conns))
			}
			for i := range conns {
				sameMessages(t, "re-exported connection "+conns[i].ID, messagesOf(back[i]), messagesOf(conns[i]))
			}
			// And the JSON of the import reads back identically.
			j := writeJSON(t, export.Options{}, conns...)
			if j2 := writeJSON(t, export.Options{}, load(t, "import.json", j)...); !bytes.Equal(j2, bytes.ReplaceAll(j, []byte(`"source": "har"`), []byte(`"source": "json"`))) {
				diffLines(t, "HAR import -> JSON -> Load -> JSON", j2, j)
			}
		})
	}
}

// TestImportToolVariants covers what other tools write: Playwright's
// millisecond times, Chrome's "error" items (opcode -1), http(s) URLs on
// WebSocket entries, a text message sent as base64 with _encoding, close
// frames, and a Chrome entry without a response.
func TestImportToolVariants(t *testing.T) {
	const har = `{"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
	{"startedDateTime": "2024-05-01T10:00:00.000Z", "time": 12,
	 "request": {"method": "GET", "url": "https://example.com/socket?x=1", "httpVersion": "HTTP/1.1",
	             "headers": [{"name": "Host", "value": "example.com"}], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
	 "response": {"status": 101, "statusText": "Switching Protocols", "httpVersion": "HTTP/1.1",
	              "headers": [{"name": "Sec-WebSocket-Protocol", "value": "graphql-ws"}, {"name": "Sec-WebSocket-Extensions", "value": "permessage-deflate; server_max_window_bits=10"}],
	              "cookies": [], "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1, "bodySize": 0},
	 "cache": {}, "timings": {"send": 1, "wait": 10, "receive": 1},
	 "serverIPAddress": "[2001:db8::1]",
	 "_resourceType": "websocket",
	 "_webSocketMessages": [
	   {"type": "send", "time": 1714557600123.456, "opcode": 1, "data": "ms time"},
	   {"type": "receive", "time": 1714557600.5, "opcode": 2, "data": "AAE="},
	   {"type": "receive", "time": 1714557600.6, "opcode": 1, "data": "/w==", "_encoding": "base64"},
	   {"type": "error", "time": 1714557600.7, "opcode": -1, "data": "WebSocket is closed before the connection is established."},
	   {"type": "send", "time": 1714557600.8, "opcode": 8, "data": "A+hieWU="}
	 ]},
	{"startedDateTime": "2024-05-01T10:00:01.000Z", "time": 0,
	 "request": {"method": "GET", "url": "wss://example.com/failed", "headers": []},
	 "response": {"status": 0, "statusText": "", "headers": []},
	 "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
	 "_resourceType": "websocket"}
	]}}`
	conns := load(t, "variants.har", []byte(har))
	if len(conns) != 2 {
		t.Fatalf("%d connections, want 2", len(conns))
	}
	c := conns[0]
	sameMessages(t, "variants", messagesOf(c), []msg{
		{decode.Client, decode.OpText, "ms time"},
		{decode.Server, decode.OpBinary, "\x00\x01"},
		{decode.Server, decode.OpText, "\xff"},
		{decode.Client, decode.OpClose, "\x03\xe8bye"},
	})
	if got, want := c.Messages[0].Time, time.UnixMicro(1714557600123456).UTC(); !got.Equal(want) {
		t.Errorf("millisecond time read as %v, want %v", got, want)
	}
	if got, want := c.Messages[1].Time, time.UnixMicro(1714557600500000).UTC(); !got.Equal(want) {
		t.Errorf("second time read as %v, want %v", got, want)
	}
	if len(c.Problems) != 1 || c.Problems[0].Kind != export.KindRecordedError || !strings.Contains(c.Problems[0].Message, "closed before the connection") {
		t.Errorf("error item: problems %+v", c.Problems)
	}
	if c.URL != "wss://example.com/socket?x=1" || !c.TLS || c.Server != "[2001:db8::1]:443" {
		t.Errorf("url %q tls %v server %q", c.URL, c.TLS, c.Server)
	}
	if c.Subprotocol != "graphql-ws" || c.Deflate == nil || c.Deflate.ServerMaxWindowBits != 10 {
		t.Errorf("subprotocol %q deflate %+v", c.Subprotocol, c.Deflate)
	}
	if c.Close == nil || c.Close.Code != 1000 || c.Close.Reason != "bye" || c.Messages[2].TextValid {
		t.Errorf("close %+v, text valid of \\xff %v", c.Close, c.Messages[2].TextValid)
	}
	if want := time.Date(2024, 5, 1, 10, 0, 0, 11e6, time.UTC); !c.Response.Time.Equal(want) {
		t.Errorf("response time %v, want %v (start + send + wait)", c.Response.Time, want)
	}
	if f := conns[1]; f.Response != nil || f.State != decode.StateClosed || len(f.Messages) != 0 || f.URL != "wss://example.com/failed" {
		t.Errorf("failed entry: response %+v state %s", f.Response, f.State)
	}
	// The text that is not UTF-8 goes out base64 with _encoding and comes
	// back as the same byte.
	out := writeHAR(t, export.Options{}, conns...)
	validateHAR(t, harSchema(t), "variants re-exported", out)
	if !bytes.Contains(out, []byte(`"opcode": 1, "data": "/w==", "_encoding": "base64"`)) {
		t.Errorf("non-UTF-8 text not written as base64 with _encoding:\n%s", out)
	}
	sameMessages(t, "variants re-exported", messagesOf(load(t, "out.har", out)[0]), messagesOf(c))
}
