package decode_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
)

// The differential tests run scripted conversations between a real client
// and a real server of one WebSocket library over loopback sockets, with a
// relay in the middle that forwards the exact bytes and records every chunk
// it read. The recorded chunks are then decoded, and the decoder must tell
// exactly what the libraries sent and received.

// diffConfig is one library setting to converse with.
type diffConfig struct {
	name     string
	lib      diffLibrary
	deflate  bool
	takeover bool // coder/websocket: CompressionContextTakeover
	// closer starts the closing handshake.
	closer decode.Side
	// wantDeflate are the permessage-deflate parameters the server must
	// have accepted (RFC 7692 7.1), nil without compression.
	wantDeflate *decode.DeflateParams
	// pongs: the library can send an unsolicited pong (RFC 6455 5.5.3).
	pongs bool
	seed  uint64
}

// diffCloseCode and diffCloseReason start the closing handshake.
const (
	diffCloseCode   = 4001
	diffCloseReason = "bye"
)

// diffConfigs are the settings conversed with: each library plain and with
// permessage-deflate in every mode it offers, the close started by either
// side.
func diffConfigs() []diffConfig {
	noTakeover := &decode.DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	return []diffConfig{
		{name: "gorilla", lib: diffGorillaLib{}, closer: decode.Client, pongs: true, seed: 1},
		{name: "gorilla-deflate", lib: diffGorillaLib{}, deflate: true, wantDeflate: noTakeover, closer: decode.Server, pongs: true, seed: 2},
		{name: "coder", lib: diffCoderLib{}, closer: decode.Server, seed: 3},
		{name: "coder-deflate-takeover", lib: diffCoderLib{}, deflate: true, takeover: true, closer: decode.Client, seed: 4,
			wantDeflate: &decode.DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
		{name: "coder-deflate-no-takeover", lib: diffCoderLib{}, deflate: true, wantDeflate: noTakeover, closer: decode.Server, seed: 5},
	}
}

// TestDiffLibraries decodes what gorilla/websocket and coder/websocket put
// on real sockets, fed as the relay read it, cut into random pieces of 1 to
// 32 bytes, and in streaming mode, and checks each time that the decoder
// shows exactly the conversation the libraries had.
func TestDiffLibraries(t *testing.T) {
	for _, cfg := range diffConfigs() {
		t.Run(cfg.name, func(t *testing.T) {
			rec := diffConverse(t, cfg)
			t.Logf("relayed %d bytes client->server and %d server->client in %d chunks",
				rec.relayed[decode.Client], rec.relayed[decode.Server], len(rec.chunks))
			t.Run("as-read", func(t *testing.T) {
				diffCheck(t, cfg, rec, diffDecode(t, rec, nil))
			})
			t.Run("random-pieces", func(t *testing.T) {
				diffCheck(t, cfg, rec, diffDecode(t, rec, rand.New(rand.NewPCG(cfg.seed, 99))))
			})
		})
	}
}

// --- the relay ---

// diffChunk is what the relay got from one read.
type diffChunk struct {
	from decode.Side
	t    time.Time
	b    []byte
}

// diffTee is a TCP relay for one connection. It records each chunk before
// forwarding it, so the recorded order never puts an answer before what it
// answers.
type diffTee struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	chunks  []diffChunk
	relayed [2]int64
	errs    []error
	client  string // the client's address as the relay saw it

	done chan struct{}
}

// diffStartTee listens on loopback and relays the first connection to
// target.
func diffStartTee(t *testing.T, target string) *diffTee {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("relay: listening on 127.0.0.1: %v", err)
	}
	tee := &diffTee{ln: ln, target: target, done: make(chan struct{})}
	go tee.serve()
	return tee
}

func (tee *diffTee) addr() string { return tee.ln.Addr().String() }

func (tee *diffTee) fail(err error) {
	tee.mu.Lock()
	defer tee.mu.Unlock()
	tee.errs = append(tee.errs, err)
}

func (tee *diffTee) serve() {
	defer close(tee.done)
	c, err := tee.ln.Accept()
	tee.ln.Close()
	if err != nil {
		tee.fail(fmt.Errorf("relay: accepting: %w", err))
		return
	}
	defer c.Close()
	tee.mu.Lock()
	tee.client = c.RemoteAddr().String()
	tee.mu.Unlock()
	s, err := net.Dial("tcp", tee.target)
	if err != nil {
		tee.fail(fmt.Errorf("relay: dialing %s: %w", tee.target, err))
		return
	}
	defer s.Close()
	var wg sync.WaitGroup
	// Different read sizes per direction give different chunkings.
	wg.Go(func() { tee.pump(c.(*net.TCPConn), s.(*net.TCPConn), decode.Client, 16<<10) })
	wg.Go(func() { tee.pump(s.(*net.TCPConn), c.(*net.TCPConn), decode.Server, 4093) })
	wg.Wait()
}

// pump copies src to dst, recording every chunk, and passes the end of the
// stream on as a half close.
func (tee *diffTee) pump(src, dst *net.TCPConn, from decode.Side, size int) {
	buf := make([]byte, size)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			tee.mu.Lock()
			tee.chunks = append(tee.chunks, diffChunk{from: from, t: time.Now(), b: bytes.Clone(buf[:n])})
			tee.relayed[from] += int64(n)
			tee.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				tee.fail(fmt.Errorf("relay: forwarding %s bytes: %w", from, werr))
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				tee.fail(fmt.Errorf("relay: reading %s bytes: %w", from, err))
			}
			dst.CloseWrite()
			return
		}
	}
}

// --- the conversation ---

// diffRecord is a finished conversation: what went over the wire and what
// both libraries said they sent and received.
type diffRecord struct {
	url         string
	client      string
	server      string
	chunks      []diffChunk
	relayed     [2]int64
	end         time.Time
	logs        [2]*diffLog // by side
	subprotocol [2]string   // as each library negotiated it
	extensions  string      // Sec-WebSocket-Extensions of the 101, as the client got it
	scripts     [2][]diffStep
}

// diffConverse runs both scripts through the library, closes, and returns
// the record once the relay saw both streams end.
func diffConverse(t *testing.T, cfg diffConfig) *diffRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("server: listening on 127.0.0.1: %v", err)
	}
	type accepted struct {
		ep  diffEndpoint
		err error
	}
	acceptc := make(chan accepted, 1)
	release := make(chan struct{})
	srv := &http.Server{
		Handler:           cfg.lib.handler(cfg, func(ep diffEndpoint, err error) { acceptc <- accepted{ep, err} }, release),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln)
	defer srv.Close()
	defer close(release)

	tee := diffStartTee(t, ln.Addr().String())
	defer tee.ln.Close()
	rec := &diffRecord{url: "ws://" + tee.addr() + "/chat?room=1", server: tee.addr()}
	rng := rand.New(rand.NewPCG(cfg.seed, 1))
	rec.scripts[decode.Client] = diffScript(rng, cfg)
	rec.scripts[decode.Server] = diffScript(rng, cfg)

	var eps [2]diffEndpoint
	finished := false
	defer func() {
		if finished {
			return
		}
		// A failed run: end both connections so nothing stays blocked.
		for _, ep := range eps {
			if ep != nil {
				ep.finish()
			}
		}
	}()
	client, resp, err := cfg.lib.dial(ctx, cfg, rec.url)
	if err != nil {
		t.Fatal(err)
	}
	eps[decode.Client] = client
	rec.extensions = resp.Header.Get("Sec-WebSocket-Extensions")
	select {
	case a := <-acceptc:
		if a.err != nil {
			t.Fatal(a.err)
		}
		eps[decode.Server] = a.ep
	case <-ctx.Done():
		t.Fatal("server: no connection accepted in time")
	}

	errc := make(chan error, 8)
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case err := <-errc:
			t.Fatalf("waiting for %s: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
	var allIn, readDone, writeDone [2]chan struct{}
	for s := range eps {
		ep := eps[s]
		allIn[s], readDone[s], writeDone[s] = make(chan struct{}), make(chan struct{}), make(chan struct{})
		want := diffDataSteps(rec.scripts[1-s])
		got := 0
		if want == 0 {
			close(allIn[s])
		}
		go func() {
			err := ep.read(ctx, func() {
				if got++; got == want {
					close(allIn[s])
				}
			})
			if err != nil {
				errc <- fmt.Errorf("%s: %w", decode.Side(s), err)
				return
			}
			close(readDone[s])
		}()
		go func() {
			for i, st := range rec.scripts[s] {
				if err := ep.send(ctx, st); err != nil {
					errc <- fmt.Errorf("%s step %d: %w", decode.Side(s), i, err)
					return
				}
			}
			close(writeDone[s])
		}()
	}
	for s := range eps {
		wait(decode.Side(s).String()+" to finish its script", writeDone[s])
		wait(decode.Side(s).String()+" to receive every message", allIn[s])
	}
	// Both sides have sent and received everything: only now does the
	// closer start the closing handshake, so no frame follows a Close.
	closed := make(chan struct{})
	go func() {
		if err := eps[cfg.closer].startClose(ctx, diffCloseCode, diffCloseReason); err != nil {
			errc <- err
			return
		}
		close(closed)
	}()
	wait("the close to be sent", closed)
	for s := range eps {
		wait(decode.Side(s).String()+" to receive the close", readDone[s])
	}
	finished = true
	for s := range eps {
		if err := eps[s].finish(); err != nil {
			t.Fatalf("%s: finishing: %v", decode.Side(s), err)
		}
	}
	wait("the relay to see both streams end", tee.done)

	rec.end = time.Now()
	tee.mu.Lock()
	defer tee.mu.Unlock()
	if len(tee.errs) > 0 {
		t.Fatalf("relay: %v", errors.Join(tee.errs...))
	}
	rec.chunks, rec.relayed, rec.client = tee.chunks, tee.relayed, tee.client
	for s := range eps {
		rec.logs[s] = eps[s].log()
		rec.subprotocol[s] = eps[s].subprotocol()
	}
	return rec
}

// diffDataSteps counts the data messages a script sends.
func diffDataSteps(steps []diffStep) int {
	n := 0
	for _, s := range steps {
		if s.kind == diffData {
			n++
		}
	}
	return n
}

// diffConn is a connection with copies of every frame, message and
// problem its decoder emitted (the decoder keeps none of them).
type diffConn struct {
	*decode.Connection
	Frames   []decode.Frame
	Messages []decode.Message
	Problems []decode.Problem
}

// diffDecode decodes the record, rebuilding the conversation from copies
// of what the listener was given. A frame learns its message only when
// the message completes, so that link is set then.
func diffDecode(t *testing.T, rec *diffRecord, split *rand.Rand) *diffConn {
	c := &diffConn{Connection: &decode.Connection{ID: "1", Client: rec.client, Server: rec.server, Source: "proxy"}}
	listen := func(e decode.Event) {
		switch e.Kind {
		case decode.EventFrame:
			f := *e.Frame
			f.Payload = bytes.Clone(f.Payload)
			c.Frames = append(c.Frames, f)
		case decode.EventMessage:
			m := *e.Message
			m.Payload = bytes.Clone(m.Payload)
			m.Frames = slices.Clone(m.Frames)
			if m.Close != nil {
				cl := *m.Close
				m.Close = &cl
			}
			for _, fi := range m.Frames {
				if fi < len(c.Frames) {
					c.Frames[fi].Message = e.Index
				}
			}
			c.Messages = append(c.Messages, m)
		case decode.EventProblem:
			c.Problems = append(c.Problems, *e.Problem)
		}
	}
	diffFeed(rec, decode.NewDecoder(c.Connection, decode.Options{}, listen), split)
	if c.FrameCount != len(c.Frames) || c.MessageCount != len(c.Messages) || c.ProblemCount != len(c.Problems) {
		t.Errorf("counts %d frames, %d messages, %d problems; the listener got %d, %d, %d", c.FrameCount, c.MessageCount, c.ProblemCount, len(c.Frames), len(c.Messages), len(c.Problems))
	}
	return c
}

// diffFeed gives the recorded chunks to d in recorded order, cut into
// random pieces when split is set, and ends the connection.
func diffFeed(rec *diffRecord, d *decode.Decoder, split *rand.Rand) {
	for _, ch := range rec.chunks {
		if split == nil {
			d.Feed(ch.from, ch.t, ch.b)
			continue
		}
		for b := ch.b; len(b) > 0; {
			n := 1 + split.IntN(min(len(b), 32))
			d.Feed(ch.from, ch.t, b[:n])
			b = b[n:]
		}
	}
	d.End(rec.end)
}

// --- the checks ---

// diffCheck compares the decoded connection with the record: handshake,
// every byte of both streams accounted for by frames, frames against the
// raw bytes, and messages against what each library sent and received.
func diffCheck(t *testing.T, cfg diffConfig, rec *diffRecord, c *diffConn) {
	t.Helper()
	for _, p := range c.Problems {
		if p.Severity == decode.Error {
			t.Errorf("error problem %s from %s (frame %d, message %d, offset %d): %s", p.Kind, p.From, p.Frame, p.MessageIndex, p.Offset, p.Message)
		} else {
			t.Errorf("unexpected warning %s from %s (frame %d, message %d, offset %d): %s", p.Kind, p.From, p.Frame, p.MessageIndex, p.Offset, p.Message)
		}
	}
	if c.SuppressedProblems > 0 {
		t.Errorf("%d problems were suppressed", c.SuppressedProblems)
	}
	diffCheckHandshake(t, cfg, rec, c)

	streams := diffStreams(rec)
	for side := range streams {
		diffCheckFrames(t, rec, c, decode.Side(side), streams[side])
	}
	diffCheckMessages(t, c)
	for side := range streams {
		diffCheckConversation(t, rec, c, decode.Side(side))
		diffCheckShape(t, cfg, c, decode.Side(side))
	}

	if c.Close == nil || c.CloseReply == nil {
		t.Fatalf("close = %v, reply = %v; want both", c.Close, c.CloseReply)
	}
	if c.Close.From != cfg.closer || !c.Close.HasCode || c.Close.Code != diffCloseCode || c.Close.Reason != diffCloseReason {
		t.Errorf("close = %+v; want %s %d %q", *c.Close, cfg.closer, diffCloseCode, diffCloseReason)
	}
	sent, _ := rec.logs[cfg.closer.Other()].snapshot()
	reply := diffOfKind(sent, decode.OpClose)
	if len(reply) != 1 {
		t.Fatalf("the %s sent %d Close frames, want 1", cfg.closer.Other(), len(reply))
	}
	if c.CloseReply.From != cfg.closer.Other() || !c.CloseReply.HasCode || c.CloseReply.Code != diffCloseCode || c.CloseReply.Reason != string(reply[0].payload[2:]) {
		t.Errorf("close reply = %+v; want %s %d %q", *c.CloseReply, cfg.closer.Other(), diffCloseCode, reply[0].payload[2:])
	}
}

func diffCheckHandshake(t *testing.T, cfg diffConfig, rec *diffRecord, c *diffConn) {
	t.Helper()
	if c.Protocol != decode.ProtocolRFC6455 {
		t.Errorf("protocol = %s, want rfc6455", c.Protocol)
	}
	if c.Request == nil || c.Response == nil {
		t.Fatalf("handshake not parsed: request %v, response %v", c.Request, c.Response)
	}
	if c.Request.Method != "GET" || c.Request.Target != "/chat?room=1" || c.Response.Status != 101 {
		t.Errorf("handshake = %s %s -> %d; want GET /chat?room=1 -> 101", c.Request.Method, c.Request.Target, c.Response.Status)
	}
	if c.URL != rec.url {
		t.Errorf("URL = %q, want %q", c.URL, rec.url)
	}
	if c.Client != rec.client || c.Server != rec.server {
		t.Errorf("client, server = %s, %s; want %s, %s (roles swapped?)", c.Client, c.Server, rec.client, rec.server)
	}
	for s, p := range rec.subprotocol {
		if p != diffSubprotocol {
			t.Errorf("the %s library negotiated subprotocol %q, want %q", decode.Side(s), p, diffSubprotocol)
		}
	}
	if c.Subprotocol != diffSubprotocol {
		t.Errorf("subprotocol = %q, want %q", c.Subprotocol, diffSubprotocol)
	}
	if c.Extensions != rec.extensions {
		t.Errorf("extensions = %q, want %q (as the client library got them)", c.Extensions, rec.extensions)
	}
	switch {
	case cfg.wantDeflate == nil && c.Deflate != nil:
		t.Errorf("deflate = %+v, want none", *c.Deflate)
	case cfg.wantDeflate != nil && c.Deflate == nil:
		t.Errorf("deflate not negotiated; extensions %q", c.Extensions)
	case cfg.wantDeflate != nil && *c.Deflate != *cfg.wantDeflate:
		t.Errorf("deflate = %+v, want %+v (extensions %q)", *c.Deflate, *cfg.wantDeflate, c.Extensions)
	}
	if c.State != decode.StateClosed {
		t.Errorf("state = %s, want closed", c.State)
	}
}

// diffStreams joins the chunks of each direction.
func diffStreams(rec *diffRecord) [2][]byte {
	var s [2][]byte
	for side := range s {
		s[side] = make([]byte, 0, rec.relayed[side])
	}
	for _, ch := range rec.chunks {
		s[ch.from] = append(s[ch.from], ch.b...)
	}
	return s
}

// diffChunkTimes returns a function that tells the time of the chunk of
// side that holds a stream offset.
func diffChunkTimes(rec *diffRecord, side decode.Side) func(off int64) time.Time {
	var ends []int64
	var times []time.Time
	var pos int64
	for _, ch := range rec.chunks {
		if ch.from == side {
			pos += int64(len(ch.b))
			ends = append(ends, pos)
			times = append(times, ch.t)
		}
	}
	return func(off int64) time.Time {
		i := sort.Search(len(ends), func(i int) bool { return ends[i] > off })
		if i == len(ends) {
			return time.Time{}
		}
		return times[i]
	}
}

// diffCheckFrames checks that the frames of side cover its stream after the
// handshake exactly, byte for byte, and that each frame's header and
// unmasked payload are what the raw bytes say.
func diffCheckFrames(t *testing.T, rec *diffRecord, c *diffConn, side decode.Side, stream []byte) {
	t.Helper()
	if c.Bytes[side] != rec.relayed[side] {
		t.Errorf("%s bytes = %d, relayed %d", side, c.Bytes[side], rec.relayed[side])
	}
	head := bytes.Index(stream, []byte("\r\n\r\n"))
	if head < 0 {
		t.Fatalf("%s stream has no HTTP head", side)
	}
	next := int64(head + 4)
	chunkTime := diffChunkTimes(rec, side)
	var framed int64
	n := 0
	for i := range c.Frames {
		f := &c.Frames[i]
		if f.From != side {
			continue
		}
		n++
		if f.Offset != next {
			t.Fatalf("%s frame %d at offset %d, want %d (right after the previous frame)", side, i, f.Offset, next)
		}
		size := int64(f.HeaderLen) + int64(f.Length)
		framed += size
		next += size
		if next > int64(len(stream)) {
			t.Fatalf("%s frame %d ends at %d, past the %d bytes relayed", side, i, next, len(stream))
		}
		if want := side == decode.Client; f.Masked != want {
			t.Errorf("%s frame %d masked = %v, want %v (RFC 6455 5.1)", side, i, f.Masked, want)
		}
		if want := chunkTime(f.Offset); !f.Time.Equal(want) {
			t.Errorf("%s frame %d time = %v, want %v (the chunk holding its first byte)", side, i, f.Time, want)
		}
		b0 := stream[f.Offset]
		if (b0&0x80 != 0) != f.Fin || b0>>4&7 != f.Rsv || decode.Opcode(b0&0xf) != f.Opcode {
			t.Errorf("%s frame %d: first byte %08b, decoded fin %v rsv %d opcode %d", side, i, b0, f.Fin, f.Rsv, f.Opcode)
		}
		raw := bytes.Clone(stream[f.Offset+int64(f.HeaderLen) : next])
		if f.Masked {
			decode.Mask(f.MaskKey, 0, raw)
		}
		if !bytes.Equal(raw, f.Payload) {
			t.Errorf("%s frame %d payload (%d bytes) differs from the unmasked wire bytes (%d): %s", side, i, len(f.Payload), len(raw), diffFirstDiff(f.Payload, raw))
		}
	}
	if after := rec.relayed[side] - int64(head+4); framed != after {
		t.Errorf("%s: %d frames take %d bytes; %d were relayed after the %d-byte handshake", side, n, framed, after, head+4)
	}
}

// diffCheckMessages checks that messages are made of their frames
// (RFC 6455 5.4) and that every frame belongs to one.
func diffCheckMessages(t *testing.T, c *diffConn) {
	t.Helper()
	owner := make([]int, len(c.Frames))
	for i := range owner {
		owner[i] = -1
	}
	for mi := range c.Messages {
		m := &c.Messages[mi]
		if len(m.Frames) == 0 {
			t.Fatalf("message %d has no frames", mi)
		}
		if m.Truncated || m.Raw {
			t.Errorf("message %d: truncated %v, raw %v", mi, m.Truncated, m.Raw)
		}
		if m.Size != int64(len(m.Payload)) {
			t.Errorf("message %d: size %d, payload %d bytes", mi, m.Size, len(m.Payload))
		}
		var wire int64
		var joined []byte
		for k, fi := range m.Frames {
			f := &c.Frames[fi]
			if owner[fi] >= 0 {
				t.Errorf("frame %d belongs to messages %d and %d", fi, owner[fi], mi)
			}
			owner[fi] = mi
			if f.From != m.From || f.Message != mi {
				t.Errorf("message %d frame %d: from %s, message %d", mi, fi, f.From, f.Message)
			}
			wantOp, wantRsv := decode.OpContinuation, uint8(0)
			if k == 0 {
				wantOp = m.Opcode
				if m.Compressed {
					wantRsv = 4 // RSV1 on the first frame only (RFC 7692 6.1)
				}
			}
			if f.Opcode != wantOp || f.Rsv != wantRsv || f.Fin != (k == len(m.Frames)-1) {
				t.Errorf("message %d frame %d (%d of %d): opcode %s rsv %d fin %v; want %s rsv %d", mi, fi, k, len(m.Frames), f.Opcode, f.Rsv, f.Fin, wantOp, wantRsv)
			}
			wire += int64(f.HeaderLen) + int64(f.Length)
			joined = append(joined, f.Payload...)
		}
		if m.WireSize != wire {
			t.Errorf("message %d: wire size %d, frames take %d", mi, m.WireSize, wire)
		}
		if !m.Compressed && !bytes.Equal(joined, m.Payload) {
			t.Errorf("message %d: payload is not its frames' payloads joined: %s", mi, diffFirstDiff(m.Payload, joined))
		}
		if wantText := m.Opcode == decode.OpText || m.Opcode == decode.OpClose && len(m.Payload) >= 2; m.TextValid != wantText {
			t.Errorf("message %d (%s): text valid %v, want %v", mi, m.Opcode, m.TextValid, wantText)
		}
	}
	for fi, mi := range owner {
		if mi < 0 {
			t.Errorf("frame %d (%s %s) belongs to no message", fi, c.Frames[fi].From, c.Frames[fi].Opcode)
		}
	}
}

// diffCheckShape checks that the conversation exercised what it is meant
// to: messages in several frames, control frames between the frames of an
// open message (RFC 6455 5.4), and compressed messages exactly when
// permessage-deflate was negotiated.
func diffCheckShape(t *testing.T, cfg diffConfig, c *diffConn, side decode.Side) {
	t.Helper()
	var fragmented, interleaved, compressed int
	for i := range c.Messages {
		m := &c.Messages[i]
		if m.From != side {
			continue
		}
		if m.Compressed {
			compressed++
		}
		if len(m.Frames) < 2 {
			continue
		}
		fragmented++
		for fi := m.Frames[0] + 1; fi < m.Frames[len(m.Frames)-1]; fi++ {
			if f := &c.Frames[fi]; f.From == side && f.Opcode.IsControl() {
				interleaved++
			}
		}
	}
	t.Logf("%s: %d messages in several frames, %d control frames inside a message, %d compressed", side, fragmented, interleaved, compressed)
	if fragmented == 0 || interleaved == 0 {
		t.Errorf("%s: %d messages in several frames and %d control frames inside one; the script asks for both", side, fragmented, interleaved)
	}
	if (compressed > 0) != cfg.deflate {
		t.Errorf("%s: %d compressed messages with deflate %v", side, compressed, cfg.deflate)
	}
}

// diffCheckConversation compares the messages side sent, as decoded, with
// what the receiving library handed to its application (all of them, in
// order) and with what the sending library was asked to send (per kind, in
// order: answers are written by the reading goroutine, so their place among
// the data messages depends on timing).
func diffCheckConversation(t *testing.T, rec *diffRecord, c *diffConn, side decode.Side) {
	t.Helper()
	var decoded []*decode.Message
	for i := range c.Messages {
		if c.Messages[i].From == side {
			decoded = append(decoded, &c.Messages[i])
		}
	}
	_, received := rec.logs[side.Other()].snapshot()
	diffCompare(t, fmt.Sprintf("%s->%s, as the %s library received them", side, side.Other(), side.Other()), decoded, received)

	sent, _ := rec.logs[side].snapshot()
	for _, kind := range []decode.Opcode{decode.OpText, decode.OpPing, decode.OpPong, decode.OpClose} {
		var dk []*decode.Message
		for _, m := range decoded {
			if diffKind(m.Opcode) == kind {
				dk = append(dk, m)
			}
		}
		diffCompare(t, fmt.Sprintf("%s %s messages, as the %s library sent them", side, diffKindName(kind), side), dk, diffOfKind(sent, kind))
	}
}

// diffKind puts text and binary together: data messages keep their order
// among themselves.
func diffKind(op decode.Opcode) decode.Opcode {
	if op == decode.OpBinary {
		return decode.OpText
	}
	return op
}

func diffKindName(op decode.Opcode) string {
	if op == decode.OpText {
		return "data"
	}
	return op.String()
}

func diffOfKind(ms []diffMsg, kind decode.Opcode) []diffMsg {
	var out []diffMsg
	for _, m := range ms {
		if diffKind(m.op) == kind {
			out = append(out, m)
		}
	}
	return out
}

func diffCompare(t *testing.T, what string, decoded []*decode.Message, want []diffMsg) {
	t.Helper()
	for i := range max(len(decoded), len(want)) {
		switch {
		case i >= len(decoded):
			t.Errorf("%s: message %d (%s, %d bytes) was not decoded", what, i, want[i].op, len(want[i].payload))
			return
		case i >= len(want):
			t.Errorf("%s: decoded message %d (%s, %d bytes) was not there", what, i, decoded[i].Opcode, len(decoded[i].Payload))
			return
		}
		d, w := decoded[i], want[i]
		payload := d.Payload
		wp := w.payload
		if w.reasonUnknown {
			t.Logf("%s: message %d: the library's Close read the answer, so only its code is compared", what, i)
			payload, wp = payload[:min(2, len(payload))], wp[:2]
		}
		if d.Opcode != w.op || !bytes.Equal(payload, wp) {
			t.Errorf("%s: message %d is %s of %d bytes, want %s of %d bytes: %s", what, i, d.Opcode, len(d.Payload), w.op, len(w.payload), diffFirstDiff(payload, wp))
			return
		}
		if w.compressed >= 0 && d.Compressed != (w.compressed == 1) {
			t.Errorf("%s: message %d (%s, %d bytes) compressed = %v, want %v", what, i, d.Opcode, len(d.Payload), d.Compressed, w.compressed == 1)
		}
		if d.Opcode == decode.OpClose {
			if d.Close == nil || !d.Close.HasCode || d.Close.Code != uint16(wp[0])<<8|uint16(wp[1]) || !w.reasonUnknown && d.Close.Reason != string(wp[2:]) {
				t.Errorf("%s: message %d close = %+v, want payload %q", what, i, d.Close, wp)
			}
		}
	}
}

// diffFirstDiff describes where two byte strings first differ.
func diffFirstDiff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: %#02x, want %#02x", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("lengths %d and %d, equal up to the shorter", len(got), len(want))
	}
	return "equal"
}
