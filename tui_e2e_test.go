package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// tmuxTerm is a terminal that tmux gives a real wstap process: the tests
// type keys into it and read the screen back, as a user would see it.
type tmuxTerm struct {
	t      *testing.T
	tmux   string
	socket string
}

// startTmux runs command (a shell command line) in a detached tmux
// session of 120x40 on a server of its own.
func startTmux(t *testing.T, command string) *tmuxTerm {
	t.Helper()
	tm := &tmuxTerm{t: t, tmux: requirePeer(t, "tmux"), socket: fmt.Sprintf("wstap-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	out, err := exec.Command(tm.tmux, "-L", tm.socket, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", command).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(tm.tmux, "-L", tm.socket, "kill-server").Run() })
	return tm
}

// screen returns what the pane shows.
func (tm *tmuxTerm) screen() string {
	out, err := exec.Command(tm.tmux, "-L", tm.socket, "capture-pane", "-p").Output()
	if err != nil {
		tm.t.Fatalf("capture-pane: %v", err)
	}
	return string(out)
}

// keys types keys (tmux key names: Enter, Escape, Up, Tab, or text).
func (tm *tmuxTerm) keys(keys ...string) {
	tm.t.Helper()
	args := append([]string{"-L", tm.socket, "send-keys"}, keys...)
	if out, err := exec.Command(tm.tmux, args...).CombinedOutput(); err != nil {
		tm.t.Fatalf("send-keys %q: %v: %s", keys, err, out)
	}
}

// text types text literally.
func (tm *tmuxTerm) text(s string) {
	tm.t.Helper()
	if out, err := exec.Command(tm.tmux, "-L", tm.socket, "send-keys", "-l", s).CombinedOutput(); err != nil {
		tm.t.Fatalf("send-keys -l %q: %v: %s", s, err, out)
	}
}

// waitFor waits until the screen satisfies ok.
func (tm *tmuxTerm) waitFor(what string, ok func(string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := tm.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("waiting for %s; the screen:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitText waits until the screen shows every one of texts.
func (tm *tmuxTerm) waitText(texts ...string) string {
	tm.t.Helper()
	return tm.waitFor(strings.Join(texts, ", "), func(s string) bool {
		for _, x := range texts {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	})
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestUIReadSample runs "wstap read" on a sample in a terminal: the
// connections and messages show, a filter applies, a payload opens, an
// export from the UI is a valid file, and quitting leaves the terminal
// as it was (out of the alternate screen, line mode, echo on).
func TestUIReadSample(t *testing.T) {
	dir := t.TempDir()
	sample, err := filepath.Abs("samples/violations.pcap")
	if err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(dir, "status")
	cmd := fmt.Sprintf("cd %s && %s read %s; echo $? > status; stty -a > stty; echo SHELL-AGAIN; sleep 60",
		shellQuote(dir), shellQuote(wstapBinary), shellQuote(sample))
	tm := startTmux(t, cmd)
	tm.waitText("Connections 2", "ws://127.0.0.1:9107/clean", "ws://127.0.0.1:9107/violations", "everything is read")

	// The filter bar: a bad filter says where, a good one applies.
	tm.text("/size>abc")
	tm.waitText("^^^ at 5: size takes a number of bytes")
	tm.keys("C-u")
	tm.text("binary or invalid")
	tm.keys("Enter")
	s := tm.waitText("Connections 1 · filter: binary or invalid", "(filtered)")
	if strings.Contains(s, "/clean") || strings.Contains(s, "hello, a valid frame") {
		t.Errorf("the filter left what it does not select:\n%s", s)
	}
	// Open the binary message's payload: a hex dump.
	tm.keys("Tab")
	tm.keys("Enter")
	tm.waitText("message 2", "00000000  00 01 02 03 fe ff")
	// Back to the timeline, down to the invalid text: its bad bytes
	// marked.
	// (Esc alone: an escape followed at once by the arrow's sequence
	// reads as alt+arrow, in any terminal program.)
	tm.keys("Escape")
	time.Sleep(100 * time.Millisecond)
	tm.keys("Down", "Down")
	tm.waitText(`not UTF-8: \xc3( \xff`)

	// Export the view from the UI.
	tm.text("e")
	tm.waitText("export the view to:")
	tm.text("view.json")
	tm.keys("Enter")
	tm.waitText("exported the view (1 connection) as JSON to view.json")
	var doc struct {
		Connections []struct {
			ID       string `json:"id"`
			Messages []struct {
				Opcode int `json:"opcode"`
			} `json:"messages"`
		} `json:"connections"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "view.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Connections) != 1 || len(doc.Connections[0].Messages) != 4 {
		t.Fatalf("view.json: %v, %+v", err, doc)
	}
	// Never over the input.
	tm.text("E")
	tm.text(sample)
	tm.keys("Enter")
	tm.waitText("name the file .har, .json or .ndjson")
	tm.keys("Escape")
	time.Sleep(100 * time.Millisecond)

	tm.text("q")
	s = tm.waitText("SHELL-AGAIN")
	if strings.Contains(s, "Connections") || !strings.Contains(s, "wstap read: 2 connections, 18 messages, 6 problems") {
		t.Errorf("after quitting, the screen shows:\n%s", s)
	}
	st, _ := os.ReadFile(status)
	if strings.TrimSpace(string(st)) != "0" {
		t.Errorf("exit status %q, want 0", st)
	}
	stty, _ := os.ReadFile(filepath.Join(dir, "stty"))
	for _, mode := range []string{" icanon", " echo ", " icrnl"} {
		if !strings.Contains(" "+strings.ReplaceAll(string(stty), "\n", " ")+" ", mode) {
			t.Errorf("the terminal is not restored: no %q in\n%s", mode, stty)
		}
	}
}

// TestUIProxyFollow runs "wstap proxy" in a terminal with live traffic
// through it: following keeps the newest message in view; after the user
// moves up it stays where it is and counts the new ones; f follows again.
// SIGTERM ends it with the terminal restored.
func TestUIProxyFollow(t *testing.T) {
	upstream := proxyTestUpstream(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	// The inner shell writes its process id and becomes wstap, so that
	// the test signals exactly that process.
	inner := fmt.Sprintf("echo $$ > pid; exec %s proxy --listen %s --upstream ws://%s/", shellQuote(wstapBinary), listen, upstream)
	cmd := fmt.Sprintf("cd %s && sh -c %s; echo $? > status; stty -a > stty; echo SHELL-AGAIN; sleep 60",
		shellQuote(dir), shellQuote(inner))
	tm := startTmux(t, cmd)
	tm.waitText("wstap proxy", "listening on ws://"+listen)

	var c *websocket.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		u := url.URL{Scheme: "ws", Host: listen, Path: "/chat"}
		if c, _, err = websocket.DefaultDialer.Dial(u.String(), nil); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dialing the proxy: %v", err)
	}
	defer c.Close()
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "live message %03d", i)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, 60)
	tm.keys("Tab") // the keys to the timeline
	// Following: the newest (the echo of 59) is in view, the first is not.
	s := tm.waitText("live message 059", "following")
	if strings.Contains(s, "live message 000") {
		t.Errorf("the first message is still in view:\n%s", s)
	}
	tm.keys("Up")
	time.Sleep(200 * time.Millisecond)
	send(60, 70)
	s = tm.waitText("20 new ↓")
	if strings.Contains(s, "live message 069") {
		t.Errorf("after moving up the newest came into view:\n%s", s)
	}
	tm.text("f")
	tm.waitText("live message 069", "following")

	// SIGTERM: the proxy stops, the terminal is restored.
	pid, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err != nil {
		t.Fatalf("pid file: %q", pid)
	}
	if err := syscall.Kill(n, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s = tm.waitText("SHELL-AGAIN")
	if strings.Contains(s, "Connections") {
		t.Errorf("after SIGTERM the UI is still on the screen:\n%s", s)
	}
	stty, _ := os.ReadFile(filepath.Join(dir, "stty"))
	if !strings.Contains(string(stty), " icanon") || !strings.Contains(string(stty), " echo ") {
		t.Errorf("the terminal is not restored after SIGTERM:\n%s", stty)
	}
}

// screenEscapes returns what the pane shows with its attributes, as SGR
// escape sequences (capture-pane -e).
func (tm *tmuxTerm) screenEscapes() string {
	out, err := exec.Command(tm.tmux, "-L", tm.socket, "capture-pane", "-p", "-e").Output()
	if err != nil {
		tm.t.Fatalf("capture-pane -e: %v", err)
	}
	return string(out)
}

// colorSGR matches an SGR sequence that sets a foreground or background
// color (30-37, 38;..., 39 is the default, 40-47, 48;..., 90-97,
// 100-107), wherever it stands among the sequence's parameters.
var colorSGR = regexp.MustCompile(`\x1b\[(?:[0-9]*;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9]*)*m`)

// TestUINoColor: with NO_COLOR the UI draws no color at all, and still
// marks the selection (reverse video); without it, it draws colors (so
// that the check can fail).
func TestUINoColor(t *testing.T) {
	sample, err := filepath.Abs("samples/violations.pcap")
	if err != nil {
		t.Fatal(err)
	}
	for _, noColor := range []bool{false, true} {
		t.Run(fmt.Sprint("NO_COLOR ", noColor), func(t *testing.T) {
			env := "env -u NO_COLOR"
			if noColor {
				env = "env NO_COLOR=1"
			}
			tm := startTmux(t, fmt.Sprintf("TERM=xterm-256color %s %s read %s; sleep 60", env, shellQuote(wstapBinary), shellQuote(sample)))
			tm.waitText("Connections 2", "everything is read")
			s := tm.screenEscapes()
			colors := colorSGR.FindAllString(s, -1)
			t.Logf("%d color sequences, %d bytes on the screen", len(colors), len(s))
			if noColor && len(colors) > 0 {
				t.Errorf("NO_COLOR is set, and the screen has %d color sequences, such as %q", len(colors), colors[0])
			}
			if !noColor && len(colors) == 0 {
				t.Errorf("no color on the screen without NO_COLOR:\n%q", s)
			}
			if !strings.Contains(s, "\x1b[7m") && !regexp.MustCompile(`\x1b\[(?:[0-9]*;)*7(?:;[0-9]*)*m`).MatchString(s) {
				t.Errorf("the selection is not in reverse video:\n%q", s)
			}
			tm.keys("q")
		})
	}
}
