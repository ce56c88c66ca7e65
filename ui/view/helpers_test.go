package view

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// sample is the JSON export of a sample capture: export's golden files,
// which its tests keep equal to what reading samples/ gives. The UI is
// tested on the conversations the command shows, without decoding pcap
// here (ui never imports capture).
func sample(name string) string {
	return filepath.Join("..", "..", "export", "testdata", "golden", "samples", name+".json")
}

func newStore(t testing.TB) *session.Store {
	t.Helper()
	s, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// loadStore loads files into a new store, as "wstap read" does with an
// export.
func loadStore(t testing.TB, files ...string) *session.Store {
	t.Helper()
	s := newStore(t)
	tap := session.NewTap(s, session.TapOptions{})
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		im := tap.Import()
		err = export.LoadEvents(context.Background(), name, f, im.Event)
		im.Close()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// queue runs what a Browser posts on the test's goroutine, as the UI
// goroutine would.
type queue struct{ ch chan func() }

func newQueue() *queue { return &queue{ch: make(chan func(), 1<<16)} }

func (q *queue) post(f func()) { q.ch <- f }

// settle runs what was posted until b has no work left.
func (q *queue) settle(t testing.TB, b *Browser) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-q.ch:
			f()
			continue
		default:
		}
		if !b.Busy() {
			return
		}
		select {
		case f := <-q.ch:
			f()
		case <-deadline:
			t.Fatalf("work did not end: %s", b.Work())
		}
	}
}

// newBrowser makes a Browser of store whose posts run through a queue.
func newBrowser(t testing.TB, store *session.Store, opts Options) (*Browser, *queue) {
	q := newQueue()
	opts.Post = q.post
	b := New(store, opts)
	b.Conns.SetHeight(10)
	b.Time.SetHeight(10)
	return b, q
}

// live is a connection fed through a tap, for tests of what arrives
// while the UI shows it.
type live struct {
	c  *session.Conn
	at time.Time
}

var testKey = [4]byte{1, 2, 3, 4}

const (
	upgrade = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	accepted = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)

// openLive opens a connection on tap and sends its handshake.
func openLive(tap *session.Tap) *live {
	at := time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Client: "127.0.0.1:50000", Server: "127.0.0.1:9000", Source: "test", Opened: at}, session.ConnOptions{})
	l := &live{c: c, at: at}
	c.Feed(decode.Client, l.tick(), []byte(upgrade))
	c.Feed(decode.Server, l.tick(), []byte(accepted))
	return l
}

func (l *live) tick() time.Time {
	l.at = l.at.Add(time.Millisecond)
	return l.at
}

// send sends a text message from side.
func (l *live) send(side decode.Side, text string) {
	h := decode.FrameHeader{Fin: true, Opcode: decode.OpText, Length: uint64(len(text))}
	p := []byte(text)
	if side == decode.Client {
		h.Masked, h.MaskKey = true, testKey
		decode.Mask(testKey, 0, p)
	}
	l.c.Feed(side, l.tick(), append(decode.AppendFrameHeader(nil, h), p...))
}

// sendFrame sends a raw frame.
func (l *live) sendFrame(side decode.Side, op decode.Opcode, fin bool, payload []byte) {
	h := decode.FrameHeader{Fin: fin, Opcode: op, Length: uint64(len(payload))}
	p := bytes.Clone(payload)
	if side == decode.Client {
		h.Masked, h.MaskKey = true, testKey
		decode.Mask(testKey, 0, p)
	}
	l.c.Feed(side, l.tick(), append(decode.AppendFrameHeader(nil, h), p...))
}
