package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// eventLog records the events of LoadEvents as copies, and checks the
// contract of the events as they come: per connection EventOpened first
// and EventClosed last, each kind indexed 0, 1, 2 ... as the decoder
// counts, a handshake at most once, and what an event points to there.
type eventLog struct {
	events []recorded
	conns  map[*decode.Connection]*connLog
	// broken lists what went against the contract.
	broken []string
}

// recorded is one event with copies of what it pointed to.
type recorded struct {
	Kind     decode.EventKind
	Conn     int // the connection, in the order they opened
	Index    int
	Meta     decode.Connection
	Frame    *decode.Frame
	Message  *decode.Message
	Problem  *decode.Problem
	Exchange *decode.Exchange
}

type connLog struct {
	n          int
	closed     bool
	handshakes int
	counts     [4]int // exchanges, frames, messages, problems
}

func (l *eventLog) breaks(format string, args ...any) {
	if len(l.broken) < 10 {
		l.broken = append(l.broken, fmt.Sprintf(format, args...))
	}
}

func (l *eventLog) event(e decode.Event) {
	if l.conns == nil {
		l.conns = map[*decode.Connection]*connLog{}
	}
	if e.Conn == nil {
		l.breaks("event %s without a connection", e.Kind)
		return
	}
	c := l.conns[e.Conn]
	if c == nil {
		c = &connLog{n: len(l.conns)}
		l.conns[e.Conn] = c
		if e.Kind != decode.EventOpened {
			l.breaks("connection %d starts with %s, not opened", c.n, e.Kind)
		}
	} else if e.Kind == decode.EventOpened {
		l.breaks("connection %d opened twice", c.n)
	}
	if c.closed {
		l.breaks("connection %d: %s after closed", c.n, e.Kind)
	}
	r := recorded{Kind: e.Kind, Conn: c.n, Index: e.Index, Meta: *e.Conn}
	counted := func(k int, count int, present bool) {
		if !present {
			l.breaks("connection %d: %s %d points to nothing", c.n, e.Kind, e.Index)
		}
		if e.Index != c.counts[k] {
			l.breaks("connection %d: %s has index %d, want %d", c.n, e.Kind, e.Index, c.counts[k])
		}
		c.counts[k]++
		if count != c.counts[k] {
			l.breaks("connection %d: during %s %d the count is %d, want %d", c.n, e.Kind, e.Index, count, c.counts[k])
		}
	}
	switch e.Kind {
	case decode.EventHandshake:
		c.handshakes++
		if c.handshakes > 1 || e.Conn.Request == nil && e.Conn.Response == nil {
			l.breaks("connection %d: handshake %d, request %v, response %v", c.n, c.handshakes, e.Conn.Request != nil, e.Conn.Response != nil)
		}
	case decode.EventExchange:
		counted(0, e.Conn.ExchangeCount, e.Exchange != nil)
		if e.Exchange != nil {
			x := *e.Exchange
			r.Exchange = &x
		}
	case decode.EventFrame:
		counted(1, e.Conn.FrameCount, e.Frame != nil)
		if e.Frame != nil {
			f := *e.Frame
			f.Payload = bytes.Clone(f.Payload)
			r.Frame = &f
		}
	case decode.EventMessage:
		counted(2, e.Conn.MessageCount, e.Message != nil)
		if e.Message != nil {
			m := *e.Message
			m.Payload = bytes.Clone(m.Payload)
			m.Frames = slices.Clone(m.Frames)
			r.Message = &m
		}
	case decode.EventProblem:
		counted(3, e.Conn.ProblemCount, e.Problem != nil)
		if e.Problem != nil {
			p := *e.Problem
			r.Problem = &p
		}
	case decode.EventClosed:
		c.closed = true
		got := [4]int{e.Conn.ExchangeCount, e.Conn.FrameCount, e.Conn.MessageCount, e.Conn.ProblemCount}
		if got != c.counts {
			l.breaks("connection %d closed with counts %v, emitted %v", c.n, got, c.counts)
		}
	}
	l.events = append(l.events, r)
}

// finish checks that a load that succeeded closed every connection.
func (l *eventLog) finish(err error) {
	if err != nil {
		return
	}
	for _, c := range l.conns {
		if !c.closed {
			l.breaks("connection %d never closed", c.n)
		}
	}
}

// loadEvents runs LoadEvents on data and returns the log.
func loadEvents(t testing.TB, name string, r io.Reader) (*eventLog, error) {
	t.Helper()
	l := &eventLog{}
	err := export.LoadEvents(context.Background(), name, r, l.event)
	l.finish(err)
	if len(l.broken) > 0 {
		t.Fatalf("%s: the events break the contract:\n%s", name, strings.Join(l.broken, "\n"))
	}
	return l, err
}

// conversations rebuilds whole connections from the events, as a store
// does: a frame without its payload gets it cut from its message.
func (l *eventLog) conversations() []*session.Conversation {
	var out []*session.Conversation
	for _, r := range l.events {
		if r.Kind == decode.EventOpened {
			out = append(out, &session.Conversation{Ended: true})
		}
		c := out[r.Conn]
		switch r.Kind {
		case decode.EventExchange:
			c.Exchanges = append(c.Exchanges, *r.Exchange)
		case decode.EventFrame:
			c.Frames = append(c.Frames, *r.Frame)
		case decode.EventMessage:
			c.Messages = append(c.Messages, *r.Message)
		case decode.EventProblem:
			c.Problems = append(c.Problems, *r.Problem)
		case decode.EventClosed:
			c.Connection = r.Meta
			for fi := range c.Frames {
				f := &c.Frames[fi]
				if f.Payload != nil || f.Message < 0 || f.Message >= len(c.Messages) {
					continue
				}
				m := &c.Messages[f.Message]
				off := uint64(0)
				for _, other := range m.Frames {
					if other == fi {
						f.Payload = m.Payload[off : off+f.Length : off+f.Length]
						break
					}
					off += c.Frames[other].Length
				}
			}
		}
	}
	return out
}

// normalize makes what Load returned before and what the events give
// comparable: nil and empty lists alike, and the counts those of the
// lists, which is what a count now means.
func normalize(convs []*session.Conversation) []*session.Conversation {
	for _, c := range convs {
		c.Connection = *c.Meta()
		normValue(reflect.ValueOf(c).Elem())
	}
	return convs
}

func normValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normValue(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				normValue(f)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := range v.Len() {
			normValue(v.Index(i))
		}
	}
}

// firstDiff names the first field where a and b differ.
func firstDiff(a, b reflect.Value, path string) string {
	if a.Kind() != b.Kind() {
		return path
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil %v, nil %v", path, a.IsNil(), b.IsNil())
			}
			return ""
		}
		return firstDiff(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		if a.Type().String() == "time.Time" {
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				return fmt.Sprintf("%s: %v, %v", path, a.Interface(), b.Interface())
			}
			return ""
		}
		for i := range a.NumField() {
			if d := firstDiff(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: length %d, %d", path, a.Len(), b.Len())
		}
		for i := range a.Len() {
			if d := firstDiff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if a.CanInterface() && !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %v, %v", path, a.Interface(), b.Interface())
	}
	return ""
}

func sameConversations(t *testing.T, what string, got, want []*session.Conversation) {
	t.Helper()
	got, want = normalize(got), normalize(want)
	if len(got) != len(want) {
		t.Fatalf("%s: %d connections, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := firstDiff(reflect.ValueOf(got[i]), reflect.ValueOf(want[i]), fmt.Sprintf("connection %d", i)); d != "" {
			t.Fatalf("%s: got, want differ at %s", what, d)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: differ", what)
	}
}

// exportFiles are every export in testdata: the HARs of other tools and
// the golden JSON and HAR files.
func exportFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{"variants.har": []byte(variantsHAR)}
	for _, pat := range []string{"testdata/*.har", "testdata/golden/*.json", "testdata/golden/*.har", "testdata/golden/samples/*.json", "testdata/golden/samples/*.har"} {
		names, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			files[n] = data
		}
	}
	if len(files) < 20 {
		t.Fatalf("only %d exports found in testdata", len(files))
	}
	return files
}

// variantsHAR is what other tools write that wstap does not: Playwright's
// millisecond times, Chrome's error items, http(s) URLs on WebSocket
// entries, text sent as base64, a close, an entry without a response.
const variantsHAR = `{"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
	{"startedDateTime": "2024-05-01T10:00:00.000Z", "time": 12,
	 "request": {"method": "GET", "url": "https://example.com/socket?x=1", "httpVersion": "HTTP/1.1",
	             "headers": [{"name": "Host", "value": "example.com"}], "bodySize": 0},
	 "response": {"status": 101, "statusText": "Switching Protocols", "httpVersion": "HTTP/1.1",
	              "headers": [{"name": "Sec-WebSocket-Protocol", "value": "graphql-ws"}, {"name": "Sec-WebSocket-Extensions", "value": "permessage-deflate; server_max_window_bits=10"}],
	              "content": {"size": 0, "mimeType": "x-unknown"}, "bodySize": 0},
	 "timings": {"send": 1, "wait": 10, "receive": 1},
	 "serverIPAddress": "[2001:db8::1]",
	 "_resourceType": "websocket",
	 "_webSocketMessages": [
	   {"type": "send", "time": 1714557600123.456, "opcode": 1, "data": "ms time"},
	   {"type": "receive", "time": 1714557600.5, "opcode": 2, "data": "AAE="},
	   {"type": "receive", "time": 1714557600.6, "opcode": 1, "data": "/w==", "_encoding": "base64"},
	   {"type": "error", "time": 1714557600.7, "opcode": -1, "data": "WebSocket is closed before the connection is established."},
	   {"type": "send", "time": 1714557600.8, "opcode": 8, "data": "A+hieWU="},
	   {"type": "receive", "time": 1714557600.9, "opcode": 1, "data": "esc\"aped \u00e9 \ud83d\ude00 \ud800 lone"}
	 ]},
	{"startedDateTime": "2024-05-01T10:00:01.000Z", "time": 0,
	 "request": {"method": "GET", "url": "wss://example.com/failed", "headers": []},
	 "response": {"status": 0, "statusText": "", "headers": []},
	 "_resourceType": "websocket"},
	{"startedDateTime": "2024-05-01T10:00:02.000Z", "request": {"method": "POST", "url": "http://example.com/api", "postData": {"text": "a=1"}},
	 "response": {"status": 200, "content": {"text": "AAEC", "encoding": "base64"}}, "connection": "1"}
	]}}`

// TestLoadEventsAsLoadWas: for every export in testdata, the events of
// LoadEvents, recorded as a store records them, are what Load returned
// before it streamed; and so is what Load returns now.
func TestLoadEventsAsLoadWas(t *testing.T) {
	for name, data := range exportFiles(t) {
		if raceEnabled && len(data) > bigUnderRace {
			continue
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			want, err := export.RefLoad(name, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			l, err := loadEvents(t, name, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			sameConversations(t, "events", l.conversations(), want)
			got, err := export.Load(name, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			want, _ = export.RefLoad(name, bytes.NewReader(data))
			sameConversations(t, "Load", got, want)
		})
	}
}

// bigUnderRace is the size past which a file is left out of the slower
// comparisons under the race detector: the run without it reads them all.
const bigUnderRace = 64 << 10

// TestLoadEventsChunking: read one byte at a time, a file gives the same
// events as read whole.
func TestLoadEventsChunking(t *testing.T) {
	for name, data := range exportFiles(t) {
		if raceEnabled && len(data) > bigUnderRace {
			continue
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			whole, err := loadEvents(t, name, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			bytewise, err := loadEvents(t, name, iotest.OneByteReader(bytes.NewReader(data)))
			if err != nil {
				t.Fatal(err)
			}
			if len(whole.events) != len(bytewise.events) {
				t.Fatalf("%d events read whole, %d byte by byte", len(whole.events), len(bytewise.events))
			}
			for i := range whole.events {
				if d := firstDiff(reflect.ValueOf(bytewise.events[i]), reflect.ValueOf(whole.events[i]), fmt.Sprintf("event %d", i)); d != "" {
					t.Fatalf("byte by byte, whole differ at %s", d)
				}
			}
		})
	}
}

// TestLoadEventsOrder: a file is a file whatever the order of the members
// of its objects (JSON does not order them). Foreign files and files that
// went through a tool that sorts keys load as they did before, except
// where streaming cannot look ahead (see TestLoadEventsSortedWstapHAR).
func TestLoadEventsOrder(t *testing.T) {
	for name, data := range exportFiles(t) {
		if raceEnabled && len(data) > bigUnderRace {
			continue
		}
		for _, order := range []struct {
			name string
			sort func(path []string, keys []string)
		}{
			{"reversed", func(_ []string, keys []string) { slices.Reverse(keys) }},
			{"sorted", func(_ []string, keys []string) { slices.Sort(keys) }},
		} {
			if strings.Contains(string(data), `"_wstap"`) {
				// Reordered either way, wstap's id follows the messages:
				// TestLoadEventsSortedWstapHAR.
				continue
			}
			t.Run(filepath.Base(name)+"/"+order.name, func(t *testing.T) {
				data := reorder(t, data, order.sort)
				want, err := export.RefLoad(name, bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				l, err := loadEvents(t, name, bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				sameConversations(t, order.name, l.conversations(), want)
			})
		}
	}
}

// TestLoadEventsSortedWstapHAR: in a HAR that wstap wrote and a tool then
// sorted by key, _webSocketMessages comes before _wstap and before the
// request. Everything still loads and every message is there; the
// connection opens with a number for an id, and the id in _wstap is not
// used to group the entry with the exchanges of its connection.
func TestLoadEventsSortedWstapHAR(t *testing.T) {
	data, err := os.ReadFile("testdata/golden/session.har")
	if err != nil {
		t.Fatal(err)
	}
	sorted := reorder(t, data, func(_ []string, keys []string) { slices.Sort(keys) })
	want, err := export.RefLoad("s.har", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadEvents(t, "sorted.har", bytes.NewReader(sorted))
	if err != nil {
		t.Fatal(err)
	}
	got := l.conversations()
	var nw, ng int
	for _, c := range want {
		nw += len(c.Messages)
	}
	for _, c := range got {
		ng += len(c.Messages)
		if c.ID == "" {
			t.Errorf("a connection without an id")
		}
	}
	if ng != nw || len(got) < len(want) {
		t.Fatalf("%d connections with %d messages, want %d with %d", len(got), ng, len(want), nw)
	}
}

// reorder rewrites a JSON document with the members of every object in
// the order sort leaves their names in.
func reorder(t *testing.T, data []byte, sort func(path, keys []string)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var b bytes.Buffer
	var value func(path []string) error
	value = func(path []string) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		return writeReordered(&b, raw, path, sort)
	}
	if err := value(nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeReordered(b *bytes.Buffer, raw json.RawMessage, path []string, sort func(path, keys []string)) error {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		keys := make([]string, 0, len(m))
		// The order in the file, then as sort says.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.Token()
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			dec.Decode(&skip)
		}
		sort(path, keys)
		b.WriteString("{\n")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",\n")
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteString(": ")
			if err := writeReordered(b, m[k], append(path, k), sort); err != nil {
				return err
			}
		}
		b.WriteString("}")
	case '[':
		var a []json.RawMessage
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		b.WriteString("[")
		for i, el := range a {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeReordered(b, el, append(path, "[]"), sort); err != nil {
				return err
			}
		}
		b.WriteString("]")
	default:
		b.Write(raw)
	}
	return nil
}

// TestLoadEventsOrderOfEvents: what the events of each format look like.
func TestLoadEventsOrderOfEvents(t *testing.T) {
	kinds := func(l *eventLog) string {
		var s []string
		for _, r := range l.events {
			k := r.Kind.String()
			if r.Kind == decode.EventFrame && r.Frame.Payload == nil {
				k += "(from message)"
			}
			s = append(s, k)
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct{ name, data, want string }{
		{"json", `{"format": "wstap", "version": 1, "connections": [{"id": "a", "client": "c:1", "server": "s:2",
			"request": {"method": "GET", "target": "/", "headers": []}, "response": {"status": 101, "headers": []},
			"exchanges": [{"request": {"method": "GET", "target": "/x"}}],
			"frames": [{"from": "client", "opcode": 1, "fin": true, "length": 2, "message": 0},
			           {"from": "server", "opcode": 2, "fin": true, "length": 1, "message": 1, "payload_base64": "AA=="}],
			"messages": [{"from": "client", "opcode": 1, "frames": [0], "text": "hi"},
			             {"from": "server", "opcode": 2, "frames": [1], "compressed": true, "data_base64": "AQ=="}],
			"problems": [{"severity": "warning", "kind": "k", "message": "m"}],
			"state": "closed"}]}`,
			"opened exchange handshake frame(from message) frame message message problem closed"},
		{"har", `{"log": {"entries": [{"request": {"url": "ws://h/"}, "response": {"status": 101},
			"_webSocketMessages": [{"type": "send", "time": 1, "opcode": 1, "data": "a"}, {"type": "error", "time": 2, "data": "x"},
			                       {"type": "receive", "time": 3, "opcode": 2, "data": "AA=="}]}]}}`,
			"opened handshake frame(from message) message problem frame(from message) message closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := loadEvents(t, tc.name, strings.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(l); got != tc.want {
				t.Fatalf("events\n got: %s\nwant: %s", got, tc.want)
			}
			open := l.events[0].Meta
			if open.ID == "" || open.Source != tc.name {
				t.Errorf("opened with id %q source %q", open.ID, open.Source)
			}
		})
	}
}

// TestLoadEventsHARGroups: the entries wstap wrote for one connection (its
// exchanges, then its WebSocket) are one connection again; entries of
// other tools are a connection each, with the next free number as id;
// exchanges that never get their WebSocket end with the file.
func TestLoadEventsHARGroups(t *testing.T) {
	const har = `{"log": {"creator": {"name": "wstap"}, "entries": [
	{"request": {"url": "http://h/a"}, "response": {"status": 200}, "connection": "3", "_wstap": {"id": "3", "client": "c:1"}},
	{"request": {"url": "http://h/b"}, "response": {"status": 200}, "connection": "9", "_wstap": {"id": "9"}},
	{"request": {"url": "http://h/c"}, "response": {"status": 200}},
	{"request": {"url": "ws://h/"}, "response": {"status": 101}, "connection": "3",
	 "_webSocketMessages": [{"type": "send", "time": 1, "opcode": 1, "data": "a"}],
	 "_wstap": {"id": "3", "client": "c:1", "problems": [{"severity": "error", "kind": "k", "message_index": 0}]}},
	{"request": {"url": "ws://h/"}, "_webSocketMessages": [{"type": "send", "time": 1, "opcode": 1, "data": "b"}]}
	]}}`
	want, err := export.RefLoad("g.har", strings.NewReader(har))
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadEvents(t, "g.har", strings.NewReader(har))
	if err != nil {
		t.Fatal(err)
	}
	var closed []string
	for _, r := range l.events {
		if r.Kind == decode.EventClosed {
			closed = append(closed, r.Meta.ID)
		}
	}
	// Entries of their own end with the entry; the WebSocket ends its
	// connection; the one that only had an exchange ends with the file.
	if got := strings.Join(closed, " "); got != "1 3 2 9" {
		t.Errorf("closed in the order %s", got)
	}
	got := l.conversations()
	sort := func(cs []*session.Conversation) {
		slices.SortFunc(cs, func(a, b *session.Conversation) int { return strings.Compare(a.ID, b.ID) })
	}
	sort(got)
	sort(want)
	sameConversations(t, "groups", got, want)
}

// TestLoadEventsHeldProblems: a _wstap that comes before its entry's
// messages has its problems held until they are read, and checked
// against them as before.
func TestLoadEventsHeldProblems(t *testing.T) {
	const har = `{"log": {"entries": [{"_wstap": {"id": "7", "client": "c:1", "state": "closing",
	   "problems": [{"severity": "error", "kind": "k", "message_index": 5}, {"severity": "warning", "kind": "k", "message_index": 1}]},
	 "request": {"url": "ws://h/"},
	 "_webSocketMessages": [{"type": "send", "time": 1, "opcode": 1, "data": "a"}, {"type": "receive", "time": 2, "opcode": 1, "data": "b"}]}]}}`
	want, err := export.RefLoad("p.har", strings.NewReader(har))
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadEvents(t, "p.har", strings.NewReader(har))
	if err != nil {
		t.Fatal(err)
	}
	sameConversations(t, "held problems", l.conversations(), want)
	if c := want[0]; c.ID != "7" || c.Problems[0].MessageIndex != -1 || c.Problems[1].Frame != 1 || c.State != decode.StateClosing {
		t.Fatalf("id %s problems %+v state %s", c.ID, c.Problems, c.State)
	}
}

// TestLoadEventsJSONIDLate: a JSON connection whose id follows its frames
// opens without one (the consumer gives it one) and has it by the end.
func TestLoadEventsJSONIDLate(t *testing.T) {
	l, err := loadEvents(t, "late.json", strings.NewReader(`{"connections": [{"frames": [{"from": "client", "opcode": 9}], "id": "x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if first, last := l.events[0].Meta.ID, l.events[len(l.events)-1].Meta.ID; first != "" || last != "x" {
		t.Fatalf("id %q at opened, %q at closed", first, last)
	}
}

// TestLoadEventsErrorsAfterEvents: an error found late comes after the
// events of what was read before it, which the caller then discards.
func TestLoadEventsErrorsAfterEvents(t *testing.T) {
	const doc = `{"connections": [{"id": "1", "messages": [{"from": "client", "opcode": 1, "text": "ok"}]},
	{"id": "2", "messages": [{"from": "nobody", "opcode": 1, "text": "x"}]}]}`
	l, err := loadEvents(t, "late.json", strings.NewReader(doc))
	const want = `late.json:2:36: connections[1].messages[0].from: expected "client" or "server", found "nobody"`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	// The first connection, whole; nothing of the second, whose first
	// message is wrong.
	if len(l.events) != 3 || l.events[2].Kind != decode.EventClosed {
		t.Fatalf("%d events before the error", len(l.events))
	}
}

// TestLoadEventsTooLarge: one string of hundreds of megabytes, streamed
// from a generator and never held whole, is refused where it starts,
// after reading no more of it than the bound; the heap stays within a
// few times the bound all along.
func TestLoadEventsTooLarge(t *testing.T) {
	limit := int64(export.MaxValueSize)
	if testing.Short() || raceEnabled {
		limit = 4 << 20 // the same path, a smaller bound
	}
	const head = "{\"log\": {\"entries\": [\n {\"request\": {\"url\": \"ws://h/\"}, \"_webSocketMessages\": [{\"type\": \"send\", \"time\": 1, \"opcode\": 1, \"data\": \""
	g := &generator{parts: []part{{text: head}, {fill: 'a', size: 4 * limit}, {text: "\"}]}]}}"}}, sampleEvery: limit / 16}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	err := export.LoadEventsLimit(context.Background(), "big.har", g, func(decode.Event) {}, limit)
	var le *export.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want a *LoadError", err)
	}
	want := fmt.Sprintf("big.har:2:%d: log.entries[0]._webSocketMessages[0].data: a value longer than %d MiB", len(head)-len("{\"log\": {\"entries\": [\n"), limit>>20)
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error\n got: %v\nwant: %s...", err, want)
	}
	// What was read: the bound, the chunk the decoder asked for past it,
	// and what bufio read ahead.
	if slack := int64(export.ReadChunk + 64<<10); g.read > limit+slack {
		t.Errorf("read %d bytes for a bound of %d", g.read, limit)
	}
	// The decoder's buffer (which doubles) and the window each hold the
	// value once, with the garbage of their growth not yet collected.
	grown := int64(g.peak) - int64(before.HeapAlloc)
	if grown > 6*limit {
		t.Errorf("heap grew by %d MiB for a bound of %d MiB", grown>>20, limit>>20)
	}
	t.Logf("read %d MiB, heap peak +%d MiB", g.read>>20, grown>>20)
}

// generator streams its parts one after the other, making them as they
// are read: nothing of the file is held but the piece being read. It
// samples the heap as it goes.
type generator struct {
	parts []part
	read  int64
	// onRead, when set, is called before each read with the bytes read.
	onRead func(read int64)

	sampleEvery, nextSample int64
	peak                    uint64

	buf []byte
	n   int // items of the current part made
}

// part is text, size bytes of fill, or items items made by item and
// separated by commas.
type part struct {
	text  string
	fill  byte
	size  int64
	item  func(b []byte, i int) []byte
	items int
}

func (g *generator) Read(p []byte) (int, error) {
	if g.onRead != nil {
		g.onRead(g.read)
	}
	if g.sampleEvery > 0 && g.read >= g.nextSample {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		g.peak = max(g.peak, ms.HeapAlloc)
		g.nextSample = g.read + g.sampleEvery
	}
	for len(g.buf) == 0 {
		if len(g.parts) == 0 {
			return 0, io.EOF
		}
		pt := &g.parts[0]
		switch {
		case pt.text != "":
			g.buf = append(g.buf[:0], pt.text...)
			g.parts = g.parts[1:]
		case pt.item != nil && g.n < pt.items:
			g.buf = g.buf[:0]
			if g.n > 0 {
				g.buf = append(g.buf, ',')
			}
			g.buf = pt.item(g.buf, g.n)
			g.n++
		case pt.size > 0:
			n := min(pt.size, int64(len(p)))
			pt.size -= n
			for i := range p[:n] {
				p[i] = pt.fill
			}
			g.read += n
			return int(n), nil
		default:
			g.parts, g.n = g.parts[1:], 0
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	g.read += int64(n)
	return n, nil
}

// manyMessages generates a JSON export of one connection with n frames,
// each without its payload, then their n messages: small items, so that
// a million of them read in about a second.
func manyMessages(n int) *generator {
	return &generator{parts: []part{
		{text: `{"format":"wstap","version":1,"connections":[{"id":"1","client":"127.0.0.1:5000","server":"127.0.0.1:80","frames":[`},
		{items: n, item: func(b []byte, i int) []byte {
			b = append(b, `{"from":"client","fin":true,"opcode":1,"length":2,"message":`...)
			return append(strconv.AppendInt(b, int64(i), 10), '}')
		}},
		{text: `],"messages":[`},
		{items: n, item: func(b []byte, i int) []byte {
			b = append(b, `{"from":"client","opcode":1,"frames":[`...)
			return append(strconv.AppendInt(b, int64(i), 10), `],"text":"hi"}`...)
		}},
		{text: "]}]}\n"},
	}}
}

// TestLoadEventsManyMessages: a connection of a million small messages
// (and their frames), generated as it is read, loads with a heap that
// does not grow with them.
func TestLoadEventsManyMessages(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 20_000
	}
	g := manyMessages(n)
	var events [7]int
	runtime.GC()
	var before, ms runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapAlloc
	err := export.LoadEvents(context.Background(), "many.json", g, func(e decode.Event) {
		events[e.Kind]++
		if (e.Kind == decode.EventMessage || e.Kind == decode.EventFrame) && e.Index%(n/10) == 0 {
			runtime.GC() // what is live, whatever the collector's lag
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if events[decode.EventFrame] != n || events[decode.EventMessage] != n || events[decode.EventOpened] != 1 || events[decode.EventClosed] != 1 {
		t.Fatalf("events by kind %v", events)
	}
	// Kept, a million messages would be hundreds of megabytes.
	grown := int64(peak) - int64(before.HeapAlloc)
	if grown > 16<<20 {
		t.Errorf("heap grew by %d MiB over %d messages", grown>>20, n)
	}
	t.Logf("%d MiB read, heap +%d KiB", g.read>>20, grown>>10)
}

// TestLoadEventsCancel: when the context is done, loading stops at once:
// between two events of an endless connection, and in the middle of an
// endless string.
func TestLoadEventsCancel(t *testing.T) {
	t.Run("events", func(t *testing.T) {
		g := manyMessages(1 << 40)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		after, n := 0, 0
		err := export.LoadEvents(ctx, "endless.json", g, func(decode.Event) {
			if n++; n == 1000 {
				cancel()
			} else if n > 1000 {
				after++
			}
		})
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "endless.json: loading stopped") {
			t.Fatalf("error %v, want one wrapping context.Canceled", err)
		}
		if after > 0 {
			t.Fatalf("%d events after the cancellation", after)
		}
	})
	t.Run("string", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const at = 8 << 20
		g := &generator{parts: []part{{text: `{"log": {"entries": [{"comment": "`}, {fill: 'a', size: 1 << 40}}}
		g.onRead = func(read int64) {
			if read >= at {
				cancel()
			}
		}
		err := export.LoadEvents(ctx, "endless.har", g, func(decode.Event) {})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want one wrapping context.Canceled", err)
		}
		// The read that crossed the mark, and the one under way.
		if g.read > at+2*export.ReadChunk+4<<10 {
			t.Fatalf("read %d bytes, cancelled at %d", g.read, at)
		}
	})
}

// BenchmarkLoadEvents reads large exports (the golden session repeated,
// 600 connections; and one connection of 50,000 messages) with the loader
// as it was (old), with Load, and with LoadEvents handing the events to
// nothing.
func BenchmarkLoadEvents(b *testing.B) {
	long, err := io.ReadAll(manyMessages(50_000))
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct{ name, file, list string }{
		{"json", "testdata/golden/session.json", `"connections": [`},
		{"har", "testdata/golden/session.har", `"entries": [`},
		{"long", "", ""},
	} {
		data := long
		if f.file != "" {
			data = repeatExport(b, f.file, f.list, 200)
		}
		for _, way := range []struct {
			name string
			load func() error
		}{
			{"old", func() error { _, err := export.RefLoad(f.name, bytes.NewReader(data)); return err }},
			{"Load", func() error { _, err := export.Load(f.name, bytes.NewReader(data)); return err }},
			{"LoadEvents", func() error {
				return export.LoadEvents(context.Background(), f.name, bytes.NewReader(data), func(decode.Event) {})
			}},
		} {
			b.Run(f.name+"/"+way.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := way.load(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// repeatExport makes an export of the connections (or entries) of file
// repeated n times.
func repeatExport(b *testing.B, file, list string, n int) []byte {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	i := bytes.Index(data, []byte(list)) + len(list)
	j := bytes.LastIndexByte(data, ']')
	items := bytes.TrimSpace(data[i:j])
	var out bytes.Buffer
	out.Write(data[:i])
	for k := range n {
		if k > 0 {
			out.WriteByte(',')
		}
		out.Write(items)
	}
	out.Write(data[j:])
	return out.Bytes()
}

// TestLoadEventsDiffers: where reading as a stream gives another answer
// than reading the whole file first did. Each is a file that no tool
// writes, and the answer is still one that the file supports.
func TestLoadEventsDiffers(t *testing.T) {
	for _, tc := range []struct{ name, data, old, now string }{
		{"the first of log and connections decides",
			`{"connections": [{"id": "j"}], "log": {"entries": []}}`,
			"0 connections", "1 connections"},
		{"a member given twice is read twice",
			`{"connections": [{"id": 1, "id": "x"}]}`,
			"1 connections", `f:1:25: connections[0].id: expected a string, found the number 1`},
		{"a wrong member is found before a syntax error after it",
			`{"connections": [{"id": 1}] x}`,
			`f:1:29: invalid JSON: invalid character 'x' after object key:value pair`, `f:1:25: connections[0].id: expected a string, found the number 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer := func(convs []*session.Conversation, err error) string {
				if err != nil {
					return err.Error()
				}
				return fmt.Sprintf("%d connections", len(convs))
			}
			if got := answer(export.RefLoad("f", strings.NewReader(tc.data))); got != tc.old {
				t.Errorf("before: %s, want %s", got, tc.old)
			}
			if got := answer(export.Load("f", strings.NewReader(tc.data))); got != tc.now {
				t.Errorf("now: %s, want %s", got, tc.now)
			}
		})
	}
}

// TestLoadEventsSyntaxErrors: a file broken anywhere, by a byte that no
// JSON allows or by its end, gets the error Load gave when it parsed the
// whole file first: the same words at the same line and column, although
// the streaming decoder stops in another state and words some of them
// differently.
func TestLoadEventsSyntaxErrors(t *testing.T) {
	step := 53
	if testing.Short() || raceEnabled {
		step = 541
	}
	for _, name := range []string{"testdata/golden/session.json", "testdata/golden/session.har", "testdata/chromium_har-importer_webinspector.har"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for p := 1; p < len(data); p += step {
			for _, broken := range [][]byte{
				append(append(slices.Clip(data[:p]), 1), data[p+1:]...),
				data[:p],
			} {
				_, want := export.RefLoad(name, bytes.NewReader(broken))
				err := export.LoadEvents(context.Background(), name, bytes.NewReader(broken), func(decode.Event) {})
				if (want == nil) != (err == nil) || want != nil && err.Error() != want.Error() {
					t.Fatalf("%s broken at %d (%d bytes):\n got: %v\nwant: %v", name, p, len(broken), err, want)
				}
			}
		}
	}
}

// TestLoadEventsManyHARConnections: a HAR of many connections, each its
// exchanges then its WebSocket as wstap writes them, after one that never
// gets its WebSocket (it waits until the end of the file), loads with a
// heap that does not grow with the connections.
func TestLoadEventsManyHARConnections(t *testing.T) {
	n := 100_000
	if testing.Short() || raceEnabled {
		n = 5_000
	}
	g := &generator{parts: []part{
		{text: `{"log":{"creator":{"name":"wstap"},"entries":[{"request":{"url":"http://h/"},"connection":"w","_wstap":{"id":"w"}},`},
		{items: n, item: func(b []byte, i int) []byte {
			id := strconv.Itoa(i + 1)
			b = append(b, `{"request":{"url":"http://h/x"},"response":{"status":200},"connection":"`+id+`","_wstap":{"id":"`+id+`"}},`...)
			return append(b, `{"request":{"url":"ws://h/"},"connection":"`+id+`","_webSocketMessages":[{"type":"send","time":1,"opcode":1,"data":"hi"}],"_wstap":{"id":"`+id+`"}}`...)
		}},
		{text: "]}}"},
	}}
	runtime.GC()
	var before, ms runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapAlloc
	var closed []string
	err := export.LoadEvents(context.Background(), "many.har", g, func(e decode.Event) {
		if e.Kind != decode.EventClosed {
			return
		}
		if len(closed) < 3 || e.Conn.ID == "w" {
			closed = append(closed, e.Conn.ID)
		}
		if e.Conn.ID == strconv.Itoa(n/2) {
			// What is live halfway, not what garbage the collector has
			// not reached yet (which depends on how busy the machine is).
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(closed, " "); got != "1 2 3 w" {
		t.Fatalf("closed %s ...", got)
	}
	if grown := int64(peak) - int64(before.HeapAlloc); grown > 8<<20 {
		t.Errorf("the live heap grew by %d MiB over %d connections", grown>>20, n)
	}
}
