package capture

import (
	"time"

	"github.com/google/gopacket"
	"github.com/wstap/wstap/decode"
)

// decoding is the decoder side of a connection: the decoder, and the gate
// that decides whether its events are passed on. It belongs to the
// goroutine that decodes the connection: the tracker's caller's, or a
// worker's (see workers.go).
type decoding struct {
	t *Tracker
	// order is the stream's creation order, which picks its worker.
	order int64
	dec   *decode.Decoder
	conn  *decode.Connection
	// open is set once the connection showed WebSocket or HTTP traffic;
	// until then its events wait in pending, and are dropped if it never
	// does.
	open    bool
	pending []decode.Event
	// frames counts the frames seen by side before the connection was
	// open; rejected is set when they turned out not to be frames.
	frames   [2]int
	rejected bool
}

// decoding returns the connection's decoder side, created at the first
// byte.
func (s *stream) decoding() *decoding {
	if s.dd == nil {
		if s.id == "" {
			s.id = s.t.opts.NextID()
		}
		c, sv := 0, 1
		if !s.firstIsClient {
			c, sv = 1, 0
		}
		conn := &decode.Connection{ID: s.id, Client: s.addr[c], Server: s.addr[sv], Source: s.t.opts.Source, Opened: s.first}
		s.dd = &decoding{t: s.t, order: s.order, conn: conn}
		s.dd.dec = decode.NewDecoder(conn, s.t.opts.Decode, s.dd.listen)
	}
	return s.dd
}

func (d *decoding) feed(side decode.Side, t time.Time, b []byte) {
	if !d.rejected {
		d.dec.Feed(side, t, b)
	}
}

func (d *decoding) gap(side decode.Side, t time.Time, n int64) {
	if !d.rejected {
		d.dec.Gap(side, t, n)
	}
}

// end ends the decoder at t and returns the connection to hand out, or
// nil when it was not WebSocket or HTTP.
func (d *decoding) end(t time.Time) *decode.Connection {
	if d.rejected {
		return nil
	}
	d.dec.End(t)
	c := d.conn
	d.dec, d.conn, d.pending = nil, nil, nil
	if !d.open {
		return nil
	}
	d.t.connections.Add(1)
	return c
}

// listen passes the decoder's events on once the connection showed
// WebSocket or HTTP traffic, and keeps them until then: a TLS or database
// connection is not news, nor the problems found while looking for frames
// in it.
//
// A handshake or an HTTP exchange settles it. Without one (the capture
// began mid-connection), frames found in the bytes must make sense: frames
// from both sides, masked one way and unmasked the other (RFC 6455 5.1),
// or trustFrames clean frames from one side. A frame-level violation
// before that means the frames were read into bytes of another protocol:
// the connection is dropped and no longer decoded.
func (d *decoding) listen(e decode.Event) {
	if d.rejected {
		return
	}
	if !d.open {
		switch e.Kind {
		case decode.EventHandshake, decode.EventExchange:
		case decode.EventFrame:
			d.frames[e.Frame.From]++
			f := *e.Frame // in streaming mode it is valid only during the call
			e.Frame = &f
			if (d.frames[decode.Client] == 0 || d.frames[decode.Server] == 0) && d.frames[e.Frame.From] < trustFrames {
				d.pending = append(d.pending, e)
				return
			}
		case decode.EventClosed:
			if d.frames[decode.Client]+d.frames[decode.Server] < 2 {
				return
			}
		default:
			if e.Problem != nil && suspicious(e.Problem.Kind) {
				d.reject()
				return
			}
			switch {
			case e.Problem != nil:
				p := *e.Problem
				e.Problem = &p
			case e.Message != nil:
				m := *e.Message
				e.Message = &m
			}
			d.pending = append(d.pending, e)
			return
		}
		d.open = true
		pending := d.pending
		d.pending = nil
		for _, p := range pending {
			d.forward(p)
		}
	}
	d.forward(e)
}

// trustFrames is how many clean frames one side must send before a
// connection whose handshake was not captured is taken for WebSocket
// when the other side is silent.
const trustFrames = 4

// suspicious reports whether a problem, in a connection whose handshake
// was not captured, says that the frames found are not frames.
func suspicious(k decode.Kind) bool {
	switch k {
	case decode.KindUnmaskedClientFrame, decode.KindMaskedServerFrame,
		decode.KindRSVWithoutExtension, decode.KindRSV1OnContinuation,
		decode.KindReservedOpcode, decode.KindControlFrameTooLong,
		decode.KindControlFragmented, decode.KindUnexpectedContinuation,
		decode.KindInterleavedDataFrame, decode.KindLengthTopBit,
		decode.KindNonMinimalLength, decode.KindInvalidUTF8,
		decode.KindInvalidCloseCode, decode.KindShortClosePayload,
		decode.KindFrameAfterClose, decode.KindInflateFailed:
		return true
	}
	return false
}

// reject drops a connection that turned out not to be WebSocket: what it
// sends from now on is not decoded.
func (d *decoding) reject() {
	d.rejected = true
	d.pending = nil
	d.conn = nil
}

func (d *decoding) forward(e decode.Event) {
	if e.Kind == decode.EventMessage {
		d.t.messages.Add(1)
	}
	if d.t.opts.Event != nil {
		d.t.opts.Event(e)
	}
}

// finish queues the stream to end; the tracker ends queued streams in
// creation order.
func (s *stream) finish() {
	if s.ended {
		return
	}
	s.ended = true
	s.t.finished = append(s.t.finished, s)
}

// end gives the decoder what is still held and ends it, then lets go of
// the stream's state.
func (s *stream) end() {
	s.flushHeld()
	if s.dd != nil {
		s.t.endDecoding(s.dd, s.last)
	}
	if s.tls {
		s.t.stats.TLS++
	}
	s.t.remember(s)
	s.dd = nil
	s.halves = [2]half{}
}

// flowKey is the assembler's key for a connection: the address and port
// pairs of its first packet.
type flowKey struct{ net, tcp gopacket.Flow }

// closedConn is where the sequence spaces of a connection ended, kept for
// a while after it ended.
type closedConn struct {
	next  [2]uint32 // by direction, in the orientation of the key
	known [2]bool
	until time.Time
}

// maxRecent bounds the ended connections remembered.
const maxRecent = 1 << 14

// remember records where an ended connection's sequence spaces ended:
// a segment retransmitted after both FINs would otherwise start a new
// connection, made of a stale copy of the old one's last bytes.
func (t *Tracker) remember(s *stream) {
	if len(t.recent) >= maxRecent {
		return
	}
	var c closedConn
	for hi := range s.halves {
		c.next[hi], c.known[hi] = s.halves[hi].next, s.halves[hi].known
	}
	if !c.known[0] && !c.known[1] {
		return
	}
	c.until = t.now.Add(2 * t.opts.ReorderWait)
	t.recent[s.key] = c
}

// recall marks a new stream whose addresses an ended connection used: its
// segments that end before where the old one ended are late copies (see
// Accept).
func (t *Tracker) recall(s *stream) {
	if len(t.recent) == 0 {
		return
	}
	c, ok := t.recent[s.key]
	swap := false
	if !ok {
		c, ok = t.recent[flowKey{s.key.net.Reverse(), s.key.tcp.Reverse()}]
		swap = true
	}
	if !ok || t.now.After(c.until) {
		return
	}
	for hi := range s.halves {
		old := hi
		if swap {
			old = 1 - hi
		}
		s.halves[hi].ghost, s.halves[hi].ghostKnown = c.next[old], c.known[old]
	}
}

// forget drops the ended connections remembered long enough.
func (t *Tracker) forget() {
	for k, c := range t.recent {
		if t.now.After(c.until) {
			delete(t.recent, k)
		}
	}
}
