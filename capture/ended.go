package capture

import (
	"time"

	"github.com/google/gopacket"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// decoding returns the connection's decoder on the tap, opened at the
// first byte. Whether it is shown is the tap's decision (session/gate.go).
func (s *stream) decoding() *session.Conn {
	if s.tc == nil {
		if s.id == "" {
			s.id = s.t.opts.Tap.NextID()
		}
		c, sv := 0, 1
		if !s.firstIsClient {
			c, sv = 1, 0
		}
		conn := &decode.Connection{ID: s.id, Client: s.addr[c], Server: s.addr[sv], Source: s.t.opts.Source, Opened: s.first}
		s.tc = s.t.opts.Tap.Open(conn)
	}
	return s.tc
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
	if s.tc != nil {
		s.t.endDecoding(s, s.tc, s.last)
	}
	if s.tls {
		s.t.stats.TLS++
	}
	s.t.remember(s)
	s.tc = nil
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
