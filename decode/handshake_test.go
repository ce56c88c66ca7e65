package decode

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestAcceptKey checks the example of RFC 6455 1.3 and 4.2.2.
func TestAcceptKey(t *testing.T) {
	if got := AcceptKey(rfcKey); got != rfcAccept {
		t.Fatalf("AcceptKey(%q) = %q, want %q", rfcKey, got, rfcAccept)
	}
}

// TestHandshakeSplitAcrossChunks decodes a handshake whose request and
// response arrive one byte at a time, and in every two-piece split, and
// compares with the handshake fed whole.
func TestHandshakeSplitAcrossChunks(t *testing.T) {
	var s script
	s.client(upgradeRequest(upgradeHeaders().
		set("Sec-WebSocket-Protocol", "chat, superchat").
		set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")))
	s.server(switching(acceptHeaders().
		set("Sec-WebSocket-Protocol", "superchat").
		set("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover")))
	s.client(cf(OpText, "hi"))
	want := decodeWhole(&s, Options{})
	if len(want.Problems) != 0 || want.Subprotocol != "superchat" || want.Deflate == nil || !want.Deflate.ServerNoContextTakeover {
		t.Fatalf("whole handshake: problems%s; subprotocol %q deflate %+v", listProblems(want.Problems), want.Subprotocol, want.Deflate)
	}
	if got := decodeScript(&s, Options{}, bytewise, true).conn; diffConn(want, got) != "" {
		t.Fatalf("byte at a time differs: %s", diffConn(want, got))
	}
	for _, side := range []int{0, 1} {
		n := len(s.steps[side].b)
		for cut := 1; cut < n; cut++ {
			split := func(b []byte) [][]byte {
				if len(b) == n && bytes.Equal(b, s.steps[side].b) {
					return [][]byte{b[:cut], b[cut:]}
				}
				return [][]byte{b}
			}
			if got := decodeScript(&s, Options{}, split, true).conn; diffConn(want, got) != "" {
				t.Fatalf("step %d cut at %d differs: %s", side, cut, diffConn(want, got))
			}
		}
	}
}

// TestHandshakeFields checks what a valid handshake fills in.
func TestHandshakeFields(t *testing.T) {
	var s script
	req := upgradeRequest(upgradeHeaders().set("Origin", "http://127.0.0.1:8080"))
	s.client(req)
	s.server(switching(acceptHeaders()))
	c := decodeScript(&s, Options{}, whole, false).conn
	if len(c.Problems) != 0 {
		t.Fatalf("problems:%s", listProblems(c.Problems))
	}
	if c.State != StateOpen || c.Protocol != ProtocolRFC6455 || c.URL != "ws://127.0.0.1:8080/chat" {
		t.Fatalf("state %s protocol %s url %q", c.State, c.Protocol, c.URL)
	}
	r := c.Request
	wantHeaders := []Header(upgradeHeaders().set("Origin", "http://127.0.0.1:8080"))
	if r.Method != "GET" || r.Target != "/chat" || r.Proto != "HTTP/1.1" || !reflect.DeepEqual(r.Headers, wantHeaders) || !r.Time.Equal(stepTime(0)) {
		t.Fatalf("request %+v", r)
	}
	if c.Response.Status != 101 || c.Response.Reason != "Switching Protocols" || !reflect.DeepEqual(c.Response.Headers, []Header(acceptHeaders())) {
		t.Fatalf("response %+v", c.Response)
	}
	if c.Bytes != s.pos {
		t.Fatalf("bytes %v, want %v", c.Bytes, s.pos)
	}
}

// TestHandshakeTokenLists checks that Upgrade and Connection are matched
// as case-insensitive tokens of comma-separated lists, also split over
// several header lines (RFC 9110 5.3, 7.8; RFC 6455 4.1, 4.2.2).
func TestHandshakeTokenLists(t *testing.T) {
	cases := []struct {
		name     string
		req      hdrs
		resp     hdrs
		problems []Kind
	}{
		{"keep-alive, Upgrade", upgradeHeaders().set("Connection", "keep-alive, Upgrade"), acceptHeaders(), nil},
		{"upper case", upgradeHeaders().set("Upgrade", "WEBSOCKET").set("Connection", "UPGRADE"),
			acceptHeaders().set("Upgrade", "WebSocket").set("Connection", "upgrade"), nil},
		{"spaces and several tokens", upgradeHeaders().set("Connection", "  keep-alive ,upgrade  ,  close"),
			acceptHeaders().set("Upgrade", "h2c, websocket"), nil},
		{"Connection over two lines", append(upgradeHeaders().set("Connection", "keep-alive"), Header{"connection", "Upgrade"}),
			acceptHeaders(), nil},
		{"header names in lower case", hdrs{{"host", "h"}, {"upgrade", "websocket"}, {"connection", "upgrade"},
			{"sec-websocket-key", rfcKey}, {"sec-websocket-version", "13"}},
			hdrs{{"upgrade", "websocket"}, {"connection", "upgrade"}, {"sec-websocket-accept", rfcAccept}}, nil},
		{"Upgrade is not a token of Connection", upgradeHeaders().set("Connection", "keep-alive, Upgraded"), acceptHeaders(),
			[]Kind{KindMissingConnection}},
		{"answer's Upgrade lists no websocket", upgradeHeaders(), acceptHeaders().set("Upgrade", "websockets"),
			[]Kind{KindMissingUpgrade}},
		{"version with spaces", upgradeHeaders().set("Sec-WebSocket-Version", " 13 "), acceptHeaders(), nil},
		{"version 12", upgradeHeaders().set("Sec-WebSocket-Version", "12"), acceptHeaders(), []Kind{KindBadVersion}},
		{"version list", upgradeHeaders().set("Sec-WebSocket-Version", "13, 8"), acceptHeaders(), []Kind{KindBadVersion}},
		{"accept of another key", upgradeHeaders(), acceptHeaders().set("Sec-WebSocket-Accept", AcceptKey("AQIDBAUGBwgJCgsMDQ4PEA==")),
			[]Kind{KindBadAccept}},
		{"key of 15 bytes", upgradeHeaders().set("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4P"),
			acceptHeaders().set("Sec-WebSocket-Accept", AcceptKey("AQIDBAUGBwgJCgsMDQ4P")), []Kind{KindBadKey}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			s.client(upgradeRequest(tc.req))
			s.server(switching(tc.resp))
			s.client(cf(OpText, "x"))
			c := decodeWhole(&s, Options{})
			var got []Kind
			for _, p := range c.Problems {
				got = append(got, p.Kind)
			}
			if !reflect.DeepEqual(got, tc.problems) {
				t.Fatalf("problems %v, want %v:%s", got, tc.problems, listProblems(c.Problems))
			}
			if len(c.Messages) != 1 || string(c.Messages[0].Payload) != "x" {
				t.Fatalf("frames after the handshake not decoded")
			}
		})
	}
}

// TestSubprotocol checks that the chosen subprotocol must be one the
// client offered (RFC 6455 4.2.2), with offers in one or several lines.
func TestSubprotocol(t *testing.T) {
	cases := []struct {
		name    string
		offer   []string
		chosen  string
		problem bool
	}{
		{"second of a list", []string{"chat, superchat"}, "superchat", false},
		{"offers on two lines", []string{"chat", "v2.json.example"}, "v2.json.example", false},
		{"none chosen", []string{"chat"}, "", false},
		{"not offered", []string{"chat, superchat"}, "super", true},
		{"case matters", []string{"chat"}, "Chat", true},
		{"nothing offered", nil, "chat", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := upgradeHeaders()
			for _, o := range tc.offer {
				req = append(req, Header{"Sec-WebSocket-Protocol", o})
			}
			resp := acceptHeaders()
			if tc.chosen != "" {
				resp = resp.set("Sec-WebSocket-Protocol", tc.chosen)
			}
			var s script
			s.client(upgradeRequest(req))
			s.server(switching(resp))
			c := decodeWhole(&s, Options{})
			if c.Subprotocol != tc.chosen {
				t.Fatalf("subprotocol %q, want %q", c.Subprotocol, tc.chosen)
			}
			if got := len(problemsOf(c, KindSubprotocolNotOffered)) == 1; got != tc.problem || len(c.Problems) != len(problemsOf(c, KindSubprotocolNotOffered)) {
				t.Fatalf("problems:%s", listProblems(c.Problems))
			}
		})
	}
}

// TestParseExtensions checks the Sec-WebSocket-Extensions grammar of
// RFC 6455 9.1: elements, parameters with and without values, quoted
// values with commas and semicolons inside, and bad names.
func TestParseExtensions(t *testing.T) {
	got, err := ParseExtensions(`permessage-deflate; client_max_window_bits; server_max_window_bits="10", ` +
		`x-webkit-deflate-frame , foo; bar="a,b;c" ;baz=1,`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Extension{
		{Name: "permessage-deflate", Params: []ExtensionParam{
			{Name: "client_max_window_bits"},
			{Name: "server_max_window_bits", Value: "10", HasValue: true}}},
		{Name: "x-webkit-deflate-frame"},
		{Name: "foo", Params: []ExtensionParam{
			{Name: "bar", Value: "a,b;c", HasValue: true},
			{Name: "baz", Value: "1", HasValue: true}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n %+v\nwant\n %+v", got, want)
	}
	got, err = ParseExtensions(`per message, permessage-deflate`)
	if err == nil || !strings.Contains(err.Error(), `"per message"`) {
		t.Fatalf("a name with a space was accepted: %v", err)
	}
	if len(got) != 1 || got[0].Name != "permessage-deflate" {
		t.Fatalf("the well-formed element was not kept: %+v", got)
	}
	if got, err := ParseExtensions(""); err != nil || len(got) != 0 {
		t.Fatalf("empty value: %+v %v", got, err)
	}
}

// TestDeflateNegotiation checks the permessage-deflate parameters a server
// can accept (RFC 7692 7.1) and what they are taken to mean.
func TestDeflateNegotiation(t *testing.T) {
	cases := []struct {
		name  string
		offer string
		resp  string
		want  DeflateParams
		bad   bool
	}{
		{"no parameters", "permessage-deflate", "permessage-deflate",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, false},
		{"both no_context_takeover", "permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, false},
		{"server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10",
			DeflateParams{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}, false},
		{"quoted value", "permessage-deflate", `permessage-deflate; server_max_window_bits="10"`,
			DeflateParams{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}, false},
		{"client_max_window_bits offered without value", "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=9",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 9}, false},
		{"client_max_window_bits offered with value", "permessage-deflate; client_max_window_bits=12", "permessage-deflate; client_max_window_bits=12",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 12}, false},
		{"client_max_window_bits not offered", "permessage-deflate", "permessage-deflate; client_max_window_bits=10",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 10}, true},
		{"client_max_window_bits without value in the answer", "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, true},
		{"window bits 16", "permessage-deflate", "permessage-deflate; server_max_window_bits=16",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, true},
		{"window bits with a leading zero", "permessage-deflate", "permessage-deflate; server_max_window_bits=010",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, true},
		{"no_context_takeover with a value", "permessage-deflate", "permessage-deflate; server_no_context_takeover=1",
			DeflateParams{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, true},
		{"unknown parameter", "permessage-deflate", "permessage-deflate; mystery",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, true},
		{"parameter twice", "permessage-deflate", "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
			DeflateParams{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, true},
		{"second of two offers", "permessage-deflate; server_max_window_bits=10, permessage-deflate", "permessage-deflate",
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			s.client(upgradeRequest(upgradeHeaders().set("Sec-WebSocket-Extensions", tc.offer)))
			s.server(switching(acceptHeaders().set("Sec-WebSocket-Extensions", tc.resp)))
			c := decodeWhole(&s, Options{})
			if c.Deflate == nil || *c.Deflate != tc.want {
				t.Fatalf("deflate %+v, want %+v", c.Deflate, tc.want)
			}
			if c.Extensions != tc.resp {
				t.Fatalf("extensions %q, want the answer's %q", c.Extensions, tc.resp)
			}
			bad := problemsOf(c, KindBadExtensionParams)
			if (len(bad) == 1) != tc.bad || len(bad) != len(c.Problems) {
				t.Fatalf("want bad params %v; problems:%s", tc.bad, listProblems(c.Problems))
			}
			if tc.bad && (bad[0].Severity != Error || bad[0].From != Server) {
				t.Fatalf("bad params problem %+v", bad[0])
			}
		})
	}
}

// helloFirst and helloSecond are the two messages of RFC 7692 7.2.3.2:
// the second only refers back to the first.
var (
	helloFirst  = []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	helloSecond = []byte{0xf2, 0x00, 0x11, 0x00, 0x00}
)

// TestNoContextTakeover checks that server_no_context_takeover and
// client_no_context_takeover reset the window of that side only: a message
// that refers back then fails to inflate, while the other side still
// takes its context over (RFC 7692 7.1.1).
func TestNoContextTakeover(t *testing.T) {
	for _, param := range []string{"server_no_context_takeover", "client_no_context_takeover"} {
		t.Run(param, func(t *testing.T) {
			var s script
			s.deflateHandshake(param)
			for _, side := range []Side{Client, Server} {
				var key *[4]byte
				if side == Client {
					key = &testKey
				}
				s.send(side, wsFrame{op: OpText, rsv: 4, payload: helloFirst, key: key}.bytes())
				s.send(side, wsFrame{op: OpText, rsv: 4, payload: helloSecond, key: key}.bytes())
				// A message that needs no context inflates.
				s.send(side, wsFrame{op: OpText, rsv: 4, payload: helloFirst, key: key}.bytes())
			}
			c := decodeWhole(&s, Options{})
			reset := Server
			if param == "client_no_context_takeover" {
				reset = Client
			}
			for i, m := range c.Messages {
				referBack := i%3 == 1
				fails := referBack && m.From == reset
				if fails != m.Raw || (!fails && string(m.Payload) != "Hello") {
					t.Errorf("message %d from %s: raw %v payload %q; want it to fail: %v", i, m.From, m.Raw, m.Payload, fails)
				}
			}
			p := mustOneProblem(t, c, KindInflateFailed)
			if p.From != reset || p.Severity != Error || len(c.Problems) != 1 {
				t.Fatalf("problems:%s", listProblems(c.Problems))
			}
		})
	}
}

// TestWindowBits checks that server_max_window_bits limits how far back a
// message may refer into the previous ones (RFC 7692 7.1.2.1): with 10 bits
// the window is 1024 bytes, so a reference 1100 bytes back fails and one
// 900 bytes back works; with the default 15 bits both work. 8 bits is
// taken as 9, as zlib does.
func TestWindowBits(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	first := make([]byte, 2000)
	r.Read(first) // incompressible: the only matches are the ones made below
	far := first[len(first)-1100 : len(first)-1000]
	near := first[len(first)-900 : len(first)-800]
	for _, tc := range []struct {
		params string
		second []byte
		fails  bool
	}{
		{"server_max_window_bits=10", far, true},
		{"server_max_window_bits=10", near, false},
		{"", far, false},
		{"server_max_window_bits=11", far, false},
		// 8 bits is 512 bytes, as zlib makes it, not 256.
		{"server_max_window_bits=8", first[len(first)-450 : len(first)-350], false},
		{"server_max_window_bits=8", first[len(first)-600 : len(first)-500], true},
	} {
		z := newDeflater(true)
		c1 := z.compress(first)
		c2 := z.compress(tc.second)
		// The second message really refers back: alone it does not inflate.
		if _, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(c2), bytes.NewReader([]byte{1, 0, 0, 0xff, 0xff})))); err == nil {
			t.Fatalf("the compressed second message does not refer back")
		}
		var s script
		s.deflateHandshake(tc.params)
		s.server(wsFrame{op: OpBinary, rsv: 4, payload: c1}.bytes())
		s.server(wsFrame{op: OpBinary, rsv: 4, payload: c2}.bytes())
		c := decodeWhole(&s, Options{})
		m := c.Messages[1]
		if tc.fails {
			if !m.Raw || len(problemsOf(c, KindInflateFailed)) != 1 {
				t.Errorf("%q, %d bytes back: want a failure; raw %v problems:%s", tc.params, len(first)-1000, m.Raw, listProblems(c.Problems))
			}
			continue
		}
		if m.Raw || !bytes.Equal(m.Payload, tc.second) || len(c.Problems) != 0 {
			t.Errorf("%q: second message raw %v, equal %v; problems:%s", tc.params, m.Raw, bytes.Equal(m.Payload, tc.second), listProblems(c.Problems))
		}
		if !bytes.Equal(c.Messages[0].Payload, first) {
			t.Errorf("%q: first message wrong", tc.params)
		}
	}
}

// TestRejectedUpgrade checks that a refused Upgrade is a failed handshake
// with its status and no error, and that HTTP goes on: the client may try
// again on the same connection (after a 401 with credentials, say), and
// the first attempt is kept as an exchange.
func TestRejectedUpgrade(t *testing.T) {
	for _, status := range []string{"401 Unauthorized", "403 Forbidden", "426 Upgrade Required", "502 Bad Gateway"} {
		t.Run(status, func(t *testing.T) {
			body := "no: " + status
			var s script
			s.client(upgradeRequest(upgradeHeaders()))
			s.server(head("HTTP/1.1 "+status, hdrs{{"WWW-Authenticate", `Basic realm="ws"`}, {"Sec-WebSocket-Version", "13"},
				{"Content-Length", itoa(len(body))}}), []byte(body))
			c := decodeScript(&s, Options{}, whole, false).conn
			if c.State != StateRejected || c.Response == nil || c.Response.Status != atoi(status[:3]) || string(c.Response.Body) != body {
				t.Fatalf("state %s response %+v", c.State, c.Response)
			}
			if len(c.Problems) != 0 {
				t.Fatalf("a refused upgrade is no problem:%s", listProblems(c.Problems))
			}

			// The client tries again with credentials.
			s.client(upgradeRequest(upgradeHeaders().set("Authorization", "Basic dTpw")))
			s.server(switching(acceptHeaders()), sf(OpText, "welcome"))
			s.client(cf(OpText, "thanks"))
			c = decodeScript(&s, Options{}, whole, false).conn
			if c.State != StateOpen || c.Response.Status != 101 || len(c.Problems) != 0 {
				t.Fatalf("second attempt: state %s status %d problems:%s", c.State, c.Response.Status, listProblems(c.Problems))
			}
			if v, _ := Get(c.Request.Headers, "authorization"); v != "Basic dTpw" {
				t.Fatalf("the connection's request is not the second one: %+v", c.Request.Headers)
			}
			if len(c.Exchanges) != 1 || c.Exchanges[0].Response.Status != atoi(status[:3]) || string(c.Exchanges[0].Response.Body) != body {
				t.Fatalf("exchanges %+v", c.Exchanges)
			}
			if _, ok := Get(c.Exchanges[0].Request.Headers, "Authorization"); ok {
				t.Fatalf("the first exchange holds the second request")
			}
			if len(c.Messages) != 2 || string(c.Messages[0].Payload) != "welcome" || string(c.Messages[1].Payload) != "thanks" {
				t.Fatalf("messages %+v", c.Messages)
			}
		})
	}
}

// TestRejectedUpgradeEndsConnection: a refusal with a body delimited by
// the connection's end keeps the state rejected.
func TestRejectedUpgradeEndsConnection(t *testing.T) {
	var s script
	s.client(upgradeRequest(upgradeHeaders()))
	s.server(head("HTTP/1.1 403 Forbidden", hdrs{{"Connection", "close"}}), []byte("go away"))
	c := decodeWhole(&s, Options{})
	if c.State != StateRejected || string(c.Response.Body) != "go away" || c.Response.BodySize != 7 || len(c.Problems) != 0 {
		t.Fatalf("state %s response %+v problems:%s", c.State, c.Response, listProblems(c.Problems))
	}
}

// plainHTTPScript is a keep-alive connection that carries plain HTTP
// exchanges before its Upgrade: bodies by Content-Length, chunked bodies
// with trailers in both directions, HEAD, 204, 304, 100 Continue, and a
// pipelined pair. It returns the exchanges the decoder must record.
func plainHTTPScript(s *script) []Exchange {
	type ex struct {
		method, target, status string
		reqBody, respBody      string
	}
	var want []ex
	add := func(e ex) { want = append(want, e) }

	s.client(head("HEAD /big HTTP/1.1", hdrs{{"Host", "h"}}))
	s.server(head("HTTP/1.1 200 OK", hdrs{{"Content-Length", "100000"}}))
	add(ex{"HEAD", "/big", "200", "", ""})

	s.client(head("GET /index.html HTTP/1.1", hdrs{{"Host", "h"}}))
	s.server(head("HTTP/1.1 200 OK", hdrs{{"Content-Length", "5"}}), []byte("hello"))
	add(ex{"GET", "/index.html", "200", "", "hello"})

	s.client(head("POST /form HTTP/1.1", hdrs{{"Host", "h"}, {"Content-Length", "7"}}), []byte("a=1&b=2"))
	s.server(head("HTTP/1.1 201 Created", hdrs{{"Transfer-Encoding", "chunked"}}),
		[]byte("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"))
	add(ex{"POST", "/form", "201", "a=1&b=2", "hello world"})

	s.client(head("PUT /up HTTP/1.1", hdrs{{"Host", "h"}, {"Transfer-Encoding", "gzip, chunked"}}),
		[]byte("3\r\nabc\r\n"), []byte("A\r\n0123456789\r\n0\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n"))
	s.server(head("HTTP/1.1 200 OK", hdrs{{"Content-Length", "0"}}))
	add(ex{"PUT", "/up", "200", "abc0123456789", ""})

	s.client(head("DELETE /thing HTTP/1.1", hdrs{{"Host", "h"}}))
	s.server(head("HTTP/1.1 204 No Content", hdrs{{"Content-Length", "10"}}))
	add(ex{"DELETE", "/thing", "204", "", ""})

	s.client(head("GET /cached HTTP/1.1", hdrs{{"Host", "h"}, {"If-None-Match", `"x"`}}))
	s.server(head("HTTP/1.1 304 Not Modified", hdrs{{"Content-Length", "50"}, {"ETag", `"x"`}}))
	add(ex{"GET", "/cached", "304", "", ""})

	s.client(head("POST /upload HTTP/1.1", hdrs{{"Host", "h"}, {"Expect", "100-continue"}, {"Content-Length", "4"}}))
	s.server(head("HTTP/1.1 100 Continue", nil))
	s.client([]byte("data"))
	s.server(head("HTTP/1.1 200 OK", hdrs{{"Content-Length", "2"}}), []byte("ok"))
	add(ex{"POST", "/upload", "200", "data", "ok"})

	// Pipelined: two requests, then both answers.
	s.client(head("GET /1 HTTP/1.1", hdrs{{"Host", "h"}}), head("GET /2 HTTP/1.1", hdrs{{"Host", "h"}}))
	s.server(head("HTTP/1.1 200 OK", hdrs{{"Content-Length", "1"}}), []byte("1"),
		head("HTTP/1.1 404 Not Found", hdrs{{"Content-Length", "1"}}), []byte("2"))
	add(ex{"GET", "/1", "200", "", "1"})
	add(ex{"GET", "/2", "404", "", "2"})

	var out []Exchange
	for _, e := range want {
		out = append(out, Exchange{
			Request:  &Request{Method: e.method, Target: e.target, Body: []byte(e.reqBody), BodySize: int64(len(e.reqBody))},
			Response: &Response{Status: atoi(e.status), Body: []byte(e.respBody), BodySize: int64(len(e.respBody))},
		})
	}
	return out
}

// TestPlainHTTPBeforeUpgrade checks that plain exchanges on a keep-alive
// connection are skipped body and all, recorded in order, and that the
// Upgrade after them works.
func TestPlainHTTPBeforeUpgrade(t *testing.T) {
	var s script
	want := plainHTTPScript(&s)
	s.handshake()
	s.client(cf(OpText, "upgraded"))
	s.server(sf(OpText, "yes"))
	for _, split := range []struct {
		name string
		f    splitter
	}{{"whole", whole}, {"bytewise", bytewise}} {
		t.Run(split.name, func(t *testing.T) {
			c := decodeScript(&s, Options{}, split.f, true).conn
			if len(c.Problems) != 0 {
				t.Fatalf("problems:%s", listProblems(c.Problems))
			}
			if len(c.Exchanges) != len(want) {
				t.Fatalf("%d exchanges, want %d", len(c.Exchanges), len(want))
			}
			for i, w := range want {
				g := c.Exchanges[i]
				if g.Request.Method != w.Request.Method || g.Request.Target != w.Request.Target ||
					string(g.Request.Body) != string(w.Request.Body) || g.Request.BodySize != w.Request.BodySize {
					t.Errorf("exchange %d request %s %s body %q (%d), want %s %s %q", i, g.Request.Method, g.Request.Target,
						g.Request.Body, g.Request.BodySize, w.Request.Method, w.Request.Target, w.Request.Body)
				}
				if g.Response.Status != w.Response.Status || string(g.Response.Body) != string(w.Response.Body) ||
					g.Response.BodySize != w.Response.BodySize {
					t.Errorf("exchange %d response %d body %q (%d), want %d %q", i, g.Response.Status, g.Response.Body,
						g.Response.BodySize, w.Response.Status, w.Response.Body)
				}
			}
			if c.Request == nil || c.Request.Target != "/chat" || c.State != StateClosed || c.Client != "127.0.0.1:50000" {
				t.Fatalf("upgrade after plain HTTP: request %+v state %s client %s", c.Request, c.State, c.Client)
			}
			if len(c.Messages) != 2 || string(c.Messages[0].Payload) != "upgraded" || c.Messages[0].From != Client {
				t.Fatalf("messages %+v", c.Messages)
			}
		})
	}
}

// TestPlainHTTPOnly: a connection that never upgrades is not WebSocket.
func TestPlainHTTPOnly(t *testing.T) {
	var s script
	want := plainHTTPScript(&s)
	c := decodeWhole(&s, Options{})
	if c.State != StateNotWebSocket || len(c.Exchanges) != len(want) || len(c.Problems) != 0 || len(c.Frames) != 0 {
		t.Fatalf("state %s, %d exchanges, %d frames, problems:%s", c.State, len(c.Exchanges), len(c.Frames), listProblems(c.Problems))
	}
}

// TestSidesFromTheTraffic feeds a conversation with the caller's labels
// the wrong way round (a capture that missed the SYN): the side that sends
// the Upgrade request is the client whatever the caller said, and every
// later byte of each side must still reach the right decoder.
func TestSidesFromTheTraffic(t *testing.T) {
	var right script
	right.handshake()
	right.client(cf(OpText, "from the client"))
	right.server(sf(OpText, "from the server"))
	right.client(wsFrame{op: OpBinary, more: true, payload: []byte("part 1"), key: &testKey}.bytes())
	right.server(sf(OpPing, "ping"))
	right.client(cf(OpContinuation, "part 2"))
	right.client(cf(OpClose, closePayload(1000, "bye")))
	right.server(sf(OpClose, closePayload(1000, "bye")))
	want := decodeWhole(&right, Options{})
	if len(want.Problems) != 0 || len(want.Messages) != 6 {
		t.Fatalf("reference: %d messages, problems:%s", len(want.Messages), listProblems(want.Problems))
	}

	for _, split := range []splitter{whole, bytewise} {
		wrong := right
		wrong.steps = nil
		for _, st := range right.steps {
			st.side = st.side.Other()
			wrong.steps = append(wrong.steps, st)
		}
		got := decodeScript(&wrong, Options{}, split, true).conn
		if got.Client != "127.0.0.1:8080" || got.Server != "127.0.0.1:50000" {
			t.Fatalf("addresses not swapped: client %s server %s", got.Client, got.Server)
		}
		// With the addresses put back, everything else must be the same.
		got.Client, got.Server = want.Client, want.Server
		if d := diffConn(want, got); d != "" {
			t.Fatalf("swapped labels decode differently: %s", d)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// atoi converts a number the test wrote itself.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
