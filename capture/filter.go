package capture

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Filter selects packets by address and port, in a subset of the pcap
// filter language that covers what one asks of a WebSocket capture:
//
//	host ADDR      src host ADDR    dst host ADDR
//	port N         src port N       dst port N      portrange N-M
//	net CIDR       src net CIDR     dst net CIDR
//	ip   ip6   tcp
//	not X    X and Y    X or Y    ( X )      (also !, && and ||)
//
// It is evaluated in Go on decoded packets, so that capturing needs no C
// library. A host name is resolved when the filter is parsed.
type Filter struct {
	text string
	root filterNode
}

// String returns the expression the filter was parsed from.
func (f *Filter) String() string { return f.text }

// Match reports whether the packet is selected.
func (f *Filter) Match(p *Packet) bool { return f.root.match(p) }

type filterNode interface {
	match(p *Packet) bool
}

// Which address or port a primitive looks at.
type filterDir uint8

const (
	dirEither filterDir = iota
	dirSrc
	dirDst
)

type (
	andNode  struct{ a, b filterNode }
	orNode   struct{ a, b filterNode }
	notNode  struct{ a filterNode }
	trueNode struct{}
	hostNode struct {
		dir   filterDir
		addrs []netip.Addr
	}
	netNode struct {
		dir    filterDir
		prefix netip.Prefix
	}
	portNode struct {
		dir    filterDir
		lo, hi uint16
	}
	familyNode struct{ v6 bool }
)

func (n andNode) match(p *Packet) bool    { return n.a.match(p) && n.b.match(p) }
func (n orNode) match(p *Packet) bool     { return n.a.match(p) || n.b.match(p) }
func (n notNode) match(p *Packet) bool    { return !n.a.match(p) }
func (trueNode) match(*Packet) bool       { return true }
func (n familyNode) match(p *Packet) bool { return p.Src.Is6() == n.v6 }

func (n hostNode) match(p *Packet) bool {
	for _, a := range n.addrs {
		if n.dir != dirDst && p.Src.Unmap() == a {
			return true
		}
		if n.dir != dirSrc && p.Dst.Unmap() == a {
			return true
		}
	}
	return false
}

func (n netNode) match(p *Packet) bool {
	return (n.dir != dirDst && n.prefix.Contains(p.Src.Unmap())) ||
		(n.dir != dirSrc && n.prefix.Contains(p.Dst.Unmap()))
}

func (n portNode) match(p *Packet) bool {
	in := func(v uint16) bool { return v >= n.lo && v <= n.hi }
	return (n.dir != dirDst && in(p.SrcPort)) || (n.dir != dirSrc && in(p.DstPort))
}

// ParseFilter parses a filter expression. An empty expression selects
// every packet.
func ParseFilter(expr string) (*Filter, error) {
	p := &filterParser{toks: tokenize(expr)}
	f := &Filter{text: strings.TrimSpace(expr), root: trueNode{}}
	if len(p.toks) == 0 {
		return f, nil
	}
	n, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", f.text, err)
	}
	f.root = n
	return f, nil
}

func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == '!':
			toks = append(toks, s[i:i+1])
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, s[i:i+2])
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()!&|", rune(s[j])) {
				j++
			}
			if j == i {
				j++ // a lone & or |: let the parser say what is wrong
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

type filterParser struct {
	toks []string
	pos  int
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return strings.ToLower(p.toks[p.pos])
	}
	return ""
}

func (p *filterParser) next() (string, error) {
	if p.pos >= len(p.toks) {
		return "", fmt.Errorf("the expression ends too early")
	}
	p.pos++
	return p.toks[p.pos-1], nil
}

func (p *filterParser) or() (filterNode, error) {
	n, err := p.and()
	for err == nil && (p.peek() == "or" || p.peek() == "||") {
		p.pos++
		var m filterNode
		m, err = p.and()
		n = orNode{n, m}
	}
	return n, err
}

func (p *filterParser) and() (filterNode, error) {
	n, err := p.unary()
	for err == nil && (p.peek() == "and" || p.peek() == "&&") {
		p.pos++
		var m filterNode
		m, err = p.unary()
		n = andNode{n, m}
	}
	return n, err
}

func (p *filterParser) unary() (filterNode, error) {
	switch p.peek() {
	case "not", "!":
		p.pos++
		n, err := p.unary()
		return notNode{n}, err
	case "(":
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return n, nil
	}
	return p.primitive()
}

func (p *filterParser) primitive() (filterNode, error) {
	dir := dirEither
	switch p.peek() {
	case "src":
		dir = dirSrc
		p.pos++
	case "dst":
		dir = dirDst
		p.pos++
	}
	kw, err := p.next()
	if err != nil {
		return nil, err
	}
	kw = strings.ToLower(kw)
	switch kw {
	case "tcp", "ip", "ip6":
		if dir != dirEither {
			return nil, fmt.Errorf("%q cannot follow src or dst", kw)
		}
		switch kw {
		case "ip":
			return familyNode{v6: false}, nil
		case "ip6":
			return familyNode{v6: true}, nil
		}
		return trueNode{}, nil // only TCP reaches the filter
	case "host", "port", "portrange", "net":
	default:
		return nil, fmt.Errorf("unknown primitive %q (want host, port, portrange, net, ip, ip6 or tcp)", kw)
	}
	arg, err := p.next()
	if err != nil {
		return nil, fmt.Errorf("%s needs a value", kw)
	}
	switch kw {
	case "host":
		addrs, err := resolveHost(arg)
		if err != nil {
			return nil, err
		}
		return hostNode{dir: dir, addrs: addrs}, nil
	case "net":
		prefix, err := netip.ParsePrefix(arg)
		if err != nil {
			return nil, fmt.Errorf("net %s: want an address/bits prefix such as 10.0.0.0/8", arg)
		}
		return netNode{dir: dir, prefix: prefix.Masked()}, nil
	case "port":
		n, err := parsePort(arg)
		if err != nil {
			return nil, err
		}
		return portNode{dir: dir, lo: n, hi: n}, nil
	default: // portrange
		a, b, ok := strings.Cut(arg, "-")
		if !ok {
			return nil, fmt.Errorf("portrange %s: want N-M", arg)
		}
		lo, err := parsePort(a)
		if err != nil {
			return nil, err
		}
		hi, err := parsePort(b)
		if err != nil {
			return nil, err
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		return portNode{dir: dir, lo: lo, hi: hi}, nil
	}
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q is not a number from 0 to 65535", s)
	}
	return uint16(n), nil
}

// resolveHost turns an address or a host name into addresses.
func resolveHost(s string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ips, err := net.LookupIP(s)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", s, err)
	}
	addrs := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			addrs = append(addrs, a.Unmap())
		}
	}
	return addrs, nil
}
