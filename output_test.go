package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// outputTestConn decodes a short scripted conversation (handshake, two
// text messages, a close each way) on the tap.
func outputTestConn(id string, tap *session.Tap) {
	at := time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)
	c := tap.Open(&decode.Connection{ID: id, Client: "127.0.0.1:5" + id, Server: "127.0.0.1:80", Source: "pcap"})
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	c.Feed(decode.Client, at, []byte("GET /chat?token=secret HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nAuthorization: Basic c2VjcmV0\r\nSec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	c.Feed(decode.Server, at.Add(time.Millisecond), []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+decode.AcceptKey(key)+"\r\n\r\n"))
	frame := func(op decode.Opcode, masked bool, p string) []byte {
		h := decode.FrameHeader{Fin: true, Opcode: op, Masked: masked, MaskKey: [4]byte{9, 8, 7, 6}, Length: uint64(len(p))}
		b := []byte(p)
		if masked {
			decode.Mask(h.MaskKey, 0, b)
		}
		return append(decode.AppendFrameHeader(nil, h), b...)
	}
	c.Feed(decode.Client, at.Add(2*time.Millisecond), frame(decode.OpText, true, "hello from "+id))
	c.Feed(decode.Server, at.Add(3*time.Millisecond), frame(decode.OpText, false, "hi\n"+id))
	c.Feed(decode.Client, at.Add(4*time.Millisecond), frame(decode.OpClose, true, "\x03\xe8bye"))
	c.Feed(decode.Server, at.Add(5*time.Millisecond), frame(decode.OpClose, false, "\x03\xe8"))
	c.End(at.Add(6 * time.Millisecond))
}

func outputTestFlags(t *testing.T, args ...string) *outputFlags {
	t.Helper()
	var o outputFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &o
}

// open settles the flags as a command does and opens the outputs.
func (o *outputFlags) openForTest(stdout io.Writer) (*outputs, error) {
	if err := o.settle(stdout); err != nil {
		return nil, err
	}
	return o.open(stdout)
}

// outputTestLoad reads an export back into conversations.
func outputTestLoad(t *testing.T, path string) []*session.Conversation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	im := session.NewTap(st, session.TapOptions{}).Import()
	if err := export.LoadEvents(t.Context(), path, f, im.Event); err != nil {
		t.Fatal(err)
	}
	im.Close()
	conns, err := st.Ended()
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

// waitFile waits, at most 5 s, until path holds a line count of lines.
func waitLines(t *testing.T, path string, lines int) string {
	t.Helper()
	var b []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ = os.ReadFile(path)
		if strings.Count(string(b), "\n") >= lines {
			break
		}
	}
	return string(b)
}

// TestOutputsFiles: --json and --har appear only when complete (written
// to a temporary file and renamed by Close), --ndjson is on disk as each
// event happens, and what was written reads back.
func TestOutputsFiles(t *testing.T) {
	dir := t.TempDir()
	jsonPath, harPath, ndPath := filepath.Join(dir, "s.json"), filepath.Join(dir, "s.har"), filepath.Join(dir, "s.ndjson")
	o := outputTestFlags(t, "--json", jsonPath, "--har", harPath, "--ndjson", ndPath, "--redact")
	if !o.enabled() {
		t.Fatal("outputs asked for but not enabled")
	}
	var stdout bytes.Buffer
	out, err := o.openForTest(&stdout)
	if err != nil {
		t.Fatal(err)
	}
	outputTestConn("1", out.tap)
	// The stream reaches the disk as it happens (flushed on a short
	// timer), before Close: opened, handshake, 4 messages, closed.
	if nd := waitLines(t, ndPath, 7); strings.Count(nd, "\n") != 7 {
		t.Fatalf("NDJSON on disk before Close:\n%s", nd)
	}
	for _, p := range []string{jsonPath, harPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s exists before Close: %v", p, err)
		}
	}
	if err := out.Close(true); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{jsonPath, harPath} {
		conns := outputTestLoad(t, p)
		if len(conns) != 1 || len(conns[0].Messages) != 4 || string(conns[0].Messages[1].Payload) != "hi\n1" {
			t.Fatalf("%s: read back %d connections", p, len(conns))
		}
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, []byte("secret")) || bytes.Contains(data, []byte("c2VjcmV0")) {
			t.Errorf("%s: --redact left a credential in", p)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("%d files in the directory, want 3 (no temporary files left): %v", len(entries), entries)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout got %q without --dump", stdout.String())
	}
}

// TestOutputsFailedFinish: when the rename fails (the target is a
// directory), Close says which file, and no temporary file is left.
func TestOutputsFailedFinish(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "taken")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := outputTestFlags(t, "--json", target).openForTest(&bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	outputTestConn("1", out.tap)
	err = out.Close(true)
	if err == nil || !strings.Contains(err.Error(), "writing "+target) {
		t.Fatalf("Close: %v, want an error naming %s", err, target)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

// TestOutputsOpenErrors: bad combinations and unusable paths are refused
// before anything is written, with the flag or the path named.
func TestOutputsOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dump", "--ndjson", "-"}, "--dump and --ndjson - all write to stdout"},
		{[]string{"--json", "-", "--har", "-"}, "--json - and --har - all write to stdout"},
		{[]string{"--json", filepath.Join(dir, "a"), "--har", filepath.Join(dir, "a")}, "--json and --har both write to " + filepath.Join(dir, "a")},
		{[]string{"--json", filepath.Join(dir, "missing", "s.json")}, "creating the JSON export: open " + filepath.Join(dir, "missing")},
		{[]string{"--ndjson", filepath.Join(dir, "missing", "s.ndjson")}, "creating the NDJSON stream: open " + filepath.Join(dir, "missing", "s.ndjson")},
		{[]string{"--ndjson", filepath.Join(dir, "s.ndjson"), "--har", filepath.Join(dir, "missing", "s.har")}, "creating the HAR export: open " + filepath.Join(dir, "missing")},
	} {
		out, err := outputTestFlags(t, tc.args...).openForTest(&bytes.Buffer{})
		if err == nil {
			out.Close(true)
			t.Errorf("%v: opened, want an error containing %q", tc.args, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	if (&outputFlags{}).enabled() {
		t.Error("enabled with no output flags")
	}
	o := outputTestFlags(t, "--redact-header", "X-A", "--redact-header", "X-B", "--redact-query", "q")
	if fmt.Sprint(o.redactHeaders, o.redactQuery) != "[X-A X-B] [q]" || o.enabled() {
		t.Errorf("repeatable flags: %v %v, enabled %v", o.redactHeaders, o.redactQuery, o.enabled())
	}
}

// TestOutputsConcurrent: connections decoded on their own goroutines, as
// the proxy does, all reach the JSON export whole, and the NDJSON stream
// has whole lines only.
func TestOutputsConcurrent(t *testing.T) {
	dir := t.TempDir()
	jsonPath, ndPath := filepath.Join(dir, "s.json"), filepath.Join(dir, "s.ndjson")
	var stdout bytes.Buffer
	out, err := outputTestFlags(t, "--json", jsonPath, "--ndjson", ndPath, "--dump").openForTest(&stdout)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outputTestConn(fmt.Sprint(i+1), out.tap)
		}()
	}
	wg.Wait()
	if err := out.Close(true); err != nil {
		t.Fatal(err)
	}
	conns := outputTestLoad(t, jsonPath)
	if len(conns) != n {
		t.Fatalf("%d connections in the JSON, want %d", len(conns), n)
	}
	for _, c := range conns {
		if len(c.Messages) != 4 || string(c.Messages[0].Payload) != "hello from "+c.ID {
			t.Fatalf("connection %s: %d messages", c.ID, len(c.Messages))
		}
	}
	nd, _ := os.ReadFile(ndPath)
	lines := strings.Split(strings.TrimSuffix(string(nd), "\n"), "\n")
	if len(lines) != n*7 {
		t.Fatalf("%d NDJSON lines, want %d", len(lines), n*7)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("broken NDJSON line %q", l)
		}
	}
	// Per connection: its header, four messages and its close.
	if got := strings.Count(stdout.String(), "\n"); got != n*6 {
		t.Fatalf("%d dump lines, want %d", got, n*6)
	}
}

// TestOutputsImported: a connection loaded from a JSON export gives the
// same dump lines as when it was decoded, and is written to the HAR.
func TestOutputsImported(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "s.json")
	var live bytes.Buffer
	out, err := outputTestFlags(t, "--dump", "--json", jsonPath).openForTest(&live)
	if err != nil {
		t.Fatal(err)
	}
	outputTestConn("1", out.tap)
	if err := out.Close(true); err != nil {
		t.Fatal(err)
	}

	var replayed bytes.Buffer
	harPath := filepath.Join(dir, "s.har")
	out, err = outputTestFlags(t, "--dump", "--har", harPath).openForTest(&replayed)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im := out.tap.Import()
	if err := export.LoadEvents(t.Context(), jsonPath, f, im.Event); err != nil {
		t.Fatal(err)
	}
	im.Close()
	if err := out.Close(true); err != nil {
		t.Fatal(err)
	}
	if replayed.String() != live.String() || strings.Count(live.String(), "\n") != 6 {
		t.Fatalf("replayed dump:\n%s\nlive dump:\n%s", replayed.String(), live.String())
	}
	if conns := outputTestLoad(t, harPath); len(conns) != 1 || len(conns[0].Messages) != 4 {
		t.Fatalf("imported connection not written to the HAR")
	}
}
