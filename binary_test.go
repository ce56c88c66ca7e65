package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/internal/testpeer"
)

// wstapBinary is the real wstap command, built once per test run by
// TestMain: the command-line tests run it as a user would, with real
// signals, real file descriptors and a real process exit status.
var wstapBinary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wstap-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	wstapBinary = filepath.Join(dir, "wstap")
	// Whatever a test runs, wstap's CA is made in the test's directory,
	// never in the user's config directory.
	if os.Getenv("WSTAP_CONFIG_DIR") == "" {
		os.Setenv("WSTAP_CONFIG_DIR", filepath.Join(dir, "config"))
	}
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	// -buildvcs=auto overrides a GOFLAGS that turns stamping off: the
	// version test checks that the build names its commit.
	build := exec.Command(goCmd, "build", "-buildvcs=auto", "-o", wstapBinary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building wstap for the tests: %v\n", err)
		return 1
	}
	return m.Run()
}

// binRun is the result of one run of the binary.
type binRun struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runBinary runs wstap with args and stdin (nil for none) in dir ("" for
// the package directory) and waits for it, at most a minute.
func runBinary(t *testing.T, stdin io.Reader, args ...string) binRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, wstapBinary, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	cmd.Env = append(os.Environ(), "NO_COLOR=")
	start := time.Now()
	err := cmd.Run()
	r := binRun{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if err != nil && r.code < 0 {
		t.Fatalf("wstap %s: %v\nstderr: %s", strings.Join(args, " "), err, r.stderr)
	}
	return r
}

// lines counts the lines of s.
func lines(s string) int { return strings.Count(strings.TrimRight(s, "\n"), "\n") + 1 }

// requirePeer skips the test when program is not installed, or fails it
// in CI (testpeer.Require).
func requirePeer(t testing.TB, program string) string {
	t.Helper()
	return testpeer.Require(t, program)
}

// syncBuffer is a bytes.Buffer safe to write from one goroutine while
// another reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echoHandler is a gorilla WebSocket server for the tests: it sends every
// message back as it came, with permessage-deflate when the client offers
// it.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{EnableCompression: true}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client with the error
	}
	defer c.Close()
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}
