//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
	"golang.org/x/sys/unix"
)

// requireCaptureRights skips the test when this process may not capture
// packets (root or CAP_NET_RAW): a right, not a program to install.
func requireCaptureRights(t *testing.T) {
	t.Helper()
	l, err := capture.OpenLive("lo")
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		t.Skipf("capturing needs root or CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

// echoServer is a gorilla WebSocket echo server on loopback.
func echoServer(t *testing.T) (*httptest.Server, int) {
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	t.Cleanup(srv.Close)
	return srv, srv.Listener.Addr().(*net.TCPAddr).Port
}

// talk holds a short WebSocket conversation with the server.
func talk(t *testing.T, srv *httptest.Server, msgs ...string) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/talk", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		c.WriteMessage(websocket.TextMessage, []byte(m))
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4100, "bye"), time.Now().Add(time.Second))
	c.ReadMessage()
	c.Close()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestCaptureCommand runs "wstap capture -i lo" with a filter, --json and
// --write around a real conversation, stops it as a signal would, and
// checks both files.
func TestCaptureCommand(t *testing.T) {
	requireCaptureRights(t)
	srv, port := echoServer(t)
	other, _ := echoServer(t)
	dir := t.TempDir()
	js, pcapng := filepath.Join(dir, "live.json"), filepath.Join(dir, "live.pcapng")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		// The filter as tcpdump takes it: the words after the flags.
		done <- runContext(ctx, []string{"capture", "-i", "lo", "--json", js, "-w", pcapng, "tcp", "port", fmt.Sprint(port)}, nil, &stdout, &stderr)
	}()
	waitFor(t, "the capture to start", func() bool { return strings.Contains(stderr.String(), "capturing on lo") })
	talk(t, srv, "one", "two", "three")
	talk(t, other, "not", "selected")
	time.Sleep(500 * time.Millisecond) // the capture reads what the socket holds
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "1 connection, 8 messages") {
		t.Errorf("summary: %q", stderr.String())
	}
	e := loadExport(t, js)
	if len(e.Connections) != 1 || len(e.Connections[0].Messages) != 8 || e.Connections[0].Close.Code != 4100 {
		t.Fatalf("export: %+v", e.Connections)
	}
	// The packets written to pcapng read back to the same conversation.
	again := filepath.Join(dir, "again.json")
	if code, _, errs := cmdRun(t, nil, "read", "--json", again, pcapng); code != 0 {
		t.Fatalf("reading the written capture: exit %d: %s", code, errs)
	}
	e2 := loadExport(t, again)
	if len(e2.Connections) != 1 || len(e2.Connections[0].Frames) != len(e.Connections[0].Frames) {
		t.Errorf("the written capture has %d connections", len(e2.Connections))
	}
}

// TestTcpdumpPipe: "tcpdump -w - | wstap read -" decodes the conversation
// tcpdump captures, as it streams.
func TestTcpdumpPipe(t *testing.T) {
	tcpdump := requirePeer(t, "tcpdump")
	requireCaptureRights(t)
	srv, port := echoServer(t)
	cmd := exec.Command(tcpdump, "-i", "lo", "-U", "--immediate-mode", "-w", "-", fmt.Sprintf("tcp port %d", port))
	var tdErr syncBuffer
	cmd.Stderr = &tdErr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pipe.json")
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"read", "--json", out, "-"}, pipe, &stdout, &stderr)
	}()
	waitFor(t, "tcpdump to listen", func() bool { return strings.Contains(tdErr.String(), "listening on") })
	talk(t, srv, "piped")
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	e := loadExport(t, out)
	if len(e.Connections) != 1 || len(e.Connections[0].Messages) != 4 || *e.Connections[0].Messages[0].Text != "piped" {
		t.Fatalf("export: %+v (tcpdump: %s)", e.Connections, tdErr.String())
	}
}

// TestReadJSONToPipe: --json to a named pipe (or a device such as
// /dev/null) writes into it; it is not replaced by a renamed file.
func TestReadJSONToPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "out.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	code, _, stderr := cmdRun(t, nil, "read", "--json", fifo, "samples/gorilla-deflate.pcap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b := <-got
	if !bytes.Contains(b, []byte(`"connections"`)) || !bytes.Contains(b, []byte(`"not compressed"`)) {
		t.Errorf("the pipe received %d bytes: %.200s", len(b), b)
	}
	if st, err := os.Stat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the pipe was replaced: %v %v", st.Mode(), err)
	}
}
