package synth_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture/synth"
)

// tsharkRun runs tshark on a capture, with the servers' ports dissected as
// HTTP so that it follows the Upgrade into WebSocket (as bare data for
// conversations of random bytes), and checksum validation on, so that a
// wrong checksum is an expert error.
func tsharkRun(t *testing.T, tshark, path string, convs []conv, args ...string) []byte {
	t.Helper()
	all := []string{"-r", path, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"}
	var ports []string
	for _, c := range convs {
		_, port, _ := net.SplitHostPort(c.wireServer)
		as := "http"
		if c.raw {
			as = "data"
		}
		if !slices.Contains(ports, port) {
			ports = append(ports, port)
			all = append(all, "-d", "tcp.port=="+port+","+as)
		}
	}
	cmd := exec.Command(tshark, append(all, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// tsharkPackets runs tshark with -T json and the given fields, and returns
// each packet's fields (each a list: a packet can hold several values).
// opts come before the fields: a display filter, a second pass.
func tsharkPackets(t *testing.T, tshark, path string, convs []conv, opts []string, fields ...string) []map[string][]string {
	t.Helper()
	args := append([]string{"-T", "json"}, opts...)
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var pkts []struct {
		Source struct {
			Layers map[string][]string `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(tsharkRun(t, tshark, path, convs, args...), &pkts); err != nil {
		t.Fatalf("tshark's JSON: %v", err)
	}
	out := make([]map[string][]string, len(pkts))
	for i, p := range pkts {
		out[i] = p.Source.Layers
	}
	return out
}

// tsharkMessages returns the WebSocket messages tshark decoded, by
// tcp.stream, in order. The scripts write one frame per message, so a
// packet that completes a frame completes exactly one.
func tsharkMessages(t *testing.T, tshark, path string, convs []conv) map[int][]wsMsg {
	t.Helper()
	pkts := tsharkPackets(t, tshark, path, convs, []string{"-Y", "websocket"}, "tcp.stream", "tcp.srcport",
		"websocket.opcode", "websocket.payload_length", "websocket.payload_length_ext_16", "websocket.payload_length_ext_64",
		"websocket.payload.text", "data.data", "websocket.payload.ping", "websocket.payload.pong",
		"websocket.payload.close.status_code", "websocket.payload.close.reason")
	one := func(p map[string][]string, f string) string {
		if len(p[f]) != 1 {
			t.Fatalf("tshark packet %v: want one %s", p, f)
		}
		return p[f][0]
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		return n
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		return b
	}
	msgs := map[int][]wsMsg{}
	for _, p := range pkts {
		stream := num(one(p, "tcp.stream"))
		_, cport, _ := net.SplitHostPort(convs[stream].wireClient)
		m := wsMsg{fromClient: one(p, "tcp.srcport") == cport, opcode: num(one(p, "websocket.opcode"))}
		length := num(one(p, "websocket.payload_length"))
		switch length {
		case 126:
			length = num(one(p, "websocket.payload_length_ext_16"))
		case 127:
			length = num(one(p, "websocket.payload_length_ext_64"))
		}
		switch m.opcode {
		case opText:
			m.payload = []byte(one(p, "websocket.payload.text"))
		case opBinary:
			m.payload = unhex(one(p, "data.data"))
		case opPing:
			m.payload = unhex(one(p, "websocket.payload.ping"))
		case opPong:
			m.payload = unhex(one(p, "websocket.payload.pong"))
		case opClose:
			m.payload = closePayload(uint16(num(one(p, "websocket.payload.close.status_code"))), one(p, "websocket.payload.close.reason"))
		}
		if len(m.payload) != length {
			t.Errorf("stream %d: tshark says length %d for a payload of %d", stream, length, len(m.payload))
		}
		msgs[stream] = append(msgs[stream], m)
	}
	return msgs
}

// severityWarn is Wireshark's PI_WARN, as _ws.expert.severity gives it:
// expert infos from it up are problems; notes and chats are not.
const severityWarn = 0x00600000

// tsharkClean runs tshark over every packet, twice (-2) so that each holds
// its stream's final state, and checks that its TCP analysis flags nothing
// (no retransmission, lost or unseen segment, duplicate ACK, window
// problem, not even a window update), that its expert says nothing worse
// than a note except one "Connection reset" per stream that was reset,
// and that every checksum is good. It returns the packets with the fields
// of TestTshark's further checks.
func tsharkClean(t *testing.T, tshark, path string, convs []conv, resets int) []map[string][]string {
	t.Helper()
	pkts := tsharkPackets(t, tshark, path, convs, []string{"-2"}, "tcp.analysis.flags", "_ws.expert.message", "_ws.expert.severity",
		"ip.checksum.status", "tcp.checksum.status",
		"tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tcp.completeness", "http.response.code")
	gotResets := 0
	for i, p := range pkts {
		if p["tcp.analysis.flags"] != nil {
			t.Errorf("packet %d: tshark's TCP analysis flags it: %q", i+1, p["_ws.expert.message"])
		}
		for j, sev := range p["_ws.expert.severity"] {
			n, err := strconv.Atoi(sev)
			switch {
			case err != nil || j >= len(p["_ws.expert.message"]):
				t.Fatalf("packet %d: expert fields %v", i+1, p)
			case n < severityWarn:
			case p["_ws.expert.message"][j] == "Connection reset (RST)":
				gotResets++
			default:
				t.Errorf("packet %d: tshark's expert: %s", i+1, p["_ws.expert.message"][j])
			}
		}
		// 1 is "Good": computed and equal to the packet's. IPv6 has no
		// header checksum.
		if !slices.Equal(p["tcp.checksum.status"], []string{"1"}) || (p["ip.checksum.status"] != nil && !slices.Equal(p["ip.checksum.status"], []string{"1"})) {
			t.Errorf("packet %d: checksum status %v", i+1, p)
		}
	}
	if gotResets != resets {
		t.Errorf("tshark's expert found %d resets, want %d", gotResets, resets)
	}
	if len(pkts) == 0 {
		t.Fatal("tshark found no packets")
	}
	return pkts
}

// TestTshark writes WebSocket conversations over IPv4, IPv6, mapped and
// mixed addresses, one of them reset, and wants tshark to see the
// handshakes, exactly the messages written on the stream they were written
// on, between the right addresses, and nothing wrong with the TCP.
func TestTshark(t *testing.T) {
	tshark := requirePeer(t, "tshark")
	t.Parallel()
	convs := testConvs()
	path, _ := writeFile(t, convs)

	pkts := tsharkClean(t, tshark, path, convs, 1)
	got := tsharkMessages(t, tshark, path, convs)
	if len(got) != len(convs) {
		t.Errorf("tshark found WebSocket messages on %d streams, want %d", len(got), len(convs))
	}
	for i, c := range convs {
		if !slices.EqualFunc(got[i], c.msgs, msgEqual) {
			t.Errorf("stream %d (%s): tshark found\n%v\nwant\n%v", i, c.wireClient, got[i], c.msgs)
		}
	}

	// Addresses, the Upgrade, and completeness: tshark's tcp.completeness
	// ORs SYN 1, SYN-ACK 2, ACK 4, data 8, FIN 16, RST 32.
	type streamInfo struct {
		addrs        map[string]bool
		completeness int
		upgraded     bool
	}
	streams := map[string]*streamInfo{}
	for _, p := range pkts {
		id := strings.Join(p["tcp.stream"], "")
		si := streams[id]
		if si == nil {
			si = &streamInfo{addrs: map[string]bool{}}
			streams[id] = si
		}
		si.addrs[net.JoinHostPort(strings.Join(p["ip.src"], "")+strings.Join(p["ipv6.src"], ""), strings.Join(p["tcp.srcport"], ""))] = true
		if c, err := strconv.Atoi(strings.Join(p["tcp.completeness"], "")); err == nil {
			si.completeness = max(si.completeness, c)
		}
		si.upgraded = si.upgraded || slices.Contains(p["http.response.code"], "101")
	}
	if len(streams) != len(convs) {
		t.Errorf("tshark found %d TCP streams, want %d", len(streams), len(convs))
	}
	for i, c := range convs {
		si := streams[strconv.Itoa(i)]
		if si == nil {
			t.Errorf("stream %d (%s) is missing", i, c.wireClient)
			continue
		}
		if len(si.addrs) != 2 || !si.addrs[c.wireClient] || !si.addrs[c.wireServer] {
			t.Errorf("stream %d: addresses %v, want %s and %s", i, si.addrs, c.wireClient, c.wireServer)
		}
		want := 1 | 2 | 4 | 8 | 16
		if c.steps[len(c.steps)-1].kind == stepReset {
			want = 1 | 2 | 4 | 8 | 32
		}
		if si.completeness != want {
			t.Errorf("stream %d: tcp.completeness %d, want %d", i, si.completeness, want)
		}
		if !si.upgraded {
			t.Errorf("stream %d: tshark saw no 101 response", i)
		}
	}
	t.Logf("%d packets in %d streams; tshark agrees on every message, TCP analysis clean", len(pkts), len(streams))
}

func msgEqual(a, b wsMsg) bool {
	return a.fromClient == b.fromClient && a.opcode == b.opcode && bytes.Equal(a.payload, b.payload)
}

// TestTsharkWraps: sequence numbers that wrap past 2^32 inside a message
// are nothing tshark remarks on.
func TestTsharkWraps(t *testing.T) {
	tshark := requirePeer(t, "tshark")
	t.Parallel()
	c, data := writeWrapped(t)
	path := filepath.Join(t.TempDir(), "wrap.pcapng")
	must(t, os.WriteFile(path, data, 0o644))
	tsharkClean(t, tshark, path, []conv{c}, 0)
	got := tsharkMessages(t, tshark, path, []conv{c})
	if !slices.EqualFunc(got[0], c.msgs, msgEqual) {
		t.Errorf("tshark found\n%v\nwant\n%v", got[0], c.msgs)
	}
}

// TestTsharkConcurrent: connections written from many goroutines at once
// interleave in the file, and tshark's analysis still finds nothing wrong.
func TestTsharkConcurrent(t *testing.T) {
	tshark := requirePeer(t, "tshark")
	t.Parallel()
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	must(t, err)
	convs := concurrentConvs(t, w, concurrentStreams)
	path := filepath.Join(t.TempDir(), "concurrent.pcapng")
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
	pkts := tsharkClean(t, tshark, path, convs, 0)
	t.Logf("%d packets in %d concurrently written streams; TCP analysis clean", len(pkts), len(convs))
}
