package decode_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/decode"
)

// This file speaks the scripted conversations of diff_test.go through two
// real WebSocket libraries, gorilla/websocket and coder/websocket, and
// records what each side's library sent and what it handed to the
// application, in the order it did.

// diffWriteWait bounds a single control frame write.
const diffWriteWait = 5 * time.Second

// diffMsg is one message as a library sent or received it. Control frames
// are messages too, as in the decoder's model.
type diffMsg struct {
	op      decode.Opcode
	payload []byte // for a Close: the 2-byte code and the reason
	// compressed is 1 or 0 when the sender knows whether the library
	// compressed the message, -1 when it does not.
	compressed int8
	// reasonUnknown marks a Close whose reason the receiver could not see
	// (coder/websocket's Close consumed the answer; see diffCoder.read).
	reasonUnknown bool
}

func diffCloseMsg(code uint16, reason string) diffMsg {
	p := binary.BigEndian.AppendUint16(nil, code)
	return diffMsg{op: decode.OpClose, payload: append(p, reason...), compressed: -1}
}

// diffLog is what one side's library sent and received. The received list
// is in wire order: both libraries call their control-frame callbacks from
// inside the read of the message they arrive in.
type diffLog struct {
	mu       sync.Mutex
	sent     []diffMsg
	received []diffMsg
}

func (l *diffLog) addSent(m diffMsg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, m)
}

func (l *diffLog) addReceived(m diffMsg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.received = append(l.received, m)
}

func (l *diffLog) snapshot() (sent, received []diffMsg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]diffMsg(nil), l.sent...), append([]diffMsg(nil), l.received...)
}

// diffStepKind says what a script step does.
type diffStepKind uint8

const (
	diffData diffStepKind = iota
	diffPing
	diffPong
)

// diffStep is one step of a side's script.
type diffStep struct {
	kind diffStepKind
	op   decode.Opcode
	// parts are the writes of a data message: with stream false the single
	// part goes through the library's one-call API, otherwise each part is
	// one Write on the library's streaming writer.
	parts  [][]byte
	stream bool
	// pingAfter is the part after which a ping is sent while the message
	// is still open, or -1.
	pingAfter int
	// payload is the ping or pong payload (gorilla; coder/websocket picks
	// its own ping payloads).
	payload []byte
}

func (s diffStep) message() []byte { return bytes.Join(s.parts, nil) }

// diffEndpoint is one side of a conversation, spoken through a library.
type diffEndpoint interface {
	// send performs one scripted step.
	send(ctx context.Context, s diffStep) error
	// read reads until the peer's Close arrived, recording what was
	// received, and calls onData after each data message.
	read(ctx context.Context, onData func()) error
	// startClose starts the closing handshake (RFC 6455 7.1.2).
	startClose(ctx context.Context, code uint16, reason string) error
	// finish closes the connection once the handshake is over.
	finish() error
	log() *diffLog
	subprotocol() string
}

// diffLibrary starts servers and dials clients of one library.
type diffLibrary interface {
	// handler upgrades one request and passes its endpoint to got.
	handler(cfg diffConfig, got func(diffEndpoint, error), release <-chan struct{}) http.Handler
	dial(ctx context.Context, cfg diffConfig, url string) (diffEndpoint, *http.Response, error)
}

// diffSubprotocol is offered by the client and accepted by the server.
const diffSubprotocol = "wstap.test"

// --- gorilla/websocket ---

type diffGorillaLib struct{}

// diffGorilla is a gorilla/websocket connection. Its write buffers are
// small so that NextWriter splits messages into many frames.
type diffGorilla struct {
	c         *websocket.Conn
	deflate   bool
	lg        diffLog
	closeSent atomic.Bool
}

func newDiffGorilla(c *websocket.Conn, deflate bool) *diffGorilla {
	g := &diffGorilla{c: c, deflate: deflate}
	c.SetPingHandler(func(s string) error {
		g.lg.addReceived(diffMsg{op: decode.OpPing, payload: []byte(s), compressed: -1})
		if err := c.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(diffWriteWait)); err != nil {
			return fmt.Errorf("gorilla: answering a ping: %w", err)
		}
		g.lg.addSent(diffMsg{op: decode.OpPong, payload: []byte(s), compressed: -1})
		return nil
	})
	c.SetPongHandler(func(s string) error {
		g.lg.addReceived(diffMsg{op: decode.OpPong, payload: []byte(s), compressed: -1})
		return nil
	})
	c.SetCloseHandler(func(code int, text string) error {
		g.lg.addReceived(diffCloseMsg(uint16(code), text))
		if g.closeSent.Swap(true) {
			return nil // this was the answer to our Close
		}
		reply := diffCloseMsg(uint16(code), "bye too")
		if err := c.WriteControl(websocket.CloseMessage, reply.payload, time.Now().Add(diffWriteWait)); err != nil {
			return fmt.Errorf("gorilla: answering a close: %w", err)
		}
		g.lg.addSent(reply)
		return nil
	})
	return g
}

func (diffGorillaLib) handler(cfg diffConfig, got func(diffEndpoint, error), release <-chan struct{}) http.Handler {
	up := websocket.Upgrader{
		ReadBufferSize:    4096,
		WriteBufferSize:   1024,
		Subprotocols:      []string{diffSubprotocol},
		EnableCompression: cfg.deflate,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			got(nil, fmt.Errorf("gorilla: upgrading: %w", err))
			return
		}
		got(newDiffGorilla(c, cfg.deflate), nil)
		<-release
	})
}

func (diffGorillaLib) dial(ctx context.Context, cfg diffConfig, url string) (diffEndpoint, *http.Response, error) {
	d := websocket.Dialer{
		ReadBufferSize:    4096,
		WriteBufferSize:   300,
		Subprotocols:      []string{diffSubprotocol},
		EnableCompression: cfg.deflate,
		HandshakeTimeout:  5 * time.Second,
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, resp, fmt.Errorf("gorilla: dialing %s: %w", url, err)
	}
	return newDiffGorilla(c, cfg.deflate), resp, nil
}

func (g *diffGorilla) log() *diffLog       { return &g.lg }
func (g *diffGorilla) subprotocol() string { return g.c.Subprotocol() }

func (g *diffGorilla) send(ctx context.Context, s diffStep) error {
	switch s.kind {
	case diffPing, diffPong:
		op := decode.OpPing
		if s.kind == diffPong {
			op = decode.OpPong
		}
		if err := g.c.WriteControl(int(op), s.payload, time.Now().Add(diffWriteWait)); err != nil {
			return fmt.Errorf("gorilla: sending %s: %w", op, err)
		}
		g.lg.addSent(diffMsg{op: op, payload: s.payload, compressed: -1})
		return nil
	}
	if !s.stream {
		if err := g.c.WriteMessage(int(s.op), s.parts[0]); err != nil {
			return fmt.Errorf("gorilla: writing a %d-byte %s message: %w", len(s.parts[0]), s.op, err)
		}
	} else {
		w, err := g.c.NextWriter(int(s.op))
		if err != nil {
			return fmt.Errorf("gorilla: opening a %s writer: %w", s.op, err)
		}
		for i, p := range s.parts {
			if _, err := w.Write(p); err != nil {
				return fmt.Errorf("gorilla: writing part %d: %w", i, err)
			}
			if i == s.pingAfter {
				// WriteControl may be called while a message writer is
				// open: the ping goes out between the message's frames.
				if err := g.c.WriteControl(websocket.PingMessage, s.payload, time.Now().Add(diffWriteWait)); err != nil {
					return fmt.Errorf("gorilla: pinging inside a message: %w", err)
				}
				g.lg.addSent(diffMsg{op: decode.OpPing, payload: s.payload, compressed: -1})
			}
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("gorilla: closing a %s writer: %w", s.op, err)
		}
	}
	// With permessage-deflate negotiated, gorilla compresses every data
	// message (conn.go NextWriter: enableWriteCompression is on by default).
	g.lg.addSent(diffMsg{op: s.op, payload: s.message(), compressed: diffBool(g.deflate)})
	return nil
}

func (g *diffGorilla) read(ctx context.Context, onData func()) error {
	for {
		mt, r, err := g.c.NextReader()
		if err != nil {
			if _, ok := errors.AsType[*websocket.CloseError](err); ok {
				return nil // the close handler recorded it
			}
			return fmt.Errorf("gorilla: reading: %w", err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("gorilla: reading a message: %w", err)
		}
		g.lg.addReceived(diffMsg{op: decode.Opcode(mt), payload: b, compressed: -1})
		onData()
	}
}

func (g *diffGorilla) startClose(ctx context.Context, code uint16, reason string) error {
	g.closeSent.Store(true)
	m := diffCloseMsg(code, reason)
	if err := g.c.WriteControl(websocket.CloseMessage, m.payload, time.Now().Add(diffWriteWait)); err != nil {
		return fmt.Errorf("gorilla: sending close: %w", err)
	}
	g.lg.addSent(m)
	return nil
}

func (g *diffGorilla) finish() error { return g.c.Close() }

// --- coder/websocket ---

type diffCoderLib struct{}

// diffCoder is a coder/websocket connection.
type diffCoder struct {
	c         *coder.Conn
	flate     bool
	threshold int
	lg        *diffLog
	pings     int
	closeSent atomic.Bool

	// missedClose is set when the reader saw the connection end without the
	// Close answer: coder/websocket's Close read it (close.go
	// waitCloseHandshake). closeErr is what that Close returned.
	missedClose atomic.Bool
	closeCode   uint16
	closeErr    error
}

// diffCoderOptions are the options both ends use; the callbacks record
// control frames as they are read.
func diffCoderOptions(cfg diffConfig, lg *diffLog) (coder.CompressionMode, int, func(context.Context, []byte) bool, func(context.Context, []byte)) {
	mode, threshold := coder.CompressionDisabled, 0
	if cfg.deflate {
		// The thresholds are the library's documented defaults, set
		// explicitly so the expected compressed flag does not rest on them.
		mode, threshold = coder.CompressionNoContextTakeover, 512
		if cfg.takeover {
			mode, threshold = coder.CompressionContextTakeover, 128
		}
	}
	onPing := func(_ context.Context, p []byte) bool {
		lg.addReceived(diffMsg{op: decode.OpPing, payload: bytes.Clone(p), compressed: -1})
		// Returning true makes the library answer with a pong carrying the
		// same payload (read.go handleControl).
		lg.addSent(diffMsg{op: decode.OpPong, payload: bytes.Clone(p), compressed: -1})
		return true
	}
	onPong := func(_ context.Context, p []byte) {
		lg.addReceived(diffMsg{op: decode.OpPong, payload: bytes.Clone(p), compressed: -1})
	}
	return mode, threshold, onPing, onPong
}

func (diffCoderLib) handler(cfg diffConfig, got func(diffEndpoint, error), release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lg := &diffLog{}
		mode, threshold, onPing, onPong := diffCoderOptions(cfg, lg)
		c, err := coder.Accept(w, r, &coder.AcceptOptions{
			Subprotocols:         []string{diffSubprotocol},
			CompressionMode:      mode,
			CompressionThreshold: threshold,
			OnPingReceived:       onPing,
			OnPongReceived:       onPong,
		})
		if err != nil {
			got(nil, fmt.Errorf("coder: accepting: %w", err))
			return
		}
		c.SetReadLimit(8 << 20)
		got(&diffCoder{c: c, flate: cfg.deflate, threshold: threshold, lg: lg}, nil)
		<-release
	})
}

func (diffCoderLib) dial(ctx context.Context, cfg diffConfig, url string) (diffEndpoint, *http.Response, error) {
	lg := &diffLog{}
	mode, threshold, onPing, onPong := diffCoderOptions(cfg, lg)
	c, resp, err := coder.Dial(ctx, url, &coder.DialOptions{
		Subprotocols:         []string{diffSubprotocol},
		CompressionMode:      mode,
		CompressionThreshold: threshold,
		OnPingReceived:       onPing,
		OnPongReceived:       onPong,
	})
	if err != nil {
		return nil, resp, fmt.Errorf("coder: dialing %s: %w", url, err)
	}
	c.SetReadLimit(8 << 20)
	return &diffCoder{c: c, flate: cfg.deflate, threshold: threshold, lg: lg}, resp, nil
}

func (k *diffCoder) log() *diffLog       { return k.lg }
func (k *diffCoder) subprotocol() string { return k.c.Subprotocol() }

// ping sends a ping and waits for its pong. coder/websocket numbers its
// pings 1, 2, 3... per connection (conn.go Ping).
func (k *diffCoder) ping(ctx context.Context) error {
	k.pings++
	p := []byte(strconv.Itoa(k.pings))
	k.lg.addSent(diffMsg{op: decode.OpPing, payload: p, compressed: -1})
	if err := k.c.Ping(ctx); err != nil {
		return fmt.Errorf("coder: ping %s: %w", p, err)
	}
	return nil
}

func (k *diffCoder) send(ctx context.Context, s diffStep) error {
	switch s.kind {
	case diffPing:
		return k.ping(ctx)
	case diffPong:
		return errors.New("coder: the library cannot send an unsolicited pong")
	}
	typ := coder.MessageText
	if s.op == decode.OpBinary {
		typ = coder.MessageBinary
	}
	var compressed bool
	if !s.stream {
		if err := k.c.Write(ctx, typ, s.parts[0]); err != nil {
			return fmt.Errorf("coder: writing a %d-byte %s message: %w", len(s.parts[0]), s.op, err)
		}
		// write.go write: compressed when the message reaches the threshold.
		compressed = k.flate && len(s.parts[0]) >= k.threshold
	} else {
		w, err := k.c.Writer(ctx, typ)
		if err != nil {
			return fmt.Errorf("coder: opening a %s writer: %w", s.op, err)
		}
		for i, p := range s.parts {
			if _, err := w.Write(p); err != nil {
				return fmt.Errorf("coder: writing part %d: %w", i, err)
			}
			if i == s.pingAfter {
				// Control frames take only the frame lock, so a ping goes
				// out between the frames of the open message.
				if err := k.ping(ctx); err != nil {
					return err
				}
			}
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("coder: closing a %s writer: %w", s.op, err)
		}
		// write.go msgWriter.Write: compression is decided by the first
		// write of the message.
		compressed = k.flate && len(s.parts) > 0 && len(s.parts[0]) >= k.threshold
	}
	k.lg.addSent(diffMsg{op: s.op, payload: s.message(), compressed: diffBool(compressed)})
	return nil
}

func (k *diffCoder) read(ctx context.Context, onData func()) error {
	for {
		typ, b, err := k.c.Read(ctx)
		if err != nil {
			if ce, ok := errors.AsType[coder.CloseError](err); ok {
				k.lg.addReceived(diffCloseMsg(uint16(ce.Code), ce.Reason))
				if !k.closeSent.Load() {
					// The library answers a Close with the same code and
					// reason (read.go handleControl).
					k.lg.addSent(diffCloseMsg(uint16(ce.Code), ce.Reason))
				}
				return nil
			}
			if k.closeSent.Load() {
				k.missedClose.Store(true)
				return nil
			}
			return fmt.Errorf("coder: reading: %w", err)
		}
		op := decode.OpText
		if typ == coder.MessageBinary {
			op = decode.OpBinary
		}
		k.lg.addReceived(diffMsg{op: op, payload: b, compressed: -1})
		onData()
	}
}

func (k *diffCoder) startClose(ctx context.Context, code uint16, reason string) error {
	k.closeSent.Store(true)
	k.closeCode = code
	k.lg.addSent(diffCloseMsg(code, reason))
	// Close sends the Close frame and waits for the answer and the end of
	// the connection. When the reader took the answer first, Close sees
	// only the end of the stream and reports it; that is not a failure.
	k.closeErr = k.c.Close(coder.StatusCode(code), reason)
	return nil
}

func (k *diffCoder) finish() error {
	if k.missedClose.Load() {
		// Close returns nil only when the answer carried our code
		// (close.go closeHandshake); the reason went unseen.
		if k.closeErr != nil {
			return fmt.Errorf("coder: the answer to our Close was not seen: %w", k.closeErr)
		}
		m := diffCloseMsg(k.closeCode, "")
		m.reasonUnknown = true
		k.lg.addReceived(m)
	}
	// The library closed the connection when the handshake ended; CloseNow
	// only releases what may be left and reports that it was closed.
	_ = k.c.CloseNow()
	return nil
}

// diffBool is the known-compressed value of b.
func diffBool(b bool) int8 {
	if b {
		return 1
	}
	return 0
}

// --- the scripts ---

// diffSizes are the message sizes around the payload length encodings of
// RFC 6455 5.2 (7-bit up to 125, 16-bit up to 65535, 64-bit above) and a
// large message.
var diffSizes = [...]int{0, 1, 125, 126, 127, 65535, 65536, 70000, 1 << 20}

// diffScript is what one side says: text and binary messages of every
// size, pings (also inside a fragmented message), pongs where the library
// can send them, messages written in parts, and a last text message.
func diffScript(rng *rand.Rand, cfg diffConfig) []diffStep {
	whole := func(op decode.Opcode, p []byte) diffStep {
		return diffStep{kind: diffData, op: op, parts: [][]byte{p}, pingAfter: -1}
	}
	var steps []diffStep
	for _, n := range diffSizes {
		steps = append(steps, whole(decode.OpText, diffText(rng, n)), whole(decode.OpBinary, diffBinary(rng, n)))
	}
	steps = append(steps,
		diffStep{kind: diffPing},
		diffStep{kind: diffPing, payload: []byte("are you there?")},
		diffStep{kind: diffPing, payload: diffBinary(rng, 125)}, // the largest control payload (RFC 6455 5.5)
		whole(decode.OpBinary, diffBinary(rng, 3000)),
		whole(decode.OpText, diffText(rng, 5000)),
	)
	if cfg.pongs {
		steps = append(steps, diffStep{kind: diffPong, payload: []byte("unsolicited")})
	}
	// Messages written in parts: text cut inside multi-byte characters,
	// binary with a ping while the message is open, an empty first part,
	// and a large compressible text in several writes.
	steps = append(steps,
		diffStep{kind: diffData, op: decode.OpText, stream: true, pingAfter: -1, parts: diffCut(rng, diffText(rng, 9000), 5)},
		diffStep{kind: diffData, op: decode.OpBinary, stream: true, pingAfter: 1, payload: []byte("mid-message"), parts: diffCut(rng, diffBinary(rng, 70000), 4)},
		diffStep{kind: diffData, op: decode.OpText, stream: true, pingAfter: 2, payload: []byte("again"), parts: diffCut(rng, diffText(rng, 40000), 6)},
		diffStep{kind: diffData, op: decode.OpBinary, stream: true, pingAfter: -1, parts: [][]byte{{}, diffBinary(rng, 700), diffBinary(rng, 300)}},
		// A deflate writer at BestSpeed (both libraries) holds up to 64 KiB
		// before it emits a block: a first write past that puts frames of
		// a compressed message on the wire before the ping.
		diffStep{kind: diffData, op: decode.OpBinary, stream: true, pingAfter: 0, payload: []byte("inside deflate"), parts: [][]byte{diffBinary(rng, 100000), diffBinary(rng, 20000)}},
		diffStep{kind: diffData, op: decode.OpText, stream: true, pingAfter: -1, parts: diffCut(rng, diffText(rng, 300000), 3)},
		diffStep{kind: diffData, op: decode.OpText, stream: true, pingAfter: -1},
		whole(decode.OpText, []byte("done ✓")),
	)
	return steps
}

// diffWords make compressible text with 1- to 4-byte UTF-8 characters.
var diffWords = [...]string{"hello ", "wörld ", "naïve ", "€uro ", "日本語 ", "😀 ", "𝄞 ", "data ", "ß ", "\u00a0 "}

// diffText returns valid UTF-8 of exactly n bytes.
func diffText(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		w := diffWords[rng.IntN(len(diffWords))]
		if len(b)+len(w) > n {
			w = "........"[:min(8, n-len(b))]
		}
		b = append(b, w...)
	}
	return b
}

// diffBinary returns n random bytes: incompressible, so deflate writes
// them in stored blocks.
func diffBinary(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// diffCut cuts p at k-1 random places (inside characters, too).
func diffCut(rng *rand.Rand, p []byte, k int) [][]byte {
	cuts := make([]int, 0, k+1)
	cuts = append(cuts, 0, len(p))
	for range k - 1 {
		cuts = append(cuts, 1+rng.IntN(len(p)-1))
	}
	sort.Ints(cuts)
	parts := make([][]byte, 0, k)
	for i := 1; i < len(cuts); i++ {
		parts = append(parts, p[cuts[i-1]:cuts[i]])
	}
	return parts
}
