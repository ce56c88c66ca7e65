package main

import (
	"bytes"
	"compress/flate"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/capture/synth"
	"github.com/wstap/wstap/decode"
)

// wsCapture writes a pcapng of one WebSocket connection (as a proxy's
// synthetic TCP) whose server sends the given frames after the handshake.
func wsCapture(t *testing.T, path, extensions string, frames ...[]byte) {
	t.Helper()
	var b bytes.Buffer
	w, err := synth.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC)
	s, err := w.Open(netip.MustParseAddrPort("127.0.0.1:50000"), netip.MustParseAddrPort("127.0.0.1:9000"), at)
	if err != nil {
		t.Fatal(err)
	}
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	ext := ""
	if extensions != "" {
		ext = "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	steps := []struct {
		client bool
		b      []byte
	}{
		{true, []byte("GET /bomb HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n" + ext + "\r\n")},
		{false, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + decode.AcceptKey(key) + "\r\n" + ext + "\r\n")},
	}
	for _, f := range frames {
		steps = append(steps, struct {
			client bool
			b      []byte
		}{false, f})
	}
	for i, st := range steps {
		if err := s.Write(st.client, at.Add(time.Duration(i)*time.Millisecond), st.b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// serverFrame is an unmasked final frame; rsv1 marks it compressed.
func serverFrame(op decode.Opcode, rsv1 bool, p []byte) []byte {
	h := decode.FrameHeader{Fin: true, Opcode: op, Length: uint64(len(p))}
	if rsv1 {
		h.Rsv = 4
	}
	return append(decode.AppendFrameHeader(nil, h), p...)
}

// TestSpreadBombBounded: a capture of 60 compressed messages, each a few
// kilobytes inflating to 16 MiB (under the per-message limit), is cut off
// by the connection's inflation budget with one decompression-bomb
// problem; the messages after it stay compressed, and the JSON holds far
// less than the 960 MiB the bomb claims (counted, not timed).
func TestSpreadBombBounded(t *testing.T) {
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	fw.Write(make([]byte, 16<<20))
	fw.Flush()
	bomb := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
	var frames [][]byte
	for range 60 {
		frames = append(frames, serverFrame(decode.OpBinary, true, bomb))
	}
	dir := t.TempDir()
	capPath, out := filepath.Join(dir, "bomb.pcapng"), filepath.Join(dir, "bomb.json")
	wsCapture(t, capPath, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", frames...)
	r := runBinary(t, nil, "read", "--json", out, capPath)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	e := loadExport(t, out)
	if len(e.Connections) != 1 || len(e.Connections[0].Messages) != 60 {
		t.Fatalf("%d connections", len(e.Connections))
	}
	c := e.Connections[0]
	var inflated int64
	bombs := 0
	for _, m := range c.Messages {
		inflated += m.Size
	}
	for _, p := range c.Problems {
		if p.Kind == "decompression-bomb" {
			bombs++
		}
	}
	if bombs != 1 || inflated > 300<<20 {
		t.Errorf("%d decompression-bomb problems, %d bytes inflated in all; want one problem and the 256 MiB budget respected", bombs, inflated)
	}
	if st, _ := os.Stat(out); st.Size() > 400<<20 {
		t.Errorf("the JSON is %d bytes", st.Size())
	}
}

// TestSpillDiskFull: with --spill-dir on a file system that fills up, read
// says so clearly, exits 1, and still writes the export with everything
// but the payloads it could not keep (those written before the disk was
// full, and those still in memory). Needs root to mount a small tmpfs
// (CI runs as root).
func TestSpillDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	tiny := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", tiny).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", tiny).Run() })
	payload := bytes.Repeat([]byte("x"), 100<<10)
	var frames [][]byte
	// 30 MB of payload for a 4 MB spill directory: more than waits in
	// memory to be written (the spill's write-back budget), so that the
	// file fills up.
	const messages = 300
	for range messages {
		frames = append(frames, serverFrame(decode.OpText, false, payload))
	}
	dir := t.TempDir()
	capPath, out := filepath.Join(dir, "big.pcapng"), filepath.Join(dir, "big.json")
	wsCapture(t, capPath, "", frames...)
	r := runBinary(t, nil, "read", "--spill-dir", tiny, "--json", out, capPath)
	if r.code != 1 || !strings.Contains(r.stderr, "spill file") || !strings.Contains(r.stderr, "no space left") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	e := loadExport(t, out)
	if len(e.Connections) != 1 || len(e.Connections[0].Messages) != messages {
		t.Fatalf("the export holds %d connections", len(e.Connections))
	}
	kept := 0
	for i, m := range e.Connections[0].Messages {
		if m.Text != nil && len(*m.Text) == len(payload) {
			if *m.Text != string(payload) {
				t.Fatalf("message %d has a payload of the right size with other bytes", i)
			}
			kept++
		}
	}
	if kept == 0 || kept == messages {
		t.Errorf("%d of %d payloads kept with a 4 MB spill directory", kept, messages)
	}
}
