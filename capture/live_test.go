//go:build linux

package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/decode"
	"golang.org/x/sys/unix"
)

// openLoopback opens a live capture on lo, or skips the test when this
// process may not capture (it needs root or CAP_NET_RAW, which is not a
// program that could be installed).
func openLoopback(t *testing.T) *Live {
	t.Helper()
	l, err := OpenLive("lo")
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLiveCapture captures real peers on loopback: a gorilla WebSocket
// client and server, and next to them a plain TCP connection carrying
// random bytes. The WebSocket conversation is decoded as it happens, the
// other connection is not reported, and the packets written to pcapng
// decode to the same frames.
func TestLiveCapture(t *testing.T) {
	live := openLoopback(t)
	defer live.Close()

	srv := httptest.NewServer(echoWS(&websocket.Upgrader{}, "echo: "))
	defer srv.Close()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	go func() {
		c, err := raw.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	wsPort := srv.Listener.Addr().(*net.TCPAddr).Port
	rawPort := raw.Addr().(*net.TCPAddr).Port
	filter, err := ParseFilter(fmt.Sprintf("host 127.0.0.1 and (port %d or port %d)", wsPort, rawPort))
	if err != nil {
		t.Fatal(err)
	}

	var conns []*decode.Connection
	var pcapng bytes.Buffer
	w, err := NewPcapngWriter(&pcapng, "lo", live.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{}, 1)
	tr := NewTracker(Options{Source: "live", Filter: filter, Done: func(c *decode.Connection) {
		conns = append(conns, c)
		select {
		case ended <- struct{}{}:
		default:
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- Run(ctx, live, tr, RunOptions{Tee: w.Write}) }()

	// The plain TCP connection: bytes no protocol wstap knows.
	rc, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 40000)
	for i := range junk {
		junk[i] = byte(i*7919 + i>>3)
	}
	go rc.Write(junk)
	io.ReadFull(rc, make([]byte, len(junk)))
	rc.Close()

	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/live?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := []string{"first", strings.Repeat("long ", 100), "héllo ✓"}
	for _, m := range sent {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "echo: "+m {
			t.Fatalf("echo %q, %v", got, err)
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
	c.ReadMessage() // the server's close
	c.Close()
	// The connection is handed out when both FINs were captured.
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Error("the connection did not end in the capture")
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	if len(conns) != 1 {
		t.Fatalf("%d connections reported, want the WebSocket one only", len(conns))
	}
	got := conns[0]
	if got.Source != "live" || got.URL != fmt.Sprintf("ws://127.0.0.1:%d/live?x=1", wsPort) || got.Close == nil || got.Close.Code != 1000 {
		t.Errorf("connection: source %q, URL %q, close %+v", got.Source, got.URL, got.Close)
	}
	var texts []string
	for _, m := range got.Messages {
		if m.Opcode == decode.OpText {
			texts = append(texts, m.From.String()+": "+string(m.Payload))
		}
	}
	var want []string
	for _, m := range sent {
		want = append(want, "client: "+m, "server: echo: "+m)
	}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}

	// The raw packets kept in pcapng decode the same, and loopback
	// packets were kept once, not once leaving and once arriving.
	file := pcapng.Bytes()
	again := decodeCapture(t, "written", file, Options{})
	if len(again.conns) != 1 || joinLines(frameSigs(again.conns[0])) != joinLines(frameSigs(got)) {
		t.Fatalf("the written capture decodes to %d connections with other frames", len(again.conns))
	}
	cf := parseCapFile(t, file)
	seen := map[string]bool{}
	for _, s := range cf.segments() {
		k := fmt.Sprint(s.src, s.dst, s.seq, s.n, s.flags)
		if s.n > 0 && seen[k] {
			t.Fatalf("segment %s was captured twice", k)
		}
		seen[k] = true
	}
}

// TestOpenLiveErrors: a missing interface is an error that names it.
func TestOpenLiveErrors(t *testing.T) {
	_, err := OpenLive("no-such-if0")
	if err == nil || !strings.Contains(err.Error(), "no-such-if0") {
		t.Fatalf("error %v does not name the interface", err)
	}
}
