package capture

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/capture/synth"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// interleavedCapture writes a pcapng of conns WebSocket connections whose
// messages interleave packet by packet, as the busy captures that are
// decoded on several goroutines do.
func interleavedCapture(t *testing.T, conns, messages int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := synth.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)
	step := func() time.Time { at = at.Add(100 * time.Microsecond); return at }
	streams := make([]*synth.Stream, conns)
	for i := range streams {
		c := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", 40000+i))
		s := netip.MustParseAddrPort("127.0.0.1:8080")
		if streams[i], err = w.Open(c, s, step()); err != nil {
			t.Fatal(err)
		}
		key := "dGhlIHNhbXBsZSBub25jZQ=="
		must(t, streams[i].Write(true, step(), []byte("GET /feed HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")))
		must(t, streams[i].Write(false, step(), []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	frame := func(fromClient bool, op decode.Opcode, p []byte) []byte {
		h := decode.FrameHeader{Fin: true, Opcode: op, Length: uint64(len(p))}
		p = bytes.Clone(p)
		if fromClient {
			h.Masked, h.MaskKey = true, [4]byte{1, 2, 3, 4}
			decode.Mask(h.MaskKey, 0, p)
		}
		return append(decode.AppendFrameHeader(nil, h), p...)
	}
	for m := range messages {
		for i, s := range streams {
			fromClient := rng.IntN(3) == 0
			p := []byte(strings.Repeat(fmt.Sprintf("conn %d message %d ", i, m), 1+rng.IntN(8)))
			if rng.IntN(7) == 0 {
				p = append(p, 0xff) // not UTF-8: a problem
			}
			must(t, s.Write(fromClient, step(), frame(fromClient, decode.OpText, p)))
		}
	}
	for _, s := range streams {
		must(t, s.Write(true, step(), frame(true, decode.OpClose, []byte("\x03\xe8"))))
		must(t, s.Write(false, step(), frame(false, decode.OpClose, []byte("\x03\xe8"))))
		must(t, s.CloseWrite(false, step()))
		must(t, s.CloseWrite(true, step()))
	}
	must(t, w.Flush())
	return out.Bytes()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// logSigs describes a decode's log: each item's connection (its place in
// the store and its id), kind, index and state.
func logSigs(r result) []string {
	ids := map[session.ConnID]string{}
	for _, c := range r.conns {
		ids[c.ConnID] = c.ID
	}
	var sigs []string
	for _, it := range r.items {
		sigs = append(sigs, fmt.Sprintf("%d=%s %s %d %s", it.Conn, ids[it.Conn], it.Kind, it.Index, it.State))
	}
	return sigs
}

// TestOrderedWorkersMatchInline: decoding on workers logs
// what inline decoding logs, in the same order, item for item, and gives
// the connections the same places in the store (the order of the
// capture): for a capture of interleaved connections and for every
// sample, however the workers' goroutines happen to run.
func TestOrderedWorkersMatchInline(t *testing.T) {
	files := map[string][]byte{"interleaved.pcapng": interleavedCapture(t, 12, 300)}
	for _, name := range sampleNames(t) {
		files[name] = readSample(t, name)
	}
	for name, file := range files {
		want := logSigs(decodeCapture(t, name, file, Options{}))
		if len(want) < 2 {
			t.Fatalf("%s: %d items logged inline", name, len(want))
		}
		for run := range 3 {
			got := logSigs(decodeCapture(t, name, file, Options{Workers: 3}))
			if a, b := strings.Join(got, "\n"), strings.Join(want, "\n"); a != b {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				t.Fatalf("%s, run %d: the log differs from inline decoding's at item %d of %d/%d", name, run, i, len(got), len(want))
			}
		}
	}
}

// TestPaceHandsOver: Run gives Pace a hand-over that leaves no step in a
// batch the workers were not given. Without it, a reader waiting for the
// outputs could wait for ever: the outputs wait for an ended connection
// whose log items wait (session.Sequencer) for a step still in the
// reader's batch.
func TestPaceHandsOver(t *testing.T) {
	file := interleavedCapture(t, 12, 300)
	rd, _, err := Open("interleaved.pcapng", bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	tt := newTestTap(t)
	tr := NewTracker(Options{Workers: 2, Tap: tt.tap})
	calls, held := 0, 0
	pace := func(ctx context.Context, handOver func()) {
		calls++
		handOver()
		for _, b := range tr.work.cur {
			held += len(b.ops)
		}
	}
	if err := Run(t.Context(), rd, tr, RunOptions{Pace: pace}); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if calls == 0 {
		t.Fatal("Run never called Pace")
	}
	if held != 0 {
		t.Errorf("after handing over, %d steps were still held back from the workers", held)
	}
	if len(tt.ended()) != 12 {
		t.Errorf("%d connections ended, want 12", len(tt.ended()))
	}
}
