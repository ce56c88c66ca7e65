//go:build linux

package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/decode"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// openLoopback opens a live capture on lo, or skips the test when this
// process may not capture (it needs root or CAP_NET_RAW, which is not a
// program that could be installed).
func openLoopback(t *testing.T) *Live {
	t.Helper()
	l, err := OpenLive("lo")
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLiveCapture captures real peers on loopback: a gorilla WebSocket
// client and server, and next to them a plain TCP connection carrying
// random bytes. The WebSocket conversation is decoded as it happens, the
// other connection is not reported, and the packets written to pcapng
// decode to the same frames.
func TestLiveCapture(t *testing.T) {
	live := openLoopback(t)
	defer live.Close()

	srv := httptest.NewServer(echoWS(&websocket.Upgrader{}, "echo: "))
	defer srv.Close()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	go func() {
		c, err := raw.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	wsPort := srv.Listener.Addr().(*net.TCPAddr).Port
	rawPort := raw.Addr().(*net.TCPAddr).Port
	filter, err := ParseFilter(fmt.Sprintf("host 127.0.0.1 and (port %d or port %d)", wsPort, rawPort))
	if err != nil {
		t.Fatal(err)
	}

	tt := newTestTap(t)
	var pcapng bytes.Buffer
	w, err := NewPcapngWriter(&pcapng, "lo", live.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(Options{Source: "live", Filter: filter, Tap: tt.tap})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- Run(ctx, live, tr, RunOptions{Tee: w.Write}) }()

	// The plain TCP connection: bytes no protocol wstap knows.
	rc, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 40000)
	for i := range junk {
		junk[i] = byte(i*7919 + i>>3)
	}
	go rc.Write(junk)
	io.ReadFull(rc, make([]byte, len(junk)))
	rc.Close()

	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/live?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := []string{"first", strings.Repeat("long ", 100), "héllo ✓"}
	for _, m := range sent {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "echo: "+m {
			t.Fatalf("echo %q, %v", got, err)
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
	c.ReadMessage() // the server's close
	c.Close()
	// The connection ends when both FINs were captured.
	if !tt.waitEnded(1) {
		t.Error("the connection did not end in the capture")
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	tr.Close()
	conns := tt.ended()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	if len(conns) != 1 {
		t.Fatalf("%d connections reported, want the WebSocket one only", len(conns))
	}
	got := conns[0]
	if got.Source != "live" || got.URL != fmt.Sprintf("ws://127.0.0.1:%d/live?x=1", wsPort) || got.Close == nil || got.Close.Code != 1000 {
		t.Errorf("connection: source %q, URL %q, close %+v", got.Source, got.URL, got.Close)
	}
	var texts []string
	for _, m := range got.Messages {
		if m.Opcode == decode.OpText {
			texts = append(texts, m.From.String()+": "+string(m.Payload))
		}
	}
	var want []string
	for _, m := range sent {
		want = append(want, "client: "+m, "server: echo: "+m)
	}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}

	// The raw packets kept in pcapng decode the same, and loopback
	// packets were kept once, not once leaving and once arriving.
	file := pcapng.Bytes()
	again := decodeCapture(t, "written", file, Options{})
	if len(again.conns) != 1 || joinLines(frameSigs(again.conns[0])) != joinLines(frameSigs(got)) {
		t.Fatalf("the written capture decodes to %d connections with other frames", len(again.conns))
	}
	cf := parseCapFile(t, file)
	seen := map[string]bool{}
	for _, s := range cf.segments() {
		k := fmt.Sprint(s.src, s.dst, s.seq, s.n, s.flags)
		if s.n > 0 && seen[k] {
			t.Fatalf("segment %s was captured twice", k)
		}
		seen[k] = true
	}
}

// TestOpenLiveErrors: a missing interface is an error that names it.
func TestOpenLiveErrors(t *testing.T) {
	_, err := OpenLive("no-such-if0")
	if err == nil || !strings.Contains(err.Error(), "no-such-if0") {
		t.Fatalf("error %v does not name the interface", err)
	}
}

// echoOnce dials a WebSocket echo server, has one message echoed and
// closes the connection cleanly.
func echoOnce(t *testing.T, srv *httptest.Server, msg string) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || !strings.HasSuffix(string(got), msg) {
		t.Fatalf("echo %q, %v", got, err)
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.ReadMessage() // the server's close
}

// TestLiveKernelFilter: with a filter attached to the socket, packets of
// another port never come out of it, not even those queued before the
// filter was attached. The tracker runs without a filter of its own, so
// it is the kernel that chose.
func TestLiveKernelFilter(t *testing.T) {
	live := openLoopback(t)
	defer live.Close()
	if err := live.SetFilter(nil); err != nil {
		t.Fatalf("removing a filter there is not: %v", err)
	}
	a := httptest.NewServer(echoWS(&websocket.Upgrader{}, "a: "))
	defer a.Close()
	b := httptest.NewServer(echoWS(&websocket.Upgrader{}, "b: "))
	defer b.Close()
	portA := uint16(a.Listener.Addr().(*net.TCPAddr).Port)
	portB := uint16(b.Listener.Addr().(*net.TCPAddr).Port)

	// A whole conversation with b while the socket is open and unfiltered:
	// its packets wait in the socket's queue.
	echoOnce(t, b, "before the filter")
	filter, err := ParseFilter(fmt.Sprintf("tcp port %d", portA))
	if err != nil {
		t.Fatal(err)
	}
	if err := live.SetFilter(filter); err != nil {
		t.Fatal(err)
	}

	tt := newTestTap(t)
	tr := NewTracker(Options{Source: "live", Tap: tt.tap})
	// What came out of the socket, by port (read after Run returns).
	seen := map[uint16]int{}
	tee := func(rec *Record) error {
		var p Packet
		if decodePacket(rec.LinkType, rec.Data, rec.OrigLen, &p) == skipNone {
			seen[p.SrcPort]++
			seen[p.DstPort]++
		} else {
			seen[0]++
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- Run(ctx, live, tr, RunOptions{Tee: tee}) }()

	echoOnce(t, b, "after the filter")
	echoOnce(t, a, "selected")
	if !tt.waitEnded(1) {
		t.Error("the connection to a did not end in the capture")
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	tr.Close()
	conns := tt.ended()

	if seen[portB] > 0 || seen[0] > 0 {
		t.Errorf("the socket delivered %d packets of port %d and %d others; the filter selects port %d only", seen[portB], portB, seen[0], portA)
	}
	if seen[portA] == 0 {
		t.Errorf("no packet of port %d", portA)
	}
	var servers []string
	for _, c := range conns {
		servers = append(servers, c.Server)
	}
	if len(conns) != 1 || conns[0].Server != a.Listener.Addr().String() {
		t.Fatalf("connections to %v, want the one to %s only", servers, a.Listener.Addr())
	}
	if st := tr.Stats(); st.Filtered != 0 || st.Records != int64(seen[portA]) {
		t.Errorf("stats %+v, %d packets of port %d", st, seen[portA], portA)
	}
}

// openTun creates a TUN interface, which has no link-layer header (wstap
// captures it in cooked mode), and brings it up. What is written to the
// returned descriptor arrives on the interface as received packets. The
// interface goes away with the descriptor. It skips the test where this
// process may not create one.
func openTun(t *testing.T) (name string, fd int) {
	t.Helper()
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	ifr, err := unix.NewIfreq("wstap%d")
	if err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			t.Skipf("creating a TUN interface needs CAP_NET_ADMIN: %v", err)
		}
		t.Fatal(err)
	}
	name = ifr.Name()
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	up, err := unix.NewIfreq(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, up); err != nil {
		t.Fatal(err)
	}
	up.SetUint16(up.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, up); err != nil {
		t.Fatal(err)
	}
	return name, fd
}

// TestLiveKernelFilterCooked runs filters in the kernel on a cooked
// socket, where the program sees packets from their network header on
// and the protocol as ancillary data: packets written into a TUN
// interface come out of the socket exactly when the same filter compiled
// for SLL (checked against tcpdump in TestFilterAgainstTcpdump) selects
// them.
func TestLiveKernelFilterCooked(t *testing.T) {
	name, tun := openTun(t)
	live, err := OpenLive(name)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if live.LinkType() != LinkLinuxSLL {
		t.Fatalf("%s is captured as %s, want cooked", name, live.LinkType())
	}
	// A TUN interface carries IP only.
	var pkts []netPacket
	all := append(madeUpPackets(), networkPackets(t, "gorilla-deflate.pcap")[:8]...)
	all = append(all, networkPackets(t, "ipv6-multi-sll2.pcap")[:8]...)
	for _, p := range all {
		if p.etherType == etherIPv4 || p.etherType == etherIPv6 {
			pkts = append(pkts, p)
		}
	}
	for _, expr := range []string{
		"tcp port 9101 or src port 9103 or dst port 9105",
		"ip6 and not udp",
		"not port 9101 and host 127.0.0.1",
		"udp or icmp or icmp6 or sctp",
		"portrange 9100-9110 and ip or net fe80::/10",
	} {
		f, err := ParseFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		if err := live.SetFilter(f); err != nil {
			t.Fatal(err)
		}
		prog, err := f.BPF(LinkLinuxSLL)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]bool, len(pkts))
		expected := 0
		for i, p := range pkts {
			b, _ := frame(LinkLinuxSLL, p)
			if want[i] = vmSelects(t, vm, b); want[i] {
				expected++
			}
			if _, err := unix.Write(tun, p.data); err != nil {
				t.Fatalf("writing to %s: %v", name, err)
			}
		}
		// Read until every expected packet is in, then for one more poll
		// interval to catch any that should not be there.
		got := map[string]bool{}
		found := 0
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			var rec Record
			err := live.Next(&rec)
			if errors.Is(err, ErrNoPacket) {
				if found >= expected {
					break
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Data) < 16 {
				t.Fatalf("a cooked record of %d bytes", len(rec.Data))
			}
			k := string(rec.Data[16:])
			if !got[k] {
				got[k] = true
				for i, p := range pkts {
					if want[i] && string(p.data) == k {
						found++
						break
					}
				}
			}
		}
		for i, p := range pkts {
			if got[string(p.data)] != want[i] {
				t.Errorf("%q, packet %d (%s): came out of the socket: %v, selected in the VM: %v", expr, i, p.note, got[string(p.data)], want[i])
			}
		}
		t.Logf("%q: %d of %d packets selected in the kernel", expr, expected, len(pkts))
	}
}
