package synth_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/wstap/wstap/internal/testpeer"

	"github.com/wstap/wstap/capture/synth"
)

// requirePeer skips the test when program is not installed, or fails it
// in CI (testpeer.Require).
func requirePeer(t testing.TB, program string) string {
	t.Helper()
	return testpeer.Require(t, program)
}

// RFC 6455 opcodes (5.2).
const (
	opText   = 1
	opBinary = 2
	opClose  = 8
	opPing   = 9
	opPong   = 10
)

// maskKey is the masking key of RFC 6455 5.7's examples.
var maskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// wsFrame builds one final RFC 6455 frame (5.2), masked as a client sends
// it or unmasked as a server does.
func wsFrame(opcode byte, payload []byte, masked bool) []byte {
	b := []byte{0x80 | opcode, 0}
	switch n := len(payload); {
	case n < 126:
		b[1] = byte(n)
	case n <= 0xffff:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	b = append(b, maskKey[:]...)
	for i, c := range payload {
		b = append(b, c^maskKey[i%4])
	}
	return b
}

// closePayload is a Close frame's body: the code, then the reason (RFC
// 6455 5.5.1).
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// wsMsg is a message as tshark or wstap should see it.
type wsMsg struct {
	fromClient bool
	opcode     int
	payload    []byte
}

func (m wsMsg) String() string {
	from := "server"
	if m.fromClient {
		from = "client"
	}
	p := m.payload
	if len(p) > 24 {
		return fmt.Sprintf("%s op=%d len=%d %x...", from, m.opcode, len(m.payload), p[:24])
	}
	return fmt.Sprintf("%s op=%d len=%d %x", from, m.opcode, len(m.payload), p)
}

// stepKind is what a step of a script does to its stream.
type stepKind int

const (
	stepWrite stepKind = iota
	stepCloseWrite
	stepReset
)

// step is one call a proxy would make on a stream.
type step struct {
	kind       stepKind
	fromClient bool
	data       []byte
}

// conv is a connection to write: its addresses, the calls, and the
// WebSocket messages they carry.
type conv struct {
	client, server netip.AddrPort
	// wireClient and wireServer are the addresses the packets carry, as
	// net.JoinHostPort writes them.
	wireClient, wireServer string
	// raw is set for conversations of random bytes rather than WebSocket.
	raw   bool
	steps []step
	msgs  []wsMsg
}

// bigSize is the binary message each conversation carries: many segments,
// and more than a 16-bit WebSocket length.
const bigSize = 100 << 10

// pattern returns n bytes that differ from a shifted copy of themselves,
// so that a misplaced segment shows.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8 + seed)
	}
	return b
}

// newConv scripts a WebSocket conversation as the bytes a proxy relays: the
// Upgrade, a text message each way, a 100 KiB binary message each way, a
// ping and its pong, and the closing handshake (RFC 6455 7), after which
// the server closes the TCP connection first (7.1.1) or, with reset, the
// client aborts it. tag makes the texts of each conversation differ.
func newConv(client, server string, tag string, reset bool) conv {
	c := conv{client: netip.MustParseAddrPort(client), server: netip.MustParseAddrPort(server), wireClient: client, wireServer: server}
	write := func(fromClient bool, data []byte) {
		c.steps = append(c.steps, step{kind: stepWrite, fromClient: fromClient, data: data})
	}
	msg := func(fromClient bool, opcode int, payload []byte) {
		c.msgs = append(c.msgs, wsMsg{fromClient: fromClient, opcode: opcode, payload: payload})
		write(fromClient, wsFrame(byte(opcode), payload, fromClient))
	}
	write(true, []byte("GET /chat?tag="+tag+" HTTP/1.1\r\nHost: "+server+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	write(false, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
	msg(true, opText, []byte("hello from "+tag))
	msg(false, opText, []byte("hello back to "+tag))
	msg(false, opBinary, pattern(bigSize, len(tag)))
	// The client's binary message arrives in uneven chunks, as a proxy
	// reads them: a chunk ends mid-header, another mid-payload.
	big := pattern(bigSize, len(tag)+1)
	c.msgs = append(c.msgs, wsMsg{fromClient: true, opcode: opBinary, payload: big})
	frame := wsFrame(opBinary, big, true)
	write(true, frame[:5])
	write(true, frame[5:50000])
	write(true, frame[50000:])
	msg(true, opPing, []byte("ping "+tag))
	msg(false, opPong, []byte("ping "+tag))
	msg(true, opClose, closePayload(1000, "bye "+tag))
	msg(false, opClose, closePayload(1000, "bye "+tag))
	if reset {
		c.steps = append(c.steps, step{kind: stepReset, fromClient: true})
	} else {
		c.steps = append(c.steps, step{kind: stepCloseWrite, fromClient: false}, step{kind: stepCloseWrite, fromClient: true})
	}
	return c
}

// epoch is when the scripted conversations start.
var epoch = time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)

// writeConvs writes the conversations into one capture, their calls
// interleaved round-robin, a millisecond apart, as a proxy relaying them
// at once would make them.
func writeConvs(t testing.TB, w *synth.Writer, convs []conv) {
	t.Helper()
	at := epoch
	tick := func() time.Time { at = at.Add(time.Millisecond); return at }
	streams := make([]*synth.Stream, len(convs))
	for i, c := range convs {
		s, err := w.Open(c.client, c.server, tick())
		if err != nil {
			t.Fatal(err)
		}
		streams[i] = s
	}
	for i := 0; ; i++ {
		more := false
		for j, c := range convs {
			if i >= len(c.steps) {
				continue
			}
			more = true
			st := c.steps[i]
			var err error
			switch st.kind {
			case stepWrite:
				err = streams[j].Write(st.fromClient, tick(), st.data)
			case stepCloseWrite:
				err = streams[j].CloseWrite(st.fromClient, tick())
			case stepReset:
				err = streams[j].Reset(st.fromClient, tick())
			}
			if err != nil {
				t.Fatalf("conversation %d step %d: %v", j, i, err)
			}
		}
		if !more {
			break
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// testConvs are the conversations the tests write: IPv4, IPv6, an
// IPv4-mapped client, an IPv4 client of an IPv6 server, and one aborted.
func testConvs() []conv {
	return []conv{
		newConv("192.0.2.10:50001", "198.51.100.20:8080", "v4", false),
		newConv("[2001:db8::10]:50002", "[2001:db8::20]:9000", "v6", false),
		mapped(newConv("[::ffff:192.0.2.11]:50003", "198.51.100.21:8080", "mapped", false), "192.0.2.11:50003", "198.51.100.21:8080"),
		mapped(newConv("192.0.2.12:50004", "[2001:db8::21]:9000", "mixed", false), "[::ffff:192.0.2.12]:50004", "[2001:db8::21]:9000"),
		newConv("192.0.2.13:50005", "198.51.100.22:8080", "reset", true),
	}
}

// mapped sets the addresses a conversation is expected to carry on the
// wire when they differ from those given.
func mapped(c conv, client, server string) conv {
	c.wireClient, c.wireServer = client, server
	return c
}

// writeFile writes convs to a capture in a temporary directory.
func writeFile(t testing.TB, convs []conv) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	writeConvs(t, w, convs)
	path := t.TempDir() + "/synth.pcapng"
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes()
}
