//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture/proxy/ca"
	"github.com/wstap/wstap/internal/testpeer"
)

// These tests put the forward proxy between real peers: headless
// Chromium, gorilla clients and servers over real TLS, tcpdump on the
// loopback interface, and tshark reading what tcpdump captured (with the
// proxy's key log) and what the proxy wrote itself (-w). Each peer sees
// the proxy as it would in use, so a byte changed, a message lost or a
// pcapng that Wireshark reads differently from wstap shows here. The file
// is Linux only: tcpdump captures on "lo", and the browser is Debian's
// chromium.

// TestProxyChromium loads a page through the forward proxy in headless
// Chromium; its script talks to an echo server over ws:// and wss:// (the
// latter intercepted with wstap's CA, which Chromium accepts by its SPKI
// hash), then writes what happened into the DOM. The JSON export must
// hold both connections and every message of both, in order, from the
// right side.
func TestProxyChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser; not with -short")
	}
	chromium := requirePeer(t, "chromium")
	dir := t.TempDir()
	wstapCA := loadTestCA(t, filepath.Join(dir, "wstap-config"))
	serverCA := loadTestCA(t, filepath.Join(dir, "server-ca"))

	secure := serveEcho(t, serverCA, nil)
	secureURL := "wss://localhost:" + strconv.Itoa(secure.port) + "/echo"
	page := newChromiumPage(chromiumPlan(), secureURL)
	plain := serveEcho(t, nil, page)
	// The page talks to its own server over ws:// (see pageScript).
	targets := []string{"ws://localhost:" + strconv.Itoa(plain.port) + "/echo", secureURL}

	jsonPath := filepath.Join(dir, "chromium.json")
	p := startForwardProxy(t, wstapCA.Dir(), "--upstream-ca", serverCA.CertFile(), "--json", jsonPath)
	results := runChromiumPage(t, chromium, p.addr, wstapCA.SPKIHash(), "http://localhost:"+strconv.Itoa(plain.port)+"/")
	if len(results) != len(targets) {
		t.Errorf("the page reports on %d servers, want %d: %+v", len(results), len(targets), results)
	}
	for _, r := range results {
		if r.Error != "" || r.Echoed != len(page.plan) || r.CloseCode != 1000 || !r.Clean {
			t.Errorf("in Chromium, %s: %d of %d echoes right, close %d (clean %v), error %q", r.URL, r.Echoed, len(page.plan), r.CloseCode, r.Clean, r.Error)
		}
	}
	plain.waitIdle(t)
	secure.waitIdle(t)
	p.stop(t)

	e := loadExport(t, jsonPath)
	want := echoed(page.plan)
	want = append(want, closeMessage("client", 1000, "page done"), closeMessage("server", 1000, ""))
	for _, u := range targets {
		i := connectionByURL(t, e, u)
		c := e.Connections[i]
		sameMessages(t, u+" in the JSON export", exportedMessages(t, e, i), want)
		if c.Close == nil || c.Close.From != "client" || c.Close.Code != 1000 || c.Close.Reason != "page done" {
			t.Errorf("%s: close %+v, want 1000 \"page done\" from the client", u, c.Close)
		}
		for _, pr := range c.Problems {
			t.Errorf("%s: problem %s: %s", u, pr.Kind, pr.Message)
		}
		// What makes the conversation worth proving: Chromium and gorilla
		// agree on permessage-deflate, and the server's echo of a large
		// message is fragmented by its small write buffer.
		var compressed, fragmented bool
		for _, m := range c.Messages {
			compressed = compressed || m.Compressed
			fragmented = fragmented || (m.From == "server" && len(m.Frames) > 1)
		}
		if !strings.Contains(c.Extensions, "permessage-deflate") || !compressed || !fragmented {
			t.Errorf("%s: extensions %q, a compressed message %v, a fragmented echo %v: the conversation is meant to have all three", u, c.Extensions, compressed, fragmented)
		}
	}
	webSockets := 0
	for _, c := range e.Connections {
		if strings.HasPrefix(c.URL, "ws") {
			webSockets++
		}
	}
	if webSockets != len(targets) {
		t.Errorf("%d WebSocket connections in the JSON export, want %d", webSockets, len(targets))
	}
	for _, c := range e.Connections {
		if host, _, err := net.SplitHostPort(c.Server); err != nil || !loopbackHost(host) {
			t.Errorf("Chromium asked the proxy for %s: the test must stay on loopback (turn that traffic off in runChromiumPage)", c.Server)
		}
	}
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// TestProxyKeylogTshark captures a wss conversation through the forward
// proxy with tcpdump, and has tshark decrypt it with the proxy's
// --keylog: both TLS legs (client to proxy inside the CONNECT tunnel, and
// proxy to server) must decrypt, and on each leg tshark must find every
// message of the conversation once, in order, in its direction. Without
// the key log it must find none (the control: the keys are what tshark
// needs).
func TestProxyKeylogTshark(t *testing.T) {
	tcpdump := requirePeer(t, "tcpdump")
	tshark := requirePeer(t, "tshark")
	dir := t.TempDir()
	wstapCA := loadTestCA(t, filepath.Join(dir, "wstap-config"))
	serverCA := loadTestCA(t, filepath.Join(dir, "server-ca"))
	srv := serveEcho(t, serverCA, nil)
	keys := filepath.Join(dir, "keys.log")
	p := startForwardProxy(t, wstapCA.Dir(), "--upstream-ca", serverCA.CertFile(), "--keylog", keys)
	_, proxyPort, _ := net.SplitHostPort(p.addr)

	pcap := filepath.Join(dir, "lo.pcap")
	capture := startTcpdump(t, tcpdump, pcap, proxyPort, strconv.Itoa(srv.port))
	// The texts are unique to this run, so that nothing but this
	// conversation can match them.
	nonce := strconv.FormatUint(rand.Uint64(), 36)
	plan := []plannedMessage{
		{opcode: websocket.TextMessage, payload: []byte("keylog probe one " + nonce)},
		{opcode: websocket.TextMessage, payload: []byte("keylog probe two, ünïcödé " + nonce)},
		{opcode: websocket.TextMessage, payload: []byte(strings.Repeat("keylog probe three, long enough for a 16-bit length, "+nonce+"; ", 40))},
	}
	target := "wss://localhost:" + strconv.Itoa(srv.port) + "/echo"
	c := dialThroughProxy(t, p.addr, target, wstapCA, false, 0)
	converse(t, c, plan)
	closeConversation(t, c, "keylog done")
	srv.waitIdle(t)
	capture.stop(t)
	p.stop(t)

	secrets, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	if randoms := keyLogSessions(secrets); randoms != 2 {
		t.Errorf("the key log holds secrets of %d TLS sessions, want 2 (one per leg):\n%s", randoms, secrets)
	}
	dissect := []string{"-d", "tcp.port==" + proxyPort + ",http", "-d", "tcp.port==" + strconv.Itoa(srv.port) + ",tls"}
	if frames := tsharkWebSocketFrames(t, tshark, pcap, dissect...); len(frames) != 0 {
		t.Fatalf("without the key log tshark found %d WebSocket frames in TLS: the test proves nothing", len(frames))
	}
	frames := tsharkWebSocketFrames(t, tshark, pcap, append([]string{"-o", "tls.keylog_file:" + keys}, dissect...)...)
	legs := wireConversations(t, frames, mustAtoi(t, proxyPort), srv.port)
	want := append(echoed(plan), closeMessage("client", 1000, "keylog done"), closeMessage("server", 1000, ""))
	sameMessages(t, "tshark, client to proxy (port "+proxyPort+")", legs[mustAtoi(t, proxyPort)].messages, want)
	sameMessages(t, "tshark, proxy to server (port "+strconv.Itoa(srv.port)+")", legs[srv.port].messages, want)
}

// TestProxyWritePcapngTshark has the proxy write what it relays with -w
// and --json, over wss:// and ws://, then reads the pcapng with tshark
// (no keys: the streams are written decrypted). tshark must find exactly
// the messages the JSON export holds, from the same sides, in the same
// order, and its expert and TCP analysis must find nothing wrong with the
// synthetic TCP.
func TestProxyWritePcapngTshark(t *testing.T) {
	tshark := requirePeer(t, "tshark")
	dir := t.TempDir()
	wstapCA := loadTestCA(t, filepath.Join(dir, "wstap-config"))
	serverCA := loadTestCA(t, filepath.Join(dir, "server-ca"))
	secure := serveEcho(t, serverCA, nil)
	plain := serveEcho(t, nil, nil)
	pcapng, jsonPath := filepath.Join(dir, "out.pcapng"), filepath.Join(dir, "out.json")
	p := startForwardProxy(t, wstapCA.Dir(), "--upstream-ca", serverCA.CertFile(), "-w", pcapng, "--json", jsonPath)

	plan := pcapngPlan()
	targets := map[string]*echoPeer{
		"wss://localhost:" + strconv.Itoa(secure.port) + "/echo": secure,
		"ws://localhost:" + strconv.Itoa(plain.port) + "/echo":   plain,
	}
	for target, srv := range targets {
		// A small write buffer fragments the large messages.
		c := dialThroughProxy(t, p.addr, target, wstapCA, true, 1024)
		converse(t, c, plan)
		closeConversation(t, c, "pcapng done")
		srv.waitIdle(t)
	}
	p.stop(t)

	e := loadExport(t, jsonPath)
	dissect := []string{"-d", "tcp.port==" + strconv.Itoa(secure.port) + ",http", "-d", "tcp.port==" + strconv.Itoa(plain.port) + ",http"}
	frames := tsharkWebSocketFrames(t, tshark, pcapng, dissect...)
	wire := wireConversations(t, frames, secure.port, plain.port)
	wantClient, wantServer := byDirection(append(echoed(plan), closeMessage("client", 1000, "pcapng done"), closeMessage("server", 1000, "")))
	for target := range targets {
		i := connectionByURL(t, e, target)
		c := e.Connections[i]
		recorded := exportedMessages(t, e, i)
		// The JSON export is the reference only if it holds the
		// conversation the client and the server had.
		client, server := byDirection(recorded)
		sameMessages(t, target+": the client's messages in the JSON export", client, wantClient)
		sameMessages(t, target+": the server's messages in the JSON export", server, wantServer)
		// The synthetic TCP runs between the real addresses.
		w := wire[portOf(t, c.Server)]
		if w == nil || w.clientPort != portOf(t, c.Client) {
			t.Errorf("%s: no conversation in the pcapng between ports %d and %d", target, portOf(t, c.Client), portOf(t, c.Server))
			continue
		}
		sameMessages(t, target+": tshark on the pcapng against the JSON export", w.messages, recorded)
	}
	if problems := tsharkProblems(t, tshark, pcapng, dissect...); len(problems) > 0 {
		t.Errorf("tshark finds problems in the pcapng the proxy wrote:\n%s", strings.Join(problems, "\n"))
	}
}

// loadTestCA makes a CA in dir with wstap's own code: the tests need no
// openssl, and a CA made this way is the one "wstap proxy" loads when dir
// is its WSTAP_CONFIG_DIR.
func loadTestCA(t *testing.T, dir string) *ca.CA {
	t.Helper()
	c, err := ca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// echoPeer is a gorilla WebSocket echo server on 127.0.0.1, over TLS
// with a leaf for "localhost" when it has a CA. It counts the
// conversations in progress, so that a test can wait until the server has
// closed its side before stopping the proxy.
type echoPeer struct {
	port   int
	active atomic.Int32
}

// echoWriteBuffer is the server's write buffer: a message larger than
// this goes back as several frames (RFC 6455 5.4).
const echoWriteBuffer = 1024

// echoCompressMax is the largest echo the server compresses, when the
// client offered permessage-deflate: small enough to fit in one frame once
// compressed. tshark 4.0 does not inflate a compressed message that spans
// several frames (it shows the deflated bytes as the payload, with a
// "Trailing stray characters" warning), so the -w test could not compare
// one; larger echoes go uncompressed, in several frames.
const echoCompressMax = 512

// serveEcho starts an echo server on /echo (with permessage-deflate when
// the client offers it), and other paths to other, if not nil. With
// serverCA it speaks TLS, offering HTTP/1.1 only, as WebSocket needs.
func serveEcho(t *testing.T, serverCA *ca.CA, other http.Handler) *echoPeer {
	t.Helper()
	s := &echoPeer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{
			EnableCompression: true,
			WriteBufferSize:   echoWriteBuffer,
			// The page Chromium runs comes from another origin (the
			// plain server) than the wss server; any origin may talk.
			CheckOrigin: func(*http.Request) bool { return true },
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade answered the client with the error
		}
		s.active.Add(1)
		defer s.active.Add(-1)
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.EnableWriteCompression(len(msg) <= echoCompressMax)
			if err := writeFragmented(c, typ, msg); err != nil {
				return
			}
		}
	})
	if other != nil {
		mux.Handle("/", other)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	if serverCA != nil {
		srv.TLSConfig = &tls.Config{GetCertificate: serverCA.GetCertificate("localhost"), NextProtos: []string{"http/1.1"}}
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return s
}

// writeFragmented sends msg in frames of at most the write buffer. A
// gorilla server sends a message as one frame when it is written whole
// (WriteMessage, or a Write of more than twice the buffer, which ends
// with an empty final frame that tshark 4.0 does not join to the rest);
// written a buffer at a time, it goes out in full frames and a final one
// with the rest.
func writeFragmented(c *websocket.Conn, typ int, msg []byte) error {
	w, err := c.NextWriter(typ)
	if err != nil {
		return err
	}
	for len(msg) > 0 {
		n := min(len(msg), echoWriteBuffer)
		if _, err := w.Write(msg[:n]); err != nil {
			return err
		}
		msg = msg[n:]
	}
	return w.Close()
}

// waitIdle waits until every conversation with the server has ended on
// its side.
func (s *echoPeer) waitIdle(t *testing.T) {
	t.Helper()
	waitFor(t, "the echo server to end its conversations", func() bool { return s.active.Load() == 0 })
}

// forwardProxy is a running "wstap proxy" without --upstream.
type forwardProxy struct {
	addr   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
}

// startForwardProxy runs "wstap proxy --listen 127.0.0.1:0" with args and
// the CA in configDir, and waits until it says where it listens. It is
// killed at the end of the test if it is still running.
func startForwardProxy(t *testing.T, configDir string, args ...string) *forwardProxy {
	t.Helper()
	p := &forwardProxy{stderr: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(wstapBinary, append([]string{"proxy", "--listen", "127.0.0.1:0"}, args...)...)
	// SSLKEYLOGFILE is emptied so that a developer's own setting does not
	// collect the test's keys.
	p.cmd.Env = append(os.Environ(), "WSTAP_CONFIG_DIR="+configDir, "SSLKEYLOGFILE=", "NO_COLOR=")
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("wstap proxy's stderr:\n%s", p.stderr.String())
		}
	})
	listening := regexp.MustCompile(`forward proxy on http://(\S+) `)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listening.FindStringSubmatch(p.stderr.String()); m != nil {
			p.addr = m[1]
			return p
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("wstap proxy exited before listening: %v\n%s", err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("wstap proxy did not say where it listens within 10 s:\n%s", p.stderr.String())
		}
	}
}

// stop ends the proxy as a user does, with SIGTERM, which makes it write
// its outputs; it must exit with status 0 within 10 s.
func (p *forwardProxy) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("wstap proxy after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("wstap proxy did not exit within 10 s of SIGTERM:\n%s", p.stderr.String())
	}
}

// dialThroughProxy opens a WebSocket to target through the forward proxy
// at proxyAddr, as a client that trusts wstap's CA. writeBuffer, if not
// zero, is the client's write buffer: a message larger than it goes out
// as several frames.
func dialThroughProxy(t *testing.T, proxyAddr, target string, wstapCA *ca.CA, compress bool, writeBuffer int) *websocket.Conn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(wstapCA.Certificate())
	d := websocket.Dialer{
		Proxy:             http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr}),
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		HandshakeTimeout:  10 * time.Second,
		EnableCompression: compress,
		WriteBufferSize:   writeBuffer,
	}
	c, _, err := d.Dial(target, nil)
	if err != nil {
		t.Fatalf("connecting to %s through the proxy: %v", target, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// plannedMessage is a message a test client sends: data (text or
// binary), which the echo server sends back, or a ping, which it answers
// with a pong.
type plannedMessage struct {
	opcode   int
	payload  []byte
	compress bool
}

// converse sends the plan, each message after the answer to the one
// before, and checks every echo. The pong to a ping is read on the way to
// the next echo, so a ping must not come last.
func converse(t *testing.T, c *websocket.Conn, plan []plannedMessage) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	pings, pongs := 0, 0
	c.SetPongHandler(func(string) error { pongs++; return nil })
	for i, m := range plan {
		if m.opcode == websocket.PingMessage {
			pings++
			if err := c.WriteControl(websocket.PingMessage, m.payload, time.Now().Add(5*time.Second)); err != nil {
				t.Fatalf("sending ping %d: %v", i, err)
			}
			continue
		}
		c.EnableWriteCompression(m.compress)
		if err := c.WriteMessage(m.opcode, m.payload); err != nil {
			t.Fatalf("sending message %d: %v", i, err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("reading the echo of message %d: %v", i, err)
		}
		if typ != m.opcode || !bytes.Equal(got, m.payload) {
			t.Fatalf("the echo of message %d (type %d, %d bytes) came back as type %d, %d bytes", i, m.opcode, len(m.payload), typ, len(got))
		}
	}
	if pongs != pings {
		t.Fatalf("%d pongs for %d pings", pongs, pings)
	}
}

// closeConversation does the client's half of the closing handshake
// (RFC 6455 5.5.1) with code 1000 and reason, and waits for the server's
// close and the end of the connection.
func closeConversation(t *testing.T, c *websocket.Conn, reason string) {
	t.Helper()
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), time.Now().Add(5*time.Second)); err != nil {
		t.Fatalf("sending the close: %v", err)
	}
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("waiting for the server's close: %v", err)
	}
	c.Close()
}

// wsMessage is a WebSocket message as the tests compare them: who sent
// it, its opcode, and its payload unmasked and inflated (for a close, the
// code and reason as on the wire).
type wsMessage struct {
	from    string // "client" or "server"
	opcode  int
	payload []byte
}

func (m wsMessage) String() string {
	p := m.payload
	if len(p) > 48 {
		p = append(p[:48:48], "..."...)
	}
	return fmt.Sprintf("%s opcode %d, %d bytes %q", m.from, m.opcode, len(m.payload), p)
}

// echoed is the conversation a plan makes with the echo server: each
// message from the client, then its echo (or, for a ping, the pong).
func echoed(plan []plannedMessage) []wsMessage {
	var out []wsMessage
	for _, m := range plan {
		answer := m.opcode
		if m.opcode == websocket.PingMessage {
			answer = websocket.PongMessage
		}
		out = append(out, wsMessage{"client", m.opcode, m.payload}, wsMessage{"server", answer, m.payload})
	}
	return out
}

// closeMessage is a close message from from with code and reason.
func closeMessage(from string, code int, reason string) wsMessage {
	return wsMessage{from, websocket.CloseMessage, append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)}
}

// byDirection splits a conversation into what the client sent and what
// the server sent.
func byDirection(msgs []wsMessage) (client, server []wsMessage) {
	for _, m := range msgs {
		if m.from == "client" {
			client = append(client, m)
		} else {
			server = append(server, m)
		}
	}
	return client, server
}

// sameMessages reports where got differs from want.
func sameMessages(t *testing.T, what string, got, want []wsMessage) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("%s: %d messages, want %d; missing from %d on: %v", what, len(got), len(want), i, want[i])
			return
		case i >= len(want):
			t.Errorf("%s: %d messages, want %d; extra from %d on: %v", what, len(got), len(want), i, got[i])
			return
		case got[i].from != want[i].from || got[i].opcode != want[i].opcode || !bytes.Equal(got[i].payload, want[i].payload):
			t.Errorf("%s: message %d is\n\t%v\nwant\n\t%v", what, i, got[i], want[i])
			return
		}
	}
}

// exportedMessages returns the messages of connection i of the JSON
// export.
func exportedMessages(t *testing.T, e jsonExport, i int) []wsMessage {
	t.Helper()
	var out []wsMessage
	for j, m := range e.Connections[i].Messages {
		var p []byte
		switch {
		case m.Text != nil:
			p = []byte(*m.Text)
		case m.Data != nil:
			var err error
			if p, err = base64.StdEncoding.DecodeString(*m.Data); err != nil {
				t.Fatalf("connection %s, message %d: %v", e.Connections[i].ID, j, err)
			}
		}
		out = append(out, wsMessage{m.From, m.Opcode, p})
	}
	return out
}

// connectionByURL returns the index of the one connection of the JSON
// export with url.
func connectionByURL(t *testing.T, e jsonExport, url string) int {
	t.Helper()
	found := -1
	for i, c := range e.Connections {
		if c.URL == url {
			if found >= 0 {
				t.Fatalf("two connections to %s in the JSON export", url)
			}
			found = i
		}
	}
	if found < 0 {
		var urls []string
		for _, c := range e.Connections {
			urls = append(urls, c.URL)
		}
		t.Fatalf("no connection to %s in the JSON export; it has %q", url, urls)
	}
	return found
}

// portOf is the port of a host:port address.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return mustAtoi(t, port)
}

// mustAtoi is the number s says.
func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pseudoText is n bytes of words in a fixed pseudo-random order: text
// that deflate shrinks, but not to a few bytes.
func pseudoText(seed uint64, n int) string {
	words := []string{"frame", "mask", "opcode", "deflate", "proxy", "tunnel", "handshake", "payload", "close", "ping", "fragment", "record"}
	r := rand.New(rand.NewPCG(seed, seed))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()[:n]
}

// pseudoBytes is n pseudo-random bytes, which deflate cannot shrink.
func pseudoBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// pcapngPlan is the -w test's conversation: text and binary, compressed
// and not, in one frame and in several, and a ping. No compressed message
// takes several frames (see echoCompressMax).
func pcapngPlan() []plannedMessage {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return []plannedMessage{
		{opcode: websocket.TextMessage, payload: []byte("pcapng text, compressed"), compress: true},
		{opcode: websocket.TextMessage, payload: []byte("pcapng text, as it is: ünïcödé ✓")},
		{opcode: websocket.BinaryMessage, payload: all},
		{opcode: websocket.BinaryMessage, payload: all, compress: true},
		{opcode: websocket.TextMessage, payload: []byte(pseudoText(1, 5000))},
		{opcode: websocket.TextMessage, payload: []byte(strings.Repeat("deflated to one frame; ", 200)), compress: true},
		{opcode: websocket.BinaryMessage, payload: pseudoBytes(3, 70000)},
		{opcode: websocket.PingMessage, payload: []byte("are you there?")},
		{opcode: websocket.TextMessage, payload: []byte("after the ping"), compress: true},
	}
}

// chromiumPlan is what the page sends: text, binary, and two large
// messages, which Chromium sends compressed in one frame (the random
// bytes past the 16-bit length, RFC 6455 5.2) and the server echoes in
// many.
func chromiumPlan() []plannedMessage {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return []plannedMessage{
		{opcode: websocket.TextMessage, payload: []byte("hello from chromium through wstap")},
		{opcode: websocket.BinaryMessage, payload: all},
		{opcode: websocket.TextMessage, payload: []byte(`{"type":"chat","text":"ünïcödé ✓ 日本語"}`)},
		{opcode: websocket.TextMessage, payload: []byte(pseudoText(4, 100000))},
		{opcode: websocket.BinaryMessage, payload: pseudoBytes(5, 70000)},
		{opcode: websocket.TextMessage, payload: []byte("the last one")},
	}
}

// chromiumPage serves the page Chromium loads, and holds the page's load
// event until its script is done: --dump-dom dumps the page once it has
// loaded, and the script's WebSockets would otherwise still be talking.
// The page's image /hold is answered only when the script fetches /done
// (or after holdLimit), so the load event comes after the result is in
// the DOM.
type chromiumPage struct {
	plan      []plannedMessage
	secureURL string
	done      chan struct{}
	once      sync.Once
}

// holdLimit bounds how long the page's load waits for its script.
const holdLimit = 30 * time.Second

// newChromiumPage is the page that sends plan to its own server over
// ws:// and to secureURL.
func newChromiumPage(plan []plannedMessage, secureURL string) *chromiumPage {
	return &chromiumPage{plan: plan, secureURL: secureURL, done: make(chan struct{})}
}

// pageScript talks to its own server over ws://, then to secureURL: it
// sends every message of the plan after the echo of the one before,
// checks each echo, closes with 1000 "page done", and writes a result per
// server into #result.
const pageScript = `
function bytesOf(b64) {
  const s = atob(b64), a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return a;
}
function payloadOf(m) { return m.text !== undefined ? m.text : bytesOf(m.binary); }
function sameAs(got, m) {
  if (m.text !== undefined) return got === m.text;
  if (!(got instanceof ArrayBuffer)) return false;
  const want = bytesOf(m.binary), g = new Uint8Array(got);
  return g.length === want.length && g.every((v, i) => v === want[i]);
}
function converse(url) {
  return new Promise((resolve) => {
    const out = {url: url, echoed: 0, error: "", closeCode: 0, clean: false};
    let ws;
    try { ws = new WebSocket(url); } catch (e) { out.error = String(e); resolve(out); return; }
    ws.binaryType = "arraybuffer";
    const timer = setTimeout(() => { out.error = "timed out"; resolve(out); }, 10000);
    let i = 0;
    ws.onopen = () => ws.send(payloadOf(plan[0]));
    ws.onmessage = (e) => {
      if (!sameAs(e.data, plan[i])) { out.error = "echo " + i + " differs"; ws.close(4000, "wrong echo"); return; }
      out.echoed = ++i;
      if (i < plan.length) ws.send(payloadOf(plan[i])); else ws.close(1000, "page done");
    };
    ws.onerror = () => { if (!out.error) out.error = "error event after " + i + " echoes"; };
    ws.onclose = (e) => { clearTimeout(timer); out.closeCode = e.code; out.clean = e.wasClean; resolve(out); };
  });
}
(async () => {
  const results = [];
  for (const u of targets) results.push(await converse(u));
  document.getElementById("result").textContent = JSON.stringify(results);
  try { await fetch("/done"); } catch (e) {}
})();
`

// pageHTML is the page, with the plan, secureURL and pageScript to fill
// in. The image holds the load event (see chromiumPage).
const pageHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>wstap proxy test</title></head><body>
<pre id="result">pending</pre>
<img src="/hold" alt="">
<script>
const plan = %s;
const targets = ["ws://" + location.host + "/echo", %s];
%s</script>
</body></html>
`

func (pg *chromiumPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		type item struct {
			Text   *string `json:"text,omitempty"`
			Binary []byte  `json:"binary,omitempty"`
		}
		var plan []item
		for _, m := range pg.plan {
			if m.opcode == websocket.TextMessage {
				s := string(m.payload)
				plan = append(plan, item{Text: &s})
			} else {
				plan = append(plan, item{Binary: m.payload})
			}
		}
		// json.Marshal escapes <, > and &, so the data cannot end the
		// script element.
		pj, _ := json.Marshal(plan)
		tj, _ := json.Marshal(pg.secureURL)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, pageHTML, pj, tj, pageScript)
	case "/hold":
		select {
		case <-pg.done:
		case <-time.After(holdLimit):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	case "/done":
		pg.once.Do(func() { close(pg.done) })
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// pageResult is what the page's script wrote for one target.
type pageResult struct {
	URL       string `json:"url"`
	Echoed    int    `json:"echoed"`
	Error     string `json:"error"`
	CloseCode int    `json:"closeCode"`
	Clean     bool   `json:"clean"`
}

// runChromiumPage loads pageURL in headless Chromium through the proxy,
// trusting wstap's CA by its SPKI hash only, and returns the results the
// page's script wrote into the DOM. On failure it shows Chromium's
// output.
func runChromiumPage(t *testing.T, chromium, proxyAddr, spki, pageURL string) []pageResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), holdLimit+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--user-data-dir="+t.TempDir(),
		// Chromium's own traffic (network time, component updates, sign-in)
		// would go through the proxy to the Internet: turned off, or sent
		// to a closed port on loopback.
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-features=NetworkTimeServiceQuerying",
		"--component-updater=url-source=http://127.0.0.1:9/", "--gaia-url=http://127.0.0.1:9/",
		"--proxy-server=http://"+proxyAddr,
		// Chromium sends nothing for loopback through a proxy unless told
		// to; the test's servers are on loopback.
		"--proxy-bypass-list=<-loopback>",
		"--ignore-certificate-errors-spki-list="+spki,
		"--dump-dom", pageURL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("chromium ran %v", time.Since(start).Round(time.Millisecond))
	m := regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`).FindSubmatch(stdout.Bytes())
	var results []pageResult
	if m == nil || json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &results) != nil || len(results) == 0 {
		t.Fatalf("chromium: %v; no result in the DOM:\n%s\nchromium's stderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	return results
}

// tcpdumpCapture is a running tcpdump writing a capture file.
type tcpdumpCapture struct {
	path   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
}

// startTcpdump captures the TCP traffic of ports on the loopback
// interface into path, writing each packet as it comes (-U,
// --immediate-mode), and waits until tcpdump listens. Capturing needs root
// or CAP_NET_RAW: without them the test is skipped, unless peers are
// required.
func startTcpdump(t *testing.T, tcpdump, path string, ports ...string) *tcpdumpCapture {
	t.Helper()
	filter := "tcp port " + strings.Join(ports, " or tcp port ")
	c := &tcpdumpCapture{path: path, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	// In immediate mode each packet takes a slot of the snapshot length
	// in the kernel's ring: 64 KiB (loopback's MTU). The defaults (256
	// KiB, 2 MiB) drop packets of a burst; 16 MiB (some 250 packets)
	// still dropped 22 of a conversation's 392 on a loaded machine. 128
	// MiB holds some 2,000: the whole conversation, however slowly
	// tcpdump writes it out.
	c.cmd = exec.Command(tcpdump, "-i", "lo", "-n", "-U", "--immediate-mode", "-s", "65600", "-B", "131072", "-w", path, filter)
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.stderr.String(), "listening on") {
		select {
		case err := <-c.exited:
			c.exited <- err
			msg := c.stderr.String()
			if os.Geteuid() != 0 && !testpeer.Required() && (strings.Contains(msg, "ermission") || strings.Contains(msg, "not permitted")) {
				t.Skipf("tcpdump cannot capture on lo without root or CAP_NET_RAW: %s", msg)
			}
			t.Fatalf("tcpdump exited: %v\n%s", err, msg)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start listening within 10 s:\n%s", c.stderr.String())
		}
	}
	return c
}

// stop waits until the capture file stops growing (the last packets of a
// conversation may still be on their way from the kernel), then stops
// tcpdump with SIGINT, which makes it flush and close the file.
func (c *tcpdumpCapture) stop(t *testing.T) {
	t.Helper()
	var last int64 = -1
	for stable, deadline := 0, time.Now().Add(5*time.Second); stable < 5 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		fi, err := os.Stat(c.path)
		if err == nil && fi.Size() == last {
			stable++
		} else {
			stable = 0
		}
		if err == nil {
			last = fi.Size()
		}
	}
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.exited:
		c.exited <- err
		if err != nil {
			t.Fatalf("tcpdump after SIGINT: %v\n%s", err, c.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("tcpdump did not exit within 10 s of SIGINT:\n%s", c.stderr.String())
	}
	if m := regexp.MustCompile(`(\d+) packets? dropped by kernel`).FindStringSubmatch(c.stderr.String()); m != nil && m[1] != "0" {
		t.Fatalf("tcpdump lost packets, so the capture cannot be checked:\n%s", c.stderr.String())
	}
}

// keyLogSessions counts the TLS sessions in an NSS key log: the distinct
// client randoms (the second word of each line).
func keyLogSessions(keyLog []byte) int {
	randoms := map[string]bool{}
	for _, line := range strings.Split(string(keyLog), "\n") {
		if f := strings.Fields(line); len(f) == 3 && !strings.HasPrefix(f[0], "#") {
			randoms[f[1]] = true
		}
	}
	return len(randoms)
}

// wireFrame is one WebSocket frame as tshark dissects it, between two TCP
// ports.
type wireFrame struct {
	src, dst int
	fin      bool
	opcode   int
	// payload is unmasked and inflated; tshark joins a fragmented message
	// and shows it on its final frame.
	payload []byte
}

// pdmlField and pdmlProto are the parts of tshark's PDML output these
// tests read. PDML keeps the protocols of a packet in order, so a binary
// payload (which tshark shows as a "data" protocol after the WebSocket
// one) is found after the frame it belongs to, even with several frames in
// one packet; -T fields and -T json cannot tell those apart.
type pdmlField struct {
	Name   string      `xml:"name,attr"`
	Show   string      `xml:"show,attr"`
	Value  string      `xml:"value,attr"`
	Fields []pdmlField `xml:"field"`
}

type pdmlProto struct {
	Name   string      `xml:"name,attr"`
	Fields []pdmlField `xml:"field"`
}

// pdmlFind returns the first field named name among fields and theirs,
// or nil.
func pdmlFind(fields []pdmlField, name string) *pdmlField {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
		if f := pdmlFind(fields[i].Fields, name); f != nil {
			return f
		}
	}
	return nil
}

// tsharkWebSocketFrames runs tshark on a capture with opts (preferences,
// "decode as") and returns every WebSocket frame it dissects, in order.
func tsharkWebSocketFrames(t *testing.T, tshark, path string, opts ...string) []wireFrame {
	t.Helper()
	args := append([]string{"-r", path, "-n"}, opts...)
	cmd := exec.Command(tshark, append(args, "-Y", "websocket", "-T", "pdml")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var frames []wireFrame
	dec := xml.NewDecoder(bytes.NewReader(out))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatalf("tshark's PDML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "packet" {
			continue
		}
		var packet struct {
			Protos []pdmlProto `xml:"proto"`
		}
		if err := dec.DecodeElement(&packet, &se); err != nil {
			t.Fatalf("tshark's PDML: %v", err)
		}
		var src, dst int
		first := len(frames)
		for _, p := range packet.Protos {
			switch p.Name {
			case "tcp":
				src, dst = pdmlInt(t, p.Fields, "tcp.srcport"), pdmlInt(t, p.Fields, "tcp.dstport")
			case "websocket":
				frames = append(frames, wireFrame{
					src: src, dst: dst,
					fin:     pdmlInt(t, p.Fields, "websocket.fin") == 1,
					opcode:  pdmlInt(t, p.Fields, "websocket.opcode"),
					payload: pdmlPayload(t, p.Fields),
				})
			default:
				// A binary payload follows its frame.
				if n := len(frames); n > first && frames[n-1].payload == nil {
					if d := pdmlFind(p.Fields, "data.data"); d != nil {
						frames[n-1].payload = unhexPDML(t, d.Value)
					}
				}
			}
		}
	}
}

// pdmlInt is the number field name shows.
func pdmlInt(t *testing.T, fields []pdmlField, name string) int {
	t.Helper()
	f := pdmlFind(fields, name)
	if f == nil {
		t.Fatalf("tshark's PDML: no %s", name)
	}
	n, err := strconv.ParseInt(f.Show, 0, 64)
	if err != nil {
		t.Fatalf("tshark's PDML: %s: %v", name, err)
	}
	return int(n)
}

// pdmlPayload is the payload of a WebSocket frame as tshark shows it in
// the frame itself: text, a close's code and reason, a ping's or pong's
// bytes, or binary data; nil when it is shown after the frame or not at
// all.
func pdmlPayload(t *testing.T, fields []pdmlField) []byte {
	t.Helper()
	if f := pdmlFind(fields, "websocket.payload.text"); f != nil {
		return []byte(f.Show)
	}
	if f := pdmlFind(fields, "websocket.payload.close.status_code"); f != nil {
		p := binary.BigEndian.AppendUint16(nil, uint16(pdmlInt(t, fields, "websocket.payload.close.status_code")))
		if r := pdmlFind(fields, "websocket.payload.close.reason"); r != nil {
			p = append(p, r.Show...)
		}
		return p
	}
	for _, name := range []string{"websocket.payload.ping", "websocket.payload.pong", "data.data"} {
		if f := pdmlFind(fields, name); f != nil {
			return unhexPDML(t, f.Value)
		}
	}
	return nil
}

func unhexPDML(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("tshark's PDML: %v", err)
	}
	return b
}

// wireConversation is one connection as tshark sees it: the client's
// port and the messages both sides sent.
type wireConversation struct {
	clientPort int
	messages   []wsMessage
}

// wireConversations joins tshark's frames into messages, per connection,
// as the JSON export lists them: a data message when its final frame
// comes, with the opcode of its first, and control frames as they come.
// Connections are told apart by their server's port (each test makes one
// connection per server port); the side whose destination is that port
// is the client.
func wireConversations(t *testing.T, frames []wireFrame, serverPorts ...int) map[int]*wireConversation {
	t.Helper()
	out := map[int]*wireConversation{}
	opcode := map[[2]int]int{} // of the message in progress, per direction
	for _, f := range frames {
		server, from := f.dst, "client"
		if !slices.Contains(serverPorts, server) {
			server, from = f.src, "server"
		}
		if !slices.Contains(serverPorts, server) {
			t.Fatalf("tshark: a WebSocket frame between ports %d and %d, which the test did not use", f.src, f.dst)
		}
		client := f.src + f.dst - server
		c := out[server]
		if c == nil {
			c = &wireConversation{clientPort: client}
			out[server] = c
		}
		if c.clientPort != client {
			t.Fatalf("tshark: two connections to port %d (from ports %d and %d)", server, c.clientPort, client)
		}
		dir := [2]int{f.src, f.dst}
		switch {
		case f.opcode >= 8:
			c.messages = append(c.messages, wsMessage{from, f.opcode, f.payload})
			continue
		case f.opcode != 0:
			opcode[dir] = f.opcode
		}
		if f.fin {
			c.messages = append(c.messages, wsMessage{from, opcode[dir], f.payload})
		}
	}
	for _, port := range serverPorts {
		if out[port] == nil {
			t.Fatalf("tshark finds no WebSocket frame to or from port %d", port)
		}
	}
	return out
}

// tsharkProblems returns what tshark finds wrong in a capture, one line
// per packet: a malformed packet, an expert info of warning severity or
// worse (a bad checksum, a failed decompression among them), or a flag of
// its TCP analysis (a retransmission, a lost segment, a window problem).
// It dissects twice (-2), so that the TCP analysis knows each stream as a
// whole.
func tsharkProblems(t *testing.T, tshark, path string, opts ...string) []string {
	t.Helper()
	args := append([]string{"-r", path, "-n", "-2", "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"}, opts...)
	args = append(args, "-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000 || tcp.analysis.flags",
		"-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message", "-e", "tcp.analysis.flags")
	cmd := exec.Command(tshark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}
