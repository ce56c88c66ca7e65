package capture

import (
	"bytes"
	"encoding/binary"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// feed hands the records of cf to a tracker one by one, calling after
// (if set) after each.
func feed(t *testing.T, cf capFile, opts Options, after func(i int, tr *Tracker)) *Tracker {
	t.Helper()
	tr := NewTracker(opts)
	for i, r := range cf.recs {
		tr.Record(&Record{Time: r.ts, LinkType: cf.link, Data: r.data, OrigLen: r.orig, Number: int64(i + 1)})
		if after != nil {
			after(i, tr)
		}
	}
	return tr
}

// TestConnectionIDs: IDs count up in the order of each connection's first
// packet, while connections are handed out as they end.
func TestConnectionIDs(t *testing.T) {
	cf := loadCapFile(t, "ipv6-multi-sll2.pcap")
	res := decodeCapture(t, "ids", cf.pcap(t), Options{})
	if len(res.conns) != 3 {
		t.Fatalf("%d connections, want 3", len(res.conns))
	}
	// The clients in the order of their first packet.
	var clients []string
	for _, s := range cf.segments() {
		if s.flags&flagSYN != 0 && s.flags&flagACK == 0 {
			clients = append(clients, s.src)
		}
	}
	for i, client := range clients {
		c := connByClient(res.conns, client)
		if c.ID != strconv.Itoa(i+1) {
			t.Errorf("the connection from %s, %d-th to start, has ID %q", client, i+1, c.ID)
		}
		if !c.Opened.Equal(cf.recs[slices.IndexFunc(cf.segments(), func(s seg) bool { return s.src == client })].ts) {
			t.Errorf("connection %s opened at %v, not at its SYN", c.ID, c.Opened)
		}
		if c.Source != "pcap" {
			t.Errorf("connection %s: source %q", c.ID, c.Source)
		}
	}
	for i := 1; i < len(res.conns); i++ {
		if res.conns[i].LastSeen.Before(res.conns[i-1].LastSeen) {
			t.Errorf("connection %s ended before %s but was handed out after it", res.conns[i].ID, res.conns[i-1].ID)
		}
	}
	// The IDs of several captures in one output come from one tap.
	tt := newTestTap(t)
	for range 40 {
		tt.tap.NextID()
	}
	r2 := decodeCapture(t, "again", readSample(t, "ipv6-multi-sll2.pcap"), Options{Tap: tt.tap})
	var ids []string
	for _, c := range r2.conns {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	if strings.Join(ids, ",") != "41,42,43" {
		t.Errorf("IDs %v, want 41-43", ids)
	}
}

// records of a connection's end, by flag.
func finRecords(cf capFile) []int {
	var idx []int
	for _, s := range cf.segments() {
		if s.flags&flagFIN != 0 {
			idx = append(idx, s.rec)
		}
	}
	return idx
}

// TestResetEndsConnection: a RST ends the connection at once, although the
// other side never closes.
func TestResetEndsConnection(t *testing.T) {
	cf := loadCapFile(t, "gorilla-basic.pcapng")
	fins := finRecords(cf)
	if len(fins) != 2 {
		t.Fatalf("%d FIN records, want 2", len(fins))
	}
	// The client resets instead of closing; nothing follows.
	rst := cf.clone()
	p, _ := rst.tcpOf(rst.recs[fins[0]])
	tcpOff := cap(rst.recs[fins[0]].data) - cap(p.TCP)
	rst.recs[fins[0]].data[tcpOff+13] = flagRST | flagACK
	rst.recs = rst.recs[:fins[0]+1]
	tt := newTestTap(t)
	doneAt := -1
	tr := feed(t, rst, Options{Tap: tt.tap}, func(i int, tr *Tracker) {
		if doneAt < 0 && len(tt.ended()) > 0 {
			doneAt = i
		}
	})
	if doneAt != fins[0] {
		t.Fatalf("the connection ended at record %d, want at the RST (record %d)", doneAt+1, fins[0]+1)
	}
	tr.Close()
	done := tt.ended()
	if len(done) != 1 || done[0].State != decode.StateClosed || done[0].Close == nil {
		t.Fatalf("handed out %d connections, state %v", len(done), done[0].State)
	}
}

// TestIdleConnectionEnds: a connection that stops without FIN or RST ends
// once it has been idle for the idle timeout in capture time.
func TestIdleConnectionEnds(t *testing.T) {
	cf := loadCapFile(t, "gorilla-basic.pcapng")
	drop := map[int]bool{}
	for _, i := range finRecords(cf) {
		drop[i] = true
	}
	quiet := cf.without(drop)
	tt := newTestTap(t)
	tr := feed(t, quiet, Options{Tap: tt.tap, IdleTimeout: time.Minute}, nil)
	last := quiet.recs[len(quiet.recs)-1].ts
	tr.Advance(last.Add(30 * time.Second))
	if len(tt.ended()) != 0 {
		t.Fatal("the connection ended before the idle timeout")
	}
	tr.Advance(last.Add(90 * time.Second))
	done := tt.ended()
	if len(done) != 1 {
		t.Fatalf("%d connections ended after the idle timeout, want 1", len(done))
	}
	data := quiet.dataIndexes()
	if lastData := quiet.recs[data[len(data)-1]].ts; !done[0].LastSeen.Equal(lastData) {
		t.Errorf("last seen %v, want the last data packet's time %v", done[0].LastSeen, lastData)
	}
	tr.Close()
	if len(done) != 1 {
		t.Errorf("Close handed the connection out again")
	}
}

// TestLateCopyAfterClose: a segment retransmitted after both FINs is not a
// new connection.
func TestLateCopyAfterClose(t *testing.T) {
	cf := loadCapFile(t, "gorilla-basic.pcapng")
	base := decodeCapture(t, "base", cf.pcap(t), Options{})
	data := cf.dataIndexes()
	late := cf.clone()
	for _, i := range data[len(data)-2:] {
		r := cf.recs[i]
		r.ts = late.recs[len(late.recs)-1].ts.Add(200 * time.Millisecond)
		late.recs = append(late.recs, r)
	}
	got := decodeCapture(t, "late", late.pcap(t), Options{})
	sameFramesAndMessages(t, got, base)
}

// scrambled returns a copy of cf's connection moved to other ports with
// its payload replaced by bytes that are no protocol wstap knows (as a TLS
// or database connection looks to it).
func scrambled(t *testing.T, cf capFile, portDelta uint16, tls bool) []capRecord {
	var out []capRecord
	x := uint32(12345)
	for _, r := range cf.recs {
		p, ok := cf.tcpOf(r)
		if !ok {
			continue
		}
		payload := make([]byte, len(p.Payload))
		for i := range payload {
			x = x*1664525 + 1013904223
			payload[i] = byte(x >> 24)
		}
		if tls && len(payload) > 5 {
			copy(payload, []byte{0x17, 0x03, 0x03}) // a TLS application data record
		}
		nr := cf.withPayload(t, r, 0, payload)
		q, _ := cf.tcpOf(nr)
		off := cap(nr.data) - cap(q.TCP)
		binary.BigEndian.PutUint16(nr.data[off:], q.SrcPort+portDelta)
		binary.BigEndian.PutUint16(nr.data[off+2:], q.DstPort+portDelta)
		out = append(out, nr)
	}
	return out
}

// TestOtherTrafficIsQuiet: TCP connections that carry neither WebSocket
// nor HTTP (here, one of random bytes and one of TLS records) give no
// events and are not handed out, though frames can be read into random
// bytes; the WebSocket connection next to them is decoded as if alone.
func TestOtherTrafficIsQuiet(t *testing.T) {
	cf := loadCapFile(t, "gorilla-basic.pcapng")
	base := decodeCapture(t, "base", cf.pcap(t), Options{})
	mixed := capFile{link: cf.link}
	random, tls := scrambled(t, cf, 1000, false), scrambled(t, cf, 2000, true)
	for i, r := range cf.recs {
		mixed.recs = append(mixed.recs, r)
		if i < len(random) {
			mixed.recs = append(mixed.recs, random[i], tls[i])
		}
	}
	got := decodeCapture(t, "mixed", mixed.pcap(t), Options{})
	sameFramesAndMessages(t, got, base)
	want := got.conns[0]
	messages := 0
	for _, it := range got.items {
		if it.Conn != want.ConnID {
			t.Fatalf("an item (%s) of connection %d, which is not WebSocket", it.Kind, it.Conn)
		}
		if it.Kind == decode.EventMessage {
			messages++
		}
	}
	if messages != len(want.Messages) || got.stats.Messages != int64(messages) || got.stats.Connections != 1 {
		t.Errorf("%d message events, %d counted, %d connections; want %d messages, 1 connection", messages, got.stats.Messages, got.stats.Connections, len(want.Messages))
	}
	// Its ID was taken in first-packet order all the same.
	if want.ID != "1" {
		t.Errorf("the WebSocket connection has ID %q, want 1", want.ID)
	}
	if got.stats.TLS != 1 || !strings.Contains(strings.Join(got.warnings, "\n"), "1 connections carried TLS") {
		t.Errorf("%d TLS connections counted, warnings %q", got.stats.TLS, got.warnings)
	}
}

// TestPlainHTTPIsHandedOut: connections that carried plain HTTP only (the
// page and favicon the browser fetched) are handed out with their
// exchanges, as the output contract says.
func TestPlainHTTPIsHandedOut(t *testing.T) {
	res := decodeSample(t, "chromium-deflate.pcapng")
	var ws, plain int
	for _, c := range res.conns {
		switch {
		case c.Response != nil && c.Response.Status == 101:
			ws++
		case len(c.Exchanges) > 0 && c.State == decode.StateNotWebSocket:
			plain++
			if c.Exchanges[0].Request.Method != "GET" {
				t.Errorf("connection %s: exchange %+v", c.ID, c.Exchanges[0].Request)
			}
		default:
			t.Errorf("connection %s is neither: state %s", c.ID, c.State)
		}
	}
	if ws != 1 || plain == 0 {
		t.Errorf("%d WebSocket and %d plain HTTP connections, want 1 and some", ws, plain)
	}
}

// TestFilterInTracker: the filter decides which packets reach the
// reassembly, and Record says which were kept.
func TestFilterInTracker(t *testing.T) {
	cf := loadCapFile(t, "ipv6-multi-sll2.pcap")
	base := decodeCapture(t, "base", cf.pcap(t), Options{})
	port := func(i int) string { _, p, _ := net.SplitHostPort(base.conns[i].Client); return p }
	for _, tc := range []struct {
		expr  string
		conns int
	}{
		{"", 3},
		{"port 9105 and ip6", 3},
		{"tcp and host ::1", 3},
		{"not port 9105", 0},
		{"ip", 0},
		{"port 9105 and not (port " + port(0) + " or port " + port(1) + ")", 1},
	} {
		f, err := ParseFilter(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		tt := newTestTap(t)
		kept := 0
		tr := NewTracker(Options{Filter: f, Tap: tt.tap})
		for i, r := range cf.recs {
			if tr.Record(&Record{Time: r.ts, LinkType: cf.link, Data: r.data, OrigLen: r.orig, Number: int64(i + 1)}) {
				kept++
			}
		}
		tr.Close()
		if done := len(tt.ended()); done != tc.conns {
			t.Errorf("filter %q: %d connections, want %d", tc.expr, done, tc.conns)
		}
		if st := tr.Stats(); int64(kept) != st.Records-st.Filtered {
			t.Errorf("filter %q: %d kept, stats %+v", tc.expr, kept, st)
		}
	}
}

// TestUnsupportedLinkType: records of a link type wstap does not decode
// are skipped with one warning that names it.
func TestUnsupportedLinkType(t *testing.T) {
	cf := loadCapFile(t, "gorilla-deflate.pcap")
	cf.link = 105 // IEEE 802.11
	res := decodeCapture(t, "wifi", cf.pcap(t), Options{})
	if res.err != nil || len(res.conns) != 0 {
		t.Fatalf("err %v, %d connections", res.err, len(res.conns))
	}
	if len(res.warnings) != 1 || !strings.Contains(res.warnings[0], "link type 105") {
		t.Errorf("warnings %q, want one naming link type 105", res.warnings)
	}
	if res.stats.Skipped != int64(len(cf.recs)) {
		t.Errorf("%d skipped, want %d", res.stats.Skipped, len(cf.recs))
	}
}

// TestGzipCapture: a gzip-compressed capture decodes as the plain one.
func TestGzipCapture(t *testing.T) {
	plain := readSample(t, "gorilla-deflate.pcap")
	a := decodeCapture(t, "plain", plain, Options{})
	b := decodeCapture(t, "gzip", gzipBytes(t, plain), Options{})
	sameFramesAndMessages(t, b, a)
	if !bytes.Equal([]byte(joinLines(messageSigs(a.conns[0]))), []byte(joinLines(messageSigs(b.conns[0])))) {
		t.Error("messages differ")
	}
}

// TestWorkersMatchInline: decoding on worker goroutines hands out the same
// connections, in the same order, with the same contents, as decoding
// inline, for every sample and impaired variants of them.
func TestWorkersMatchInline(t *testing.T) {
	sig := func(c *session.Conversation) string {
		return c.ID + " " + c.Client + " " + c.Server + "\n" + joinLines(frameSigs(c)) + "\n" + joinLines(messageSigs(c)) + "\n" + strings.Join(problemKinds(c), ",")
	}
	for _, name := range sampleNames(t) {
		cf := loadCapFile(t, name)
		reordered := cf.clone()
		data := cf.dataIndexes()
		for i := 0; i+1 < len(data); i += 2 {
			reordered.recs[data[i]], reordered.recs[data[i+1]] = reordered.recs[data[i+1]], reordered.recs[data[i]]
		}
		for _, file := range [][]byte{readSample(t, name), reordered.pcap(t)} {
			inline := decodeCapture(t, name, file, Options{})
			tt := newTestTap(t)
			rd, _, err := Open(name, bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			tr := NewTracker(Options{Workers: 3, Tap: tt.tap})
			if err := Run(t.Context(), rd, tr, RunOptions{}); err != nil {
				t.Fatal(err)
			}
			tr.Close()
			conns := tt.ended()
			if len(conns) != len(inline.conns) {
				t.Fatalf("%s: %d connections with workers, %d inline", name, len(conns), len(inline.conns))
			}
			for i := range conns {
				if a, b := sig(conns[i]), sig(inline.conns[i]); a != b {
					t.Errorf("%s connection %d with workers:\n%s\ninline:\n%s", name, i, a, b)
				}
			}
			if st := tr.Stats(); st.Connections != inline.stats.Connections || st.Messages != inline.stats.Messages {
				t.Errorf("%s: stats %+v with workers, %+v inline", name, st, inline.stats)
			}
		}
	}
}

// TestStoreMatchesDecoder: for every sample, what the store returns for
// each connection is what its decoder emitted: every frame, message and
// payload, every problem and exchange, and the handshake.
func TestStoreMatchesDecoder(t *testing.T) {
	for _, name := range sampleNames(t) {
		t.Run(name, func(t *testing.T) {
			emitted := map[string]*session.Conversation{}
			st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			observe := func(e decode.Event) {
				c := emitted[e.Conn.ID]
				if c == nil {
					c = &session.Conversation{}
					emitted[e.Conn.ID] = c
				}
				switch e.Kind {
				case decode.EventFrame:
					f := *e.Frame
					f.Payload = bytes.Clone(f.Payload)
					c.Frames = append(c.Frames, f)
				case decode.EventMessage:
					m := *e.Message
					m.Payload, m.Frames = bytes.Clone(m.Payload), slices.Clone(m.Frames)
					if m.Close != nil {
						cl := *m.Close
						m.Close = &cl
					}
					for _, fi := range m.Frames {
						c.Frames[fi].Message = e.Index
					}
					c.Messages = append(c.Messages, m)
				case decode.EventProblem:
					c.Problems = append(c.Problems, *e.Problem)
				case decode.EventExchange:
					c.Exchanges = append(c.Exchanges, decode.Exchange{Request: e.Exchange.Request, Response: e.Exchange.Response})
				}
				c.Connection = *e.Conn
			}
			res := decodeCapture(t, name, readSample(t, name), Options{Tap: session.NewTap(st, session.TapOptions{Observe: observe})})
			if res.err != nil || len(res.conns) == 0 {
				t.Fatalf("%v, %d connections", res.err, len(res.conns))
			}
			for _, got := range res.conns {
				want := emitted[got.ID]
				if want == nil {
					t.Fatalf("connection %s was not observed", got.ID)
				}
				if len(got.Frames) != len(want.Frames) || len(got.Messages) != len(want.Messages) || !reflect.DeepEqual(got.Problems, want.Problems) {
					t.Fatalf("connection %s: %d frames, %d messages, problems %v stored; %d, %d, %v emitted", got.ID,
						len(got.Frames), len(got.Messages), got.Problems, len(want.Frames), len(want.Messages), want.Problems)
				}
				for i := range want.Frames {
					a, b := want.Frames[i], got.Frames[i]
					if !bytes.Equal(a.Payload, b.Payload) {
						t.Fatalf("connection %s frame %d: payload differs", got.ID, i)
					}
					a.Payload, b.Payload = nil, nil
					if !reflect.DeepEqual(a, b) {
						t.Fatalf("connection %s frame %d:\n emitted %+v\n stored  %+v", got.ID, i, a, b)
					}
				}
				for i := range want.Messages {
					a, b := want.Messages[i], got.Messages[i]
					if !bytes.Equal(a.Payload, b.Payload) {
						t.Fatalf("connection %s message %d: payload differs", got.ID, i)
					}
					a.Payload, b.Payload = nil, nil
					if !reflect.DeepEqual(a, b) {
						t.Fatalf("connection %s message %d:\n emitted %+v\n stored  %+v", got.ID, i, a, b)
					}
				}
				if len(got.Exchanges) != len(want.Exchanges) {
					t.Fatalf("connection %s: %d exchanges stored, %d emitted", got.ID, len(got.Exchanges), len(want.Exchanges))
				}
				if !reflect.DeepEqual(got.Request, want.Request) || !reflect.DeepEqual(got.Response, want.Response) ||
					got.State != want.State || !reflect.DeepEqual(got.Close, want.Close) || got.Bytes != want.Bytes {
					t.Fatalf("connection %s: metadata differs:\n stored  %+v\n emitted %+v", got.ID, got.Connection, want.Connection)
				}
			}
		})
	}
}
