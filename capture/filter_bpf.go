package capture

import (
	"fmt"
	"math/bits"

	"golang.org/x/net/bpf"
)

// A filter compiles to a classic BPF program (the cBPF of bpf(4) and
// Linux's SO_ATTACH_FILTER), built and checked with golang.org/x/net/bpf:
// its instruction types assemble to exactly what the kernel takes, and
// its VM runs the same program in tests. The program tests what libpcap's
// compiler (gencode.c) tests for the same expression and link type, so
// that it selects the same packets as tcpdump: the EtherType (or what the
// link type has instead) before any IP field, the IPv4 header length from
// its IHL field, ports of IPv4 packets only in the first fragment, the
// ports of IPv6 packets only when TCP, UDP or SCTP is the first next
// header, "tcp" (and udp, sctp, icmp6) in IPv6 also behind a fragment
// header, ARP and RARP for an IPv4 host or net without a protocol
// qualifier. The shape differs (libpcap's optimizer shares loads that
// this compiler repeats); what is selected does not.

// bpfSnaplen is what the program returns for a packet it selects: the
// number of bytes to keep. It is libpcap's default snapshot length
// (MAXIMUM_SNAPLEN, 262144), more than any frame a capture hands over
// (64 KiB with segmentation offload), so that selecting never cuts.
const bpfSnaplen = 0x40000

// bpfMaxInstructions is the longest classic program Linux accepts
// (BPF_MAXINSNS in linux/bpf_common.h).
const bpfMaxInstructions = 4096

// bpfMaxSkip is the farthest a conditional jump reaches: its two offsets
// are 8 bits. A farther target is reached through an unconditional jump,
// whose offset is 32 bits.
const bpfMaxSkip = 255

// EtherTypes of ARP and RARP (IEEE 802), which libpcap tests for an IPv4
// host or net without a protocol qualifier.
const (
	etherARP  = 0x0806
	etherRARP = 0x8035
)

// Offsets of the fields a program reads, from the start of the IPv4,
// IPv6, ARP and TCP/UDP/SCTP headers (RFC 791 3.1, RFC 8200 3, RFC 826,
// RFC 9293 3.1).
const (
	ipv4FragOff   = 6 // flags and fragment offset
	ipv4Proto     = 9
	ipv4Src       = 12
	ipv4Dst       = 16
	ipv4FragMask  = 0x1fff // the fragment offset without the flags
	ipv6Next      = 6
	ipv6Src       = 8
	ipv6Dst       = 24
	ipv6HeaderLen = 40 // where the next header starts: a fragment header, or TCP
	arpSPA        = 14 // sender protocol address, for Ethernet and IPv4
	arpTPA        = 24 // target protocol address
	portSrc       = 0
	portDst       = 2
)

// BSD loopback address families (the NULL and LOOP link types): AF_INET
// is 2 everywhere, AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30
// (Darwin), and 10 on Linux.
const afInet = 2

func inet6Families() []uint32 { return []uint32{24, 28, 30, 10} }

// protoSource is how a link type tells which network protocol a frame
// carries.
type protoSource uint8

const (
	srcEtherType protoSource = iota // a 16-bit EtherType at etherOff
	srcFamily                       // NULL: a 32-bit address family, in the byte order of the machine that wrote it
	srcFamilyBE                     // LOOP: a 32-bit address family in network byte order
	srcVersion                      // raw IP: the version in the first nibble
	srcIPv4                         // only IPv4
	srcIPv6                         // only IPv6
	srcAncillary                    // the kernel's view of a cooked socket: skb->protocol
)

// bpfLayout says where a link type puts what a filter looks at.
type bpfLayout struct {
	link     LinkType
	src      protoSource
	etherOff uint32
	nl       uint32 // where the network-layer header starts
}

// bpfLayoutFor returns the layout of the frames of a link type wstap
// decodes (packet.go).
func bpfLayoutFor(link LinkType) (*bpfLayout, bool) {
	switch link {
	case LinkEthernet: // two 6-byte addresses, the EtherType, then IP
		return &bpfLayout{link: link, src: srcEtherType, etherOff: 12, nl: 14}, true
	case LinkLinuxSLL: // 16-byte header ending in the protocol
		return &bpfLayout{link: link, src: srcEtherType, etherOff: 14, nl: 16}, true
	case LinkLinuxSLL2: // 20-byte header starting with the protocol
		return &bpfLayout{link: link, src: srcEtherType, etherOff: 0, nl: 20}, true
	case LinkNull: // a 4-byte address family, then IP
		return &bpfLayout{link: link, src: srcFamily, nl: 4}, true
	case LinkLoop:
		return &bpfLayout{link: link, src: srcFamilyBE, nl: 4}, true
	case LinkRaw, linkRawDLT12, linkRawDLT14:
		return &bpfLayout{link: link, src: srcVersion}, true
	case LinkIPv4:
		return &bpfLayout{link: link, src: srcIPv4}, true
	case LinkIPv6:
		return &bpfLayout{link: link, src: srcIPv6}, true
	}
	return nil, false
}

// kernelCookedLayout is what a filter sees on a Linux packet socket in
// cooked mode (SOCK_DGRAM): the packet from its network header on, and
// the protocol as ancillary data (SKF_AD_PROTOCOL), which is how libpcap
// rewrites its LINUX_SLL programs for the kernel (pcap-linux.c,
// fix_offset).
func kernelCookedLayout() *bpfLayout {
	return &bpfLayout{link: LinkLinuxSLL, src: srcAncillary}
}

// BPF compiles the filter to a classic BPF program for frames of the
// given link type, one that selects the packets tcpdump selects with the
// same expression on that link type (see the doc of Filter for where
// wstap's language differs). The program returns 0x40000 (the number of
// bytes to keep) for a packet it selects and 0 otherwise; an empty filter
// compiles to a program of one instruction that selects every packet.
// Run it with bpf.NewVM, or assemble it with bpf.Assemble for a kernel.
//
// On the NULL link type the program accepts the address family in either
// byte order and AF_INET6 as Linux numbers it too (10), as wstap's
// decoder does; libpcap takes the byte order from the file's header and
// knows only the BSD numbers.
func (f *Filter) BPF(link LinkType) ([]bpf.Instruction, error) {
	l, ok := bpfLayoutFor(link)
	if !ok {
		return nil, fmt.Errorf("filter %q: compiling for %s: not a link type wstap decodes", f.String(), link)
	}
	return f.program(l)
}

// program compiles the filter for a layout.
func (f *Filter) program(l *bpfLayout) ([]bpf.Instruction, error) {
	var root bpfPred = bpfConst(true)
	if f != nil && f.root != nil {
		root = f.root.pred(l)
	}
	if c, ok := root.(bpfConst); ok {
		if c {
			return []bpf.Instruction{bpf.RetConstant{Val: bpfSnaplen}}, nil
		}
		return []bpf.Instruction{bpf.RetConstant{Val: 0}}, nil
	}
	g := &bpfGen{}
	reject := g.emit(bpf.RetConstant{Val: 0})
	accept := g.emit(bpf.RetConstant{Val: bpfSnaplen})
	entry := g.compile(root, accept, reject)
	if entry != len(g.rev)-1 {
		g.emit(bpf.Jump{Skip: uint32(g.skip(entry))})
	}
	if len(g.rev) > bpfMaxInstructions {
		return nil, fmt.Errorf("filter %q: compiling for %s: %d instructions, more than the %d a kernel accepts", f.String(), l.link, len(g.rev), bpfMaxInstructions)
	}
	prog := make([]bpf.Instruction, len(g.rev))
	for i, ins := range g.rev {
		prog[len(prog)-1-i] = ins
	}
	return prog, nil
}

// bpfPred is a predicate over the bytes of a frame, between the parsed
// expression and the instructions: and, or, not, constants and tests of
// one loaded value.
type bpfPred interface{ isBPFPred() }

type (
	bpfConst bool
	bpfAnd   struct{ a, b bpfPred }
	bpfOr    struct{ a, b bpfPred }
	bpfNot   struct{ a bpfPred }
	// bpfTest loads a value into A, ANDs mask into it when masked, and
	// tests it: equal to one of vals, within vals[0]..vals[1], or sharing
	// a bit with vals[0].
	bpfTest struct {
		load   bpfLoad
		masked bool
		mask   uint32
		op     bpfOp
		vals   []uint32
	}
	// bpfLoad is a value of size bytes (1, 2 or 4) at off in the frame;
	// or at off past the IPv4 header that starts at hdr (the X register
	// holding its length, ldxb 4*([hdr]&0xf)); or the protocol of the
	// socket buffer (a Linux ancillary load).
	bpfLoad struct {
		size     uint32
		off      uint32
		indirect bool
		hdr      uint32
		protocol bool
	}
)

type bpfOp uint8

const (
	opEq bpfOp = iota
	opRange
	opSet
)

func (bpfConst) isBPFPred() {}
func (bpfAnd) isBPFPred()   {}
func (bpfOr) isBPFPred()    {}
func (bpfNot) isBPFPred()   {}
func (bpfTest) isBPFPred()  {}

// pAnd, pOr and pNot build predicates, folding constants: a link type that
// carries only IPv4 makes "ip6" false and "ip" true.
func pAnd(a, b bpfPred) bpfPred {
	if c, ok := a.(bpfConst); ok {
		if c {
			return b
		}
		return a
	}
	if c, ok := b.(bpfConst); ok {
		if c {
			return a
		}
		return b
	}
	return bpfAnd{a, b}
}

func pOr(a, b bpfPred) bpfPred {
	if c, ok := a.(bpfConst); ok {
		if c {
			return a
		}
		return b
	}
	if c, ok := b.(bpfConst); ok {
		if c {
			return b
		}
		return a
	}
	return bpfOr{a, b}
}

func pNot(a bpfPred) bpfPred {
	if c, ok := a.(bpfConst); ok {
		return !c
	}
	return bpfNot{a}
}

// pEq tests whether the loaded value is one of vals.
func pEq(ld bpfLoad, vals ...uint32) bpfPred {
	return bpfTest{load: ld, op: opEq, vals: vals}
}

// at is the value of size bytes at off in the network-layer header.
func (l *bpfLayout) at(size, off uint32) bpfLoad {
	return bpfLoad{size: size, off: l.nl + off}
}

// past is the value of size bytes at off past the IPv4 header.
func (l *bpfLayout) past(size, off uint32) bpfLoad {
	return bpfLoad{size: size, off: l.nl + off, indirect: true, hdr: l.nl}
}

// network tests whether the frame carries the network protocol with this
// EtherType, in the way of the link type (libpcap's gen_linktype).
func (l *bpfLayout) network(etherType uint16) bpfPred {
	var families []uint32
	switch etherType {
	case etherIPv4:
		families = []uint32{afInet}
	case etherIPv6:
		families = inet6Families()
	}
	switch l.src {
	case srcEtherType:
		return pEq(bpfLoad{size: 2, off: l.etherOff}, uint32(etherType))
	case srcAncillary:
		return pEq(bpfLoad{size: 4, protocol: true}, uint32(etherType))
	case srcFamily, srcFamilyBE:
		if families == nil {
			return bpfConst(false)
		}
		vals := families
		if l.src == srcFamily {
			vals = nil
			for _, f := range families {
				vals = append(vals, bits.ReverseBytes32(f), f)
			}
		}
		return pEq(bpfLoad{size: 4, off: 0}, vals...)
	case srcVersion:
		var version uint32
		switch etherType {
		case etherIPv4:
			version = 4
		case etherIPv6:
			version = 6
		default:
			return bpfConst(false)
		}
		return bpfTest{load: bpfLoad{size: 1, off: 0}, masked: true, mask: 0xf0, op: opEq, vals: []uint32{version << 4}}
	case srcIPv4:
		return bpfConst(etherType == etherIPv4)
	case srcIPv6:
		return bpfConst(etherType == etherIPv6)
	}
	return bpfConst(false)
}

// ipv4Proto tests for IPv4 carrying protocol n; like libpcap, whether the
// packet is a fragment does not matter here.
func (l *bpfLayout) ipv4Proto(n uint32) bpfPred {
	return pAnd(l.network(etherIPv4), pEq(l.at(1, ipv4Proto), n))
}

// ipv6Proto tests for IPv6 whose next header is n, or a fragment header
// followed by n (libpcap's gen_proto for IPv6 does the same).
func (l *bpfLayout) ipv6Proto(n uint32) bpfPred {
	next := l.at(1, ipv6Next)
	return pAnd(l.network(etherIPv6),
		pOr(pEq(next, n), pAnd(pEq(next, ipProtoIPv6Frag), pEq(l.at(1, ipv6HeaderLen), n))))
}

// pickPred combines the tests of the source and the destination as the
// direction qualifier says.
func (d filterDir) pickPred(src, dst bpfPred) bpfPred {
	switch d {
	case dirSrc:
		return src
	case dirDst:
		return dst
	case dirBoth:
		return pAnd(src, dst)
	}
	return pOr(src, dst)
}

func (n andNode) pred(l *bpfLayout) bpfPred { return pAnd(n.a.pred(l), n.b.pred(l)) }
func (n orNode) pred(l *bpfLayout) bpfPred  { return pOr(n.a.pred(l), n.b.pred(l)) }
func (n notNode) pred(l *bpfLayout) bpfPred { return pNot(n.a.pred(l)) }

func (n protoNode) pred(l *bpfLayout) bpfPred {
	switch n.proto {
	case protoIP:
		return l.network(etherIPv4)
	case protoIP6:
		return l.network(etherIPv6)
	case protoARP:
		return l.network(etherARP)
	case protoRARP:
		return l.network(etherRARP)
	case protoTCP:
		return pOr(l.ipv4Proto(ipProtoTCP), l.ipv6Proto(ipProtoTCP))
	case protoUDP:
		return pOr(l.ipv4Proto(ipProtoUDP), l.ipv6Proto(ipProtoUDP))
	case protoSCTP:
		return pOr(l.ipv4Proto(ipProtoSCTP), l.ipv6Proto(ipProtoSCTP))
	case protoICMP:
		return l.ipv4Proto(ipProtoICMP)
	case protoICMP6:
		return l.ipv6Proto(ipProtoICMP6)
	}
	return bpfConst(false)
}

// pred of a port: in IPv6 when the next header is one of the protocols,
// in IPv4 when the protocol is one of them and the packet is not a later
// fragment (which has no transport header), the ports read past the IPv4
// header's own length (libpcap's gen_port and gen_port6).
func (n portNode) pred(l *bpfLayout) bpfPred {
	protos := n.protos.numbers()
	cmp := func(ld bpfLoad) bpfPred {
		if n.lo == n.hi {
			return pEq(ld, uint32(n.lo))
		}
		return bpfTest{load: ld, op: opRange, vals: []uint32{uint32(n.lo), uint32(n.hi)}}
	}
	v6 := pAnd(l.network(etherIPv6), pAnd(pEq(l.at(1, ipv6Next), protos...),
		n.dir.pickPred(cmp(l.at(2, ipv6HeaderLen+portSrc)), cmp(l.at(2, ipv6HeaderLen+portDst)))))
	later := bpfTest{load: l.at(2, ipv4FragOff), op: opSet, vals: []uint32{ipv4FragMask}}
	v4 := pAnd(l.network(etherIPv4), pAnd(pEq(l.at(1, ipv4Proto), protos...), pAnd(pNot(later),
		n.dir.pickPred(cmp(l.past(2, portSrc)), cmp(l.past(2, portDst))))))
	return pOr(v6, v4)
}

// pred of a host or a network: the addresses of IPv4, and those of ARP
// and RARP unless a protocol qualifier says otherwise; of IPv6, 32 bits
// at a time, leaving out the words the mask leaves out (libpcap's
// gen_host and gen_host6).
func (n addrNode) pred(l *bpfLayout) bpfPred {
	word := func(off uint32, i int) bpfPred {
		a := uint32(n.addr[i])<<24 | uint32(n.addr[i+1])<<16 | uint32(n.addr[i+2])<<8 | uint32(n.addr[i+3])
		m := uint32(n.mask[i])<<24 | uint32(n.mask[i+1])<<16 | uint32(n.mask[i+2])<<8 | uint32(n.mask[i+3])
		return bpfTest{load: l.at(4, off), masked: m != 0xffffffff, mask: m, op: opEq, vals: []uint32{a}}
	}
	if n.v6 {
		words := func(off uint32) bpfPred {
			var p bpfPred = bpfConst(true)
			for i := 0; i < 16; i += 4 {
				if n.mask[i]|n.mask[i+1]|n.mask[i+2]|n.mask[i+3] != 0 {
					p = pAnd(p, word(off+uint32(i), i))
				}
			}
			return p
		}
		return pAnd(l.network(etherIPv6), n.dir.pickPred(words(ipv6Src), words(ipv6Dst)))
	}
	in := func(etherType uint16, src, dst uint32) bpfPred {
		return pAnd(l.network(etherType), n.dir.pickPred(word(src, 0), word(dst, 0)))
	}
	switch n.proto {
	case protoIP:
		return in(etherIPv4, ipv4Src, ipv4Dst)
	case protoARP:
		return in(etherARP, arpSPA, arpTPA)
	case protoRARP:
		return in(etherRARP, arpSPA, arpTPA)
	}
	return pOr(in(etherIPv4, ipv4Src, ipv4Dst), pOr(in(etherARP, arpSPA, arpTPA), in(etherRARP, arpSPA, arpTPA)))
}

// bpfGen emits a program from its end backwards: every jump of classic
// BPF goes forward, so each target is already in place when a jump to it
// is emitted. rev holds the instructions in reverse order; an
// instruction's label is its index in rev.
type bpfGen struct {
	rev []bpf.Instruction
}

func (g *bpfGen) emit(ins bpf.Instruction) int {
	g.rev = append(g.rev, ins)
	return len(g.rev) - 1
}

// skip is the offset of a jump to label from the instruction emitted next.
func (g *bpfGen) skip(label int) int { return len(g.rev) - label - 1 }

// jump emits a conditional jump to t when the test holds and to f when
// not, through an unconditional jump for a target out of reach.
func (g *bpfGen) jump(cond bpf.JumpTest, val uint32, t, f int) int {
	if g.skip(t) > bpfMaxSkip {
		t = g.emit(bpf.Jump{Skip: uint32(g.skip(t))})
	}
	if g.skip(f) > bpfMaxSkip {
		f = g.emit(bpf.Jump{Skip: uint32(g.skip(f))})
	}
	return g.emit(bpf.JumpIf{Cond: cond, Val: val, SkipTrue: uint8(g.skip(t)), SkipFalse: uint8(g.skip(f))})
}

// compile emits p so that it goes on at t when p holds and at f when not,
// and returns the label where it starts. Constants emit nothing: pAnd and
// friends have folded them away below the root.
func (g *bpfGen) compile(p bpfPred, t, f int) int {
	switch p := p.(type) {
	case bpfConst:
		if p {
			return t
		}
		return f
	case bpfAnd:
		return g.compile(p.a, g.compile(p.b, t, f), f)
	case bpfOr:
		return g.compile(p.a, t, g.compile(p.b, t, f))
	case bpfNot:
		return g.compile(p.a, f, t)
	case bpfTest:
		return g.test(p, t, f)
	}
	panic(fmt.Sprintf("capture: unknown predicate %T", p))
}

func (g *bpfGen) test(p bpfTest, t, f int) int {
	switch p.op {
	case opEq:
		next := f
		for i := len(p.vals) - 1; i >= 0; i-- {
			next = g.jump(bpf.JumpEqual, p.vals[i], t, next)
		}
	case opRange:
		above := g.jump(bpf.JumpGreaterThan, p.vals[1], f, t)
		g.jump(bpf.JumpGreaterOrEqual, p.vals[0], above, f)
	case opSet:
		g.jump(bpf.JumpBitsSet, p.vals[0], t, f)
	}
	if p.masked {
		g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: p.mask})
	}
	ld := p.load
	switch {
	case ld.protocol:
		g.emit(bpf.LoadExtension{Num: bpf.ExtProto})
	case ld.indirect:
		g.emit(bpf.LoadIndirect{Off: ld.off, Size: int(ld.size)})
		g.emit(bpf.LoadMemShift{Off: ld.hdr})
	default:
		g.emit(bpf.LoadAbsolute{Off: ld.off, Size: int(ld.size)})
	}
	return len(g.rev) - 1
}
