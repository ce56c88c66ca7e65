package synth_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// The sizes the package promises, restated as the reference check sees
// them: segments within a 1500-byte Ethernet MTU.
const (
	wantMSS4     = 1460
	wantMSS6     = 1440
	wantMaxFrame = 1514
	// maxInFlight is what an ACK after every second segment allows.
	maxInFlight = 2 * wantMSS4
)

// seg is one TCP segment read back from a capture with gopacket.
type seg struct {
	at            time.Time
	src, dst      netip.AddrPort
	seq, ack      uint32
	syn, fin, rst bool
	hasACK, psh   bool
	mss           int // from the MSS option, 0 without
	window        uint16
	payload       []byte
	frameLen      int
}

// readSegs decodes every packet of a pcapng capture down to TCP, failing
// on anything gopacket cannot decode.
func readSegs(t testing.TB, data []byte) []seg {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v, want Ethernet", r.LinkType())
	}
	var segs []seg
	for n := 1; ; n++ {
		frame, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return segs
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		if e := p.ErrorLayer(); e != nil {
			t.Fatalf("packet %d: %v", n, e.Error())
		}
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatalf("packet %d is not TCP: %v", n, p)
		}
		s := seg{at: ci.Timestamp, seq: tcp.Seq, ack: tcp.Ack, syn: tcp.SYN, fin: tcp.FIN, rst: tcp.RST,
			hasACK: tcp.ACK, psh: tcp.PSH, window: tcp.Window, payload: tcp.Payload, frameLen: len(frame)}
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			src, _ := netip.AddrFromSlice(ip.SrcIP)
			dst, _ := netip.AddrFromSlice(ip.DstIP)
			s.src, s.dst = netip.AddrPortFrom(src, uint16(tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(tcp.DstPort))
			if int(ip.Length) != len(frame)-14 {
				t.Fatalf("packet %d: IPv4 total length %d in a frame of %d", n, ip.Length, len(frame))
			}
		case *layers.IPv6:
			src, _ := netip.AddrFromSlice(ip.SrcIP)
			dst, _ := netip.AddrFromSlice(ip.DstIP)
			s.src, s.dst = netip.AddrPortFrom(src, uint16(tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(tcp.DstPort))
			if int(ip.Length) != len(frame)-14-40 {
				t.Fatalf("packet %d: IPv6 payload length %d in a frame of %d", n, ip.Length, len(frame))
			}
		}
		for _, o := range tcp.Options {
			if o.OptionType == layers.TCPOptionKindMSS {
				s.mss = int(binary.BigEndian.Uint16(o.OptionData))
			}
		}
		segs = append(segs, s)
	}
}

// checkConv checks the segments of one conversation against a naive model
// of TCP (RFC 9293): the handshake, every sequence and acknowledgement
// number, segment sizes, PSH at the end of each write, what is in flight,
// how it ended, and the bytes of each direction against what was written.
func checkConv(t *testing.T, all []seg, c conv) {
	t.Helper()
	cl, sv := netip.MustParseAddrPort(c.wireClient), netip.MustParseAddrPort(c.wireServer)
	var segs []seg
	for _, s := range all {
		if (s.src == cl && s.dst == sv) || (s.src == sv && s.dst == cl) {
			segs = append(segs, s)
		}
	}
	if len(segs) < 3 {
		t.Fatalf("%s: %d segments, want at least a handshake", c.wireClient, len(segs))
	}
	mss := wantMSS4
	if cl.Addr().Is6() {
		mss = wantMSS6
	}
	syn, synack, ack := segs[0], segs[1], segs[2]
	switch {
	case syn.src != cl || !syn.syn || syn.hasACK || syn.mss != mss:
		t.Fatalf("%s: first segment %+v is not the client's SYN with MSS %d", c.wireClient, syn, mss)
	case synack.src != sv || !synack.syn || !synack.hasACK || synack.ack != syn.seq+1 || synack.mss != mss:
		t.Fatalf("%s: second segment %+v is not the server's SYN-ACK", c.wireClient, synack)
	case ack.src != cl || ack.syn || !ack.hasACK || ack.seq != syn.seq+1 || ack.ack != synack.seq+1 || len(ack.payload) > 0:
		t.Fatalf("%s: third segment %+v is not the client's ACK", c.wireClient, ack)
	}

	// The model: per side (0 client, 1 server) the next sequence number,
	// the highest acknowledgement received, the bytes, the PSH count.
	nxt := [2]uint32{syn.seq + 1, synack.seq + 1}
	acked := nxt
	var got [2][]byte
	var pushes, fins [2]int
	reset := false
	for i, s := range segs[3:] {
		me := 0
		if s.src == sv {
			me = 1
		}
		peer := 1 - me
		switch {
		case reset:
			t.Fatalf("%s segment %d: after the RST", c.wireClient, i+3)
		case s.syn:
			t.Fatalf("%s segment %d: a second SYN", c.wireClient, i+3)
		case s.seq != nxt[me]:
			t.Fatalf("%s segment %d: seq %d, want %d", c.wireClient, i+3, s.seq, nxt[me])
		case s.rst:
			reset = true
			continue
		case !s.hasACK || s.ack != nxt[peer]:
			t.Fatalf("%s segment %d: ack %d (flag %v), want %d", c.wireClient, i+3, s.ack, s.hasACK, nxt[peer])
		case len(s.payload) > mss || s.frameLen > wantMaxFrame:
			t.Fatalf("%s segment %d: %d bytes in a frame of %d, over the MSS", c.wireClient, i+3, len(s.payload), s.frameLen)
		case s.window != 65535:
			t.Fatalf("%s segment %d: window %d", c.wireClient, i+3, s.window)
		case fins[me] > 0 && (len(s.payload) > 0 || s.fin):
			t.Fatalf("%s segment %d: data or FIN after the FIN", c.wireClient, i+3)
		}
		acked[peer] = s.ack
		got[me] = append(got[me], s.payload...)
		nxt[me] += uint32(len(s.payload))
		if s.fin {
			nxt[me]++
			fins[me]++
		}
		if s.psh {
			pushes[me]++
			if len(s.payload) == 0 {
				t.Fatalf("%s segment %d: PSH without data", c.wireClient, i+3)
			}
		}
		if inFlight := nxt[me] - acked[me]; inFlight > maxInFlight {
			t.Fatalf("%s segment %d: %d bytes in flight", c.wireClient, i+3, inFlight)
		}
	}

	var want [2][]byte
	var writes, wantFins [2]int
	wantReset := false
	for _, st := range c.steps {
		side := 0
		if !st.fromClient {
			side = 1
		}
		switch st.kind {
		case stepWrite:
			want[side] = append(want[side], st.data...)
			if len(st.data) > 0 {
				writes[side]++
			}
		case stepCloseWrite:
			wantFins[side]++
		case stepReset:
			wantReset = true
		}
	}
	for side, name := range []string{"client", "server"} {
		if !bytes.Equal(got[side], want[side]) {
			t.Errorf("%s: the %s sent %d bytes that differ from the %d written", c.wireClient, name, len(got[side]), len(want[side]))
		}
		if pushes[side] != writes[side] {
			t.Errorf("%s: the %s's segments have %d PSH, want one per write (%d)", c.wireClient, name, pushes[side], writes[side])
		}
		if fins[side] != wantFins[side] {
			t.Errorf("%s: the %s sent %d FIN, want %d", c.wireClient, name, fins[side], wantFins[side])
		}
		if !reset && acked[side] != nxt[side] {
			t.Errorf("%s: the %s's last %d bytes were never acknowledged", c.wireClient, name, nxt[side]-acked[side])
		}
	}
	if reset != wantReset {
		t.Errorf("%s: reset %v, want %v", c.wireClient, reset, wantReset)
	}
}
