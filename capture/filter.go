package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Filter selects packets with an expression in the pcap filter language
// (pcap-filter(7)), the part of it that concerns IP, TCP and the other
// transport protocols, spelled as tcpdump users type it:
//
//	host ADDR|NAME   net CIDR   net ADDR mask MASK   net 10   net 192.168
//	port N|NAME      portrange N-M
//	src X   dst X   src or dst X   src and dst X
//	ip  ip6  tcp  udp  sctp  icmp  icmp6  arp  rarp
//	ip host X   ip6 host X   arp host X   tcp port N   udp dst port N ...
//	not X   ! X   X and Y   X && Y   X or Y   X || Y   ( X )
//
// It follows libpcap's grammar and meaning: "and" and "or" have the same
// precedence and group from the left ("a or b and c" is "(a or b) and
// c"); a value after "and" or "or" takes the qualifiers of the primitive
// before it ("port 80 or 443" is "port 80 or port 443", "host a or b" is
// "host a or host b", "port 80 and (443 or 8080)" too); numbers may be
// written in hex (0x50) or, with a leading 0, in octal; "port" without a
// protocol means TCP, UDP or SCTP; "net 10" is 10.0.0.0/8 and "host 10.1"
// is the network 10.1.0.0/16; IPv4 addresses match IPv4 packets (and ARP,
// RARP), IPv6 addresses IPv6 packets, so "host 10.0.0.1" does not match
// an IPv6 packet carrying ::ffff:10.0.0.1. Host names and service names
// are resolved when the filter is parsed.
//
// Where wstap differs from libpcap, on purpose:
//
//   - a host name or address alone at the start of an expression or of a
//     group means "host NAME", as pcap-filter(7) says of an id without a
//     type qualifier (libpcap itself refuses it there); a bare number
//     there is an error, since it is more likely a port than a host;
//   - keywords are case-insensitive, and "net 10/8" is 10.0.0.0/8 (libpcap
//     wants at least one dot before the "/");
//   - not supported: link-layer primitives (ether, vlan, mpls...),
//     gateway, proto, less, greater, broadcast, multicast, arithmetic
//     (tcp[13] & 2 != 0) and network names (net NAME); they are errors.
//
// A Filter is evaluated in two ways. Match evaluates it in Go on the TCP
// segments the tracker decodes (see its doc for what that means for other
// protocols); BPF compiles it to a classic BPF program, which a live
// capture hands to the kernel.
type Filter struct {
	text string
	// root is nil for the empty filter, which selects every packet.
	root filterNode
}

// String returns the expression the filter was parsed from.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

// Match reports whether the TCP segment p is selected. Only TCP reaches
// it: the tracker decodes records down to TCP first and drops, when a
// filter is set, every record that is not a TCP segment it can decode, so
// primitives of other protocols (udp, icmp, arp, rarp, sctp, icmp6) never
// match here, and "not udp" matches every segment. The decoder looks
// through VLAN tags and IPv6 extension headers, and so does Match, where
// libpcap (and the program BPF compiles) does not. A nil or empty filter
// matches everything.
func (f *Filter) Match(p *Packet) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(p)
}

// filterNode is one node of a parsed expression: match evaluates it on a
// decoded TCP segment, pred lowers it to a predicate over the bytes of a
// frame of some link type (filter_bpf.go).
type filterNode interface {
	match(p *Packet) bool
	pred(l *bpfLayout) bpfPred
}

// filterProto is a protocol qualifier (pcap-filter(7) "proto"), or a
// protocol primitive on its own.
type filterProto uint8

const (
	protoNone filterProto = iota
	protoIP
	protoIP6
	protoARP
	protoRARP
	protoTCP
	protoUDP
	protoSCTP
	protoICMP
	protoICMP6
)

func (p filterProto) String() string {
	return [...]string{"", "ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6"}[p]
}

// filterDir is a direction qualifier: which addresses or ports of a packet
// a primitive looks at.
type filterDir uint8

const (
	dirEither filterDir = iota // no qualifier, or "src or dst"
	dirSrc
	dirDst
	dirBoth // "src and dst"
)

// pick combines the answers for the source and the destination.
func (d filterDir) pick(src, dst bool) bool {
	switch d {
	case dirSrc:
		return src
	case dirDst:
		return dst
	case dirBoth:
		return src && dst
	}
	return src || dst
}

// filterKind is a type qualifier: what the value after it is.
type filterKind uint8

const (
	kindNone filterKind = iota
	kindHost
	kindNet
	kindPort
	kindPortrange
)

func (k filterKind) String() string {
	return [...]string{"", "host", "net", "port", "portrange"}[k]
}

// qual is the set of qualifiers in force for a value, which a value after
// "and" or "or" inherits (libpcap's grammar passes them along the same
// way). set is false where libpcap has none (at the start, after a
// protocol primitive such as "tcp").
type qual struct {
	set     bool
	proto   filterProto
	protoAt int // where the protocol qualifier is written, for errors
	dir     filterDir
	kind    filterKind
}

// IP protocol numbers (IANA) and the IPv6 fragment header.
const (
	ipProtoICMP     = 1
	ipProtoTCP      = 6
	ipProtoUDP      = 17
	ipProtoIPv6Frag = 44
	ipProtoICMP6    = 58
	ipProtoSCTP     = 132
)

// portProtos is the set of transport protocols a port primitive applies
// to: all three without a qualifier, as in libpcap.
type portProtos uint8

const (
	portTCP portProtos = 1 << iota
	portUDP
	portSCTP
	portAny = portTCP | portUDP | portSCTP
)

// numbers returns the IP protocol numbers of the set, in the order libpcap
// tests them.
func (s portProtos) numbers() []uint32 {
	var n []uint32
	for _, p := range []struct {
		bit portProtos
		num uint32
	}{{portSCTP, ipProtoSCTP}, {portTCP, ipProtoTCP}, {portUDP, ipProtoUDP}} {
		if s&p.bit != 0 {
			n = append(n, p.num)
		}
	}
	return n
}

type (
	andNode   struct{ a, b filterNode }
	orNode    struct{ a, b filterNode }
	notNode   struct{ a filterNode }
	protoNode struct{ proto filterProto }
	// addrNode is a host or a network: the address bits under mask.
	addrNode struct {
		proto filterProto // protoNone, protoIP, protoIP6, protoARP or protoRARP
		dir   filterDir
		v6    bool
		addr  [16]byte // an IPv4 address in the first 4 bytes
		mask  [16]byte
	}
	portNode struct {
		protos portProtos
		dir    filterDir
		lo, hi uint16
	}
)

func (n andNode) match(p *Packet) bool { return n.a.match(p) && n.b.match(p) }
func (n orNode) match(p *Packet) bool  { return n.a.match(p) || n.b.match(p) }
func (n notNode) match(p *Packet) bool { return !n.a.match(p) }

func (n protoNode) match(p *Packet) bool {
	switch n.proto {
	case protoIP:
		return p.Src.Is4()
	case protoIP6:
		return p.Src.Is6()
	case protoTCP:
		return true
	}
	return false // another protocol than TCP, or ARP
}

func (n addrNode) match(p *Packet) bool {
	if n.proto == protoARP || n.proto == protoRARP {
		return false
	}
	if n.v6 && !p.Src.Is6() || !n.v6 && !p.Src.Is4() {
		return false
	}
	return n.dir.pick(n.hit(p.Src), n.hit(p.Dst))
}

// hit reports whether a is in the node's network.
func (n addrNode) hit(a netip.Addr) bool {
	b := a.As16()
	if !n.v6 {
		v4 := a.As4()
		copy(b[:], v4[:])
	}
	for i := range b {
		if b[i]&n.mask[i] != n.addr[i] {
			return false
		}
	}
	return true
}

func (n portNode) match(p *Packet) bool {
	if n.protos&portTCP == 0 {
		return false
	}
	in := func(v uint16) bool { return v >= n.lo && v <= n.hi }
	return n.dir.pick(in(p.SrcPort), in(p.DstPort))
}

// hostLookupTimeout bounds the resolution of the host names in a filter:
// the filter is parsed before a capture starts, and a resolver that does
// not answer should end in an error, not in a command that hangs.
const hostLookupTimeout = 10 * time.Second

// ParseFilter parses a filter expression. An empty expression selects
// every packet. Errors name the position (counted in bytes from 1) and
// the token that is wrong.
func ParseFilter(expr string) (*Filter, error) {
	text := strings.TrimSpace(expr)
	f := &Filter{text: text}
	toks := tokenizeFilter(text)
	if len(toks) == 0 {
		return f, nil
	}
	// A first pass with every name standing for an address of each family
	// finds the mistakes in the expression itself without waiting on a
	// resolver; the second resolves the names.
	dry := &filterParser{toks: toks, end: len(text) + 1, lookup: func(string) ([]netip.Addr, error) {
		return []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}, nil
	}}
	n, err := dry.parse()
	if err == nil {
		n, err = (&filterParser{toks: toks, end: len(text) + 1, lookup: lookupHost}).parse()
	}
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", text, err)
	}
	f.root = n
	return f, nil
}

// parse parses the whole expression.
func (p *filterParser) parse() (filterNode, error) {
	n, _, err := p.expr(qual{})
	if err == nil && p.i < len(p.toks) {
		tok := p.toks[p.i]
		switch {
		case tok.is(")"):
			err = p.errAt(tok.pos, "unexpected \")\" with no ( before it")
		case len(tok.text) == 1 && !isWordByte(tok.text[0]) && tok.text != "(":
			err = p.unknown(tok)
		default:
			err = p.errAt(tok.pos, "unexpected %q (want and, or, or the end)", tok.text)
		}
	}
	return n, err
}

// filterToken is a word or an operator of an expression, and where it
// starts (in bytes, from 1).
type filterToken struct {
	text string
	pos  int
}

// is reports whether the token is the keyword or operator s, in any case.
func (t filterToken) is(s string) bool { return strings.EqualFold(t.text, s) }

func (t filterToken) isAnd() bool { return t.is("and") || t.text == "&&" }
func (t filterToken) isOr() bool  { return t.is("or") || t.text == "||" }
func (t filterToken) isNot() bool { return t.is("not") || t.text == "!" }

// isWordByte reports whether c belongs in a word: names, numbers, IPv4
// and IPv6 addresses with a /bits suffix, and port ranges.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '-' || c == '_' || c == '/' || c == '%'
}

// tokenizeFilter splits an expression into words and operators. Any other
// character is a token of its own, for the parser to report.
func tokenizeFilter(s string) []filterToken {
	var toks []filterToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, filterToken{s[i : i+2], i + 1})
			i += 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, filterToken{s[i:j], i + 1})
			i = j
		default:
			_, size := utf8.DecodeRuneInString(s[i:])
			toks = append(toks, filterToken{s[i : i+size], i + 1})
			i += size
		}
	}
	return toks
}

// filterParser is a recursive-descent version of libpcap's grammar
// (grammar.y): expr, term, head, id and pid below are its rules of the
// same names.
type filterParser struct {
	toks []filterToken
	i    int
	end  int // the position just after the expression
	// lookup resolves a host name.
	lookup func(name string) ([]netip.Addr, error)
}

func (p *filterParser) errAt(pos int, format string, args ...any) error {
	return fmt.Errorf("at %d: %w", pos, fmt.Errorf(format, args...))
}

func (p *filterParser) peek() (filterToken, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return filterToken{pos: p.end}, false
}

// endsEarly is the error for an expression that stops where after needs
// something more.
func (p *filterParser) endsEarly(after filterToken, what string) error {
	return p.errAt(p.end, "the expression ends too early: %q needs %s after it", after.text, what)
}

// expr: term { (and|or) (term | id) }. The two operators have the same
// precedence and group from the left (pcap-filter(7)). A value right after
// an operator is an id that inherits the qualifiers in force.
func (p *filterParser) expr(ctx qual) (filterNode, qual, error) {
	n, q, err := p.term(ctx)
	if err != nil {
		return nil, q, err
	}
	for {
		op, ok := p.peek()
		if !ok || !op.isAnd() && !op.isOr() {
			return n, q, nil
		}
		p.i++
		if _, ok := p.peek(); !ok {
			return nil, q, p.endsEarly(op, "an expression")
		}
		var m filterNode
		if p.startsID() {
			m, q, err = p.id(q, op)
		} else {
			m, q, err = p.term(q)
		}
		if err != nil {
			return nil, q, err
		}
		if op.isAnd() {
			n = andNode{n, m}
		} else {
			n = orNode{n, m}
		}
	}
}

// startsID reports whether what follows an operator is a value (perhaps
// negated or in parentheses) rather than a primitive with qualifiers.
func (p *filterParser) startsID() bool {
	for j := p.i; j < len(p.toks); j++ {
		t := p.toks[j]
		if t.isNot() || t.is("(") {
			continue
		}
		return isValue(t)
	}
	return false
}

// term: not term | ( expr ) | protocol | head id | value.
func (p *filterParser) term(ctx qual) (filterNode, qual, error) {
	tok, ok := p.peek()
	if !ok {
		return nil, ctx, p.errAt(p.end, "the expression ends too early")
	}
	switch {
	case tok.isNot():
		p.i++
		if _, ok := p.peek(); !ok {
			return nil, ctx, p.endsEarly(tok, "an expression")
		}
		n, q, err := p.term(ctx)
		if err != nil {
			return nil, q, err
		}
		return notNode{n}, q, nil
	case tok.is("("):
		p.i++
		n, _, err := p.expr(ctx)
		if err != nil {
			return nil, ctx, err
		}
		if c, ok := p.peek(); !ok || !c.is(")") {
			return nil, ctx, p.errAt(c.pos, "missing ) for the ( at %d", tok.pos)
		}
		p.i++
		// libpcap hands on the qualifiers from before the parenthesis,
		// not those inside it: "host a or (port 80) or b" ends in "host b".
		return n, ctx, nil
	case tok.is(")"):
		return nil, ctx, p.errAt(tok.pos, "unexpected \")\" where an expression should start")
	case isValue(tok):
		p.i++
		n, err := p.value(ctx, tok)
		return n, ctx, err
	}
	return p.head(tok)
}

// head parses the qualifiers of a primitive, [proto] [dir] [type], and
// the id after them; or a protocol on its own ("tcp", "ip6").
func (p *filterParser) head(first filterToken) (filterNode, qual, error) {
	q := qual{set: true}
	tok := first
	if proto, ok := protoKeyword(tok); ok {
		q.proto, q.protoAt = proto, tok.pos
		p.i++
		next, ok := p.peek()
		if !ok || !isDirKeyword(next) && !isKindKeyword(next) {
			if ok && isValue(next) {
				return nil, q, p.errAt(next.pos, "%q after %s needs host, net, port or portrange between them", next.text, proto)
			}
			return protoNode{proto}, qual{}, nil
		}
		tok = next
	}
	var dirTok filterToken
	if isDirKeyword(tok) {
		dirTok = tok
		p.i++
		q.dir = dirSrc
		if tok.is("dst") {
			q.dir = dirDst
		}
		// "src or dst" and "src and dst" (either order) are one qualifier.
		if p.i+1 < len(p.toks) {
			op, other := p.toks[p.i], p.toks[p.i+1]
			if (op.isOr() || op.isAnd()) && isDirKeyword(other) && !other.is(tok.text) {
				p.i += 2
				q.dir = dirEither
				if op.isAnd() {
					q.dir = dirBoth
				}
			}
		}
		next, ok := p.peek()
		if !ok {
			return nil, q, p.endsEarly(p.toks[p.i-1], "host, net, port, portrange or an address")
		}
		tok = next
	}
	if k, ok := kindKeyword(tok); ok {
		p.i++
		q.kind = k
	} else if !isValue(tok) && !tok.isNot() && !tok.is("(") {
		if dirTok.text != "" {
			return nil, q, p.errAt(tok.pos, "%q needs host, net, port, portrange or an address after it, not %q", dirTok.text, tok.text)
		}
		return nil, q, p.unknown(tok)
	}
	n, q, err := p.id(q, p.toks[p.i-1])
	return n, q, err
}

// unknown describes a word that cannot start or continue a primitive.
func (p *filterParser) unknown(tok filterToken) error {
	switch {
	case unsupportedKeyword(tok):
		return p.errAt(tok.pos, "%q is not supported (wstap filters on ip, ip6, tcp, udp, host, net, port and portrange)", tok.text)
	case tok.is(")") || tok.isAnd() || tok.isOr():
		return p.errAt(tok.pos, "unexpected %q where a primitive or a value should be", tok.text)
	case len(tok.text) == 1 && !isWordByte(tok.text[0]):
		return p.errAt(tok.pos, "unexpected %q (arithmetic and comparisons are not supported)", tok.text)
	}
	return p.errAt(tok.pos, "unexpected %q", tok.text)
}

// id: value | not id | ( pid ). after is the token before it, for errors.
func (p *filterParser) id(q qual, after filterToken) (filterNode, qual, error) {
	tok, ok := p.peek()
	what := "a value"
	if q.kind != kindNone {
		what = "a value for " + q.kind.String()
	}
	if !ok {
		return nil, q, p.endsEarly(after, what)
	}
	switch {
	case tok.isNot():
		p.i++
		n, q, err := p.id(q, tok)
		if err != nil {
			return nil, q, err
		}
		return notNode{n}, q, nil
	case tok.is("("):
		p.i++
		n, q, err := p.pid(q, tok)
		if err != nil {
			return nil, q, err
		}
		if c, ok := p.peek(); !ok || !c.is(")") {
			return nil, q, p.errAt(c.pos, "missing ) for the ( at %d", tok.pos)
		}
		p.i++
		return n, q, nil
	case isValue(tok):
		p.i++
		n, err := p.value(q, tok)
		return n, q, err
	}
	if unsupportedKeyword(tok) || len(tok.text) == 1 && !isWordByte(tok.text[0]) {
		return nil, q, p.unknown(tok)
	}
	return nil, q, p.errAt(tok.pos, "%q needs %s after it, not %q", after.text, what, tok.text)
}

// pid: id { (and|or) id }, the values in "port (80 or 443)".
func (p *filterParser) pid(q qual, open filterToken) (filterNode, qual, error) {
	n, q, err := p.id(q, open)
	for err == nil {
		op, ok := p.peek()
		if !ok || !op.isAnd() && !op.isOr() {
			break
		}
		p.i++
		var m filterNode
		m, q, err = p.id(q, op)
		if op.isAnd() {
			n = andNode{n, m}
		} else {
			n = orNode{n, m}
		}
	}
	return n, q, err
}

func protoKeyword(t filterToken) (filterProto, bool) {
	switch strings.ToLower(t.text) {
	case "ip":
		return protoIP, true
	case "ip6":
		return protoIP6, true
	case "arp":
		return protoARP, true
	case "rarp":
		return protoRARP, true
	case "tcp":
		return protoTCP, true
	case "udp":
		return protoUDP, true
	case "sctp":
		return protoSCTP, true
	case "icmp":
		return protoICMP, true
	case "icmp6":
		return protoICMP6, true
	}
	return protoNone, false
}

func isDirKeyword(t filterToken) bool { return t.is("src") || t.is("dst") }

func isKindKeyword(t filterToken) bool {
	_, ok := kindKeyword(t)
	return ok
}

func kindKeyword(t filterToken) (filterKind, bool) {
	switch strings.ToLower(t.text) {
	case "host":
		return kindHost, true
	case "net":
		return kindNet, true
	case "port":
		return kindPort, true
	case "portrange":
		return kindPortrange, true
	}
	return kindNone, false
}

// unsupportedKeyword reports the words of pcap-filter(7) that wstap does
// not implement, so that they are refused rather than looked up as host
// names.
func unsupportedKeyword(t filterToken) bool {
	switch strings.ToLower(t.text) {
	case "ether", "link", "ppp", "fddi", "tr", "wlan", "vlan", "mpls", "pppoed", "pppoes", "geneve",
		"gateway", "proto", "protochain", "less", "greater", "len", "broadcast", "multicast",
		"inbound", "outbound", "ifname", "on", "type", "subtype", "dir", "ra", "ta",
		"addr1", "addr2", "addr3", "addr4", "igmp", "igrp", "pim", "vrrp", "carp", "ah", "esp",
		"atalk", "aarp", "decnet", "iso", "stp", "ipx", "netbeui", "llc", "radio":
		return true
	}
	return false
}

// isValue reports whether a token is an id: a name, a number or an
// address, not a keyword or an operator.
func isValue(t filterToken) bool {
	if t.text == "" || !isWordByte(t.text[0]) {
		return false
	}
	if _, ok := protoKeyword(t); ok {
		return false
	}
	if _, ok := kindKeyword(t); ok {
		return false
	}
	if isDirKeyword(t) || t.isAnd() || t.isOr() || t.isNot() || t.is("mask") || unsupportedKeyword(t) {
		return false
	}
	return true
}

// value turns an id into a primitive under the qualifiers q.
func (p *filterParser) value(q qual, tok filterToken) (filterNode, error) {
	switch q.kind {
	case kindPort, kindPortrange:
		return p.port(q, tok)
	}
	return p.address(q, tok)
}

// parseFilterNumber reads a number as libpcap's scanner does: 0x for hex,
// a leading 0 for octal, decimal otherwise.
func parseFilterNumber(s string) (uint32, bool) {
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		base = 8
	}
	n, err := strconv.ParseUint(s, base, 32)
	return uint32(n), err == nil
}

// isNumberWord reports whether s is written as a number (digits, or 0x
// and hex digits), whether or not it is a valid one.
func isNumberWord(s string) bool {
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
		return strings.Trim(s, "0123456789abcdefABCDEF") == ""
	}
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// parseDotted reads an IPv4 address of one to four decimal parts, as
// libpcap's __pcap_atoin does, and returns it shifted to the top with the
// number of bits given: "10.1" is 10.1.0.0 and 16.
func parseDotted(s string) (addr uint32, bits int, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, 0, false
	}
	for _, part := range parts {
		n, err := strconv.ParseUint(part, 10, 8)
		if err != nil {
			return 0, 0, false
		}
		addr = addr<<8 | uint32(n)
	}
	bits = 8 * len(parts)
	if bits < 32 {
		addr <<= 32 - bits
	}
	return addr, bits, true
}

// isDottedWord reports whether s looks like a dotted IPv4 address (digits
// and at least one dot), valid or not.
func isDottedWord(s string) bool {
	return strings.Contains(s, ".") && strings.Trim(s, "0123456789.") == ""
}

func v4Node(q qual, addr, mask uint32) addrNode {
	n := addrNode{proto: q.proto, dir: q.dir}
	for i := range 4 {
		n.addr[i] = byte(addr >> (24 - 8*i))
		n.mask[i] = byte(mask >> (24 - 8*i))
	}
	return n
}

func v6Node(q qual, a netip.Addr, bits int) addrNode {
	n := addrNode{proto: q.proto, dir: q.dir, v6: true, addr: a.As16()}
	for i := range 16 {
		switch {
		case bits >= 8*(i+1):
			n.mask[i] = 0xff
		case bits > 8*i:
			n.mask[i] = byte(0xff << (8*(i+1) - bits))
		}
		n.addr[i] &= n.mask[i]
	}
	return n
}

// address makes a host or net primitive: host and net for IPv4 and IPv6
// addresses with a mask or a prefix length, host names resolved to all
// their addresses.
func (p *filterParser) address(q qual, tok filterToken) (filterNode, error) {
	implicit := !q.set
	if implicit {
		q = qual{set: true}
	}
	switch q.proto {
	case protoNone, protoIP, protoIP6, protoARP, protoRARP:
	default:
		what := q.kind.String()
		if what == "" {
			what = "host"
		}
		return nil, p.errAt(q.protoAt, "%s cannot qualify %s %q (only ip, ip6, arp and rarp can)", q.proto, what, tok.text)
	}
	text, bitsText, slash := strings.Cut(tok.text, "/")
	var maskTok filterToken
	if next, ok := p.peek(); ok && next.is("mask") {
		if slash {
			return nil, p.errAt(next.pos, "%q has a prefix length and a mask", tok.text)
		}
		p.i++
		m, ok := p.peek()
		if !ok {
			return nil, p.endsEarly(next, "a mask")
		}
		p.i++
		maskTok = m
	}
	hasMask := slash || maskTok.text != ""
	if hasMask && q.kind == kindHost {
		return nil, p.errAt(tok.pos, "host %q: a mask or prefix length is for networks (use net)", tok.text)
	}
	if implicit && (isNumberWord(text) || isDottedWord(text) && strings.Count(text, ".") < 3) && !hasMask {
		return nil, p.errAt(tok.pos, "%q needs host, net, port or portrange before it", tok.text)
	}

	switch {
	case strings.Contains(text, ":"):
		a, err := netip.ParseAddr(text)
		if err != nil || a.Zone() != "" {
			return nil, p.errAt(tok.pos, "%q is not an IPv6 address", text)
		}
		if q.proto != protoNone && q.proto != protoIP6 {
			return nil, p.errAt(tok.pos, "%q is an IPv6 address, which %s cannot match", text, q.proto)
		}
		if maskTok.text != "" {
			return nil, p.errAt(maskTok.pos, "mask %q: use a prefix length (/N) with IPv6", maskTok.text)
		}
		bits := 128
		if slash {
			n, err := strconv.ParseUint(bitsText, 10, 8)
			if err != nil || n > 128 {
				return nil, p.errAt(tok.pos, "%q: the prefix length must be a number from 0 to 128", tok.text)
			}
			bits = int(n)
		}
		n := v6Node(q, a, bits)
		if n.addr != a.As16() {
			return nil, p.errAt(tok.pos, "%q has bits set outside the network part", tok.text)
		}
		return n, nil

	case isNumberWord(text) || isDottedWord(text):
		if q.proto == protoIP6 {
			return nil, p.errAt(tok.pos, "%q is an IPv4 address, which ip6 cannot match", text)
		}
		var addr uint32
		var bits int
		if isNumberWord(text) && !slash && maskTok.text == "" {
			// A plain number is a whole 32-bit address for host, and a
			// network number with its zero bytes dropped for net:
			// "net 10" is 10.0.0.0/8 (libpcap's gen_ncode).
			n, ok := parseFilterNumber(text)
			if !ok {
				return nil, p.errAt(tok.pos, "%q is not a number from 0 to 4294967295 (a leading 0 means octal)", text)
			}
			addr, bits = n, 32
			if q.kind == kindNet {
				for addr != 0 && addr&0xff000000 == 0 {
					addr <<= 8
					bits -= 8
				}
			}
		} else {
			var ok bool
			addr, bits, ok = parseDotted(text)
			if !ok {
				return nil, p.errAt(tok.pos, "%q is not an IPv4 address", text)
			}
		}
		mask := uint32(0xffffffff) << (32 - bits)
		if bits == 0 {
			mask = 0
		}
		switch {
		case slash:
			n, err := strconv.ParseUint(bitsText, 10, 8)
			if err != nil || n > 32 {
				return nil, p.errAt(tok.pos, "%q: the prefix length must be a number from 0 to 32", tok.text)
			}
			mask = 0
			if n > 0 {
				mask = uint32(0xffffffff) << (32 - n)
			}
		case maskTok.text != "":
			m, mbits, ok := parseDotted(maskTok.text)
			if !ok || mbits != 32 {
				return nil, p.errAt(maskTok.pos, "mask %q is not an IPv4 address", maskTok.text)
			}
			mask = m
		}
		if addr&^mask != 0 {
			what := tok.text
			if maskTok.text != "" {
				what += " mask " + maskTok.text
			}
			return nil, p.errAt(tok.pos, "%q has bits set outside the network part", what)
		}
		return v4Node(q, addr, mask), nil
	}

	// A host name.
	if q.kind == kindNet {
		return nil, p.errAt(tok.pos, "net %q: a network is an address with a prefix length or a mask (network names are not supported)", tok.text)
	}
	if hasMask {
		return nil, p.errAt(tok.pos, "%q is not an address", tok.text)
	}
	addrs, err := p.lookup(text)
	if err != nil {
		return nil, p.errAt(tok.pos, "host %q: %w", text, err)
	}
	var n filterNode
	for _, a := range addrs {
		var m addrNode
		switch {
		case a.Is4() && q.proto != protoIP6:
			m = v4Node(q, binary.BigEndian.Uint32(a.AsSlice()), 0xffffffff)
		case a.Is6() && (q.proto == protoNone || q.proto == protoIP6):
			m = v6Node(q, a, 128)
		default:
			continue
		}
		if n == nil {
			n = m
		} else {
			n = orNode{n, m}
		}
	}
	if n == nil {
		family := "IPv4"
		if q.proto == protoIP6 {
			family = "IPv6"
		}
		return nil, p.errAt(tok.pos, "host %q has no %s address", text, family)
	}
	return n, nil
}

// lookupHost resolves a host name to its addresses, IPv4 ones unmapped.
func lookupHost(name string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hostLookupTimeout)
	defer cancel()
	found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	for _, a := range found {
		a = a.Unmap()
		if !containsAddr(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("no address")
	}
	return addrs, nil
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// port makes a port or portrange primitive.
func (p *filterParser) port(q qual, tok filterToken) (filterNode, error) {
	protos := portAny
	switch q.proto {
	case protoNone:
	case protoTCP:
		protos = portTCP
	case protoUDP:
		protos = portUDP
	case protoSCTP:
		protos = portSCTP
	default:
		return nil, p.errAt(q.protoAt, "%s cannot qualify %s (only tcp, udp and sctp can)", q.proto, q.kind)
	}
	if next, ok := p.peek(); ok && next.is("mask") {
		return nil, p.errAt(next.pos, "a mask is for networks, not %s", q.kind)
	}
	n := portNode{protos: protos, dir: q.dir}
	if q.kind == kindPort {
		v, avail, err := p.portNumber(tok, tok.text)
		if err != nil {
			return nil, err
		}
		n.lo, n.hi = v, v
		return p.narrow(n, avail, q, tok)
	}
	// portrange N-M; a single port is a range too, as in libpcap. Service
	// names may contain "-" themselves, so every split is tried.
	var lastErr error
	for i := 0; i <= len(tok.text); i++ {
		a, b := tok.text, tok.text
		if i < len(tok.text) {
			if tok.text[i] != '-' {
				continue
			}
			a, b = tok.text[:i], tok.text[i+1:]
		}
		lo, avail1, err := p.portNumber(tok, a)
		if err != nil {
			lastErr = err
			continue
		}
		hi, avail2, err := p.portNumber(tok, b)
		if err != nil {
			lastErr = err
			continue
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		n.lo, n.hi = lo, hi
		return p.narrow(n, avail1&avail2, q, tok)
	}
	if !strings.Contains(tok.text, "-") {
		return nil, lastErr
	}
	return nil, p.errAt(tok.pos, "portrange %q is not N-M with ports from 0 to 65535", tok.text)
}

// narrow restricts a port primitive to the protocols its service names
// exist for, as libpcap does ("port http" is TCP only when /etc/services
// lists http for TCP only), and refuses a qualifier that contradicts them.
func (p *filterParser) narrow(n portNode, avail portProtos, q qual, tok filterToken) (filterNode, error) {
	if n.protos&avail == 0 {
		return nil, p.errAt(tok.pos, "%s %q is not a %s service", q.kind, tok.text, q.proto)
	}
	n.protos &= avail
	return n, nil
}

// portNumber reads a port: a number, or a service name looked up for TCP
// and UDP (libpcap's pcap_nametoport does the same). avail is the set of
// protocols the port applies to: all for a number, those the name was
// found for otherwise.
func (p *filterParser) portNumber(tok filterToken, s string) (port uint16, avail portProtos, err error) {
	if isNumberWord(s) {
		n, ok := parseFilterNumber(s)
		if !ok || n > 65535 {
			hint := ""
			if !ok && len(s) > 1 && s[0] == '0' && s[1] != 'x' && s[1] != 'X' {
				hint = " (a leading 0 means octal)"
			}
			return 0, 0, p.errAt(tok.pos, "port %q is not a number from 0 to 65535%s", s, hint)
		}
		return uint16(n), portAny, nil
	}
	found := -1
	for _, proto := range []struct {
		name string
		bit  portProtos
	}{{"tcp", portTCP}, {"udp", portUDP}} {
		if s == "" {
			break
		}
		n, err := net.LookupPort(proto.name, s)
		if err != nil || found >= 0 && n != found {
			continue // the first protocol's number wins, as in libpcap
		}
		found = n
		avail |= proto.bit
	}
	if found < 0 {
		return 0, 0, p.errAt(tok.pos, "port %q is not a number from 0 to 65535 nor a known service name", s)
	}
	if avail == portTCP|portUDP {
		avail = portAny // known for both: no restriction at all, SCTP included
	}
	return uint16(found), avail, nil
}
