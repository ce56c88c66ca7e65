package capture

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// LinkType is the link-layer header type of a capture (the LINKTYPE_ values
// of the tcpdump.org registry, which pcap and pcapng files carry).
type LinkType uint32

// The link types wstap decodes.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in host byte order
	LinkEthernet  LinkType = 1   // Ethernet II, with 802.1Q/802.1ad VLAN tags
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, told apart by the version nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: address family in network byte order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1 ("any" device)
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// linkRawDLT12 and linkRawDLT14 are the platform DLT_RAW values that some old
// files carry instead of LINKTYPE_RAW.
const (
	linkRawDLT12 LinkType = 12
	linkRawDLT14 LinkType = 14
)

func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL (BSD loopback)"
	case LinkEthernet:
		return "Ethernet"
	case LinkRaw, linkRawDLT12, linkRawDLT14:
		return "raw IP"
	case LinkLoop:
		return "LOOP (OpenBSD loopback)"
	case LinkLinuxSLL:
		return "Linux cooked (SLL)"
	case LinkIPv4:
		return "raw IPv4"
	case LinkIPv6:
		return "raw IPv6"
	case LinkLinuxSLL2:
		return "Linux cooked v2 (SLL2)"
	}
	return "link type " + strconv.FormatUint(uint64(l), 10)
}

// Supported reports whether packets of this link type can be decoded.
func (l LinkType) Supported() bool {
	switch l {
	case LinkNull, LinkEthernet, LinkRaw, linkRawDLT12, linkRawDLT14, LinkLoop, LinkLinuxSLL, LinkIPv4, LinkIPv6, LinkLinuxSLL2:
		return true
	}
	return false
}

// TCP flag bits (RFC 9293 3.1).
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

// Packet is a TCP segment taken apart. Its slices point into the record it
// was decoded from and are valid only as long as that record.
type Packet struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	// TCP is the TCP header and the captured part of the payload.
	TCP []byte
	// Payload is the captured part of the TCP payload.
	Payload []byte
	// Missing counts the payload bytes the segment carried on the wire but
	// the capture did not keep (cut by the snap length).
	Missing int
}

// skip says why a record is not a TCP segment wstap can use.
type skip uint8

const (
	skipNone      skip = iota
	skipNotTCP         // another protocol: not a problem
	skipFragment       // an IP fragment: TCP inside fragments is not reassembled
	skipCut            // the headers themselves were cut by the snap length
	skipMalformed      // headers that do not parse
	skipLink           // an unsupported link type
)

func (s skip) String() string {
	return [...]string{"", "not TCP", "IP fragment", "headers cut by the snap length", "malformed headers", "unsupported link type"}[s]
}

// Ethernet types (IEEE 802).
const (
	etherIPv4   = 0x0800
	etherIPv6   = 0x86dd
	etherVLAN   = 0x8100
	etherQinQ   = 0x88a8
	etherQinQ91 = 0x9100
)

// decodePacket takes a link-layer frame apart down to TCP. origLen is the
// frame's length on the wire, used when the IP header gives no length
// (segmentation offload writes 0 there).
func decodePacket(link LinkType, data []byte, origLen int, p *Packet) skip {
	var etherType uint16
	off := 0
	switch link {
	case LinkEthernet:
		if len(data) < 14 {
			return skipCut
		}
		etherType = binary.BigEndian.Uint16(data[12:14])
		off = 14
	case LinkLinuxSLL:
		if len(data) < 16 {
			return skipCut
		}
		etherType = binary.BigEndian.Uint16(data[14:16])
		off = 16
	case LinkLinuxSLL2:
		if len(data) < 20 {
			return skipCut
		}
		etherType = binary.BigEndian.Uint16(data[0:2])
		off = 20
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return skipCut
		}
		var family uint32
		if link == LinkLoop {
			family = binary.BigEndian.Uint32(data)
		} else {
			// Host byte order of the machine that wrote it: families are
			// small numbers, so the order that gives one is the right one.
			family = binary.LittleEndian.Uint32(data)
			if family > 0xffff {
				family = binary.BigEndian.Uint32(data)
			}
		}
		switch family {
		case 2:
			etherType = etherIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			etherType = etherIPv6
		default:
			return skipNotTCP
		}
		off = 4
	case LinkRaw, linkRawDLT12, linkRawDLT14, LinkIPv4, LinkIPv6:
		if len(data) < 1 {
			return skipCut
		}
		switch data[0] >> 4 {
		case 4:
			etherType = etherIPv4
		case 6:
			etherType = etherIPv6
		default:
			return skipMalformed
		}
	default:
		return skipLink
	}
	// 802.1Q and 802.1ad tags, stacked (RFC-less, IEEE 802.1Q 9.3).
	for etherType == etherVLAN || etherType == etherQinQ || etherType == etherQinQ91 {
		if len(data) < off+4 {
			return skipCut
		}
		etherType = binary.BigEndian.Uint16(data[off+2 : off+4])
		off += 4
	}
	wire := origLen - off
	switch etherType {
	case etherIPv4:
		return decodeIPv4(data[off:], wire, p)
	case etherIPv6:
		return decodeIPv6(data[off:], wire, p)
	}
	return skipNotTCP
}

// decodeIPv4 decodes an IPv4 header (RFC 791 3.1). wire is the packet's
// length on the wire from the IP header on.
func decodeIPv4(b []byte, wire int, p *Packet) skip {
	if len(b) < 20 {
		return skipCut
	}
	if b[0]>>4 != 4 {
		return skipMalformed
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return skipMalformed
	}
	if len(b) < ihl {
		return skipCut
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total == 0 {
		total = wire // segmentation offload: the length is left to the hardware
	}
	if total < ihl {
		return skipMalformed
	}
	flagsFrag := binary.BigEndian.Uint16(b[6:8])
	if flagsFrag&0x2000 != 0 || flagsFrag&0x1fff != 0 {
		return skipFragment
	}
	if b[9] != 6 {
		return skipNotTCP
	}
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	return decodeTCP(b[ihl:min(len(b), total)], total-ihl, p)
}

// decodeIPv6 decodes an IPv6 header and its extension headers
// (RFC 8200 3, 4).
func decodeIPv6(b []byte, wire int, p *Packet) skip {
	if len(b) < 40 {
		return skipCut
	}
	if b[0]>>4 != 6 {
		return skipMalformed
	}
	payload := int(binary.BigEndian.Uint16(b[4:6]))
	if payload == 0 {
		payload = wire - 40 // a jumbogram or segmentation offload
	}
	next := b[6]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	end := min(len(b), 40+payload)
	off := 40
	for {
		switch next {
		case 6:
			if off > end {
				return skipMalformed
			}
			return decodeTCP(b[off:end], 40+payload-off, p)
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if end < off+8 {
				return skipCut
			}
			next = b[off]
			off += 8 + int(b[off+1])*8
		case 44: // fragment
			if end < off+8 {
				return skipCut
			}
			if binary.BigEndian.Uint16(b[off+2:off+4])&0xfff9 != 0 {
				return skipFragment
			}
			next = b[off]
			off += 8
		case 51: // authentication header (RFC 4302 2.2)
			if end < off+8 {
				return skipCut
			}
			next = b[off]
			off += (int(b[off+1]) + 2) * 4
		default:
			return skipNotTCP
		}
	}
}

// decodeTCP decodes a TCP header (RFC 9293 3.1). b is what was captured of
// the segment, wire its length on the wire.
func decodeTCP(b []byte, wire int, p *Packet) skip {
	if len(b) < 20 {
		if wire >= 20 {
			return skipCut
		}
		return skipMalformed
	}
	hlen := int(b[12]>>4) * 4
	if hlen < 20 || hlen > wire {
		return skipMalformed
	}
	if len(b) < hlen {
		return skipCut
	}
	p.SrcPort = binary.BigEndian.Uint16(b[0:2])
	p.DstPort = binary.BigEndian.Uint16(b[2:4])
	p.Seq = binary.BigEndian.Uint32(b[4:8])
	p.Ack = binary.BigEndian.Uint32(b[8:12])
	p.Flags = b[13]
	if len(b) > wire {
		b = b[:wire]
	}
	p.TCP = b
	p.Payload = b[hlen:]
	p.Missing = wire - len(b)
	return skipNone
}
