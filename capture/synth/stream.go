package synth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// The two ends of a stream, as indexes into Stream.ends.
const (
	client = 0
	server = 1
)

// end is one end of a connection, and what it has sent so far.
type end struct {
	addr netip.AddrPort // as written: unmapped, or mapped to IPv6
	ip   net.IP         // addr's address for gopacket: 4 or 16 bytes
	mac  [6]byte
	ipID uint16
	// nxt is this end's SND.NXT (RFC 9293 3.3.1): the sequence number of
	// the next byte it sends. Nothing is lost in a synthetic capture, so
	// it is also the other end's RCV.NXT, the acknowledgement number of
	// everything the other end sends.
	nxt uint32
	// unacked counts the data segments sent since the other end last
	// acknowledged.
	unacked int
	fin     bool // a FIN was sent: no more data from this end
}

// Stream is one synthetic TCP connection in a Writer's file. Its methods
// are safe for concurrent use; a proxy typically writes each direction
// from its own goroutine.
type Stream struct {
	w     *Writer
	v6    bool
	mss   int
	ends  [2]end
	reset bool // a RST was sent: the connection is gone
}

// Open starts a connection from client to server with the three-way
// handshake (SYN, SYN-ACK, ACK, all at time at) and returns its Stream.
// The addresses are written as described in the package documentation;
// client and server must be valid and differ.
func (w *Writer) Open(clientAddr, serverAddr netip.AddrPort, at time.Time) (*Stream, error) {
	c, s, v6, err := endpoints(clientAddr, serverAddr)
	if err == nil {
		err = checkTime(at)
	}
	if err != nil {
		return nil, fmt.Errorf("opening a TCP stream %s -> %s: %w", clientAddr, serverAddr, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	w.streams++
	cisn, sisn := w.isn(w.streams)
	st := &Stream{w: w, v6: v6, mss: mss4}
	if v6 {
		st.mss = mss6
	}
	st.ends[client] = end{addr: c, ip: c.Addr().AsSlice(), mac: macOf(client), nxt: cisn}
	st.ends[server] = end{addr: s, ip: s.Addr().AsSlice(), mac: macOf(server), nxt: sisn}

	// The three-way handshake (RFC 9293 3.5). Each SYN takes one sequence
	// number (3.4), and both announce the MSS the segments will respect
	// (3.7.1). The handshake's ACK is a bare ACK like any other.
	cl, sv := &st.ends[client], &st.ends[server]
	if err := w.emit(st, true, at, segment{seq: cl.nxt, flags: flagSYN, mss: uint16(st.mss)}); err != nil {
		return nil, err
	}
	cl.nxt++
	if err := w.emit(st, false, at, segment{seq: sv.nxt, ack: cl.nxt, flags: flagSYN | flagACK, mss: uint16(st.mss)}); err != nil {
		return nil, err
	}
	sv.nxt++
	if err := w.emit(st, true, at, segment{seq: cl.nxt, ack: sv.nxt, flags: flagACK}); err != nil {
		return nil, err
	}
	return st, nil
}

// endpoints returns the addresses to write for a client and a server, and
// whether they are IPv6 (see the package documentation for the mapping).
func endpoints(c, s netip.AddrPort) (netip.AddrPort, netip.AddrPort, bool, error) {
	if !c.Addr().IsValid() || !s.Addr().IsValid() {
		return c, s, false, errors.New("an address is missing")
	}
	// Zones are local to a host and have no place in a packet.
	ca, sa := c.Addr().Unmap().WithZone(""), s.Addr().Unmap().WithZone("")
	v6 := !ca.Is4() || !sa.Is4()
	if v6 {
		ca, sa = netip.AddrFrom16(ca.As16()), netip.AddrFrom16(sa.As16())
	}
	c, s = netip.AddrPortFrom(ca, c.Port()), netip.AddrPortFrom(sa, s.Port())
	if c == s {
		// Wireshark could not tell the two directions apart.
		return c, s, v6, errors.New("client and server are the same address and port")
	}
	return c, s, v6, nil
}

// Write writes b as sent by the client (fromClient) or the server at time
// at: segments of at most the MSS, the last one with PSH, each
// acknowledged by a bare ACK from the other end after every second segment
// and after the last. b may be of any size; only one segment is held at a
// time. An empty b writes nothing.
func (s *Stream) Write(fromClient bool, at time.Time, b []byte) error {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	me, peer := s.sides(fromClient)
	if err := s.usable(me, fromClient, at, "data"); err != nil {
		return err
	}
	for len(b) > 0 {
		n := min(len(b), s.mss)
		f := flagACK
		if n == len(b) {
			// The end of the SEND call (RFC 9293 3.9.1.2): the receiver
			// should hand the data over now.
			f |= flagPSH
		}
		if err := w.emit(s, fromClient, at, segment{seq: me.nxt, ack: peer.nxt, flags: f, payload: b[:n]}); err != nil {
			return err
		}
		me.nxt += uint32(n) // modulo 2^32, as sequence numbers are (RFC 9293 3.4)
		me.unacked++
		b = b[n:]
		if me.unacked >= ackEvery || len(b) == 0 {
			if err := s.ack(!fromClient, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// CloseWrite ends the client's (fromClient) or the server's direction with
// a FIN at time at, which the other end acknowledges; the other direction
// stays open, as after shutdown(SHUT_WR). When both directions ended the
// connection is closed.
func (s *Stream) CloseWrite(fromClient bool, at time.Time) error {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	me, peer := s.sides(fromClient)
	if err := s.usable(me, fromClient, at, "a FIN"); err != nil {
		return err
	}
	// The FIN comes after all data sent (RFC 9293 3.10.4) and takes one
	// sequence number (3.4).
	if err := w.emit(s, fromClient, at, segment{seq: me.nxt, ack: peer.nxt, flags: flagFIN | flagACK}); err != nil {
		return err
	}
	me.nxt++
	me.fin = true
	return s.ack(!fromClient, at)
}

// Reset aborts the connection with a RST from the client (fromClient) or
// the server at time at. Nothing can be written to the stream after it.
func (s *Stream) Reset(fromClient bool, at time.Time) error {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	me, peer := s.sides(fromClient)
	if err := w.usable(at); err != nil {
		return fmt.Errorf("writing a RST %s: %w", s.direction(fromClient), err)
	}
	if s.reset || (me.fin && peer.fin) {
		return fmt.Errorf("writing a RST %s: %w", s.direction(fromClient), ErrClosed)
	}
	// The ABORT call (RFC 9293 3.10.5): <SEQ=SND.NXT><CTL=RST>, which the
	// other end accepts since it is exactly its RCV.NXT.
	if err := w.emit(s, fromClient, at, segment{seq: me.nxt, flags: flagRST}); err != nil {
		return err
	}
	s.reset = true
	return nil
}

// sides returns the sending end and the other one.
func (s *Stream) sides(fromClient bool) (me, peer *end) {
	if fromClient {
		return &s.ends[client], &s.ends[server]
	}
	return &s.ends[server], &s.ends[client]
}

// ack writes a bare ACK from one end for everything the other one sent.
// It is never a duplicate ACK in Wireshark's sense: it is only written when
// there is something new to acknowledge.
func (s *Stream) ack(fromClient bool, at time.Time) error {
	me, peer := s.sides(fromClient)
	if err := s.w.emit(s, fromClient, at, segment{seq: me.nxt, ack: peer.nxt, flags: flagACK}); err != nil {
		return err
	}
	peer.unacked = 0
	return nil
}

// usable reports why the Writer cannot take a packet at time at, if it
// cannot. The caller holds w.mu.
func (w *Writer) usable(at time.Time) error {
	if w.err != nil {
		return w.err
	}
	return checkTime(at)
}

// usable reports why end me cannot send what at time at, if it cannot.
// The caller holds s.w.mu.
func (s *Stream) usable(me *end, fromClient bool, at time.Time, what string) error {
	if err := s.w.usable(at); err != nil {
		return fmt.Errorf("writing %s %s: %w", what, s.direction(fromClient), err)
	}
	switch {
	case s.reset:
		return fmt.Errorf("writing %s %s after a RST: %w", what, s.direction(fromClient), ErrClosed)
	case me.fin:
		return fmt.Errorf("writing %s %s after its FIN: %w", what, s.direction(fromClient), ErrClosed)
	}
	return nil
}

// direction names a direction of the stream for error messages.
func (s *Stream) direction(fromClient bool) string {
	me, peer := s.sides(fromClient)
	return fmt.Sprintf("%s -> %s", me.addr, peer.addr)
}
