package capture

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// TestFilter evaluates expressions on hand-built TCP segments with the Go
// matcher.
func TestFilter(t *testing.T) {
	pkt := func(src string, sport uint16, dst string, dport uint16) *Packet {
		return &Packet{Src: netip.MustParseAddr(src), SrcPort: sport, Dst: netip.MustParseAddr(dst), DstPort: dport}
	}
	v4 := pkt("10.0.0.1", 51000, "10.0.0.2", 8080)
	v6 := pkt("::1", 40000, "::1", 9105)
	mapped := pkt("::ffff:10.0.0.1", 51000, "::ffff:10.0.0.2", 443)
	lo := pkt("127.0.0.1", 5000, "127.0.0.1", 80)
	for _, tc := range []struct {
		expr string
		p    *Packet
		want bool
	}{
		{"", v4, true},
		{"port 8080", v4, true},
		{"port 8081", v4, false},
		{"src port 51000", v4, true},
		{"dst port 51000", v4, false},
		{"tcp port 8080", v4, true},
		{"tcp dst port 8080", v4, true},
		{"tcp src port 8080", v4, false},
		{"host 10.0.0.2", v4, true},
		{"src host 10.0.0.2", v4, false},
		{"dst host 10.0.0.2 and dst port 8080", v4, true},
		{"host 10.0.0.9 or port 8080", v4, true},
		{"not port 8080", v4, false},
		{"!(port 80 || port 8080)", v4, false},
		{"host 10.0.0.1 && (port 80 or port 8080)", v4, true},
		{"net 10.0.0.0/8", v4, true},
		{"net 10/8", v4, true},
		{"dst net 192.168.0.0/16", v4, false},
		{"net 10", v4, true},                        // 10.0.0.0/8
		{"net 10.0.0.0 mask 255.0.255.0", v4, true}, // 10.0.0.1 & mask = 10.0.0.0
		{"net 10.0.0.0 mask 255.255.255.255", v4, false},
		{"host 10.0", v4, true},      // the network 10.0.0.0/16, as in libpcap
		{"host 167772161", v4, true}, // 10.0.0.1 as one number
		{"portrange 8000-8100", v4, true},
		{"portrange 8100-8000", v4, true}, // either order
		{"portrange 8080", v4, true},
		{"tcp portrange 1-1024", v4, false},
		{"src or dst port 51000", v4, true},
		{"src and dst port 8080", v4, false},
		{"src and dst net 10.0.0.0/8", v4, true},
		{"src and dst host 127.0.0.1", lo, true},
		{"ip and tcp", v4, true},
		{"ip6", v4, false},
		// Only TCP reaches the matcher: other protocols never match.
		{"udp", v4, false},
		{"not udp", v4, true},
		{"udp port 8080", v4, false},
		{"sctp or icmp or icmp6 or arp or rarp", v4, false},
		{"arp host 10.0.0.1", v4, false},
		// A value after and/or takes the qualifiers before it.
		{"port 80 or 8080", v4, true},
		{"port 80 or 443", v4, false},
		{"host 10.0.0.9 or 10.0.0.1", v4, true},
		{"src host 10.0.0.2 or 10.0.0.1", v4, true},
		{"dst host 10.0.0.9 or 10.0.0.1", v4, false}, // dst 10.0.0.1, not host 10.0.0.1
		{"port 80 and not 8080", v4, false},
		{"port 8080 and (51000 or 1)", v4, true},
		{"port (80 or 8080)", v4, true},
		{"tcp dst port 80 or 8080", v4, true},
		{"tcp dst port 80 or 51000", v4, false},
		// and and or group from the left with the same precedence.
		{"port 80 or port 8080 and port 1", v4, false},
		{"port 1 and port 2 or port 8080", v4, true},
		{"not port 1 and port 8080", v4, true},
		// A bare address or name is a host.
		{"10.0.0.1", v4, true},
		{"10.0.0.1 and port 8080", v4, true},
		{"not 10.0.0.9", v4, true},
		{"(10.0.0.9 or 10.0.0.2)", v4, true},
		{"::1", v6, true},
		{"localhost", lo, true},
		{"ip6 and host ::1 and port 9105", v6, true},
		{"ip6 host ::1", v6, true},
		{"host ::1", v4, false},
		{"net ::/0", v6, true},
		{"net ::/0", v4, false},
		{"net fe80::/10", v6, false},
		// IPv4 addresses match IPv4 packets only, as in libpcap.
		{"host 10.0.0.1", mapped, false},
		{"ip6 host ::ffff:10.0.0.1", mapped, true},
		{"HOST 10.0.0.1 AND PORT 8080", v4, true},
		{"host localhost", lo, true},
		{"port 0x1f90", v4, true}, // 8080 in hex
		{"port 017620", v4, true}, // and in octal
		{"tcp port http", lo, true},
		{"port https or http", lo, true},
	} {
		f, err := ParseFilter(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if got := f.Match(tc.p); got != tc.want {
			t.Errorf("%q on %v:%d > %v:%d = %v, want %v", tc.expr, tc.p.Src, tc.p.SrcPort, tc.p.Dst, tc.p.DstPort, got, tc.want)
		}
	}
	var none *Filter
	if !none.Match(v4) || none.String() != "" {
		t.Error("a nil filter does not select everything")
	}
}

// TestFilterErrors: a wrong expression is an error that quotes it, says
// where (in bytes, from 1) and names the token.
func TestFilterErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"port x", `filter "port x": at 6: port "x" is not a number from 0 to 65535 nor a known service name`},
		{"port", `filter "port": at 5: the expression ends too early: "port" needs a value for port after it`},
		{"port 70000", `at 6: port "70000" is not a number from 0 to 65535`},
		{"port 080", `at 6: port "080" is not a number from 0 to 65535 (a leading 0 means octal)`},
		{"udp port http", `at 10: port "http" is not a udp service`},
		{"host 10.0.0.1 and", `at 18: the expression ends too early: "and" needs an expression after it`},
		{"not", `at 4: the expression ends too early: "not" needs an expression after it`},
		{"(port 80", `at 9: missing ) for the ( at 1`},
		{"port (80 or 443", `at 16: missing ) for the ( at 6`},
		{"port 80)", `at 8: unexpected ")" with no ( before it`},
		{"()", `at 2: unexpected ")" where an expression should start`},
		{"port 80 port 443", `at 9: unexpected "port" (want and, or, or the end)`},
		{"port 1 or or port 2", `at 11: unexpected "or" where a primitive or a value should be`},
		{"net 10.0.0.1/8", `at 5: "10.0.0.1/8" has bits set outside the network part`},
		{"net 10.0.0.1 mask 255.0.0.0", `at 5: "10.0.0.1 mask 255.0.0.0" has bits set outside the network part`},
		{"net 10.0.0.0/33", `at 5: "10.0.0.0/33": the prefix length must be a number from 0 to 32`},
		{"net fe80::1/10", `at 5: "fe80::1/10" has bits set outside the network part`},
		{"net 10.0.0.0 mask", `the expression ends too early: "mask" needs a mask after it`},
		{"net 10.0.0.0 mask 255.0", `at 19: mask "255.0" is not an IPv4 address`},
		{"net example", `at 5: net "example": a network is an address with a prefix length or a mask`},
		{"host ::1/64", `at 6: host "::1/64": a mask or prefix length is for networks (use net)`},
		{"host 10.0.0.0 mask 255.0.0.0", `at 6: host "10.0.0.0": a mask or prefix length is for networks`},
		{"host 1.2.3.256", `at 6: "1.2.3.256" is not an IPv4 address`},
		{"port 80 mask 255.0.0.0", `at 9: a mask is for networks, not port`},
		{"portrange 80-x", `at 11: portrange "80-x" is not N-M with ports from 0 to 65535`},
		{"src tcp", `at 5: "src" needs host, net, port, portrange or an address after it, not "tcp"`},
		{"src", `at 4: the expression ends too early: "src" needs host, net, port, portrange or an address after it`},
		{"tcp 80", `at 5: "80" after tcp needs host, net, port or portrange between them`},
		{"ip port 80", `at 1: ip cannot qualify port (only tcp, udp and sctp can)`},
		{"tcp host 1.2.3.4", `at 1: tcp cannot qualify host "1.2.3.4" (only ip, ip6, arp and rarp can)`},
		{"ip6 host 1.2.3.4", `at 10: "1.2.3.4" is an IPv4 address, which ip6 cannot match`},
		{"ip host ::1", `at 9: "::1" is an IPv6 address, which ip cannot match`},
		{"80", `at 1: "80" needs host, net, port or portrange before it`},
		{"tcp and 80", `at 9: "80" needs host, net, port or portrange before it`},
		{"ether host 00:11:22:33:44:55", `at 1: "ether" is not supported`},
		{"tcp[13] & 2 != 0", `at 4: unexpected "[" (arithmetic and comparisons are not supported)`},
		{"port 80 é", `at 9: unexpected "é"`},
		{"host no-such-host.invalid", `at 6: host "no-such-host.invalid": lookup no-such-host.invalid`},
	} {
		_, err := ParseFilter(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), fmt.Sprintf("filter %q: at ", tc.expr)) {
			t.Errorf("%q: error %v, want one containing %q", tc.expr, err, tc.want)
		}
	}
}

// TestFilterEquivalents: spellings that libpcap reads as the same
// expression select the same packets, in Go and compiled.
func TestFilterEquivalents(t *testing.T) {
	var frames [][]byte
	var pkts []*Packet
	all := append(networkPackets(t, "gorilla-deflate.pcap"), networkPackets(t, "ipv6-multi-sll2.pcap")...)
	all = append(all, madeUpPackets()...)
	for _, p := range all {
		b, _ := frame(LinkEthernet, p)
		frames = append(frames, b)
		var pk Packet
		if decodePacket(LinkEthernet, b, len(b), &pk) == skipNone {
			pkts = append(pkts, &pk)
		}
	}
	// Ports and addresses that occur in these packets.
	for _, group := range [][]string{
		{"port 9103 or 40000", "port 9103 or port 40000", "port (9103 or 40000)", "(port 9103) or port 40000", "src or dst port 9103 or 40000"},
		{"tcp port 9101 or 80", "tcp port 9101 or tcp port 80"},
		{"host 10.0.0.1 or 127.0.0.1", "host 10.0.0.1 or host 127.0.0.1"},
		{"src host 10.0.0.2 or 127.0.0.1", "src host 10.0.0.2 or src host 127.0.0.1"},
		{"port 9105 and not 35184", "port 9105 and not port 35184", "port 9105 && !port 35184"},
		{"port 9101 or port 9105 and ip6", "(port 9101 or port 9105) and ip6"},
		{"not port 9105 and ip6", "(not port 9105) and ip6"},
		{"127.0.0.1", "host 127.0.0.1"},
		{"src and dst host 127.0.0.1", "src host 127.0.0.1 and dst host 127.0.0.1"},
		{"net 10", "net 10.0.0.0/8", "net 10.0.0.0 mask 255.0.0.0", "net 10/8"},
		{"host 10.0", "net 10.0.0.0/16"},
		{"portrange 80", "port 80"},
		{"portrange 9101-9102", "port 9101 or port 9102"},
		{"port http", "tcp port 80"},
		{"host 127.0.0.1 or (port 80) or 443", "host 127.0.0.1 or port 80 or host 0.0.1.187"},
		{"ip6 net ::1/128", "ip6 host ::1", "host ::1"},
	} {
		first, err := ParseFilter(group[0])
		if err != nil {
			t.Fatal(err)
		}
		firstProg, err := first.BPF(LinkEthernet)
		if err != nil {
			t.Fatal(err)
		}
		firstVM, err := bpf.NewVM(firstProg)
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range group[1:] {
			f, err := ParseFilter(expr)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := f.BPF(LinkEthernet)
			if err != nil {
				t.Fatal(err)
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatal(err)
			}
			selected := 0
			for i, b := range frames {
				want := vmSelects(t, firstVM, b)
				if got := vmSelects(t, vm, b); got != want {
					t.Errorf("frame %d: %q compiled selects %v, %q %v", i, expr, got, group[0], want)
				}
				if want {
					selected++
				}
			}
			for i, p := range pkts {
				if got, want := f.Match(p), first.Match(p); got != want {
					t.Errorf("packet %d: %q matches %v, %q %v", i, expr, got, group[0], want)
				}
			}
			if selected == 0 || selected == len(frames) {
				t.Errorf("%q selects %d of %d frames: the comparison tells nothing", group[0], selected, len(frames))
			}
		}
	}
}
