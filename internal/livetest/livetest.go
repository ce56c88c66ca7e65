// Package livetest feeds a WebSocket connection through a session tap
// frame by frame, for the tests and benchmarks of what a view shows while
// traffic arrives (the terminal UI's models and screens).
package livetest

import (
	"bytes"
	"fmt"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// key masks the client's frames (RFC 6455 5.3).
var key = [4]byte{1, 2, 3, 4}

const (
	upgrade = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	accepted = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)

// Conn is a connection fed through a tap, a millisecond of capture time
// per step. It is not safe for concurrent use.
type Conn struct {
	c  *session.Conn
	at time.Time
}

// Open opens a connection on tap and sends its handshake.
func Open(tap *session.Tap) *Conn {
	at := time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Client: "127.0.0.1:50000", Server: "127.0.0.1:9000", Source: "test", Opened: at})
	l := &Conn{c: c, at: at}
	c.Feed(decode.Client, l.tick(), []byte(upgrade))
	c.Feed(decode.Server, l.tick(), []byte(accepted))
	return l
}

func (l *Conn) tick() time.Time {
	l.at = l.at.Add(time.Millisecond)
	return l.at
}

// Send sends a text message of one frame from side.
func (l *Conn) Send(side decode.Side, text string) {
	l.SendFrame(side, decode.OpText, true, []byte(text))
}

// SendFrame sends one frame from side, masked when the client sends it.
func (l *Conn) SendFrame(side decode.Side, op decode.Opcode, fin bool, payload []byte) {
	h := decode.FrameHeader{Fin: fin, Opcode: op, Length: uint64(len(payload))}
	p := bytes.Clone(payload)
	if side == decode.Client {
		h.Masked, h.MaskKey = true, key
		decode.Mask(h.MaskKey, 0, p)
	}
	l.c.Feed(side, l.tick(), append(decode.AppendFrameHeader(nil, h), p...))
}

// End ends the connection.
func (l *Conn) End() { l.c.End(l.tick()) }

// Ticks records n JSON-like text messages, alternately from the client and
// the server, on conns connections opened on tap: the session of the UI's
// benchmarks, long connections like those of the long capture.
func Ticks(tap *session.Tap, conns, n int) {
	cs := make([]*Conn, conns)
	for i := range cs {
		cs[i] = Open(tap)
	}
	for i := range n {
		side := decode.Client
		if i%2 == 1 {
			side = decode.Server
		}
		cs[i%conns].Send(side, fmt.Sprintf(`{"type":"tick","seq":%d,"price":%d.25,"symbol":"WSTP"}`, i, 100+i%50))
	}
}
