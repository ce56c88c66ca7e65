package export_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// longSocket records one connection of n varied messages (text and
// binary, compressed, fragmented around a ping, masked from the server,
// now and then over 64 KiB) in a store, and returns it as the commands'
// writers read it.
func longSocket(t *testing.T, n int) (*session.Store, session.ConnSource) {
	t.Helper()
	st := newTestStore(t)
	tap := session.NewTap(st, session.TapOptions{})
	c := tap.Open(&decode.Connection{ID: "long", Client: "127.0.0.1:50000", Server: "127.0.0.1:80", Source: "test"})
	at := time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)
	step := func() time.Time { at = at.Add(1700 * time.Microsecond); return at }
	key := [4]byte{9, 8, 7, 6}
	frame := func(op decode.Opcode, fin bool, rsv uint8, masked bool, payload []byte) []byte {
		h := decode.FrameHeader{Fin: fin, Rsv: rsv, Opcode: op, Length: uint64(len(payload))}
		p := bytes.Clone(payload)
		if masked {
			h.Masked, h.MaskKey = true, key
			decode.Mask(key, 0, p)
		}
		return append(decode.AppendFrameHeader(nil, h), p...)
	}
	deflate := func(p []byte) []byte {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestSpeed)
		w.Write(p)
		w.Flush()
		return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
	}
	c.Feed(decode.Client, step(), []byte("GET /feed HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n\r\n"))
	c.Feed(decode.Server, step(), []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n\r\n"))
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range n {
		size := 10 + rng.IntN(200)
		if i%301 == 0 {
			size = 70000
		}
		p := make([]byte, size)
		for j := range p {
			p[j] = "abcdefgh {}\":,0123456789"[rng.IntN(24)]
		}
		switch i % 6 {
		case 0:
			c.Feed(decode.Client, step(), frame(decode.OpText, true, 0, true, p))
		case 1:
			c.Feed(decode.Server, step(), frame(decode.OpText, true, 4, false, deflate(p)))
		case 2:
			half := len(p) / 2
			c.Feed(decode.Client, step(), frame(decode.OpBinary, false, 0, true, p[:half]))
			c.Feed(decode.Client, step(), frame(decode.OpPing, true, 0, true, []byte("ping")))
			c.Feed(decode.Server, step(), frame(decode.OpPong, true, 0, false, []byte("ping")))
			c.Feed(decode.Client, step(), frame(decode.OpContinuation, true, 0, true, p[half:]))
		case 3:
			p[0] = 0xff // not UTF-8: a problem, and base64 in the export
			c.Feed(decode.Server, step(), frame(decode.OpText, true, 0, true, p))
		default:
			c.Feed(decode.Server, step(), frame(decode.OpBinary, true, 0, false, p))
		}
	}
	c.Feed(decode.Client, step(), frame(decode.OpClose, true, 0, true, []byte("\x03\xe8bye")))
	c.Feed(decode.Server, step(), frame(decode.OpClose, true, 0, false, []byte("\x03\xe8")))
	c.End(step())
	src, err := st.Source(0)
	if err != nil {
		t.Fatal(err)
	}
	if m := src.Meta(); m.MessageCount < n || m.FrameCount < n {
		t.Fatalf("the long socket has %d messages and %d frames", m.MessageCount, m.FrameCount)
	}
	return st, src
}

// TestLongListsInParallel: a connection with lists long enough to be
// rendered on several goroutines gives the same JSON and HAR, byte for
// byte, as on one, read from the store and from memory.
func TestLongListsInParallel(t *testing.T) {
	st, src := longSocket(t, 12000) // several runs of parallelRun for each goroutine
	whole, err := st.Conversation(0)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	outputs := map[string][]byte{}
	for _, procs := range []int{1, 4} {
		runtime.GOMAXPROCS(procs)
		outputs[fmt.Sprint("json ", procs)] = writeJSON(t, export.Options{}, src)
		outputs[fmt.Sprint("har ", procs)] = writeHAR(t, export.Options{}, src)
		outputs[fmt.Sprint("json memory ", procs)] = writeJSON(t, export.Options{}, whole)
	}
	for _, name := range []string{"json 4", "json memory 1", "json memory 4"} {
		if !bytes.Equal(outputs[name], outputs["json 1"]) {
			t.Errorf("the JSON export as %q differs from the one on one goroutine", name)
		}
	}
	if !bytes.Equal(outputs["har 4"], outputs["har 1"]) {
		t.Error("the HAR export on several goroutines differs from the one on one")
	}
	if got := load(t, "long.json", outputs["json 4"]); len(got) != 1 || len(got[0].Messages) != src.Meta().MessageCount {
		t.Fatalf("the JSON export on several goroutines loads as %d connections", len(got))
	}
}
