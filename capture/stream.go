package capture

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/reassembly"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// stream is one TCP connection: the assembler hands it the bytes of both
// directions in order, and it feeds them to the connection's decoder.
//
// The assembler delivers bytes without saying which packet each came from,
// so every half keeps its own table of the segments it accepted: their
// sequence numbers, capture times and how much of each was captured. That
// gives each byte its capture time, and turns the bytes a snap length cut
// (which the tracker pads so that the stream goes on after them) into a
// gap instead of zeros.
type stream struct {
	t     *Tracker
	order int64
	id    string
	// addr[i] is the address of the sender of half i; half 0 is the
	// direction of the connection's first packet.
	addr [2]string
	// firstIsClient says whether the first packet's sender is taken to be
	// the client. It is a guess (the SYN's sender, or the higher port);
	// the decoder corrects it from what each side sends.
	firstIsClient bool
	halves        [2]half
	// first and last are the capture times of its first and last packets.
	first, last time.Time

	// key is the assembler's key for the connection, remembered when it
	// ends so that late copies of its segments are recognised.
	key flowKey

	// tc is the connection on the tap, opened at the first byte.
	tc *session.Conn
	// tls is set when the first bytes were a TLS record: nothing of the
	// connection is decoded.
	tls bool
	// holding is set while the stream is in the tracker's list of streams
	// with held events.
	holding bool
	// ended is set once the stream is queued to end; nothing is decoded
	// after that.
	ended bool
}

// half is one direction of a stream.
type half struct {
	// known is set once the direction's sequence space is known: from its
	// SYN, or from its first packet when the SYN was not captured.
	known bool
	// next is the sequence number of the next byte the assembler delivers;
	// fed that of the next byte given to the decoder, behind next while
	// bytes are held back (see order.go).
	next, fed uint32
	// segs are the accepted segments not yet delivered, by sequence number.
	segs []segment
	// held are bytes, gaps and the FIN delivered but not yet given to the
	// decoder, oldest first.
	held   []event
	closed bool
	rst    bool
	// ghost, when ghostKnown, is where the sequence space of the closed
	// connection that last used this address pair ended in this direction:
	// segments that end before it are late copies of its traffic.
	ghost      uint32
	ghostKnown bool
}

// segment is what the stream knows of one accepted TCP segment.
type segment struct {
	seq      uint32
	n        int // payload bytes on the wire
	captured int // of which the capture kept the first captured
	t        time.Time
	number   int64 // the record, for warnings
	// ack is what the sender had received of the other direction when it
	// sent this segment (valid when hasAck).
	ack    uint32
	hasAck bool
}

func (s segment) end() uint32 { return s.seq + uint32(s.n) }

// event is one step of a direction for the decoder: bytes, a gap, or the
// FIN.
type event struct {
	t      time.Time
	data   []byte
	gap    int64
	fin    bool
	ack    uint32
	hasAck bool
}

// seqDiff returns b - a in TCP sequence space (RFC 9293 3.4): positive when
// b comes after a.
func seqDiff(a, b uint32) int { return int(int32(b - a)) }

func dirIndex(d reassembly.TCPFlowDirection) int {
	if d == reassembly.TCPDirClientToServer {
		return 0
	}
	return 1
}

func (t *Tracker) newStream(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP) *stream {
	s := &stream{t: t, order: t.created, key: flowKey{netFlow, tcpFlow}, first: t.now}
	t.created++
	src, dst := netFlow.Endpoints()
	s.addr[0] = joinAddr(src.Raw(), uint16(tcp.SrcPort))
	s.addr[1] = joinAddr(dst.Raw(), uint16(tcp.DstPort))
	switch {
	case tcp.SYN && !tcp.ACK:
		s.firstIsClient = true
	case tcp.SYN && tcp.ACK:
		s.firstIsClient = false
	default:
		// No handshake seen: servers usually listen on the lower port.
		s.firstIsClient = tcp.SrcPort >= tcp.DstPort
	}
	t.recall(s)
	return s
}

func joinAddr(ip []byte, port uint16) string {
	a, _ := netip.AddrFromSlice(ip)
	return net.JoinHostPort(a.String(), strconv.Itoa(int(port)))
}

// Accept is called by the assembler for every packet of the connection,
// before it is reassembled. It records the segment and starts a direction
// whose SYN was not captured at the first packet seen.
func (s *stream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	if s.ended {
		return false
	}
	h := &s.halves[dirIndex(dir)]
	if h.ghostKnown {
		// A late copy of a segment of the connection that used these
		// addresses before is not the start of a new one.
		if !tcp.SYN && seqDiff(h.ghost, tcp.Seq+uint32(len(tcp.Payload))) <= 0 {
			return false
		}
		s.halves[0].ghostKnown, s.halves[1].ghostKnown = false, false
	}
	if ci.Timestamp.After(s.last) {
		s.last = ci.Timestamp
	}
	if nextSeq < 0 {
		// gopacket waits for a SYN before it delivers anything; a capture
		// that began mid-connection has none, so the first packet starts
		// the stream.
		if tcp.SYN {
			h.next = tcp.Seq + 1
		} else {
			*start = true
			h.next = tcp.Seq
		}
		h.fed = h.next
		h.known = true
	}
	if tcp.RST {
		h.rst = true
	}
	if s.id == "" && (tcp.SYN || len(tcp.Payload) > 0) {
		s.id = s.t.opts.Tap.NextID()
	}
	if n := len(tcp.Payload); n > 0 && !h.closed {
		seq := tcp.Seq
		if tcp.SYN {
			seq++
		}
		h.add(segment{seq: seq, n: n, captured: n - s.t.missing, t: ci.Timestamp, number: s.t.num, ack: tcp.Ack, hasAck: tcp.ACK})
	}
	return true
}

// add inserts sg in sequence order, after segments with the same start:
// in the common case it is appended.
func (h *half) add(sg segment) {
	i := len(h.segs)
	for i > 0 && seqDiff(sg.seq, h.segs[i-1].seq) > 0 {
		i--
	}
	h.segs = slices.Insert(h.segs, i, sg)
}

// ReassembledSG receives the next bytes of one direction, in order, with
// the number of bytes skipped before them (lost from the capture).
func (s *stream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	if s.ended {
		return
	}
	dir, _, end, skip := sg.Info()
	length, _ := sg.Lengths()
	hi := dirIndex(dir)
	h := &s.halves[hi]
	if skip > 0 || length > 0 {
		s.deliver(hi, sg, length, skip)
	}
	if end {
		h.closed = true
		h.segs = nil
		if h.rst {
			// After a reset neither side sends anything more (RFC 9293
			// 3.5.2): the connection is over even if the other direction
			// never closes.
			s.finish()
			return
		}
		h.next++ // the FIN takes a sequence number
		s.emit(hi, event{t: s.t.now, fin: true})
	}
}

// deliver turns length bytes of half hi, after a gap of skip bytes, into
// events for the decoder.
func (s *stream) deliver(hi int, sg reassembly.ScatterGather, length, skip int) {
	h := &s.halves[hi]
	if skip > 0 {
		s.emit(hi, event{t: h.timeAt(h.next+uint32(skip), s.t.now), gap: int64(skip)})
		h.next += uint32(skip)
	}
	if length > 0 {
		data := sg.Fetch(length)
		for pos := 0; pos < len(data); {
			pos += s.run(hi, data[pos:], h.next+uint32(pos))
		}
		h.next += uint32(length)
	}
	keep := h.segs[:0]
	for _, sgm := range h.segs {
		if seqDiff(h.next, sgm.end()) > 0 {
			keep = append(keep, sgm)
		}
	}
	h.segs = keep
}

// run emits the first run of data, which starts at sequence number seq,
// that one segment accounts for, and returns its length: captured bytes
// go to the decoder with their capture time, bytes the snap length cut
// become a gap.
func (s *stream) run(hi int, data []byte, seq uint32) int {
	h := &s.halves[hi]
	best, bestOff := -1, 0
	next := -1 // the first segment starting after seq
	for j := range h.segs {
		off := seqDiff(h.segs[j].seq, seq)
		if off < 0 {
			next = j
			break
		}
		if off >= h.segs[j].n {
			continue
		}
		// Prefer a segment that captured this byte (a retransmission may
		// have kept what the first copy lost).
		if best < 0 || (off < h.segs[j].captured && bestOff >= h.segs[best].captured) {
			best, bestOff = j, off
		}
	}
	if best < 0 {
		// No segment accounts for these bytes (they cannot come from
		// nowhere, but a debugger does not drop them): feed them at the
		// current capture time, up to the next known segment.
		n := len(data)
		if next >= 0 {
			n = min(n, seqDiff(seq, h.segs[next].seq))
		}
		s.emit(hi, event{t: s.t.now, data: data[:n]})
		return n
	}
	sgm := &h.segs[best]
	if bestOff < sgm.captured {
		n := min(sgm.captured-bestOff, len(data))
		s.emit(hi, event{t: sgm.t, data: data[:n], ack: sgm.ack, hasAck: sgm.hasAck})
		return n
	}
	n := min(sgm.n-bestOff, len(data))
	if bestOff == sgm.captured {
		s.t.warn("snap", "record %d: connection %s: the snap length cut %d of the %d payload bytes the %s sent in this packet; they are a gap in the stream",
			sgm.number, s.id, sgm.n-sgm.captured, sgm.n, s.side(hi))
	}
	s.emit(hi, event{t: sgm.t, gap: int64(n), ack: sgm.ack, hasAck: sgm.hasAck})
	return n
}

// timeAt returns the capture time of the segment holding seq, or def.
func (h *half) timeAt(seq uint32, def time.Time) time.Time {
	for _, sgm := range h.segs {
		if off := seqDiff(sgm.seq, seq); off >= 0 && off < sgm.n {
			return sgm.t
		}
	}
	return def
}

// ReassemblyComplete is called when both directions ended (FIN, RST, idle
// or the end of the input).
func (s *stream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	s.finish()
	return true
}

// side says which decode side sends half hi.
func (s *stream) side(hi int) decode.Side {
	if (hi == 0) == s.firstIsClient {
		return decode.Client
	}
	return decode.Server
}
