package capture

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// recorder keeps a copy of every byte read from and written to a socket.
type recorder struct {
	mu          sync.Mutex
	read, wrote bytes.Buffer
}

func (r *recorder) bytes() (read, wrote []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.read.Bytes()), bytes.Clone(r.wrote.Bytes())
}

type recordedConn struct {
	net.Conn
	r *recorder
}

func (c recordedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.mu.Lock()
	c.r.read.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

func (c recordedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.r.mu.Lock()
	c.r.wrote.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

// recordingListener records every connection it accepts into r.
type recordingListener struct {
	net.Listener
	r *recorder
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return recordedConn{c, l.r}, nil
}

// proxyEchoServer is a gorilla echo server (permessage-deflate on) that
// also answers GET /plain with a plain HTTP body; it records the bytes of
// its connections.
func proxyEchoServer(t *testing.T) (addr string, rec *recorder) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec = &recorder{}
	up := &websocket.Upgrader{EnableCompression: true}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/plain" {
			io.WriteString(w, "plain body")
			return
		}
		echoWS(up, "")(w, r)
	})}
	go srv.Serve(recordingListener{ln, rec})
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), rec
}

// startTestProxy serves a proxy to upstream on a loopback port and collects the
// connections it hands out; stop stops it and waits for Serve to return.
type testProxy struct {
	p     *Proxy
	addr  string
	tt    *testTap
	mu    sync.Mutex
	warns []string
	stop  func() error
}

func startTestProxy(t *testing.T, upstream string) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{addr: ln.Addr().String(), tt: newTestTap(t)}
	p := NewProxy(ProxyOptions{
		Upstream: upstream,
		Tap:      tp.tt.tap,
		Warn: func(msg string) {
			tp.mu.Lock()
			tp.warns = append(tp.warns, msg)
			tp.mu.Unlock()
		},
	})
	tp.p = p
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln) }()
	var once sync.Once
	var serr error
	tp.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serr = <-served:
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return within 10 s of the stop")
			}
		})
		return serr
	}
	t.Cleanup(func() { tp.stop() })
	return tp
}

// wait returns the first n connections handed out, failing after 10 s.
func (tp *testProxy) wait(t *testing.T, n int) []*session.Conversation {
	t.Helper()
	if !tp.tt.waitEnded(n) {
		t.Fatalf("timed out waiting for %d connections to end", n)
	}
	return tp.tt.ended()
}

// TestProxyRelaysUnchanged holds a varied conversation through the proxy
// and checks that each end received exactly the bytes the other sent, and
// that the decoder saw the same messages.
func TestProxyRelaysUnchanged(t *testing.T) {
	upAddr, upRec := proxyEchoServer(t)
	tp := startTestProxy(t, upAddr)

	clientRec := &recorder{}
	d := websocket.Dialer{
		EnableCompression: true,
		WriteBufferSize:   256, // a long message goes out in fragments
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return recordedConn{c, clientRec}, nil
		},
	}
	c, _, err := d.Dial("ws://"+tp.addr+"/chat?room=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	type msg struct {
		typ  int
		data string
	}
	sent := []msg{
		{websocket.TextMessage, "hello"},
		{websocket.BinaryMessage, "\x00\x01\x02\xff"},
		{websocket.TextMessage, strings.Repeat("fragment ", 100)},
		{websocket.TextMessage, "ünïcödé"},
	}
	for i, m := range sent {
		c.EnableWriteCompression(i%2 == 1) // the long one uncompressed, so it stays long
		if err := c.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if typ != m.typ || string(got) != m.data {
			t.Fatalf("echo %d: got type %d %q, want type %d %q", i, typ, got, m.typ, m.data)
		}
	}
	c.WriteControl(websocket.PingMessage, []byte("ping?"), time.Now().Add(time.Second))
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "done"), time.Now().Add(time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, 1000) {
		t.Fatalf("want the server's close 1000, got %v", err)
	}
	c.Close()

	conns := tp.wait(t, 1)
	cliRead, cliWrote := clientRec.bytes()
	upRead, upWrote := upRec.bytes()
	if len(cliWrote) == 0 || !bytes.Equal(upRead, cliWrote) {
		t.Errorf("upstream received %d bytes, client sent %d: not the same bytes", len(upRead), len(cliWrote))
	}
	if len(upWrote) == 0 || !bytes.Equal(cliRead, upWrote) {
		t.Errorf("client received %d bytes, upstream sent %d: not the same bytes", len(cliRead), len(upWrote))
	}

	conn := conns[0]
	if conn.ID != "1" || conn.Source != "proxy" || conn.Server != upAddr {
		t.Errorf("connection %q source %q server %q; want 1, proxy, %s", conn.ID, conn.Source, conn.Server, upAddr)
	}
	if conn.Bytes[decode.Client] != int64(len(cliWrote)) || conn.Bytes[decode.Server] != int64(len(upWrote)) {
		t.Errorf("decoder counted %v bytes, relayed %d and %d", conn.Bytes, len(cliWrote), len(upWrote))
	}
	if conn.URL != "ws://"+tp.addr+"/chat?room=1" || conn.Request == nil || conn.Response == nil || conn.Response.Status != 101 {
		t.Errorf("handshake not decoded: url %q", conn.URL)
	}
	if !strings.Contains(conn.Extensions, "permessage-deflate") {
		t.Errorf("extensions %q, want permessage-deflate", conn.Extensions)
	}
	var fromClient, fromServer []msg
	fragmented, compressed := false, false
	for _, m := range conn.Messages {
		if m.Opcode.IsControl() {
			continue
		}
		if len(m.Frames) > 1 {
			fragmented = true
		}
		compressed = compressed || m.Compressed
		x := msg{int(m.Opcode), string(m.Payload)}
		if m.From == decode.Client {
			fromClient = append(fromClient, x)
		} else {
			fromServer = append(fromServer, x)
		}
	}
	for name, got := range map[string][]msg{"client": fromClient, "server": fromServer} {
		if len(got) != len(sent) {
			t.Fatalf("decoder saw %d %s data messages, want %d", len(got), name, len(sent))
		}
		for i := range sent {
			if got[i] != sent[i] {
				t.Errorf("%s message %d decoded as %v, want %v", name, i, got[i], sent[i])
			}
		}
	}
	if !fragmented || !compressed {
		t.Errorf("fragmented %v, compressed %v: the conversation should have both", fragmented, compressed)
	}
	if conn.Close == nil || conn.Close.Code != 1000 || conn.Close.Reason != "done" {
		t.Errorf("close %+v, want 1000 done", conn.Close)
	}
	if len(conn.Problems) != 0 {
		t.Errorf("problems in clean traffic: %+v", conn.Problems)
	}
}

// TestProxyPlainHTTP sends a plain HTTP request through the proxy: it is
// answered, and decoded as an exchange.
func TestProxyPlainHTTP(t *testing.T) {
	upAddr, _ := proxyEchoServer(t)
	tp := startTestProxy(t, upAddr)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + tp.addr + "/plain?x=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "plain body" {
		t.Fatalf("body through the proxy: %q", body)
	}
	conn := tp.wait(t, 1)[0]
	if conn.State != decode.StateNotWebSocket || len(conn.Exchanges) != 1 {
		t.Fatalf("state %v with %d exchanges, want not-websocket with 1", conn.State, len(conn.Exchanges))
	}
	x := conn.Exchanges[0]
	if x.Request == nil || x.Request.Method != "GET" || x.Request.Target != "/plain?x=1" || x.Response == nil || x.Response.Status != 200 || string(x.Response.Body) != "plain body" {
		t.Errorf("exchange decoded as %+v / %+v", x.Request, x.Response)
	}
}

// TestProxyHalfClose: when the client closes its write half, the upstream
// sees the end of the stream and can still answer.
func TestProxyHalfClose(t *testing.T) {
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
	tp := startTestProxy(t, ln.Addr().String())
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
	// Both halves closed: the connection ends by itself. It carried
	// neither WebSocket nor HTTP, so it is not handed out.
	for deadline := time.Now().Add(10 * time.Second); tp.p.Active() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection did not end after both halves closed")
		}
	}
	if done := tp.tt.ended(); len(done) != 0 || tp.tt.store.Len() != 0 {
		t.Fatalf("a connection that is neither WebSocket nor HTTP was shown: %d in the store", tp.tt.store.Len())
	}
}

// TestProxyStop stops the proxy while a WebSocket connection is open:
// Serve returns, and the connection is handed out with every message
// relayed before the stop.
func TestProxyStop(t *testing.T) {
	upAddr, _ := proxyEchoServer(t)
	tp := startTestProxy(t, upAddr)
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
	done := tp.tt.ended()
	if len(done) != 1 {
		t.Fatalf("%d connections ended at the stop, want 1", len(done))
	}
	conn := done[0]
	if len(conn.Messages) != 4 || string(conn.Messages[1].Payload) != "one" || string(conn.Messages[3].Payload) != "two" {
		t.Errorf("decoded %d messages at the stop, want the 4 relayed", len(conn.Messages))
	}
	if _, _, err := c.ReadMessage(); err == nil {
		t.Error("the client connection is still open after the stop")
	}
}

// TestProxyUpstreamDown: a refused upstream closes the client's
// connection and is reported, not handed out as a connection.
func TestProxyUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	tp := startTestProxy(t, dead)
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a proxy without upstream", n)
	}
	tp.stop()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if n := tp.tt.store.Len(); len(tp.warns) != 1 || !strings.Contains(tp.warns[0], "connecting to the upstream") || n != 0 {
		t.Errorf("warnings %q, %d connections; want one warning about the upstream", tp.warns, n)
	}
}
