package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// deadAddr is a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// roundTrip writes raw to the proxy and reads one response.
func roundTrip(t testing.TB, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the proxy's answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// upgradeRequest is a WebSocket Upgrade request for target with host.
func upgradeRequest(target, host string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// TestUpstreamDown: whatever the mode, a client whose upstream cannot be
// reached gets a 502 that says why, and the attempt is recorded: the
// request, the 502, and an upstream-failed problem.
func TestUpstreamDown(t *testing.T) {
	dead := deadAddr(t)
	for _, tc := range []struct {
		name string
		opts Options
		raw  string
	}{
		{"reverse upgrade", Options{Upstream: mustURL(t, "ws://"+dead)}, upgradeRequest("/chat", "app")},
		{"reverse plain", Options{Upstream: mustURL(t, "http://"+dead)}, "GET /x HTTP/1.1\r\nHost: app\r\n\r\n"},
		{"reverse rewrite", Options{Upstream: mustURL(t, "ws://"+dead), RewriteHost: true}, upgradeRequest("/chat", "app")},
		{"forward absolute", Options{}, upgradeRequest("ws://"+dead+"/chat", dead)},
		{"forward connect", Options{}, "CONNECT " + dead + " HTTP/1.1\r\nHost: " + dead + "\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Upstream == nil {
				tc.opts.CA = newCA(t)
			}
			tp := startProxy(t, tc.opts)
			base := takeBaseline()
			resp, body := roundTrip(t, tp.addr, tc.raw)
			if resp.StatusCode != 502 || !strings.Contains(body, dead) || !strings.Contains(body, "refused") {
				t.Fatalf("answer %d %q, want 502 naming %s and the refusal", resp.StatusCode, body, dead)
			}
			conn := tp.ended(t, 1)[0]
			status := 0
			switch {
			case conn.Response != nil:
				status = conn.Response.Status
			case len(conn.Exchanges) == 1 && conn.Exchanges[0].Response != nil:
				status = conn.Exchanges[0].Response.Status
			}
			if status != 502 {
				t.Errorf("recorded answer %d (state %v), want the 502", status, conn.State)
			}
			var kinds []decode.Kind
			for _, p := range conn.Problems {
				kinds = append(kinds, p.Kind)
			}
			if len(kinds) != 1 || kinds[0] != decode.KindUpstreamFailed || !strings.Contains(conn.Problems[0].Message, dead) {
				t.Errorf("problems %v, want one upstream-failed naming %s", conn.Problems, dead)
			}
			if w := tp.warnings(); len(w) != 1 || !strings.Contains(w[0], "502") {
				t.Errorf("warnings %q, want one about the 502", w)
			}
			tp.idle(t)
			base.check(t, 2)
		})
	}
}

// TestPassthrough: a CONNECT to a host listed in Passthrough is tunnelled
// untouched (the client sees the server's own certificate) and not
// recorded.
func TestPassthrough(t *testing.T) {
	up := startUpstream(t, true)
	tp := startProxy(t, Options{CA: newCA(t), Passthrough: []string{"LOCALHOST"}})
	d := dialer(nil, true)
	d.Proxy = http.ProxyURL(tp.proxyURL())
	d.TLSClientConfig = &tls.Config{RootCAs: pool(up.ca)} // the server's CA only
	c, _, err := d.Dial(up.wsURL("/chat"), nil)
	if err != nil {
		t.Fatal(err)
	}
	converse(t, c, true)
	tp.idle(t)
	if n := tp.store.Len(); n != 0 {
		t.Errorf("%d connections recorded from a passthrough tunnel", n)
	}
}

// TestHalfClose: when the client closes its write half, the upstream sees
// the end of the stream and can still answer, and the other way round.
func TestHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // returns at the client's half-close
		got <- string(b)
		io.WriteString(c, "answer after EOF")
	}()
	tp := startProxy(t, Options{Upstream: mustURL(t, "ws://"+ln.Addr().String())})
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "question")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "question" {
		t.Fatalf("upstream read %q", s)
	}
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "answer after EOF" {
		t.Fatalf("client read %q, %v", b, err)
	}
	// Both halves closed: the relay ends by itself. It carried neither
	// WebSocket nor HTTP, so it is not shown.
	tp.idle(t)
	if n := tp.store.Len(); n != 0 {
		t.Fatalf("a connection that is neither WebSocket nor HTTP was shown: %d in the store", n)
	}
}

// rawUpstream accepts one connection, answers its Upgrade with 101 and
// then runs serve on it.
func rawUpstream(t testing.TB, serve func(c *net.TCPConn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		serve(c.(*net.TCPConn), br)
	}()
	return ln.Addr().String()
}

// reset closes c with a TCP RST (SO_LINGER 0).
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// TestVanishing: a server that resets mid-frame and a client killed
// mid-frame are both recorded: the truncated frame, and who reset.
func TestVanishing(t *testing.T) {
	t.Run("server resets mid-frame", func(t *testing.T) {
		addr := rawUpstream(t, func(c *net.TCPConn, br *bufio.Reader) {
			c.Write([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})   // a whole frame
			c.Write([]byte{0x81, 0x7e, 0x01, 0x00, 'c', 'u', 't'}) // 256 announced, 3 sent
			time.Sleep(100 * time.Millisecond)
			reset(c)
		})
		tp := startProxy(t, Options{Upstream: mustURL(t, "ws://"+addr)})
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, upgradeRequest("/r", "app"))
		b, err := io.ReadAll(c)
		if !bytes.HasSuffix(b, []byte("hello\x81\x7e\x01\x00cut")) {
			t.Fatalf("client read %q (%v), want the handshake, the frame and the cut frame", b, err)
		}
		conn := tp.ended(t, 1)[0]
		wantProblems(t, conn, map[decode.Kind]decode.Side{decode.KindTruncatedFrame: decode.Server, decode.KindConnectionReset: decode.Server})
		if len(conn.Messages) < 1 || string(conn.Messages[0].Payload) != "hello" {
			t.Errorf("messages %d, want hello first", len(conn.Messages))
		}
	})
	t.Run("client killed mid-frame", func(t *testing.T) {
		serverSaw := make(chan []byte, 1)
		addr := rawUpstream(t, func(c *net.TCPConn, br *bufio.Reader) {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			b, _ := io.ReadAll(br)
			serverSaw <- b
		})
		tp := startProxy(t, Options{Upstream: mustURL(t, "ws://"+addr)})
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, upgradeRequest("/k", "app"))
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
		// A masked frame announcing 100 bytes, 4 of them sent.
		c.Write([]byte{0x82, 0x80 | 100, 1, 2, 3, 4, 'a', 'b', 'c', 'd'})
		time.Sleep(100 * time.Millisecond)
		reset(c.(*net.TCPConn))
		select {
		case b := <-serverSaw:
			if !bytes.HasSuffix(b, []byte{1, 2, 3, 4, 'a', 'b', 'c', 'd'}) {
				t.Errorf("server read %q", b)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the server's connection did not end after the client vanished")
		}
		conn := tp.ended(t, 1)[0]
		wantProblems(t, conn, map[decode.Kind]decode.Side{decode.KindTruncatedFrame: decode.Client, decode.KindConnectionReset: decode.Client})
	})
}

// wantProblems checks that conn has a problem of each kind, from side.
func wantProblems(t testing.TB, conn *session.Conversation, want map[decode.Kind]decode.Side) {
	t.Helper()
	for kind, side := range want {
		found := false
		for _, p := range conn.Problems {
			found = found || p.Kind == kind && p.From == side
		}
		if !found {
			var have []string
			for _, p := range conn.Problems {
				have = append(have, fmt.Sprintf("%s from %s: %s", p.Kind, p.From, p.Message))
			}
			t.Errorf("no %s problem from the %s; problems: %q", kind, side, have)
		}
	}
}

// TestStop stops the proxy while a WebSocket is open: Serve returns, the
// client's connection is closed, and everything relayed is recorded.
func TestStop(t *testing.T) {
	up := startUpstream(t, false)
	tp := startProxy(t, Options{Upstream: mustURL(t, up.wsURL(""))})
	c, _, err := websocket.DefaultDialer.Dial("ws://"+tp.addr+"/open", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, m := range []string{"one", "two"} {
		c.WriteMessage(websocket.TextMessage, []byte(m))
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tp.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	done, err := tp.store.Ended()
	if err != nil || len(done) != 1 {
		t.Fatalf("%d connections ended at the stop (%v), want 1", len(done), err)
	}
	if ms := done[0].Messages; len(ms) != 4 || string(ms[1].Payload) != "one" || string(ms[3].Payload) != "two" {
		t.Errorf("decoded %d messages at the stop, want the 4 relayed", len(ms))
	}
	if _, _, err := c.ReadMessage(); err == nil {
		t.Error("the client connection is still open after the stop")
	}
}

// trickle connects to addr and sends the first bytes of head, then one
// more byte every interval until the connection fails. It returns when
// the proxy closed the connection, with how long that took.
func trickle(addr, head string, interval time.Duration) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		io.Copy(io.Discard, c)
	}()
	io.WriteString(c, head[:10])
	for i := 10; ; i++ {
		select {
		case <-closed:
			return time.Since(start), nil
		case <-time.After(interval):
		}
		if _, err := c.Write([]byte{head[i%len(head)]}); err != nil {
			<-closed
			return time.Since(start), nil
		}
		if time.Since(start) > 30*time.Second {
			return time.Since(start), errors.New("still open after 30 s")
		}
	}
}

// TestHandshakeTimeout: a hundred clients that trickle half a request
// head are closed once the handshake timeout passes, never reach the
// upstream, and leave nothing behind.
func TestHandshakeTimeout(t *testing.T) {
	for _, mode := range []string{"reverse", "reverse tls", "forward"} {
		t.Run(mode, func(t *testing.T) {
			up := startUpstream(t, false)
			opts := Options{HandshakeTimeout: 300 * time.Millisecond, CA: newCA(t)}
			if mode != "forward" {
				opts.Upstream = mustURL(t, up.wsURL(""))
				opts.ListenTLS = mode == "reverse tls"
			}
			tp := startProxy(t, opts)
			base := takeBaseline()
			// Half a request head; through TLS, half a ClientHello: a
			// handshake record announcing 512 bytes.
			head := "GET /slow HTTP/1.1\r\nHost: app\r\nX-Slow: " + strings.Repeat("a", 1000)
			if opts.ListenTLS {
				head = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 1000)
			}
			const clients = 100
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					took, err := trickle(tp.addr, head, 50*time.Millisecond)
					if err == nil && took < opts.HandshakeTimeout {
						err = fmt.Errorf("closed after %v, before the timeout", took)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := up.rec.accepted.Load(); n != 0 {
				t.Errorf("the upstream accepted %d connections for clients that never sent a whole head", n)
			}
			// A normal client is served afterwards.
			d := dialer(nil, true)
			target := "ws://" + tp.addr + "/after"
			if mode == "forward" {
				d.Proxy = http.ProxyURL(tp.proxyURL())
				target = up.wsURL("/after")
			}
			if mode == "reverse tls" {
				d.TLSClientConfig = &tls.Config{RootCAs: pool(opts.CA)}
				target = "wss://" + tp.addr + "/after"
			}
			c, _, err := d.Dial(target, nil)
			if err != nil {
				t.Fatal(err)
			}
			converse(t, c, true)
			tp.idle(t)
			base.check(t, 2)
		})
	}
}

// TestMaxConns: beyond MaxConns a client is answered 503 at once, and
// served again once connections closed.
func TestMaxConns(t *testing.T) {
	up := startUpstream(t, false)
	tp := startProxy(t, Options{Upstream: mustURL(t, up.wsURL("")), MaxConns: 3})
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HT") // half a head: the connection is held
		held = append(held, c)
	}
	for deadline := time.Now().Add(5 * time.Second); tp.p.Active() < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections active, want 3", tp.p.Active())
		}
	}
	resp, body := roundTrip(t, tp.addr, upgradeRequest("/", "app"))
	if resp.StatusCode != 503 || !strings.Contains(body, "--max-conns") {
		t.Fatalf("answer beyond the cap: %d %q", resp.StatusCode, body)
	}
	for _, c := range held {
		c.Close()
	}
	tp.idle(t)
	c, _, err := dialer(nil, true).Dial("ws://"+tp.addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	converse(t, c, true)
}

// flakyListener fails its first accepts with a temporary error, as a
// process out of file descriptors sees.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestAcceptBackoff: temporary accept errors (EMFILE) are waited out with
// a warning; the proxy goes on serving.
func TestAcceptBackoff(t *testing.T) {
	up := startUpstream(t, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	var warns []string
	p, err := New(Options{Tap: session.NewTap(st, session.TapOptions{}), Upstream: mustURL(t, up.wsURL("")),
		Warn: func(s string) { mu.Lock(); warns = append(warns, s); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, &flakyListener{Listener: ln, fails: 5}) }()
	c, _, err := dialer(nil, true).Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	converse(t, c, true)
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warns) != 1 || !strings.Contains(warns[0], "too many open files") {
		t.Errorf("warnings %q, want one about the descriptors", warns)
	}
}

// TestManyConnections relays 500 WebSockets at once, each exchanging
// messages of random sizes: every byte arrives at both ends, and every
// message is recorded.
func TestManyConnections(t *testing.T) {
	const conns, perConn = 500, 10
	up := startUpstream(t, false)
	tp := startProxy(t, Options{Upstream: mustURL(t, up.wsURL(""))})
	base := takeBaseline()
	sums := make([][sha256.Size]byte, conns) // of what each connection sent, in order
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(i)))
			c, _, err := dialer(nil, i%2 == 0).Dial(fmt.Sprintf("ws://%s/c%d", tp.addr, i), nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			h := sha256.New()
			for range perConn {
				b := make([]byte, 1+rng.Intn(1<<13))
				rng.Read(b)
				h.Write(b)
				if err := c.WriteMessage(websocket.BinaryMessage, b); err != nil {
					errs <- err
					return
				}
				_, got, err := c.ReadMessage()
				if err != nil || !bytes.Equal(got, b) {
					errs <- fmt.Errorf("connection %d: echo of %d bytes: %d bytes, %v", i, len(b), len(got), err)
					return
				}
			}
			copy(sums[i][:], h.Sum(nil))
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(5*time.Second))
			c.ReadMessage()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ended := tp.ended(t, conns)
	if len(ended) != conns {
		t.Fatalf("%d connections recorded, want %d", len(ended), conns)
	}
	for _, conn := range ended {
		var i int
		if _, err := fmt.Sscanf(conn.Request.Target, "/c%d", &i); err != nil {
			t.Fatalf("target %q", conn.Request.Target)
		}
		var h [2]hashWriter
		for _, m := range conn.Messages {
			if m.Opcode == decode.OpBinary {
				h[m.From].Write(m.Payload)
			}
		}
		if h[decode.Client].n != perConn || h[decode.Server].n != perConn || h[decode.Client].sum() != sums[i] || h[decode.Server].sum() != sums[i] {
			t.Errorf("connection %d: recorded %d and %d messages, or not the bytes sent", i, h[decode.Client].n, h[decode.Server].n)
		}
		if len(conn.Problems) != 0 {
			t.Errorf("connection %d: problems %v", i, conn.Problems)
		}
	}
	tp.idle(t)
	base.check(t, 2)
}

// hashWriter hashes the messages written to it and counts them.
type hashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int
}

func (w *hashWriter) Write(b []byte) {
	if w.h == nil {
		w.h = sha256.New()
	}
	w.h.Write(b)
	w.n++
}

func (w *hashWriter) sum() (s [sha256.Size]byte) {
	if w.h != nil {
		copy(s[:], w.h.Sum(nil))
	}
	return s
}

// blockedSink is an event sink that blocks on its first event until
// released, as a sink writing to a stalled pipe does.
type blockedSink struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *blockedSink) Event(decode.Event) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return nil
}

func (s *blockedSink) Flush() error { return nil }

// TestBlockedSink: a sink that blocks does not slow the relay: two
// connections exchange their messages while it is stuck on its first
// event.
func TestBlockedSink(t *testing.T) {
	up := startUpstream(t, false)
	tp := startProxy(t, Options{Upstream: mustURL(t, up.wsURL(""))})
	sink := &blockedSink{entered: make(chan struct{}), release: make(chan struct{})}
	f := tp.store.FollowEvents(sink)
	defer func() {
		close(sink.release)
		f.Finish()
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := dialer(nil, false).Dial(fmt.Sprintf("ws://%s/%d", tp.addr, i), nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			b := bytes.Repeat([]byte{byte(i)}, 4096)
			for range 2000 {
				if err := c.WriteMessage(websocket.BinaryMessage, b); err != nil {
					errs <- err
					return
				}
				if _, _, err := c.ReadMessage(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	select {
	case <-sink.entered:
	default:
		t.Fatal("the sink was never given an event")
	}
	for deadline := time.Now().Add(10 * time.Second); tp.store.Totals().Messages < 8000; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the store holds %d messages while the sink is blocked, want all 8000", tp.store.Totals().Messages)
		}
	}
}

// TestBadRequests: what the proxy cannot read or route is answered with
// what is wrong, never a reset.
func TestBadRequests(t *testing.T) {
	tp := startProxy(t, Options{CA: newCA(t), MaxHeadBytes: 1024})
	for _, tc := range []struct {
		name, raw string
		status    int
		says      string
	}{
		{"head over the limit", "GET http://127.0.0.1:1/ HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431, "limited to 1024 bytes"},
		{"origin form to a forward proxy", "GET /chat HTTP/1.1\r\nHost: a\r\n\r\n", 400, "not an absolute URL"},
		{"not HTTP", "HELLO\r\n\r\n", 400, "not METHOD TARGET HTTP/1.x"},
		{"CONNECT without a port", "CONNECT example HTTP/1.1\r\nHost: example\r\n\r\n", 400, "not host:port"},
		{"a scheme it does not relay", "GET ftp://127.0.0.1/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "relays http, https, ws and wss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := roundTrip(t, tp.addr, tc.raw)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("answer %d %q, want %d saying %q", resp.StatusCode, body, tc.status, tc.says)
			}
		})
	}
}
