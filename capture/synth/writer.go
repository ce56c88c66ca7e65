package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

const (
	// etherHeaderLen is an Ethernet II header: two MAC addresses and the
	// EtherType.
	etherHeaderLen = 14
	// mtu is Ethernet's payload limit (RFC 894): the largest IP packet the
	// link the file pretends to be carries.
	mtu = 1500
	// maxFrame is the longest frame written, and the interface's snap
	// length: every frame is written whole.
	maxFrame = etherHeaderLen + mtu
	// ipv4HeaderLen and ipv6HeaderLen are the fixed headers, without
	// options or extension headers, which are never written.
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	// tcpHeaderLen is a TCP header without options; only the SYNs carry
	// one (the MSS option).
	tcpHeaderLen = 20
	// mss4 and mss6 are the largest payloads that keep a segment within
	// mtu: the MTU less the fixed IP and TCP headers (RFC 9293 3.7.1),
	// 1460 and 1440 bytes, what hosts on Ethernet use.
	mss4 = mtu - ipv4HeaderLen - tcpHeaderLen
	mss6 = mtu - ipv6HeaderLen - tcpHeaderLen
	// window is the receive window every segment advertises: the largest
	// a 16-bit field holds without window scaling, which the SYNs do not
	// offer (RFC 7323 2.2). With an ACK every ackEvery segments, at most
	// 2*1460 bytes are ever in flight, far below it.
	window = 65535
	// ackEvery is how many data segments the receiver lets pass before a
	// bare ACK: RFC 9293 3.8.6.3 asks for an ACK for at least every
	// second full-sized segment.
	ackEvery = 2
	// hopLimit is the IPv4 TTL and IPv6 hop limit, Linux's default: the
	// packets are written as the sending host would see them.
	hopLimit = 64
)

// macOf is the fixed MAC address of one end (client or server):
// 02:00:00:00:00:01 and ...:02, locally administered unicast (the 02 bit),
// so that they can never be a real vendor's.
func macOf(side int) [6]byte { return [6]byte{0x02, 0, 0, 0, 0, byte(side + 1)} }

// ErrClosed is wrapped by the error of a call on a direction that ended:
// data or a FIN after that side's FIN, anything after a RST or after both
// FINs.
var ErrClosed = errors.New("the TCP stream is closed in that direction")

// Writer writes synthetic TCP connections to a pcapng file. It is safe for
// concurrent use.
type Writer struct {
	mu sync.Mutex
	ng *pcapgo.NgWriter
	// err, once set, is returned by every later call: the file is
	// incomplete from there, and the streams' state no longer matches it.
	err error
	// streams counts the streams opened: the seed of the next ISNs.
	streams uint64
	// isn gives a stream's initial sequence numbers from its ordinal;
	// tests replace it to exercise sequence number wraparound.
	isn func(n uint64) (client, server uint32)

	// The serialization state, reused for every packet so that writing
	// allocates nothing: the buffer holds one frame at a time.
	buf    gopacket.SerializeBuffer
	ip4    layers.IPv4
	ip6    layers.IPv6
	tcp    layers.TCP
	mssOpt [1]layers.TCPOption
	mssVal [2]byte
}

// NewWriter writes a pcapng section header and one Ethernet interface to w,
// and returns a Writer for the packets. Flush writes out what is buffered.
func NewWriter(w io.Writer) (*Writer, error) {
	intf := pcapgo.DefaultNgInterface
	intf.Name = "synthetic"
	intf.Description = "TCP rebuilt from the byte streams a proxy relayed"
	intf.LinkType = layers.LinkTypeEthernet
	intf.SnapLength = maxFrame
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "wstap"
	ng, err := pcapgo.NewNgWriterInterface(w, intf, opts)
	if err != nil {
		return nil, fmt.Errorf("writing the pcapng section header: %w", err)
	}
	return &Writer{
		ng:  ng,
		isn: splitmixISN,
		buf: gopacket.NewSerializeBufferExpectedSize(maxFrame, 0),
	}, nil
}

// Flush writes out the packets that are buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.ng.Flush(); err != nil {
		w.err = fmt.Errorf("flushing the pcapng file: %w", err)
	}
	return w.err
}

// splitmixISN derives the two initial sequence numbers of stream n from
// the splitmix64 finalizer: consecutive streams get ISNs spread over the
// whole sequence space, as real ones are, and the same stream always the
// same ones.
func splitmixISN(n uint64) (client, server uint32) {
	z := n * 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return uint32(z), uint32(z >> 32)
}

// checkTime refuses times that a pcapng timestamp cannot hold: pcapgo
// writes nanoseconds since 1970 from an int64, so before 1970 or after
// 2262 would be written as garbage (a zero time.Time is the likely case).
func checkTime(at time.Time) error {
	if at.Unix() < 0 || at.Unix() >= math.MaxInt64/int64(time.Second) {
		return fmt.Errorf("timestamp %s is outside what pcapng holds (1970 to 2262)", at.Format(time.RFC3339Nano))
	}
	return nil
}

// TCP control bits of a segment.
type flags uint8

const (
	flagFIN flags = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// segment is one TCP segment to write.
type segment struct {
	seq, ack uint32
	flags    flags
	// mss, when not 0, is announced in an MSS option (SYNs only).
	mss     uint16
	payload []byte
}

// emit writes one segment from one end of s to the other. The caller holds
// w.mu and has checked w.err; emit sets it on failure.
func (w *Writer) emit(s *Stream, fromClient bool, at time.Time, g segment) error {
	src, dst := &s.ends[client], &s.ends[server]
	if !fromClient {
		src, dst = dst, src
	}
	if err := w.serialize(s.v6, src, dst, g); err != nil {
		// Only a bug can get here: the addresses were checked by Open.
		w.err = fmt.Errorf("building a TCP segment %s -> %s: %w", src.addr, dst.addr, err)
		return w.err
	}
	data := w.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: len(data)}
	if err := w.ng.WritePacket(ci, data); err != nil {
		w.err = fmt.Errorf("writing a TCP segment %s -> %s: %w", src.addr, dst.addr, err)
		return w.err
	}
	src.ipID++
	return nil
}

// serialize builds the frame of segment g in w.buf, from the innermost
// layer out: the payload, then TCP (whose checksum covers the payload and
// the IP pseudo-header), then IP, then Ethernet.
func (w *Writer) serialize(v6 bool, src, dst *end, g segment) error {
	// gopacket fills in the lengths (IPv4 total and header length, IPv6
	// payload length, TCP data offset) and the IPv4 and TCP checksums.
	serializeOpts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := w.buf.Clear(); err != nil {
		return err
	}
	if len(g.payload) > 0 {
		p, err := w.buf.PrependBytes(len(g.payload))
		if err != nil {
			return err
		}
		copy(p, g.payload)
	}
	w.tcp = layers.TCP{
		SrcPort: layers.TCPPort(src.addr.Port()),
		DstPort: layers.TCPPort(dst.addr.Port()),
		Seq:     g.seq,
		Ack:     g.ack,
		FIN:     g.flags&flagFIN != 0,
		SYN:     g.flags&flagSYN != 0,
		RST:     g.flags&flagRST != 0,
		PSH:     g.flags&flagPSH != 0,
		ACK:     g.flags&flagACK != 0,
		Window:  window,
	}
	if g.mss != 0 {
		binary.BigEndian.PutUint16(w.mssVal[:], g.mss)
		w.mssOpt[0] = layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: w.mssVal[:]}
		w.tcp.Options = w.mssOpt[:]
	}
	etherType := layers.EthernetTypeIPv4
	if v6 {
		etherType = layers.EthernetTypeIPv6
		w.ip6 = layers.IPv6{Version: 6, NextHeader: layers.IPProtocolTCP, HopLimit: hopLimit, SrcIP: src.ip, DstIP: dst.ip}
		if err := w.tcp.SetNetworkLayerForChecksum(&w.ip6); err != nil {
			return err
		}
		if err := w.tcp.SerializeTo(w.buf, serializeOpts); err != nil {
			return err
		}
		if err := w.ip6.SerializeTo(w.buf, serializeOpts); err != nil {
			return err
		}
	} else {
		// DF, as stacks doing path MTU discovery send every segment
		// (RFC 1191). The identification of such an atomic datagram may
		// be any value (RFC 6864 4.1); a counter per sender is what
		// readers are used to seeing.
		w.ip4 = layers.IPv4{Version: 4, Id: src.ipID, Flags: layers.IPv4DontFragment, TTL: hopLimit, Protocol: layers.IPProtocolTCP, SrcIP: src.ip, DstIP: dst.ip}
		if err := w.tcp.SetNetworkLayerForChecksum(&w.ip4); err != nil {
			return err
		}
		if err := w.tcp.SerializeTo(w.buf, serializeOpts); err != nil {
			return err
		}
		if err := w.ip4.SerializeTo(w.buf, serializeOpts); err != nil {
			return err
		}
	}
	// The Ethernet header is written here rather than by layers.Ethernet,
	// which pads frames to the 60-byte minimum as a NIC does on the wire:
	// a capture on the sending host, which this file stands for, shows a
	// bare ACK as 54 bytes without a trailer.
	h, err := w.buf.PrependBytes(etherHeaderLen)
	if err != nil {
		return err
	}
	copy(h[0:6], dst.mac[:])
	copy(h[6:12], src.mac[:])
	binary.BigEndian.PutUint16(h[12:14], uint16(etherType))
	return nil
}
