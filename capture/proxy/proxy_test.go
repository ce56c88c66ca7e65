package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// msg is a data message a test sends and expects back.
type msg struct {
	typ  int
	data string
}

// script is the conversation most tests hold: text and binary, one long
// enough to be fragmented by a small write buffer, one compressed.
var script = []msg{
	{websocket.TextMessage, "hello"},
	{websocket.BinaryMessage, "\x00\x01\x02\xff"},
	{websocket.TextMessage, strings.Repeat("fragment ", 100)},
	{websocket.TextMessage, "ünïcödé"},
	{websocket.BinaryMessage, strings.Repeat("\xfe\x00compressible ", 400)},
}

// converse sends every message of script on c, checks each echo, and
// closes with 1000.
func converse(t testing.TB, c *websocket.Conn, compress bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, m := range script {
		c.EnableWriteCompression(compress && i != 2) // the long text stays long: fragmented
		if err := c.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if typ != m.typ || string(got) != m.data {
			t.Fatalf("echo %d: got type %d %q, want type %d %q", i, typ, clip(string(got)), m.typ, clip(m.data))
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "done"), time.Now().Add(time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, 1000) {
		t.Fatalf("want the server's close 1000, got %v", err)
	}
	c.Close()
}

// dialer is a gorilla dialer offering compression or not, a small write buffer (a
// long message goes out in fragments), and the client's bytes recorded.
func dialer(rec *recorder, compress bool) *websocket.Dialer {
	return &websocket.Dialer{
		EnableCompression: compress,
		WriteBufferSize:   256,
		HandshakeTimeout:  10 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil || rec == nil {
				return c, err
			}
			return recordedConn{c, rec}, nil
		},
	}
}

// checkRecorded checks that conn holds script from each side, in order,
// the close, and no problems.
func checkRecorded(t testing.TB, conn *session.Conversation, compress bool) {
	t.Helper()
	if conn.Source != "proxy" || conn.Response == nil || conn.Response.Status != 101 {
		t.Fatalf("connection source %q, handshake %+v: want a proxied 101", conn.Source, conn.Response)
	}
	var got [2][]msg
	fragmented, compressed := false, false
	for _, m := range conn.Messages {
		if m.Opcode.IsControl() {
			continue
		}
		fragmented = fragmented || len(m.Frames) > 1
		compressed = compressed || m.Compressed
		got[m.From] = append(got[m.From], msg{int(m.Opcode), string(m.Payload)})
	}
	for side, ms := range got {
		if len(ms) != len(script) {
			t.Fatalf("decoded %d %s data messages, want %d", len(ms), decode.Side(side), len(script))
		}
		for i := range script {
			if ms[i] != script[i] {
				t.Errorf("%s message %d decoded as %q, want %q", decode.Side(side), i, clip(ms[i].data), clip(script[i].data))
			}
		}
	}
	if !fragmented || compressed != compress {
		t.Errorf("fragmented %v, compressed %v; want fragmented, compressed %v", fragmented, compressed, compress)
	}
	if conn.Close == nil || conn.Close.Code != 1000 || conn.Close.Reason != "done" {
		t.Errorf("close %+v, want 1000 done", conn.Close)
	}
	for _, p := range conn.Problems {
		t.Errorf("problem in clean traffic: %s %s", p.Kind, p.Message)
	}
}

// TestReverse holds the conversation through the reverse proxy, ws and
// wss on either leg: each end receives exactly what the other sent, and
// the proxy records the same messages.
func TestReverse(t *testing.T) {
	for _, tc := range []struct {
		name              string
		listenTLS, upTLS  bool
		compress          bool
		wantURLScheme     string
		wantServerAddrTLS bool
	}{
		{name: "ws to ws", compress: true, wantURLScheme: "ws"},
		{name: "ws to ws uncompressed", wantURLScheme: "ws"},
		{name: "ws to wss", upTLS: true, compress: true, wantURLScheme: "ws"},
		{name: "wss to ws", listenTLS: true, compress: true, wantURLScheme: "wss"},
		{name: "wss to wss", listenTLS: true, upTLS: true, compress: true, wantURLScheme: "wss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, tc.upTLS)
			opts := Options{Upstream: mustURL(t, up.wsURL("/ignored"))}
			if tc.upTLS {
				opts.UpstreamRoots = pool(up.ca)
			}
			proxyCA := newCA(t)
			if tc.listenTLS {
				opts.ListenTLS, opts.CA = true, proxyCA
			}
			tp := startProxy(t, opts)
			base := takeBaseline()

			clientRec := &recorder{}
			d := dialer(clientRec, tc.compress)
			scheme := "ws"
			if tc.listenTLS {
				scheme = "wss"
				d.TLSClientConfig = &tls.Config{RootCAs: pool(proxyCA)}
				// Recorded after TLS: the application's bytes.
				d.NetDialContext = nil
				d.NetDialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&tls.Dialer{Config: &tls.Config{RootCAs: pool(proxyCA), ServerName: "127.0.0.1"}}).DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					return recordedConn{c, clientRec}, nil
				}
			}
			c, _, err := d.Dial(scheme+"://"+tp.addr+"/chat?room=1", nil)
			if err != nil {
				t.Fatal(err)
			}
			converse(t, c, tc.compress)
			conn := tp.ended(t, 1)[0]

			cliRead, cliWrote := clientRec.bytes()
			upRead, upWrote := up.rec.bytes()
			if len(cliWrote) == 0 || !bytes.Equal(upRead, cliWrote) {
				t.Errorf("upstream received %d bytes, client sent %d: not the same bytes", len(upRead), len(cliWrote))
			}
			if len(upWrote) == 0 || !bytes.Equal(cliRead, upWrote) {
				t.Errorf("client received %d bytes, upstream sent %d: not the same bytes", len(cliRead), len(upWrote))
			}
			checkRecorded(t, conn, tc.compress)
			if want := scheme + "://" + tp.addr + "/chat?room=1"; conn.URL != want {
				t.Errorf("url %q, want %q", conn.URL, want)
			}
			if conn.Server != up.addr {
				t.Errorf("server %q, want the upstream %s", conn.Server, up.addr)
			}
			if conn.Bytes[decode.Client] != int64(len(cliWrote)) || conn.Bytes[decode.Server] != int64(len(upWrote)) {
				t.Errorf("decoder counted %v bytes, relayed %d and %d", conn.Bytes, len(cliWrote), len(upWrote))
			}
			tp.idle(t)
			base.check(t, 2)
		})
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestForwardConnect reaches the server through the forward proxy's
// CONNECT tunnel, as browsers and gorilla do, for wss (TLS intercepted
// with a leaf of the proxy's CA) and ws (relayed as it comes).
func TestForwardConnect(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tls      bool
		compress bool
	}{
		{"wss", true, true},
		{"wss uncompressed", true, false},
		{"ws", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, tc.tls)
			proxyCA := newCA(t)
			opts := Options{CA: proxyCA}
			if tc.tls {
				opts.UpstreamRoots = pool(up.ca)
			}
			tp := startProxy(t, opts)
			base := takeBaseline()
			d := dialer(nil, tc.compress)
			d.Proxy = http.ProxyURL(tp.proxyURL())
			d.TLSClientConfig = &tls.Config{RootCAs: pool(proxyCA)}
			c, resp, err := d.Dial(up.wsURL("/chat"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tls {
				// The client saw the proxy's leaf, not the server's.
				cs := c.UnderlyingConn().(*tls.Conn).ConnectionState()
				if cs.PeerCertificates[0].Issuer.String() != proxyCA.Certificate().Subject.String() || cs.NegotiatedProtocol != "" && cs.NegotiatedProtocol != "http/1.1" {
					t.Errorf("client's TLS: issuer %s, ALPN %q", cs.PeerCertificates[0].Issuer, cs.NegotiatedProtocol)
				}
			}
			_ = resp
			converse(t, c, tc.compress)
			conn := tp.ended(t, 1)[0]
			checkRecorded(t, conn, tc.compress)
			if conn.URL != up.wsURL("/chat") || conn.TLS != tc.tls {
				t.Errorf("url %q TLS %v, want %q", conn.URL, conn.TLS, up.wsURL("/chat"))
			}
			if conn.Server != up.addr {
				t.Errorf("server %q, want %s", conn.Server, up.addr)
			}
			tp.idle(t)
			base.check(t, 2)
		})
	}
}

// TestForwardAbsoluteForm reaches a ws:// server the way net/http's
// transport does through a proxy: an absolute-form GET with the Upgrade
// (coder/websocket), sent on in origin form.
func TestForwardAbsoluteForm(t *testing.T) {
	up := startUpstream(t, false)
	tp := startProxy(t, Options{CA: newCA(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(tp.proxyURL())}}
	c, _, err := cws.Dial(ctx, up.wsURL("/abs?x=1"), &cws.DialOptions{HTTPClient: client, CompressionMode: cws.CompressionContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"one", strings.Repeat("two ", 1000)} {
		if err := c.Write(ctx, cws.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != m {
			t.Fatalf("echo of %q: %q, %v", clip(m), clip(string(got)), err)
		}
	}
	c.Close(cws.StatusNormalClosure, "bye")
	conn := tp.ended(t, 1)[0]
	if conn.Request == nil || conn.Request.Target != "/abs?x=1" {
		t.Fatalf("the server was sent %+v, want the origin form /abs?x=1", conn.Request)
	}
	for _, h := range conn.Request.Headers {
		if strings.EqualFold(h.Name, "Proxy-Connection") {
			t.Errorf("Proxy-Connection went on to the server")
		}
	}
	compressed := 0
	for _, m := range conn.Messages {
		if m.Compressed {
			compressed++
		}
	}
	if conn.URL != up.wsURL("/abs?x=1") || len(conn.Messages) != 6 || compressed == 0 {
		t.Errorf("url %q, %d messages (%d compressed), want 4 data messages and the closes, the long ones compressed", conn.URL, len(conn.Messages), compressed)
	}
	if conn.Close == nil || conn.Close.Code != 1000 {
		t.Errorf("close %+v", conn.Close)
	}
}

// TestForwardHTTP relays plain HTTP through the forward proxy: requests
// to two hosts, keep-alive kept to each while the client stays with it, a
// body in each direction; every exchange recorded.
func TestForwardHTTP(t *testing.T) {
	a, b := startUpstream(t, false), startUpstream(t, false)
	tp := startProxy(t, Options{CA: newCA(t)})
	tr := &http.Transport{Proxy: http.ProxyURL(tp.proxyURL()), MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(u *upstream, q string) {
		t.Helper()
		resp, err := client.Get("http://" + u.addr + "/plain?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "plain body of "+q {
			t.Fatalf("body %q for %s", body, q)
		}
	}
	get(a, "1")
	get(a, "2")
	resp, err := client.Post("http://"+a.addr+"/upload", "text/plain", strings.NewReader(strings.Repeat("up", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != strings.Repeat("up", 5000) {
		t.Fatalf("upload echoed %d bytes", len(body))
	}
	get(b, "3")
	tr.CloseIdleConnections()
	conns := tp.ended(t, 2)
	if n := a.rec.accepted.Load(); n != 1 {
		t.Errorf("server a accepted %d connections for three requests on one kept-alive client connection, want 1", n)
	}
	var targets []string
	for _, c := range conns {
		if c.State != decode.StateNotWebSocket {
			t.Errorf("connection %s state %v", c.ID, c.State)
		}
		for _, x := range c.Exchanges {
			if x.Response == nil || x.Response.Status != 200 {
				t.Errorf("exchange %+v without a 200", x.Request)
				continue
			}
			targets = append(targets, c.Server+" "+x.Request.Method+" "+x.Request.Target)
		}
	}
	want := []string{a.addr + " GET /plain?1", a.addr + " GET /plain?2", a.addr + " POST /upload", b.addr + " GET /plain?3"}
	if strings.Join(targets, "\n") != strings.Join(want, "\n") {
		t.Errorf("exchanges:\n%s\nwant\n%s", strings.Join(targets, "\n"), strings.Join(want, "\n"))
	}
}

// TestRewriteHost: the reverse proxy passes Host and Origin as the client
// sent them, and with RewriteHost sends the upstream's.
func TestRewriteHost(t *testing.T) {
	for _, rewrite := range []bool{false, true} {
		t.Run(fmt.Sprint("rewrite ", rewrite), func(t *testing.T) {
			up := startUpstream(t, false)
			tp := startProxy(t, Options{Upstream: mustURL(t, up.wsURL("")), RewriteHost: rewrite})
			h := http.Header{"Origin": {"http://app.example"}}
			for range 2 {
				c, _, err := dialer(nil, true).Dial("ws://"+tp.addr+"/x", h)
				if err != nil {
					t.Fatal(err)
				}
				converse(t, c, true)
			}
			tp.ended(t, 2)
			up.mu.Lock()
			defer up.mu.Unlock()
			wantHost, wantOrigin := tp.addr, "http://app.example"
			if rewrite {
				wantHost, wantOrigin = up.addr, "http://"+up.addr
			}
			for i := range up.hosts {
				if up.hosts[i] != wantHost || up.origins[i] != wantOrigin {
					t.Errorf("request %d: Host %q Origin %q, want %q %q", i, up.hosts[i], up.origins[i], wantHost, wantOrigin)
				}
			}
		})
	}
}

// TestPipelinedLargeMessages keeps many 64 KiB messages in flight, so that
// the decoder lags the relay by more than a batch: what is recorded is
// still exactly what was relayed (a batch's buffer must never be reused
// while it is decoded). Small messages between them make reads of every
// size follow each other: small ones packed into a shared buffer, bulk
// ones in buffers of their own.
func TestPipelinedLargeMessages(t *testing.T) {
	up := startUpstream(t, false)
	tp := startProxy(t, Options{Upstream: mustURL(t, up.wsURL(""))})
	c, _, err := (&websocket.Dialer{WriteBufferSize: 64 << 10}).Dial("ws://"+tp.addr+"/big", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	msgs := make([][]byte, n)
	for i := range msgs {
		size := (64 << 10) / 3
		if i%10 == 5 {
			size = 40
		}
		msgs[i] = bytes.Repeat([]byte{byte(i), byte(i >> 8), 0xa5}, size)
	}
	go func() {
		for _, m := range msgs {
			if c.WriteMessage(websocket.BinaryMessage, m) != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := range n {
		if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msgs[i]) {
			t.Fatalf("echo %d: %d bytes, %v", i, len(got), err)
		}
	}
	c.Close()
	conn := tp.ended(t, 1)[0]
	// A second connection through the same proxy moves its bytes in reads
	// as large as the first's: the pools' buffers come back whole.
	reads1, bytes1 := tp.p.Relayed()
	c2, _, err := (&websocket.Dialer{WriteBufferSize: 64 << 10}).Dial("ws://"+tp.addr+"/big2", nil)
	if err != nil {
		t.Fatal(err)
	}
	c2.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := range 50 {
		c2.WriteMessage(websocket.BinaryMessage, msgs[i])
		if _, got, err := c2.ReadMessage(); err != nil || !bytes.Equal(got, msgs[i]) {
			t.Fatalf("second connection, echo %d: %d bytes, %v", i, len(got), err)
		}
	}
	c2.Close()
	reads2, bytes2 := tp.p.Relayed()
	if avg1, avg2 := bytes1/reads1, (bytes2-bytes1)/(reads2-reads1); avg2 < 1024 || avg2 < avg1/8 {
		t.Errorf("bytes per read: %d on the first connection, %d on the second", avg1, avg2)
	}
	var count [2]int
	for _, m := range conn.Messages {
		if m.Opcode != decode.OpBinary {
			continue
		}
		if i := count[m.From]; i >= n || !bytes.Equal(m.Payload, msgs[i]) {
			t.Fatalf("%s message %d recorded wrong (%d bytes)", m.From, i, len(m.Payload))
		}
		count[m.From]++
	}
	if count[0] != n || count[1] != n {
		t.Errorf("recorded %v messages, want %d each way", count, n)
	}
	for _, p := range conn.Problems {
		t.Errorf("problem: %s %s", p.Kind, p.Message)
	}
}

// TestForwardChunkedExpect sends a chunked upload that waits for 100
// Continue through the forward proxy: the interim answer is relayed while
// the body waits, the body goes on chunk by chunk, and the exchange is
// recorded with its body.
func TestForwardChunkedExpect(t *testing.T) {
	up := startUpstream(t, false)
	tp := startProxy(t, Options{CA: newCA(t)})
	tr := &http.Transport{Proxy: http.ProxyURL(tp.proxyURL()), ExpectContinueTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	body := strings.Repeat("chunk of an upload ", 3000)
	req, err := http.NewRequest("POST", "http://"+up.addr+"/upload", io.NopCloser(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set("Expect", "100-continue")
	resp, err := (&http.Client{Transport: tr, Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != body {
		t.Fatalf("echoed %d bytes, sent %d", len(got), len(body))
	}
	tr.CloseIdleConnections()
	conn := tp.ended(t, 1)[0]
	if len(conn.Exchanges) != 1 {
		t.Fatalf("%d exchanges recorded, want 1", len(conn.Exchanges))
	}
	x := conn.Exchanges[0]
	if x.Request == nil || x.Request.Method != "POST" || x.Request.BodySize != int64(len(body)) || x.Response == nil || x.Response.Status != 200 {
		t.Errorf("recorded %+v / %+v", x.Request, x.Response)
	}
}
