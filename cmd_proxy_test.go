package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// proxyTestUpstream is a gorilla echo server with permessage-deflate that
// answers GET /plain with a plain HTTP body.
func proxyTestUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/plain" {
			io.WriteString(w, "plain answer")
			return
		}
		echoHandler(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestProxyCommandSignal runs "wstap proxy" as a process, sends a
// WebSocket conversation and a plain HTTP request through it, leaves a
// second WebSocket connection open, stops it with SIGTERM and checks the
// JSON and HAR files it wrote.
func TestProxyCommandSignal(t *testing.T) {
	upstream := proxyTestUpstream(t)
	dir := t.TempDir()
	jsonPath, harPath := filepath.Join(dir, "s.json"), filepath.Join(dir, "s.har")
	cmd := exec.Command(wstapBinary, "proxy", "--listen", "127.0.0.1:0", "--upstream", "ws://"+upstream+"/ignored", "--json", jsonPath, "--har", harPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addrc := make(chan string, 1)
	var rest bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		listening := regexp.MustCompile(`listening on wss?://(\S+),`)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			} else {
				rest.WriteString(sc.Text() + "\n")
			}
		}
		exited <- cmd.Wait()
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy did not say where it listens")
	}

	// A conversation that ends before the signal.
	c, _, err := (&websocket.Dialer{EnableCompression: true}).Dial("ws://"+addr+"/chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, m := range []string{"first message", "second message"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != m {
			t.Fatalf("echo of %q through the proxy: %q, %v", m, got, err)
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
	c.ReadMessage()
	c.Close()

	// A plain HTTP request.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := hc.Get("http://" + addr + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "plain answer" {
		t.Fatalf("plain body through the proxy: %q", body)
	}

	// A connection still open at the signal.
	open, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/open", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.SetReadDeadline(time.Now().Add(10 * time.Second))
	open.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if _, got, err := open.ReadMessage(); err != nil || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("echo on the open connection: %v, %v", got, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("wstap proxy after SIGTERM: %v\n%s", err, rest.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wstap proxy did not exit within 10 s of SIGTERM")
	}

	e := loadExport(t, jsonPath)
	texts := map[string]bool{}
	var binary, closed bool
	for _, c := range e.Connections {
		for _, m := range c.Messages {
			if m.Text != nil {
				texts[m.From+":"+*m.Text] = true
			}
			if m.Data != nil && *m.Data == "AQID" && m.From == "server" {
				binary = true
			}
		}
		if c.Close != nil && c.Close.Code == 1000 && c.Close.Reason == "bye" {
			closed = true
		}
	}
	for _, want := range []string{"client:first message", "server:first message", "client:second message", "server:second message"} {
		if !texts[want] {
			t.Errorf("JSON export lacks %q; has %v", want, texts)
		}
	}
	if !binary || !closed {
		t.Errorf("JSON export: binary echo on the open connection %v, close 1000 %v", binary, closed)
	}

	var har struct {
		Log struct {
			Entries []struct {
				Request struct {
					Method string `json:"method"`
					URL    string `json:"url"`
				} `json:"request"`
				Response struct {
					Status int `json:"status"`
				} `json:"response"`
				Messages []struct {
					Type string `json:"type"`
					Data string `json:"data"`
				} `json:"_webSocketMessages"`
			} `json:"entries"`
		} `json:"log"`
	}
	b, err := os.ReadFile(harPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &har); err != nil {
		t.Fatalf("HAR: %v", err)
	}
	var plain, ws bool
	for _, en := range har.Log.Entries {
		if strings.HasSuffix(en.Request.URL, "/plain") && en.Request.Method == "GET" && en.Response.Status == 200 && len(en.Messages) == 0 {
			plain = true
		}
		if strings.HasSuffix(en.Request.URL, "/chat") && en.Response.Status == 101 && len(en.Messages) > 0 && en.Messages[0].Type == "send" && en.Messages[0].Data == "first message" {
			ws = true
		}
	}
	if !plain || !ws {
		t.Errorf("HAR: plain HTTP entry %v, WebSocket entry %v; entries: %s", plain, ws, b)
	}
}

// TestProxyCommandUsage checks the errors of a wrong command line.
func TestProxyCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"proxy", "--upstream", "ftp://example.com"}, `unknown scheme "ftp"`},
		{[]string{"proxy", "--upstream", "nohostport"}, "want ws://HOST:PORT"},
		{[]string{"proxy", "--listen-tls"}, "--listen-tls is for the reverse proxy"},
		{[]string{"proxy", "--rewrite-host"}, "--rewrite-host is for the reverse proxy"},
		{[]string{"proxy", "--upstream", "ws://a:1", "--passthrough", "x"}, "--passthrough is for the forward proxy"},
		{[]string{"proxy", "--insecure-upstream", "--upstream-ca", "x.pem"}, "not both"},
		{[]string{"proxy", "--max-conns", "0"}, "--max-conns 0"},
		{[]string{"proxy", "--handshake-timeout", "0s"}, "--handshake-timeout"},
		{[]string{"proxy", "--listen", "8080"}, "want HOST:PORT"},
		{[]string{"proxy", "extra"}, "takes no arguments"},
	} {
		code, _, errOut := cmdRun(t, nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	for in, want := range map[string]string{
		"ws://127.0.0.1:9000/x":   "ws://127.0.0.1:9000/x",
		"WSS://example.com":       "wss://example.com",
		"http://localhost":        "http://localhost",
		"[::1]:81":                "ws://[::1]:81",
		"127.0.0.1:7":             "ws://127.0.0.1:7",
		"https://example.com:444": "https://example.com:444",
	} {
		if got, err := upstreamURL(in); err != nil || got.String() != want {
			t.Errorf("upstreamURL(%q) = %v, %v; want %q", in, got, err, want)
		}
	}
}

// b64 is how the JSON export shows a payload that is not text.
func b64(s string) string { return "base64:" + base64.StdEncoding.EncodeToString([]byte(s)) }

// TestDemoOnce runs "wstap demo --once --json FILE" and checks that the
// export holds the scripted conversation.
func TestDemoOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.json")
	code, _, errOut := cmdRun(t, nil, "demo", "--once", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	e := loadExport(t, path)
	if len(e.Connections) != 1 {
		t.Fatalf("%d connections, want 1", len(e.Connections))
	}
	c := e.Connections[0]
	// Through the forward proxy's CONNECT tunnel, with TLS intercepted.
	if !strings.HasPrefix(c.URL, "wss://localhost:") || !strings.HasSuffix(c.URL, "/echo") || !strings.Contains(c.Extensions, "permessage-deflate") {
		t.Errorf("url %q, extensions %q; want wss://localhost:PORT/echo with permessage-deflate", c.URL, c.Extensions)
	}
	var pushes []string
	for _, m := range c.Messages {
		if m.From == "server" && m.Text != nil && strings.Contains(*m.Text, `"type":"`) && !strings.Contains(*m.Text, "chat") {
			pushes = append(pushes, *m.Text)
		}
	}
	wantPushes := []string{`{"type":"welcome","server":"wstap demo"}`, `{"type":"push","seq":1}`, `{"type":"push","seq":2}`, `{"type":"push","seq":3}`}
	if strings.Join(pushes, " ") != strings.Join(wantPushes, " ") {
		t.Errorf("server pushes %q, want %q", pushes, wantPushes)
	}
	var client []string
	fragmented, compressed := false, false
	for _, m := range c.Messages {
		if m.From != "client" {
			continue
		}
		switch {
		case m.Text != nil:
			client = append(client, *m.Text)
		case m.Data != nil:
			client = append(client, "base64:"+*m.Data)
		}
		fragmented = fragmented || len(m.Frames) > 1
		compressed = compressed || m.Compressed
	}
	want := []string{"hello through wstap", "base64:AAECf4D+/w==", `{"type":"chat","text":"ünïcödé ✓"}`, demoFragmented, "subscribe", b64("are you there?"), "still here", b64("\x03\xe8demo done")}
	if strings.Join(client, "\n") != strings.Join(want, "\n") {
		t.Errorf("client messages:\n%q\nwant\n%q", client, want)
	}
	if !fragmented || !compressed {
		t.Errorf("fragmented %v, compressed %v: the script has both", fragmented, compressed)
	}
	var opcodes []int
	for _, m := range c.Messages {
		if m.Opcode >= 8 {
			opcodes = append(opcodes, m.Opcode)
		}
	}
	if len(opcodes) != 4 || opcodes[0] != 9 || opcodes[1] != 10 || opcodes[2] != 8 || opcodes[3] != 8 {
		t.Errorf("control messages %v, want ping, pong, close, close", opcodes)
	}
	if c.Close == nil || c.Close.Code != 1000 || c.Close.From != "client" || c.Close.Reason != "demo done" {
		t.Errorf("close %+v, want 1000 from the client", c.Close)
	}
	if len(c.Problems) != 0 {
		t.Errorf("problems in the demo: %+v", c.Problems)
	}
}

// TestProxyFDLimit runs the proxy with a limit of 256 file descriptors and
// sends it 300 clients that trickle half a request: it runs out of
// descriptors, waits that out with a warning instead of exiting, closes
// the tricklers at the handshake timeout, and then serves a normal client.
func TestProxyFDLimit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the descriptor limit is set with the shell's ulimit on Linux")
	}
	upstream := proxyTestUpstream(t)
	jsonPath := filepath.Join(t.TempDir(), "s.json")
	// The hard limit too: Go raises the soft limit to the hard one at
	// start.
	cmd := exec.Command("sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, wstapBinary, "proxy", "--listen", "127.0.0.1:0",
		"--upstream", "ws://"+upstream, "--handshake-timeout", "1s", "--json", jsonPath)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := ""
	listening := regexp.MustCompile(`listening on ws://(\S+),`)
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the proxy did not say where it listens: %s", stderr.String())
		}
	}

	const tricklers = 300
	var wg sync.WaitGroup
	var dialFailed atomic.Int32
	for range tricklers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				dialFailed.Add(1)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c, "GET /slow HTTP/1.1\r\nHo")
			// Read until the proxy closes; a byte now and then.
			go func() {
				for range 60 {
					time.Sleep(200 * time.Millisecond)
					if _, err := c.Write([]byte("s")); err != nil {
						return
					}
				}
			}()
			io.Copy(io.Discard, c)
		}()
	}
	wg.Wait()
	if n := dialFailed.Load(); n != 0 {
		t.Errorf("%d trickling clients could not connect at all", n)
	}
	select {
	case err := <-exited:
		t.Fatalf("the proxy exited under the descriptor limit: %v\n%s", err, stderr.String())
	default:
	}
	if !strings.Contains(stderr.String(), "too many open files") {
		t.Errorf("no warning about the descriptors; stderr:\n%s", stderr.String())
	}

	// A normal client afterwards.
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/after", nil)
	if err != nil {
		t.Fatalf("a client after the tricklers: %v\n%s", err, stderr.String())
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.WriteMessage(websocket.TextMessage, []byte("still serving"))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "still serving" {
		t.Fatalf("echo after the tricklers: %q, %v", got, err)
	}
	c.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("wstap proxy after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wstap proxy did not exit within 10 s of SIGTERM")
	}
	e := loadExport(t, jsonPath)
	if len(e.Connections) != 1 || !strings.HasSuffix(e.Connections[0].URL, "/after") {
		t.Errorf("%d connections recorded, want the normal client's only", len(e.Connections))
	}
}

// TestLoopbackListen: only a loopback listener goes without the warning.
func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:1": true, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.1:80": false} {
		ta, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := loopback(ta); got != want {
			t.Errorf("loopback(%s) = %v, want %v", addr, got, want)
		}
	}
}
