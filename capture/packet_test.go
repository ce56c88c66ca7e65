package capture

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// toLink wraps an IP packet in the link-layer header of link, as a
// capture on such a link would hold it.
func toLink(t *testing.T, link LinkType, variant string, ip []byte) []byte {
	t.Helper()
	v6 := ip[0]>>4 == 6
	ether := uint16(etherIPv4)
	if v6 {
		ether = etherIPv6
	}
	family := func(order byteOrder, v6family uint32) []byte {
		f := uint32(2)
		if v6 {
			f = v6family
		}
		return order.AppendUint32(nil, f)
	}
	mac := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2}
	var h []byte
	switch link {
	case LinkEthernet:
		h = append(bytes.Clone(mac), byte(ether>>8), byte(ether))
		switch variant {
		case "vlan":
			h = append(bytes.Clone(mac), 0x81, 0x00, 0x00, 0x2a, byte(ether>>8), byte(ether))
		case "qinq":
			h = append(bytes.Clone(mac), 0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x2a, byte(ether>>8), byte(ether))
		}
	case LinkNull:
		switch variant {
		case "big-endian":
			h = family(binary.BigEndian, 30) // written on a big-endian Darwin
		case "freebsd":
			h = family(binary.LittleEndian, 28)
		case "openbsd":
			h = family(binary.LittleEndian, 24)
		default:
			h = family(binary.LittleEndian, 10)
		}
	case LinkLoop:
		h = family(binary.BigEndian, 24)
	case LinkLinuxSLL:
		h = make([]byte, 16)
		binary.BigEndian.PutUint16(h[2:], 772) // ARPHRD_LOOPBACK
		binary.BigEndian.PutUint16(h[14:], ether)
	case LinkLinuxSLL2:
		h = make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], ether)
		binary.BigEndian.PutUint32(h[4:], 1)
		binary.BigEndian.PutUint16(h[8:], 772)
	case LinkRaw, linkRawDLT12, linkRawDLT14, LinkIPv4, LinkIPv6:
	default:
		t.Fatalf("no header for %s", link)
	}
	return append(h, ip...)
}

// relink rewrites every record of cf onto another link type.
func relink(t *testing.T, cf capFile, link LinkType, variant string, edit func(ip []byte) []byte) capFile {
	out := capFile{link: link}
	for _, r := range cf.recs {
		ip := bytes.Clone(r.data[cf.ipOffset(t, r.data):])
		if edit != nil {
			ip = edit(ip)
		}
		data := toLink(t, link, variant, ip)
		orig := r.orig - (len(r.data) - len(data))
		if variant == "padded" && len(data) < 60 {
			// Ethernet pads short frames to 60 bytes; the padding is not
			// TCP payload.
			data = append(data, bytes.Repeat([]byte{0xee}, 60-len(data))...)
			orig = 60
		}
		out.recs = append(out.recs, capRecord{ts: r.ts, orig: orig, data: data})
	}
	return out
}

// withIPv6Extensions inserts a hop-by-hop and a destination options header
// in front of the TCP header of an IPv6 packet (RFC 8200 4.3, 4.6).
func withIPv6Extensions(ip []byte) []byte {
	next := ip[6]
	ext := []byte{60, 0, 1, 4, 0, 0, 0, 0, next, 0, 1, 4, 0, 0, 0, 0} // PadN options
	out := append(bytes.Clone(ip[:40]), ext...)
	out = append(out, ip[40:]...)
	out[6] = 0
	binary.BigEndian.PutUint16(out[4:], binary.BigEndian.Uint16(ip[4:])+16)
	return out
}

// TestLinkTypes decodes the same real traffic carried on every supported
// link type and wants the same frames and messages each time.
func TestLinkTypes(t *testing.T) {
	type variant struct {
		link    LinkType
		variant string
		edit    func([]byte) []byte
	}
	common := []variant{
		{LinkEthernet, "", nil}, {LinkEthernet, "vlan", nil}, {LinkEthernet, "qinq", nil}, {LinkEthernet, "padded", nil},
		{LinkNull, "", nil}, {LinkNull, "big-endian", nil}, {LinkNull, "freebsd", nil}, {LinkNull, "openbsd", nil},
		{LinkLoop, "", nil}, {LinkLinuxSLL, "", nil}, {LinkLinuxSLL2, "", nil},
		{LinkRaw, "", nil}, {linkRawDLT12, "", nil}, {linkRawDLT14, "", nil},
	}
	for _, tc := range []struct {
		sample string
		extra  []variant
	}{
		{"gorilla-deflate.pcap", []variant{{LinkIPv4, "", nil}}},
		{"ipv6-multi-sll2.pcap", []variant{{LinkIPv6, "", nil}, {LinkRaw, "extension headers", withIPv6Extensions}}},
	} {
		cf := loadCapFile(t, tc.sample)
		base := decodeCapture(t, tc.sample, cf.pcap(t), Options{})
		if len(base.conns) == 0 || len(base.conns[0].Messages) == 0 {
			t.Fatalf("%s: nothing decoded", tc.sample)
		}
		for _, v := range append(slices.Clone(common), tc.extra...) {
			name := tc.sample + "/" + v.link.String() + " " + v.variant
			t.Run(name, func(t *testing.T) {
				got := decodeCapture(t, name, relink(t, cf, v.link, v.variant, v.edit).pcap(t), Options{})
				if got.err != nil || len(got.warnings) > 0 {
					t.Fatalf("err %v, warnings %q", got.err, got.warnings)
				}
				if len(got.conns) != len(base.conns) {
					t.Fatalf("%d connections, want %d", len(got.conns), len(base.conns))
				}
				for i, c := range got.conns {
					b := base.conns[i]
					if c.Client != b.Client || c.Server != b.Server {
						t.Errorf("connection %d: %s -> %s, want %s -> %s", i, c.Client, c.Server, b.Client, b.Server)
					}
					if g, w := joinLines(frameSigs(c)), joinLines(frameSigs(b)); g != w {
						t.Errorf("connection %s frames:\n%s\nwant:\n%s", c.ID, g, w)
					}
					if g, w := joinLines(messageSigs(c)), joinLines(messageSigs(b)); g != w {
						t.Errorf("connection %s messages:\n%s\nwant:\n%s", c.ID, g, w)
					}
				}
			})
		}
	}
}

// serialize builds a packet with gopacket's serializers.
func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecodePacket checks the header decoder on packets gopacket built,
// including the ones it must refuse or mark.
func TestDecodePacket(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip4 := func(mod func(*layers.IPv4)) *layers.IPv4 {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
		if mod != nil {
			mod(ip)
		}
		return ip
	}
	tcp := &layers.TCP{SrcPort: 50000, DstPort: 8080, Seq: 1000, Ack: 77, PSH: true, ACK: true, Window: 512}
	payload := gopacket.Payload("hello, world")
	good := serialize(t, eth, ip4(nil), tcp, payload)

	eth6 := &layers.Ethernet{SrcMAC: eth.SrcMAC, DstMAC: eth.DstMAC, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.ParseIP("fe80::1"), DstIP: net.ParseIP("fe80::2")}
	good6 := serialize(t, eth6, ip6, tcp, payload)

	udp := serialize(t, eth, ip4(func(ip *layers.IPv4) { ip.Protocol = layers.IPProtocolUDP }), &layers.UDP{SrcPort: 53, DstPort: 53}, payload)
	frag := serialize(t, eth, ip4(func(ip *layers.IPv4) { ip.Flags = layers.IPv4MoreFragments }), tcp, payload)
	badIHL := bytes.Clone(good)
	badIHL[14] = 0x43
	badOffset := bytes.Clone(good)
	badOffset[14+20+12] = 0x30 // data offset 3 words
	arp := serialize(t, &layers.Ethernet{SrcMAC: eth.SrcMAC, DstMAC: eth.DstMAC, EthernetType: layers.EthernetTypeARP}, gopacket.Payload(make([]byte, 28)))
	tso := bytes.Clone(good)
	binary.BigEndian.PutUint16(tso[14+2:], 0) // total length left to the hardware

	for _, tc := range []struct {
		name    string
		link    LinkType
		data    []byte
		orig    int
		want    skip
		payload string
		missing int
	}{
		{"ethernet ipv4 tcp", LinkEthernet, good, len(good), skipNone, "hello, world", 0},
		{"ethernet ipv6 tcp", LinkEthernet, good6, len(good6), skipNone, "hello, world", 0},
		{"cut by the snap length in the payload", LinkEthernet, good[:len(good)-5], len(good), skipNone, "hello, ", 5},
		{"cut inside the TCP header", LinkEthernet, good[:14+20+10], len(good), skipCut, "", 0},
		{"cut inside the IP header", LinkEthernet, good[:14+8], len(good), skipCut, "", 0},
		{"cut inside the ethernet header", LinkEthernet, good[:9], len(good), skipCut, "", 0},
		{"segmentation offload leaves the IP length 0", LinkEthernet, tso, len(tso), skipNone, "hello, world", 0},
		{"UDP", LinkEthernet, udp, len(udp), skipNotTCP, "", 0},
		{"ARP", LinkEthernet, arp, len(arp), skipNotTCP, "", 0},
		{"IPv4 fragment", LinkEthernet, frag, len(frag), skipFragment, "", 0},
		{"IHL below 5", LinkEthernet, badIHL, len(badIHL), skipMalformed, "", 0},
		{"TCP data offset below 5", LinkEthernet, badOffset, len(badOffset), skipMalformed, "", 0},
		{"802.11 is not supported", 105, good, len(good), skipLink, "", 0},
		{"raw IP with version 5", LinkRaw, []byte{0x50, 1, 2, 3}, 4, skipMalformed, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			got := decodePacket(tc.link, tc.data, tc.orig, &p)
			if got != tc.want {
				t.Fatalf("decodePacket = %q, want %q", got, tc.want)
			}
			if got != skipNone {
				return
			}
			if string(p.Payload) != tc.payload || p.Missing != tc.missing {
				t.Errorf("payload %q missing %d, want %q missing %d", p.Payload, p.Missing, tc.payload, tc.missing)
			}
			if p.SrcPort != 50000 || p.DstPort != 8080 || p.Seq != 1000 || p.Ack != 77 || p.Flags&flagACK == 0 {
				t.Errorf("TCP fields: %+v", p)
			}
		})
	}
}

// FuzzDecodePacket: no bytes make the header decoder panic or point
// outside the record.
func FuzzDecodePacket(f *testing.F) {
	cf := loadCapFile(f, "gorilla-deflate.pcap")
	for _, r := range cf.recs[:6] {
		f.Add(uint16(LinkEthernet), r.data)
	}
	v6 := loadCapFile(f, "ipv6-multi-sll2.pcap")
	f.Add(uint16(LinkLinuxSLL2), v6.recs[3].data)
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		var p Packet
		if decodePacket(LinkType(link), data, len(data)+int(link%7), &p) != skipNone {
			return
		}
		if len(p.Payload) > len(data) || p.Missing < 0 || len(p.TCP) < 20 {
			t.Fatalf("payload %d bytes of %d, missing %d, TCP %d", len(p.Payload), len(data), p.Missing, len(p.TCP))
		}
	})
}
