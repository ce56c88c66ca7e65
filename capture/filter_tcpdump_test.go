package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"
)

// diffRecord is one record of a capture compared with tcpdump.
type diffRecord struct {
	ts   time.Time
	data []byte
	orig int
	// note says what a made-up record is, for messages.
	note string
	// goDiffers marks a record the Go matcher is known to judge
	// differently from libpcap (see Filter.Match): a VLAN tag or an IPv6
	// extension header, which wstap's decoder looks through.
	goDiffers bool
}

// diffCapture is a capture file on disk, for tcpdump, and the records
// this package's reader took from it.
type diffCapture struct {
	name   string
	path   string
	link   LinkType
	recs   []diffRecord
	sample bool // one of samples/: every record must be a TCP segment
}

// readDiffCapture reads a capture file with this package's Reader.
func readDiffCapture(t testing.TB, name, path string) diffCapture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, _, err := Open(name, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	dc := diffCapture{name: name, path: path}
	for {
		var rec Record
		err := rd.Next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		dc.link = rec.LinkType
		dc.recs = append(dc.recs, diffRecord{ts: rec.Time, data: bytes.Clone(rec.Data), orig: rec.OrigLen})
	}
	return dc
}

// netPacket is a network-layer packet and the EtherType that says what
// it is, to be framed for any link type.
type netPacket struct {
	etherType uint16
	data      []byte
	orig      int // its length on the wire when data is cut short; 0 if not
	note      string
	goDiffers bool
}

// networkPackets takes the records of a sample apart at the network
// layer.
func networkPackets(t testing.TB, name string) []netPacket {
	t.Helper()
	cf := loadCapFile(t, name)
	var out []netPacket
	for _, r := range cf.recs {
		off := cf.ipOffset(t, r.data)
		et := uint16(etherIPv4)
		if r.data[off]>>4 == 6 {
			et = etherIPv6
		}
		out = append(out, netPacket{etherType: et, data: r.data[off:], note: name})
	}
	return out
}

// Builders of made-up packets, checksums left at zero: neither a filter
// nor tcpdump -w looks at them.
func mkIPv4(src, dst string, proto byte, frag uint16, options []byte, payload []byte) []byte {
	h := make([]byte, 20+len(options))
	h[0] = 0x40 | byte(len(h)/4)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(payload)))
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8] = 64
	h[9] = proto
	s, d := mustAddr4(src), mustAddr4(dst)
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	copy(h[20:], options)
	return append(h, payload...)
}

func mkIPv6(src, dst string, next byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6] = next
	h[7] = 64
	s, d := mustAddr16(src), mustAddr16(dst)
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, payload...)
}

func mkTCP(sport, dport uint16, payload string) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 1000)
	h[12] = 5 << 4
	h[13] = flagACK | 0x08
	return append(h, payload...)
}

// mkPorts is a UDP or SCTP header as far as ports go.
func mkPorts(sport, dport uint16, n int) []byte {
	h := make([]byte, n)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	return h
}

func mkARP(spa, tpa string) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], 1) // Ethernet
	binary.BigEndian.PutUint16(b[2:], etherIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], 1) // request
	s, d := mustAddr4(spa), mustAddr4(tpa)
	copy(b[14:], s[:])
	copy(b[24:], d[:])
	return b
}

func mustAddr4(s string) [4]byte   { return netip.MustParseAddr(s).As4() }
func mustAddr16(s string) [16]byte { return netip.MustParseAddr(s).As16() }

// madeUpPackets are the cases the samples do not have: IPv4 options, both
// kinds of fragments, other protocols, IPv6 extension headers, ARP and
// RARP, a packet cut before its ports, other networks.
func madeUpPackets() []netPacket {
	tcp4 := mkIPv4("127.0.0.1", "127.0.0.1", ipProtoTCP, 0, nil, mkTCP(9101, 40000, "hello"))
	return []netPacket{
		{etherType: etherIPv4, note: "IPv4 options", data: mkIPv4("10.0.0.1", "10.0.0.2", ipProtoTCP, 0, []byte{1, 1, 1, 0}, mkTCP(40000, 9101, "x"))},
		{etherType: etherIPv4, note: "IPv4 later fragment", data: mkIPv4("127.0.0.1", "127.0.0.1", ipProtoTCP, 8, nil, mkTCP(9101, 9101, "rest"))},
		{etherType: etherIPv4, note: "IPv4 first fragment", data: mkIPv4("127.0.0.1", "127.0.0.1", ipProtoTCP, 0x2000, nil, mkTCP(9101, 40000, "first"))},
		{etherType: etherIPv4, note: "UDP", data: mkIPv4("127.0.0.1", "127.0.0.1", ipProtoUDP, 0, nil, mkPorts(9101, 53, 8))},
		{etherType: etherIPv4, note: "SCTP", data: mkIPv4("127.0.0.1", "10.0.0.2", ipProtoSCTP, 0, nil, mkPorts(9101, 80, 12))},
		{etherType: etherIPv4, note: "ICMP", data: mkIPv4("127.0.0.1", "127.0.0.1", ipProtoICMP, 0, nil, []byte{8, 0, 0, 0, 0, 1, 0, 1})},
		{etherType: etherIPv6, note: "IPv6 UDP", data: mkIPv6("::1", "::1", ipProtoUDP, mkPorts(9101, 53, 8))},
		{etherType: etherIPv6, note: "ICMPv6", data: mkIPv6("::1", "::1", ipProtoICMP6, []byte{128, 0, 0, 0, 0, 1, 0, 1})},
		{etherType: etherIPv6, note: "IPv6 hop-by-hop then TCP", goDiffers: true,
			data: mkIPv6("::1", "::1", 0, append([]byte{ipProtoTCP, 0, 5, 2, 0, 0, 1, 0}, mkTCP(9101, 40000, "hbh")...))},
		{etherType: etherIPv6, note: "IPv6 fragment header then TCP",
			data: mkIPv6("::1", "::1", ipProtoIPv6Frag, append([]byte{ipProtoTCP, 0, 0, 1, 0, 0, 0, 7}, mkTCP(9101, 40000, "frag")...))},
		{etherType: etherVLAN, note: "VLAN-tagged IPv4 TCP", goDiffers: true, data: append([]byte{0, 5, 8, 0}, tcp4...)},
		{etherType: etherARP, note: "ARP", data: mkARP("10.0.0.1", "127.0.0.1")},
		{etherType: etherRARP, note: "RARP", data: mkARP("127.0.0.1", "10.0.0.2")},
		{etherType: etherIPv4, note: "IPv4 TCP cut before the destination port", data: tcp4[:22], orig: len(tcp4)},
		{etherType: etherIPv4, note: "IPv4 TCP between other networks", data: mkIPv4("10.0.0.3", "192.168.1.1", ipProtoTCP, 0, nil, mkTCP(9101, 443, "x"))},
		{etherType: etherIPv4, note: "IPv4 TCP port 80", data: mkIPv4("10.0.0.2", "10.0.0.1", ipProtoTCP, 0, nil, mkTCP(80, 40000, "x"))},
		{etherType: etherIPv6, note: "IPv6 TCP between other networks", data: mkIPv6("fe80::1", "2001:db8::2", ipProtoTCP, mkTCP(80, 9101, "x"))},
		{etherType: etherIPv4, note: "IPv4 TCP", data: tcp4},
	}
}

// frame puts a network packet in a frame of the link type, or reports
// that the link type cannot carry it.
func frame(link LinkType, p netPacket) ([]byte, bool) {
	v4 := p.etherType == etherIPv4
	v6 := p.etherType == etherIPv6
	family := func(order binary.AppendByteOrder, inet6 uint32) ([]byte, bool) {
		if !v4 && !v6 {
			return nil, false
		}
		f := uint32(afInet)
		if v6 {
			f = inet6
		}
		return append(order.AppendUint32(nil, f), p.data...), true
	}
	switch link {
	case LinkEthernet:
		h := []byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0}
		binary.BigEndian.PutUint16(h[12:], p.etherType)
		return append(h, p.data...), true
	case LinkLinuxSLL:
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[2:], 1)
		binary.BigEndian.PutUint16(h[4:], 6)
		binary.BigEndian.PutUint16(h[14:], p.etherType)
		return append(h, p.data...), true
	case LinkLinuxSLL2:
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], p.etherType)
		binary.BigEndian.PutUint32(h[4:], 1)
		binary.BigEndian.PutUint16(h[8:], 1)
		h[11] = 6
		return append(h, p.data...), true
	case LinkNull:
		// Written little-endian, as the pcap file is: libpcap reads the
		// family in the file's byte order. 30 is Darwin's AF_INET6.
		return family(binary.LittleEndian, 30)
	case LinkLoop:
		return family(binary.BigEndian, 28)
	case LinkRaw, LinkIPv4, LinkIPv6:
		if link == LinkRaw && (v4 || v6) || link == LinkIPv4 && v4 || link == LinkIPv6 && v6 {
			return bytes.Clone(p.data), true
		}
	}
	return nil, false
}

// derivedCapture writes the packets framed for a link type to a pcap file
// and reads it back with this package's reader.
func derivedCapture(t testing.TB, dir string, link LinkType, pkts []netPacket) diffCapture {
	t.Helper()
	cf := capFile{link: link}
	var notes []netPacket
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range pkts {
		b, ok := frame(link, p)
		if !ok {
			continue
		}
		orig := len(b)
		if p.orig > 0 {
			orig = len(b) - len(p.data) + p.orig
		}
		// A timestamp of its own for every record, so that tcpdump's
		// output is matched to its input without doubt.
		cf.recs = append(cf.recs, capRecord{ts: base.Add(time.Duration(len(cf.recs)) * time.Millisecond), orig: orig, data: b})
		notes = append(notes, p)
	}
	name := fmt.Sprintf("derived-%d.pcap", link)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, cf.pcap(t), 0o644); err != nil {
		t.Fatal(err)
	}
	dc := readDiffCapture(t, fmt.Sprintf("%s (made from the samples and made-up packets)", link), path)
	if len(dc.recs) != len(notes) {
		t.Fatalf("%s: read %d records back, wrote %d", name, len(dc.recs), len(notes))
	}
	for i := range dc.recs {
		dc.recs[i].note, dc.recs[i].goDiffers = notes[i].note, notes[i].goDiffers
	}
	return dc
}

// tcpdumpSelects runs tcpdump over a capture with an expression and says,
// record by record, which ones it selected.
func tcpdumpSelects(t *testing.T, tcpdump string, dc diffCapture, expr, outDir string) []bool {
	t.Helper()
	out := filepath.Join(outDir, "selected.pcap")
	cmd := exec.Command(tcpdump, "-r", dc.path, "-w", out, expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	want := make([]bool, len(dc.recs))
	if err := cmd.Run(); err != nil {
		// libpcap refuses to compile a program that can select nothing
		// ("ip6" on raw IPv4): that is an answer too.
		if strings.Contains(stderr.String(), "expression rejects all packets") {
			return want
		}
		t.Fatalf("tcpdump %q: %v: %s", expr, err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := parseCapFile(t, b)
	// tcpdump writes the selected records in order: match them to the
	// input by timestamp (to the microsecond it keeps) and bytes.
	j := 0
	for i, r := range dc.recs {
		if j < len(got.recs) && got.recs[j].ts.Truncate(time.Microsecond).Equal(r.ts.Truncate(time.Microsecond)) && bytes.Equal(got.recs[j].data, r.data) {
			want[i] = true
			j++
		}
	}
	if j != len(got.recs) {
		t.Fatalf("tcpdump %q wrote %d records, %d of them found in the input", expr, len(got.recs), j)
	}
	return want
}

// vmSelects runs a compiled program over a record in x/net/bpf's VM.
func vmSelects(t *testing.T, vm *bpf.VM, data []byte) bool {
	t.Helper()
	n, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 && n != bpfSnaplen {
		t.Fatalf("the program returned %d, want 0 or %d", n, bpfSnaplen)
	}
	return n > 0
}

// kernelCookedSelects runs the program a cooked packet socket gets over
// an SLL record as the kernel would hand it over: from the network header
// on, with the protocol from the SLL header as the ancillary load. The VM
// has no ancillary loads, so they become constants.
func kernelCookedSelects(t *testing.T, prog []bpf.Instruction, rec []byte) bool {
	t.Helper()
	if len(rec) < 16 {
		return false
	}
	proto := uint32(binary.BigEndian.Uint16(rec[14:16]))
	p := make([]bpf.Instruction, len(prog))
	for i, ins := range prog {
		if e, ok := ins.(bpf.LoadExtension); ok && e.Num == bpf.ExtProto {
			ins = bpf.LoadConstant{Dst: bpf.RegA, Val: proto}
		}
		p[i] = ins
	}
	vm, err := bpf.NewVM(p)
	if err != nil {
		t.Fatal(err)
	}
	return vmSelects(t, vm, rec[16:])
}

// TestFilterAgainstTcpdump compares, record by record, the packets that
// tcpdump selects with an expression (libpcap's compiler and its
// interpreter) with those that the Go matcher and the compiled program
// select. The captures are the samples (gzip ones unpacked first, since
// libpcap does not read gzip) and captures made from them and from
// made-up packets for every link type wstap decodes. The program runs in
// golang.org/x/net/bpf's VM over the raw bytes of every record; for SLL
// the kernel's view of a cooked socket is run too. The Go matcher is
// asked about the records that decode to TCP: the others never reach it
// (the tracker drops them when a filter is set), and the samples are
// checked to hold TCP only.
func TestFilterAgainstTcpdump(t *testing.T) {
	tcpdump := requirePeer(t, "tcpdump")
	// Each expression, and how tcpdump is to be asked when it refuses
	// wstap's spelling (a bare address at the start).
	exprs := []struct{ ours, theirs string }{
		{"tcp port 9101", ""},
		{"tcp dst port 9106", ""},
		{"tcp src port 9106", ""},
		{"port 9105", ""},
		{"udp port 9101", ""},
		{"sctp port 9101", ""},
		{"src port 35200", ""},
		{"dst port 35184", ""},
		{"port 9101 or port 9104", ""},
		{"port 9101 or 9104", ""},
		{"port 35936 or 35938 or 35952", ""},
		{"port (9102 or 9103)", ""},
		{"not port 9101", ""},
		{"! port 9105 && ! port 9106", ""},
		{"port 9105 and not port 35184", ""},
		{"port 9105 and not (port 35184 or port 35186)", ""},
		{"(port 9101 || port 9102) && ip", ""},
		{"port 9105 and (35184 or 35186)", ""},
		{"port 9106 or port 9105 and port 35200", ""}, // left to right: (a or b) and c
		{"portrange 9100-9103", ""},
		{"tcp portrange 35000-35190", ""},
		{"dst portrange 9104-9106 or src portrange 40000-40000", ""},
		{"src or dst port 9103", ""},
		{"src and dst port 9101", ""},
		{"port http", ""},
		{"port 0x238d", ""},
		{"host 127.0.0.1", ""},
		{"host localhost", ""},
		{"127.0.0.1", "host 127.0.0.1"},
		{"::1", "host ::1"},
		{"localhost and port 9101", "host localhost and port 9101"},
		{"host ::1", ""},
		{"ip6 host ::1", ""},
		{"ip host 127.0.0.1", ""},
		{"host 127.0.0.1 or ::1", ""},
		{"src host 127.0.0.1 and dst port 9102", ""},
		{"dst host ::1 and src port 9105", ""},
		{"src and dst host 127.0.0.1", ""},
		{"src or dst host 10.0.0.1", ""},
		{"arp host 127.0.0.1", ""},
		{"host 10.0.0.2 or 192.168.1.1", ""},
		{"host 127.0.0.1 or (port 80) or 443", ""}, // "443" is host 0.0.1.187, as libpcap has it
		{"net 127.0.0.0/8", ""},
		{"net 127", ""},
		{"net 10.0.0.0 mask 255.255.255.0", ""},
		{"src net 10.0.0.0/24 or dst net 192.168.0.0/16", ""},
		{"net ::1/128", ""},
		{"net fe80::/10", ""},
		{"ip6 and net 2001:db8::/32", ""},
		{"ip", ""},
		{"ip6", ""},
		{"tcp", ""},
		{"udp", ""},
		{"sctp", ""},
		{"icmp", ""},
		{"icmp6", ""},
		{"arp", ""},
		{"rarp", ""},
		{"ip and not tcp", ""},
		{"not ip6 and tcp", ""},
		{"tcp and (ip6 or src port 9102)", ""},
		{"ip6 and (src port 35200 or dst port 35200)", ""},
		{"tcp dst port 9106 && ! src port 35952", ""},
	}

	dir := t.TempDir()
	var caps []diffCapture
	for _, name := range sampleNames(t) {
		path := filepath.Join(samplesDir, name)
		if strings.HasSuffix(name, ".gz") {
			path = filepath.Join(dir, strings.TrimSuffix(name, ".gz"))
			if err := os.WriteFile(path, gunzipIf(t, readSample(t, name)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dc := readDiffCapture(t, name, path)
		dc.sample = true
		caps = append(caps, dc)
	}
	var pkts []netPacket
	pkts = append(pkts, networkPackets(t, "gorilla-deflate.pcap")...)
	pkts = append(pkts, networkPackets(t, "ipv6-multi-sll2.pcap")...)
	pkts = append(pkts, madeUpPackets()...)
	for _, link := range []LinkType{LinkEthernet, LinkLinuxSLL, LinkLinuxSLL2, LinkNull, LinkLoop, LinkRaw, LinkIPv4, LinkIPv6} {
		caps = append(caps, derivedCapture(t, dir, link, pkts))
	}

	filters := make([]*Filter, len(exprs))
	for i, e := range exprs {
		f, err := ParseFilter(e.ours)
		if err != nil {
			t.Fatal(err)
		}
		filters[i] = f
	}

	for _, dc := range caps {
		t.Run(dc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			var cooked *bpfLayout
			if dc.link == LinkLinuxSLL {
				cooked = kernelCookedLayout()
			}
			decoded := make([]*Packet, len(dc.recs))
			for i, r := range dc.recs {
				var p Packet
				if decodePacket(dc.link, r.data, r.orig, &p) == skipNone && !r.goDiffers {
					decoded[i] = &p
				} else if dc.sample {
					t.Fatalf("record %d of a sample is not a TCP segment wstap decodes", i+1)
				}
			}
			selected, rejected := 0, 0
			for ei, e := range exprs {
				theirs := e.theirs
				if theirs == "" {
					theirs = e.ours
				}
				want := tcpdumpSelects(t, tcpdump, dc, theirs, out)
				prog, err := filters[ei].BPF(dc.link)
				if err != nil {
					t.Fatal(err)
				}
				vm, err := bpf.NewVM(prog)
				if err != nil {
					t.Fatalf("%q: %v", e.ours, err)
				}
				var kprog []bpf.Instruction
				if cooked != nil {
					if kprog, err = filters[ei].program(cooked); err != nil {
						t.Fatal(err)
					}
				}
				bad := 0
				for i, r := range dc.recs {
					if want[i] {
						selected++
					} else {
						rejected++
					}
					what := fmt.Sprintf("%q record %d", e.ours, i+1)
					if r.note != "" {
						what += " (" + r.note + ")"
					}
					if got := vmSelects(t, vm, r.data); got != want[i] {
						t.Errorf("%s: the program says %v, tcpdump %v", what, got, want[i])
						bad++
					}
					if kprog != nil {
						if got := kernelCookedSelects(t, kprog, r.data); got != want[i] {
							t.Errorf("%s: the cooked-socket program says %v, tcpdump %v", what, got, want[i])
							bad++
						}
					}
					if p := decoded[i]; p != nil {
						if got := filters[ei].Match(p); got != want[i] {
							t.Errorf("%s: Match says %v, tcpdump %v", what, got, want[i])
							bad++
						}
					}
					if bad > 5 {
						t.Fatalf("%q: too many differences", e.ours)
					}
				}
			}
			if dc.sample && (selected == 0 || rejected == 0) {
				t.Errorf("the expressions selected %d and rejected %d records: the table tells nothing", selected, rejected)
			}
			t.Logf("%d records, %d expressions: %d selected, %d rejected, all alike", len(dc.recs), len(exprs), selected, rejected)
		})
	}
}

// TestFilterPrograms checks the compiled programs themselves: an empty
// filter selects everything in one instruction, every program ends in a
// return, jumps stay in range however long the program, and the kernel's
// size limit is an error.
func TestFilterPrograms(t *testing.T) {
	for _, link := range []LinkType{LinkEthernet, LinkLinuxSLL, LinkLinuxSLL2, LinkNull, LinkLoop, LinkRaw, LinkIPv4, LinkIPv6} {
		f, _ := ParseFilter("")
		prog, err := f.BPF(link)
		if err != nil || len(prog) != 1 || prog[0] != (bpf.RetConstant{Val: bpfSnaplen}) {
			t.Errorf("%s: empty filter: %v %v", link, prog, err)
		}
	}
	f, _ := ParseFilter("ip6")
	if prog, err := f.BPF(LinkIPv4); err != nil || len(prog) != 1 || prog[0] != (bpf.RetConstant{Val: 0}) {
		t.Errorf("ip6 on raw IPv4: %v %v", prog, err)
	}
	if _, err := f.BPF(105); err == nil || !strings.Contains(err.Error(), "link type 105") {
		t.Errorf("an unsupported link type: %v", err)
	}

	// A long expression: jumps past 255 instructions go through
	// unconditional jumps, and the program still selects what it should.
	var terms []string
	for p := 1000; p < 1060; p++ {
		terms = append(terms, fmt.Sprintf("port %d", p))
	}
	long, err := ParseFilter("(" + strings.Join(terms, " or ") + ") and host 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := long.BPF(LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 2*bpfMaxSkip {
		t.Fatalf("%d instructions: not long enough to need far jumps", len(prog))
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		port uint16
		want bool
	}{{1000, true}, {1059, true}, {1030, true}, {1060, false}, {999, false}} {
		pkt, _ := frame(LinkEthernet, netPacket{etherType: etherIPv4, data: mkIPv4("127.0.0.1", "127.0.0.1", ipProtoTCP, 0, nil, mkTCP(40000, tc.port, ""))})
		if got := vmSelects(t, vm, pkt); got != tc.want {
			t.Errorf("port %d: %v, want %v", tc.port, got, tc.want)
		}
	}

	terms = terms[:0]
	for p := range 400 {
		terms = append(terms, fmt.Sprintf("port %d", p))
	}
	huge, err := ParseFilter(strings.Join(terms, " or "))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := huge.BPF(LinkEthernet); err == nil || !strings.Contains(err.Error(), "4096") {
		t.Errorf("a program past the kernel's limit: %v", err)
	}
}

// TestFilterProgramShape compares the program for "tcp port 80" on
// Ethernet with what libpcap compiles (tcpdump -d), instruction by
// instruction where both do the same thing: the loads and the tests.
func TestFilterProgramShape(t *testing.T) {
	tcpdump := requirePeer(t, "tcpdump")
	dir := t.TempDir()
	path := filepath.Join(dir, "empty.pcap")
	if err := os.WriteFile(path, capFile{link: LinkEthernet}.pcap(t), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tcpdump, "-d", "-r", path, "tcp port 80").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("tcpdump -d: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	// The loads libpcap's program makes, in its notation.
	var theirs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(f[1], "ld") {
			theirs = append(theirs, f[1]+" "+f[2])
		}
	}
	f, _ := ParseFilter("tcp port 80")
	prog, err := f.BPF(LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ins := range prog {
		switch ins := ins.(type) {
		case bpf.LoadAbsolute:
			seen[fmt.Sprintf("%s [%d]", map[int]string{1: "ldb", 2: "ldh", 4: "ld"}[ins.Size], ins.Off)] = true
		case bpf.LoadIndirect:
			seen[fmt.Sprintf("%s [x", map[int]string{1: "ldb", 2: "ldh", 4: "ld"}[ins.Size])] = true
		case bpf.LoadMemShift:
			seen[fmt.Sprintf("ldxb 4*([%d]&0xf)", ins.Off)] = true
		}
	}
	for _, ld := range theirs {
		if !seen[ld] {
			t.Errorf("libpcap loads %q, the compiled program does not:\n%s", ld, out)
		}
	}
}
