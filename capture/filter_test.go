package capture

import (
	"net/netip"
	"strings"
	"testing"
)

func TestFilter(t *testing.T) {
	pkt := func(src string, sport uint16, dst string, dport uint16) *Packet {
		return &Packet{Src: netip.MustParseAddr(src), SrcPort: sport, Dst: netip.MustParseAddr(dst), DstPort: dport}
	}
	v4 := pkt("10.0.0.1", 51000, "10.0.0.2", 8080)
	v6 := pkt("::1", 40000, "::1", 9105)
	mapped := pkt("::ffff:10.0.0.1", 51000, "::ffff:10.0.0.2", 443)
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
		{"host 10.0.0.2", v4, true},
		{"src host 10.0.0.2", v4, false},
		{"dst host 10.0.0.2 and dst port 8080", v4, true},
		{"host 10.0.0.9 or port 8080", v4, true},
		{"not port 8080", v4, false},
		{"!(port 80 || port 8080)", v4, false},
		{"host 10.0.0.1 && (port 80 or port 8080)", v4, true},
		{"net 10.0.0.0/8", v4, true},
		{"dst net 192.168.0.0/16", v4, false},
		{"portrange 8000-8100", v4, true},
		{"portrange 8100-8000", v4, true}, // either order
		{"ip and tcp", v4, true},
		{"ip6", v4, false},
		{"ip6 and host ::1 and port 9105", v6, true},
		{"host 10.0.0.1", mapped, true}, // IPv4-mapped IPv6 is the IPv4 host
		{"HOST 10.0.0.1 AND PORT 443", mapped, true},
		{"host localhost", pkt("127.0.0.1", 5000, "127.0.0.1", 80), true},
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
}

func TestFilterErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"port", "needs a value"},
		{"port http", `"http" is not a number`},
		{"port 70000", "0 to 65535"},
		{"udp port 53", `unknown primitive "udp"`},
		{"host 10.0.0.1 and", "ends too early"},
		{"(port 80", "missing )"},
		{"port 80)", `unexpected ")"`},
		{"net 10.0.0.1", "prefix"},
		{"portrange 80", "N-M"},
		{"src tcp", "cannot follow"},
		{"host no-such-host.invalid", "no-such-host.invalid"},
	} {
		_, err := ParseFilter(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "filter") {
			t.Errorf("%q: error %v, want one containing %q", tc.expr, err, tc.want)
		}
	}
}
