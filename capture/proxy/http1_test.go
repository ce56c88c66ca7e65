package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func reader(s string) *bufio.Reader { return bufio.NewReaderSize(strings.NewReader(s), 64) }

func TestReadHead(t *testing.T) {
	for _, tc := range []struct {
		name, in, head string
		max            int
		err            error
		rest           string
	}{
		{name: "request", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", rest: "body"},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: a\n\nx", head: "GET / HTTP/1.1\nHost: a\n\n", rest: "x"},
		{name: "blank lines first (RFC 9112 2.2)", in: "\r\n\r\nGET / HTTP/1.1\r\n\r\n", head: "GET / HTTP/1.1\r\n\r\n"},
		{name: "line longer than the buffer", in: "GET /" + strings.Repeat("a", 200) + " HTTP/1.1\r\n\r\n", head: "GET /" + strings.Repeat("a", 200) + " HTTP/1.1\r\n\r\n"},
		{name: "over the limit", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 200) + "\r\n\r\n", max: 100, err: errHeadTooLarge},
		{name: "cut", in: "GET / HTTP/1.1\r\nHo", err: io.ErrUnexpectedEOF},
		{name: "nothing", in: "", err: io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := reader(tc.in)
			max := tc.max
			if max == 0 {
				max = 1 << 10
			}
			head, err := readHead(br, max)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			rest, _ := io.ReadAll(br)
			if string(head) != tc.head || string(rest) != tc.rest {
				t.Errorf("head %q rest %q, want %q %q", head, rest, tc.head, tc.rest)
			}
		})
	}
}

func TestParseHead(t *testing.T) {
	h, err := parseHead([]byte("GET ws://a:1/x?y HTTP/1.1\r\nHost: a:1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nX-Two: 1\r\nx-two: 2\r\n\r\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	if h.method != "GET" || h.target != "ws://a:1/x?y" || h.proto != "HTTP/1.1" || !h.upgrade() || !h.keepAlive() || h.get("X-Two") != "1, 2" {
		t.Errorf("parsed %+v", h)
	}
	r, err := parseHead([]byte("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n"), false)
	if err != nil || r.status != 200 || r.keepAlive() {
		t.Errorf("HTTP/1.0 response: %+v, %v (keep-alive %v)", r, err, r.keepAlive())
	}
	for _, bad := range []string{"GET /\r\n\r\n", "GET / SPDY/3\r\n\r\n", "GET / HTTP/1.1\r\nno colon\r\n\r\n"} {
		if _, err := parseHead([]byte(bad), true); err == nil {
			t.Errorf("request %q parsed", bad)
		}
	}
	for _, bad := range []string{"HTTP/1.1 abc\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/1.1 42 X\r\n\r\n"} {
		if _, err := parseHead([]byte(bad), false); err == nil {
			t.Errorf("response %q parsed", bad)
		}
	}
}

func TestBodyLength(t *testing.T) {
	for _, tc := range []struct {
		head    string
		request bool
		method  string
		chunked bool
		n       int64
	}{
		{"GET / HTTP/1.1\r\n\r\n", true, "", false, 0},
		{"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", true, "", false, 12},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", true, "", true, 0},
		{"HTTP/1.1 200 OK\r\n\r\n", false, "GET", false, -1},
		{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false, "HEAD", false, 0},
		{"HTTP/1.1 204 No Content\r\n\r\n", false, "GET", false, 0},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, "GET", false, 0},
		{"HTTP/1.1 101 Switching Protocols\r\n\r\n", false, "GET", false, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", false, "GET", false, 7},
	} {
		h, err := parseHead([]byte(tc.head), tc.request)
		if err != nil {
			t.Fatal(err)
		}
		chunked, n := h.bodyLength(tc.method)
		if chunked != tc.chunked || n != tc.n {
			t.Errorf("%q: chunked %v length %d, want %v %d", tc.head, chunked, n, tc.chunked, tc.n)
		}
	}
}

func TestRewrite(t *testing.T) {
	h, _ := parseHead([]byte("GET http://a/x HTTP/1.1\r\nHost: a\r\nProxy-Connection: keep-alive\r\nproxy-authorization: Basic x\r\nOrigin: http://o\r\n\r\n"), true)
	got := string(h.rewrite("GET /x HTTP/1.1", "Proxy-Connection", "Proxy-Authorization"))
	if want := "GET /x HTTP/1.1\r\nHost: a\r\nOrigin: http://o\r\n\r\n"; got != want {
		t.Errorf("rewrite: %q, want %q", got, want)
	}
	// The field keeps its name as sent; only its value changes.
	if got, want := string(h.replace("host", "b:1")), "GET http://a/x HTTP/1.1\r\nHost: b:1\r\nProxy-Connection: keep-alive\r\nproxy-authorization: Basic x\r\nOrigin: http://o\r\n\r\n"; got != want {
		t.Errorf("replace: %q, want %q", got, want)
	}
}

func TestForwardRoute(t *testing.T) {
	for _, tc := range []struct {
		target, addr, line string
		tls                bool
		bad                bool
	}{
		{target: "ws://example.com/chat?x=1", addr: "example.com:80", line: "GET /chat?x=1 HTTP/1.1"},
		{target: "http://[::1]:8080", addr: "[::1]:8080", line: "GET / HTTP/1.1"},
		{target: "wss://example.com/s", addr: "example.com:443", line: "GET /s HTTP/1.1", tls: true},
		{target: "/origin-form", bad: true},
		{target: "ftp://example.com/", bad: true},
	} {
		h, _ := parseHead([]byte("GET "+tc.target+" HTTP/1.1\r\nHost: h\r\nProxy-Connection: keep-alive\r\n\r\n"), true)
		to, out, err := forwardRoute(h)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: routed to %+v", tc.target, to)
			}
			continue
		}
		if err != nil || to.addr != tc.addr || to.tls != tc.tls || string(out) != tc.line+"\r\nHost: h\r\n\r\n" {
			t.Errorf("%s: %+v %q %v", tc.target, to, out, err)
		}
	}
}

func TestCopyChunked(t *testing.T) {
	body := "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n"
	br := reader(body + "NEXT")
	var out bytes.Buffer
	if err := copyBody(&out, br, true, 0); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	if out.String() != body || string(rest) != "NEXT" {
		t.Errorf("relayed %q, left %q", out.String(), rest)
	}
	for _, bad := range []string{"zz\r\n", "5\r\nhel", "5\r\nhello\r\n"} {
		if err := copyBody(io.Discard, reader(bad), true, 0); err == nil {
			t.Errorf("chunked body %q relayed without an error", bad)
		}
	}
}

// TestAwaitHead: the wait for a request head returns when the head is
// complete, at once for what is not HTTP, and with the reader's error when
// the client goes away; nothing is consumed.
func TestAwaitHead(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		err      bool
	}{
		{"whole head", "GET / HTTP/1.1\r\nHost: a\r\n\r\nmore", false},
		{"not HTTP", "\x16\x03\x01", false},
		{"cut", "GET / HTTP/1.1\r\nHost", true},
		{"longer than the buffer", "GET /" + strings.Repeat("a", 100), false},
	} {
		br := reader(tc.in)
		err := awaitHead(br)
		if (err != nil) != tc.err {
			t.Errorf("%s: error %v", tc.name, err)
		}
		if all, _ := io.ReadAll(br); string(all) != tc.in {
			t.Errorf("%s: consumed bytes: %q left", tc.name, all)
		}
	}
}
