package decode

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loc is where a problem must be reported. step is the script step whose
// capture time the problem carries, or atEnd for the time End was called.
type loc struct {
	from  Side
	frame int
	msg   int
	off   int64
	step  int
}

const atEnd = -1

// noLoc is the location of a problem that belongs to no frame or message.
func noLoc(from Side, step int) loc { return loc{from: from, frame: -1, msg: -1, off: -1, step: step} }

// problemCase produces one kind of problem. build writes the script and
// returns where the problem must be; after is the payload of a message
// that must still be decoded, later in the stream than the problem
// (decoding goes on); afterEarlier allows it to come before the problem's
// frame for problems found only when the connection ends.
type problemCase struct {
	name         string
	kind         Kind
	sev          Severity
	opts         Options
	count        int // problems of the kind; 0 means 1
	build        func(s *script) loc
	after        string
	afterEarlier bool
	check        func(t *testing.T, c *recorded)
}

// next is the index the next step will have.
func (s *script) next() int { return len(s.steps) }

// problemCases has a case for every Kind in problem.go.
func problemCases() []problemCase {
	var d = newDeflater(true)
	frameAt := func(s *script, from Side, frame int, b []byte) loc {
		step := s.next()
		return loc{from: from, frame: frame, msg: -1, off: s.send(from, b), step: step}
	}
	return []problemCase{
		// Frame-level violations (RFC 6455 5).
		{name: "unmasked client frame", kind: KindUnmaskedClientFrame, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Client, 0, sf(OpText, "plain"))
				s.client(cf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if string(c.Messages[0].Payload) != "plain" {
					t.Errorf("the unmasked frame's payload is %q", c.Messages[0].Payload)
				}
			}},
		{name: "masked server frame", kind: KindMaskedServerFrame, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Server, 0, cf(OpText, "masked"))
				s.server(sf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if string(c.Messages[0].Payload) != "masked" {
					t.Errorf("the masked server frame was not unmasked: %q", c.Messages[0].Payload)
				}
			}},
		{name: "RSV1 without extension", kind: KindRSVWithoutExtension, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Client, 0, wsFrame{op: OpText, rsv: 4, payload: []byte("rsv"), key: &testKey}.bytes())
				s.client(cf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; m.Compressed || string(m.Payload) != "rsv" || c.Frames[0].Rsv != 4 {
					t.Errorf("RSV1 without deflate must not be taken as compression: %+v", m)
				}
			}},
		{name: "RSV2 and RSV3 without extension", kind: KindRSVWithoutExtension, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Server, 0, wsFrame{op: OpBinary, rsv: 3, payload: []byte("x")}.bytes())
				s.server(sf(OpText, "after"))
				return l
			}},
		{name: "RSV2 with deflate negotiated", kind: KindRSVWithoutExtension, sev: Error, after: "after",
			build: func(s *script) loc {
				s.deflateHandshake("")
				l := frameAt(s, Server, 0, wsFrame{op: OpBinary, rsv: 2, payload: []byte("x")}.bytes())
				s.server(sf(OpText, "after"))
				return l
			}},
		{name: "RSV1 on a control frame with deflate", kind: KindRSVWithoutExtension, sev: Error, after: "after",
			build: func(s *script) loc {
				s.deflateHandshake("")
				l := frameAt(s, Client, 0, wsFrame{op: OpPing, rsv: 4, payload: []byte("p"), key: &testKey}.bytes())
				s.client(cf(OpText, "after"))
				return l
			}},
		{name: "RSV1 on continuation", kind: KindRSV1OnContinuation, sev: Error, after: "after",
			build: func(s *script) loc {
				s.deflateHandshake("")
				z := newDeflater(true).compress([]byte("compressed in two frames"))
				s.client(wsFrame{op: OpText, rsv: 4, more: true, payload: z[:3], key: &testKey}.bytes())
				l := frameAt(s, Client, 1, wsFrame{op: OpContinuation, rsv: 4, payload: z[3:], key: &testKey}.bytes())
				s.client(cf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if string(c.Messages[0].Payload) != "compressed in two frames" {
					t.Errorf("message with RSV1 on its continuation did not inflate: %q", c.Messages[0].Payload)
				}
			}},
		{name: "reserved data opcode 3", kind: KindReservedOpcode, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Client, 0, cf(3, "three"))
				s.client(cf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; m.Opcode != 3 || string(m.Payload) != "three" {
					t.Errorf("reserved opcode frame not shown as sent: %+v", m)
				}
			}},
		{name: "reserved control opcode 0xB", kind: KindReservedOpcode, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Server, 0, sf(0xB, "eleven"))
				s.server(sf(OpText, "after"))
				return l
			}},
		{name: "control frame too long", kind: KindControlFrameTooLong, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Client, 0, cf(OpPing, strings.Repeat("p", 126)))
				s.client(cf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if len(c.Messages[0].Payload) != 126 {
					t.Errorf("long ping payload %d bytes, want 126", len(c.Messages[0].Payload))
				}
			}},
		{name: "control frame fragmented", kind: KindControlFragmented, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Client, 0, wsFrame{op: OpClose, more: true, payload: []byte(closePayload(1000, "")), key: &testKey}.bytes())
				// The server may still talk: only the client closed.
				s.server(sf(OpText, "after"))
				return l
			}},
		{name: "unexpected continuation", kind: KindUnexpectedContinuation, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Server, 0, sf(OpContinuation, "orphan"))
				s.server(sf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; m.Opcode != OpContinuation || string(m.Payload) != "orphan" {
					t.Errorf("orphan continuation not shown as a message: %+v", m)
				}
			}},
		{name: "interleaved data frame", kind: KindInterleavedDataFrame, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				s.client(wsFrame{op: OpText, more: true, payload: []byte("unfinished"), key: &testKey}.bytes())
				l := frameAt(s, Client, 1, cf(OpBinary, "new"))
				s.client(cf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				// The unfinished message is kept and said to be incomplete.
				p := mustOneProblem(t, c, KindIncompleteMessage)
				if p.Frame != 0 || p.MessageIndex != 0 {
					t.Errorf("incomplete-message at frame %d message %d, want 0 0", p.Frame, p.MessageIndex)
				}
				if m := c.Messages[0]; string(m.Payload) != "unfinished" || !m.Truncated {
					t.Errorf("unfinished message %+v", m)
				}
				if string(c.Messages[1].Payload) != "new" {
					t.Errorf("the interleaved frame's message is %q", c.Messages[1].Payload)
				}
			}},
		{name: "64-bit length with top bit", kind: KindLengthTopBit, sev: Error, after: "after", afterEarlier: true,
			build: func(s *script) loc {
				s.handshake()
				hdr := []byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x10}
				// Frame 1: the server's frame completes first.
				l := frameAt(s, Client, 1, append(append(hdr, testKey[:]...), maskNaive([]byte("payload"), testKey, 0)...))
				s.server(sf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				// The claimed length swallows the rest of the client's
				// stream; what came is still shown.
				f := c.Frames[1]
				if f.Length != 1<<63|0x10 || string(f.Payload) != "payload" {
					t.Errorf("top-bit frame %+v", f)
				}
				mustOneProblem(t, c, KindTruncatedFrame)
			}},
		{name: "non-minimal length", kind: KindNonMinimalLength, sev: Warning, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Server, 0, []byte{0x81, 126, 0, 2, 'h', 'i'})
				s.server(sf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if f := c.Frames[0]; string(f.Payload) != "hi" || f.HeaderLen != 4 {
					t.Errorf("non-minimal frame %+v", f)
				}
			}},
		{name: "invalid UTF-8 in text", kind: KindInvalidUTF8, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				step := s.next()
				s.client(cf(OpText, "ab\xffcd"))
				s.client(cf(OpText, "after"))
				return loc{from: Client, frame: 0, msg: 0, off: -1, step: step}
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; m.TextValid || string(m.Payload) != "ab\xffcd" {
					t.Errorf("invalid text message %+v", m)
				}
				if !c.Messages[1].TextValid {
					t.Errorf("the next text message is not valid")
				}
			}},
		{name: "invalid UTF-8 split across fragments", kind: KindInvalidUTF8, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				step := s.next()
				// "é" is C3 A9; the second fragment brings 'A' instead.
				s.server(wsFrame{op: OpText, more: true, payload: []byte("caf\xc3")}.bytes())
				s.server(sf(OpPing, "between"))
				s.server(sf(OpContinuation, "A"))
				s.server(sf(OpText, "after"))
				return loc{from: Server, frame: 2, msg: 1, off: -1, step: step}
			}},
		{name: "text ends inside a character", kind: KindInvalidUTF8, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				step := s.next()
				s.server(wsFrame{op: OpText, more: true, payload: []byte("caf")}.bytes())
				s.server(sf(OpContinuation, "\xc3"))
				s.server(sf(OpText, "after"))
				return loc{from: Server, frame: 1, msg: 0, off: -1, step: step}
			}},
		{name: "invalid UTF-8 in compressed text", kind: KindInvalidUTF8, sev: Error, after: "after",
			build: func(s *script) loc {
				s.deflateHandshake("")
				step := s.next()
				z := d.compress([]byte("bad \xed\xa0\x80 surrogate"))
				s.server(wsFrame{op: OpText, rsv: 4, payload: z}.bytes())
				s.server(sf(OpText, "after"))
				return loc{from: Server, frame: 0, msg: 0, off: -1, step: step}
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; m.TextValid || string(m.Payload) != "bad \xed\xa0\x80 surrogate" {
					t.Errorf("compressed invalid text %+v", m)
				}
			}},
		{name: "invalid UTF-8 in a close reason", kind: KindInvalidUTF8, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Client, 0, cf(OpClose, closePayload(1000, "bye\xc0")))
				s.server(sf(OpText, "after"))
				l.msg = -1
				return l
			}},
		{name: "invalid close code", kind: KindInvalidCloseCode, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Server, 0, sf(OpClose, closePayload(1005, "no")))
				s.client(cf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if c.Close == nil || c.Close.Code != 1005 || c.Close.Reason != "no" || !c.Close.HasCode {
					t.Errorf("close with an invalid code not recorded: %+v", c.Close)
				}
			}},
		{name: "1-byte close payload", kind: KindShortClosePayload, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Client, 0, cf(OpClose, "x"))
				s.server(sf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if c.Close == nil || c.Close.HasCode {
					t.Errorf("1-byte close %+v", c.Close)
				}
			}},
		{name: "frame after close", kind: KindFrameAfterClose, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				s.client(cf(OpClose, closePayload(1000, "")))
				l := frameAt(s, Client, 1, cf(OpText, "after"))
				return l
			}},
		{name: "truncated frame payload", kind: KindTruncatedFrame, sev: Error, after: "after", afterEarlier: true,
			build: func(s *script) loc {
				s.handshake()
				full := cf(OpBinary, "0123456789")
				l := frameAt(s, Client, 1, full[:len(full)-4])
				s.server(sf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				f := c.Frames[1]
				if f.Length != 10 || string(f.Payload) != "012345" {
					t.Errorf("cut frame %+v", f)
				}
				if m := c.Messages[1]; !m.Truncated || string(m.Payload) != "012345" {
					t.Errorf("cut frame's message %+v", m)
				}
			}},
		{name: "truncated frame header", kind: KindTruncatedFrame, sev: Error, after: "after", afterEarlier: true,
			build: func(s *script) loc {
				s.handshake()
				s.server(sf(OpText, "after"))
				step := s.next()
				return loc{from: Client, frame: -1, msg: -1, off: s.client([]byte{0x81, 0xfe, 0x01}), step: step}
			}},
		{name: "incomplete message", kind: KindIncompleteMessage, sev: Error, after: "after", afterEarlier: true,
			build: func(s *script) loc {
				s.handshake()
				step := s.next()
				s.client(wsFrame{op: OpText, more: true, payload: []byte("half"), key: &testKey}.bytes())
				s.server(sf(OpText, "after"))
				return loc{from: Client, frame: 0, msg: 1, off: -1, step: step}
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[1]; !m.Truncated || string(m.Payload) != "half" || m.TextValid {
					t.Errorf("incomplete message %+v", m)
				}
			}},
		{name: "message over the retain limit", kind: KindMessageTruncated, sev: Warning, after: "after",
			opts: Options{MaxMessageSize: 8},
			build: func(s *script) loc {
				s.handshake()
				l := frameAt(s, Server, 0, sf(OpBinary, "0123456789abcdef"))
				s.server(sf(OpText, "after"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; !m.Truncated || string(m.Payload) != "01234567" || m.Size != 16 {
					t.Errorf("message over the limit %+v", m)
				}
			}},
		{name: "inflated message over the retain limit", kind: KindMessageTruncated, sev: Warning, after: "after",
			opts: Options{MaxMessageSize: 100},
			build: func(s *script) loc {
				s.deflateHandshake("")
				step := s.next()
				s.server(wsFrame{op: OpBinary, rsv: 4, payload: newDeflater(true).compress(bytes.Repeat([]byte("z"), 1000))}.bytes())
				s.server(sf(OpText, "after"))
				return loc{from: Server, frame: 0, msg: 0, off: -1, step: step}
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; !m.Truncated || len(m.Payload) != 100 || m.Size != 1000 {
					t.Errorf("inflated message over the limit: truncated %v, %d bytes kept, size %d", m.Truncated, len(m.Payload), m.Size)
				}
			}},
		{name: "inflate failed", kind: KindInflateFailed, sev: Error, after: "after",
			build: func(s *script) loc {
				s.deflateHandshake("")
				step := s.next()
				// BTYPE 11 is reserved in DEFLATE (RFC 1951 3.2.3).
				s.client(wsFrame{op: OpText, rsv: 4, payload: []byte{0xff, 0xff, 0xff}, key: &testKey}.bytes())
				s.client(wsFrame{op: OpText, rsv: 4, payload: newDeflater(true).compress([]byte("after")), key: &testKey}.bytes())
				return loc{from: Client, frame: 0, msg: 0, off: -1, step: step}
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; !m.Raw || !bytes.Equal(m.Payload, []byte{0xff, 0xff, 0xff}) {
					t.Errorf("uninflatable message %+v", m)
				}
			}},
		{name: "inflate limit", kind: KindInflateLimit, sev: Error, after: "after",
			opts: Options{MaxInflateSize: 4096},
			build: func(s *script) loc {
				s.deflateHandshake("")
				step := s.next()
				s.server(wsFrame{op: OpBinary, rsv: 4, payload: newDeflater(true).compress(make([]byte, 100000))}.bytes())
				s.server(sf(OpText, "after"))
				return loc{from: Server, frame: 0, msg: 0, off: -1, step: step}
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; !m.Truncated || len(m.Payload) != 4096 || m.Size != 4096 {
					t.Errorf("bomb message: truncated %v, %d bytes kept, size %d", m.Truncated, len(m.Payload), m.Size)
				}
			}},
		{name: "decompression bomb spread over messages", kind: KindDecompressionBomb, sev: Error, after: "after",
			opts: Options{InflateBudget: 10000, InflateRatio: 10},
			build: func(s *script) loc {
				s.deflateHandshake("")
				z := newDeflater(true)
				// Each message is under the per-message limit; together
				// they spend the connection's budget at the third.
				var at loc
				for i := 0; i < 4; i++ {
					if i == 2 {
						at = loc{from: Server, frame: 2, msg: 2, off: -1, step: s.next()}
					}
					s.server(wsFrame{op: OpBinary, rsv: 4, payload: z.compress(make([]byte, 5000))}.bytes())
				}
				s.server(sf(OpText, "after"))
				return at
			},
			check: func(t *testing.T, c *recorded) {
				for i, m := range c.Messages[:4] {
					inflated := i < 2
					if m.Raw == inflated || (m.Size == 5000) != inflated || !m.Compressed {
						t.Errorf("message %d: raw %v, size %d; want inflated %v", i, m.Raw, m.Size, inflated)
					}
				}
				if n := len(problemsOf(c, KindDecompressionBomb)); n != 1 {
					t.Errorf("%d decompression-bomb problems, want one for the connection", n)
				}
			}},
		{name: "context lost after a failed message", kind: KindContextLost, sev: Warning, after: "after",
			build: func(s *script) loc {
				s.deflateHandshake("")
				s.server(wsFrame{op: OpText, rsv: 4, payload: []byte{0xff, 0xff}}.bytes())
				step := s.next()
				// RFC 7692 7.2.3.2: refers back to a window we lost.
				s.server([]byte{0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00})
				s.server(sf(OpText, "after"))
				return loc{from: Server, frame: 1, msg: 1, off: -1, step: step}
			}},
		{name: "context from before the capture", kind: KindContextLost, sev: Warning, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.server([]byte{0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00})
				s.server(sf(OpText, "after"))
				s.server(sf(OpText, "more"))
				return loc{from: Server, frame: 0, msg: 0, off: -1, step: step}
			}},
		{name: "missing bytes inside a payload", kind: KindMissingBytes, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				full := cf(OpBinary, "0123456789abcdefghij")
				s.client(full[:6+5])
				step := s.next()
				off := s.gap(Client, 10)
				s.client(full[6+15:])
				s.client(cf(OpText, "after"))
				return loc{from: Client, frame: -1, msg: -1, off: off, step: step}
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[0]; !m.Truncated || m.Size != 20 || len(c.Frames) != 2 {
					t.Errorf("message with a gap %+v, %d frames", m, len(c.Frames))
				}
				if len(problemsOf(c, KindResync)) != 0 {
					t.Errorf("a gap inside a payload needs no resynchronisation")
				}
			}},
		{name: "resynchronised after a gap", kind: KindResync, sev: Warning, after: "after",
			build: func(s *script) loc {
				s.handshake()
				first := cf(OpBinary, "0123456789abcdefghij")
				s.client(first[:6+5])
				s.gap(Client, 15+20)
				// The rest of a frame whose start was lost: not a frame
				// header anywhere ('A' has the mask bit clear).
				s.client(bytes.Repeat([]byte("A"), 21))
				step := s.next()
				l := loc{from: Client, frame: -1, msg: -1, off: s.client(cf(OpText, "after")), step: step}
				s.client(cf(OpText, "more"))
				return l
			},
			check: func(t *testing.T, c *recorded) {
				mustOneProblem(t, c, KindMissingBytes)
				if f := c.Frames[1]; string(f.Payload) != "after" {
					t.Errorf("frame after resync %+v", f)
				}
			}},

		// Handshake violations (RFC 6455 4).
		{name: "handshake missing", kind: KindHandshakeMissing, sev: Warning, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.server(sf(OpText, "first"))
				s.server(sf(OpText, "after"))
				s.client(cf(OpText, "client"))
				s.server(sf(OpText, "third"))
				return noLoc(Server, step)
			},
			check: func(t *testing.T, c *recorded) {
				if c.State != StateClosed || c.Protocol != ProtocolRFC6455 || len(c.Messages) != 4 {
					t.Errorf("state %s protocol %s, %d messages", c.State, c.Protocol, len(c.Messages))
				}
			}},
		{name: "malformed request head", kind: KindHandshakeMalformed, sev: Error, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.client([]byte("GET /chat HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"))
				s.server(switching(acceptHeaders()))
				s.server(sf(OpText, "after"))
				return noLoc(Client, step)
			}},
		{name: "upgrade over HTTP/1.0", kind: KindHandshakeMalformed, sev: Warning, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.client(head("GET /chat HTTP/1.0", upgradeHeaders()))
				s.server(switching(acceptHeaders()))
				s.client(cf(OpText, "after"))
				return noLoc(Client, step)
			}},
		{name: "stream ends inside a head", kind: KindHandshakeMalformed, sev: Warning,
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				s.server(head("HTTP/1.1 401 Unauthorized", hdrs{{"Content-Length", "0"}}))
				s.client([]byte("GET /chat HTTP/1.1\r\nHost: x\r\n"))
				return noLoc(Client, atEnd)
			},
			check: func(t *testing.T, c *recorded) {
				if c.State != StateRejected || c.Response == nil || c.Response.Status != 401 {
					t.Errorf("state %s response %+v", c.State, c.Response)
				}
			}},
		{name: "head too large", kind: KindHandshakeTooLarge, sev: Error, after: "after",
			build: func(s *script) loc {
				step := s.next()
				h := upgradeHeaders().set("X-Padding", strings.Repeat("p", 70000))
				b := head("GET /chat HTTP/1.1", h)
				s.client(b[:len(b)-2]) // no blank line: the head never ends
				s.server(switching(acceptHeaders()))
				s.server(sf(OpText, "after"))
				return noLoc(Client, step)
			}},
		{name: "bad method", kind: KindBadMethod, sev: Error, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.client(head("POST /chat HTTP/1.1", upgradeHeaders()))
				s.server(switching(acceptHeaders()))
				s.client(cf(OpText, "after"))
				return noLoc(Client, step)
			}},
		{name: "missing upgrade in the answer", kind: KindMissingUpgrade, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				step := s.next()
				s.server(switching(acceptHeaders().del("Upgrade")))
				s.client(cf(OpText, "after"))
				return noLoc(Server, step)
			}},
		{name: "missing connection in the request", kind: KindMissingConnection, sev: Error, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.client(upgradeRequest(upgradeHeaders().set("Connection", "keep-alive")))
				s.server(switching(acceptHeaders()))
				s.client(cf(OpText, "after"))
				return noLoc(Client, step)
			}},
		{name: "missing connection in the answer", kind: KindMissingConnection, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				step := s.next()
				s.server(switching(acceptHeaders().del("Connection")))
				s.server(sf(OpText, "after"))
				return noLoc(Server, step)
			}},
		{name: "missing host", kind: KindMissingHost, sev: Error, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.client(upgradeRequest(upgradeHeaders().del("Host")))
				s.server(switching(acceptHeaders()))
				s.client(cf(OpText, "after"))
				return noLoc(Client, step)
			},
			check: func(t *testing.T, c *recorded) {
				// Without Host the URL falls back to the server address.
				if c.URL != "ws://127.0.0.1:8080/chat" {
					t.Errorf("URL %q", c.URL)
				}
			}},
		{name: "bad key", kind: KindBadKey, sev: Error, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.client(upgradeRequest(upgradeHeaders().set("Sec-WebSocket-Key", "c2hvcnQ=")))
				s.server(switching(acceptHeaders().set("Sec-WebSocket-Accept", AcceptKey("c2hvcnQ="))))
				s.client(cf(OpText, "after"))
				return noLoc(Client, step)
			}},
		{name: "bad version", kind: KindBadVersion, sev: Error, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.client(upgradeRequest(upgradeHeaders().set("Sec-WebSocket-Version", "8")))
				s.server(switching(acceptHeaders()))
				s.client(cf(OpText, "after"))
				return noLoc(Client, step)
			}},
		{name: "bad accept", kind: KindBadAccept, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				step := s.next()
				s.server(switching(acceptHeaders().set("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo")))
				s.client(cf(OpText, "after"))
				return noLoc(Server, step)
			}},
		{name: "missing accept", kind: KindMissingAccept, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				step := s.next()
				s.server(switching(acceptHeaders().del("Sec-WebSocket-Accept")))
				s.client(cf(OpText, "after"))
				return noLoc(Server, step)
			}},
		{name: "subprotocol not offered", kind: KindSubprotocolNotOffered, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders().set("Sec-WebSocket-Protocol", "chat, superchat")))
				step := s.next()
				s.server(switching(acceptHeaders().set("Sec-WebSocket-Protocol", "chatty")))
				s.client(cf(OpText, "after"))
				return noLoc(Server, step)
			},
			check: func(t *testing.T, c *recorded) {
				if c.Subprotocol != "chatty" {
					t.Errorf("subprotocol %q, want what the server said", c.Subprotocol)
				}
			}},
		{name: "extension not offered", kind: KindExtensionNotOffered, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				step := s.next()
				s.server(switching(acceptHeaders().set("Sec-WebSocket-Extensions", "permessage-deflate")))
				// The server compresses all the same: shown inflated.
				s.server(wsFrame{op: OpText, rsv: 4, payload: newDeflater(true).compress([]byte("after"))}.bytes())
				return noLoc(Server, step)
			}},
		{name: "bad extension params in the answer", kind: KindBadExtensionParams, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders().set("Sec-WebSocket-Extensions", "permessage-deflate")))
				step := s.next()
				s.server(switching(acceptHeaders().set("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=7")))
				s.server(wsFrame{op: OpText, rsv: 4, payload: newDeflater(true).compress([]byte("after"))}.bytes())
				return noLoc(Server, step)
			}},
		{name: "bad extension params in the offer", kind: KindBadExtensionParams, sev: Warning, after: "after",
			build: func(s *script) loc {
				step := s.next()
				s.client(upgradeRequest(upgradeHeaders().set("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=16, permessage-deflate")))
				s.server(switching(acceptHeaders().set("Sec-WebSocket-Extensions", "permessage-deflate")))
				s.client(cf(OpText, "after"))
				return noLoc(Client, step)
			}},
		{name: "data before response", kind: KindDataBeforeResponse, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				step := s.next()
				s.client(wsFrame{op: OpBinary, payload: make([]byte, 1<<20), key: &testKey}.bytes(), cf(OpText, "after"))
				return noLoc(Client, step)
			},
			check: func(t *testing.T, c *recorded) {
				if len(c.Messages) != 2 || c.Messages[0].Size != 1<<20 {
					t.Errorf("held frames not decoded: %d messages", len(c.Messages))
				}
			}},
		{name: "no response", kind: KindNoResponse, sev: Warning, after: "after",
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				s.client(cf(OpText, "after"))
				return noLoc(Server, atEnd)
			},
			check: func(t *testing.T, c *recorded) {
				if c.Request == nil || c.Response != nil {
					t.Errorf("request %v response %v", c.Request, c.Response)
				}
			}},
		{name: "bad challenge (hixie-76)", kind: KindBadChallenge, sev: Error, after: "after",
			build: func(s *script) loc {
				s.client(hixie76Request())
				step := s.next()
				s.server(hixie76Response("0123456789abcdef"))
				s.server(hixieText("after"))
				return noLoc(Server, step)
			}},
		{name: "hixie frame type", kind: KindHixieFraming, sev: Warning, after: "after",
			build: func(s *script) loc {
				s.client(hixie76Request())
				s.server(hixie76Response(hixieAnswer))
				step := s.next()
				off := s.server([]byte{0x01, 'o', 'd', 'd', 0xFF})
				s.server(hixieText("after"))
				return loc{from: Server, frame: 0, msg: -1, off: off, step: step}
			}},
		{name: "hixie frame cut at the end", kind: KindTruncatedFrame, sev: Error, after: "after", afterEarlier: true,
			build: func(s *script) loc {
				s.client(hixie76Request())
				s.server(hixie76Response(hixieAnswer))
				s.server(hixieText("after"))
				step := s.next()
				return loc{from: Client, frame: 1, msg: -1, off: s.client([]byte("\x00never ends")), step: step}
			},
			check: func(t *testing.T, c *recorded) {
				if m := c.Messages[1]; string(m.Payload) != "never ends" || m.From != Client {
					t.Errorf("cut hixie frame %+v", m)
				}
			}},
		// What the source saw (Decoder.Note).
		{name: "upstream failed", kind: KindUpstreamFailed, sev: Warning,
			build: func(s *script) loc {
				s.client(upgradeRequest(upgradeHeaders()))
				step := s.next()
				s.note(Server, KindUpstreamFailed, "dial tcp 127.0.0.1:1: connection refused")
				s.server([]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\ndown"))
				return noLoc(Server, step)
			},
			check: func(t *testing.T, c *recorded) {
				if c.Response == nil || c.Response.Status != 502 {
					t.Errorf("the 502 answer was not decoded: %+v", c.Response)
				}
			}},
		{name: "connection reset", kind: KindConnectionReset, sev: Warning, after: "after",
			build: func(s *script) loc {
				s.handshake()
				s.server(sf(OpText, "after"))
				step := s.next()
				s.note(Client, KindConnectionReset, "the client reset the connection")
				return noLoc(Client, step)
			}},
		{name: "internal error", kind: KindInternalError, sev: Error, after: "after",
			build: func(s *script) loc {
				s.handshake()
				s.server(sf(OpText, "after"))
				at := s.next()
				s.steps = append(s.steps, step{side: Client, note: &Problem{Severity: Error, Kind: KindInternalError, From: Client,
					Message: "wstap failed while decoding this connection", Frame: -1, MessageIndex: -1, Offset: -1}})
				return noLoc(Client, at)
			}},
		{name: "hixie length too large", kind: KindHixieFraming, sev: Error, after: "after", afterEarlier: true,
			build: func(s *script) loc {
				s.client(hixie76Request())
				s.server(hixie76Response(hixieAnswer))
				s.client(hixieText("after"))
				step := s.next()
				s.server([]byte{0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
				return noLoc(Server, step)
			}},
	}
}

// TestProblemKinds produces every problem kind and checks its severity,
// location and time, and that decoding went on past it.
func TestProblemKinds(t *testing.T) {
	covered := map[Kind]bool{}
	for _, tc := range problemCases() {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			want := tc.build(&s)
			c := decodeWhole(&s, tc.opts)
			covered[tc.kind] = true
			ps := problemsOf(c, tc.kind)
			count := max(tc.count, 1)
			if len(ps) != count {
				t.Fatalf("want %d %s problem(s), got %d; all:%s", count, tc.kind, len(ps), listProblems(c.Problems))
			}
			p := ps[0]
			wantTime := stepTime(want.step)
			if want.step == atEnd {
				wantTime = stepTime(len(s.steps))
			}
			got := loc{from: p.From, frame: p.Frame, msg: p.MessageIndex, off: p.Offset, step: want.step}
			if got != want || !p.Time.Equal(wantTime) {
				t.Errorf("problem at %+v time %s, want %+v time %s: %s", got, p.Time.Format(time.StampMilli), want, wantTime.Format(time.StampMilli), p.Message)
			}
			checkProblemPoints(t, c, p)
			if p.Severity != tc.sev {
				t.Errorf("severity %s, want %s", p.Severity, tc.sev)
			}
			if p.Message == "" {
				t.Errorf("problem without a message")
			}
			if c.ProblemCount != len(c.Problems) {
				t.Errorf("ProblemCount %d, %d problems kept", c.ProblemCount, len(c.Problems))
			}
			// Decoding went on: the sentinel message is there, and after
			// the problem's frame unless the problem is found at the end.
			if tc.after == "" {
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			found := -1
			for i, m := range c.Messages {
				if string(m.Payload) == tc.after {
					found = i
				}
			}
			if found < 0 {
				t.Fatalf("message %q after the problem was not decoded; %d messages; problems:%s", tc.after, len(c.Messages), listProblems(c.Problems))
			}
			if m := c.Messages[found]; !tc.afterEarlier && p.Frame >= 0 && m.Frames[0] < p.Frame {
				t.Errorf("sentinel message is frame %d, not after the problem's frame %d", m.Frames[0], p.Frame)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
	// Every kind declared in problem.go has a case.
	for name, k := range declaredKinds(t) {
		if !covered[k] {
			t.Errorf("no case produces %s (%s)", name, k)
		}
	}
}

// checkProblemPoints checks that a problem's location is consistent with
// what it points at: the frame is from the same side and starts at the
// offset given, and the message contains the frame.
func checkProblemPoints(t *testing.T, c *recorded, p Problem) {
	t.Helper()
	if p.Frame >= 0 {
		if p.Frame >= len(c.Frames) {
			t.Fatalf("problem points at frame %d of %d", p.Frame, len(c.Frames))
		}
		f := c.Frames[p.Frame]
		if f.From != p.From || (p.Offset >= 0 && f.Offset != p.Offset) {
			t.Errorf("problem (%s at offset %d) points at frame %d, which is %s at offset %d", p.From, p.Offset, p.Frame, f.From, f.Offset)
		}
	}
	if p.MessageIndex >= 0 {
		if p.MessageIndex >= len(c.Messages) {
			t.Fatalf("problem points at message %d of %d", p.MessageIndex, len(c.Messages))
		}
		m := c.Messages[p.MessageIndex]
		if m.From != p.From {
			t.Errorf("problem from %s points at a message from %s", p.From, m.From)
		}
		if p.Frame >= 0 && !slices.Contains(m.Frames, p.Frame) {
			t.Errorf("problem's frame %d is not in its message's frames %v", p.Frame, m.Frames)
		}
	}
}

// TestProblemFrameIndexWhileOtherSideTalks feeds a large client frame in
// pieces while the server's frames complete in between. Frames are
// numbered in the order they complete, so the client frame's index is only
// known at its end; every problem found in its header or payload must
// point at it, not at the index it would have had at its header.
func TestProblemFrameIndexWhileOtherSideTalks(t *testing.T) {
	var s script
	s.handshake()
	big := []byte("valid text, then a bad byte: ")
	big = append(big, 0xff)
	big = append(big, bytes.Repeat([]byte("x"), 200)...)
	// Unmasked (a client must mask), RSV2, and over a 64-byte retain limit.
	wire := wsFrame{op: OpText, rsv: 2, payload: big}.bytes()
	off := s.client(wire[:10])
	s.server(sf(OpPing, "1"))
	s.client(wire[10:40])
	s.server(sf(OpPing, "2"))
	s.client(wire[40:])
	c := decodeWhole(&s, Options{MaxMessageSize: 64})
	if len(c.Frames) != 3 || c.Frames[2].From != Client || c.Frames[2].Offset != off {
		t.Fatalf("frames %+v", c.Frames)
	}
	for _, k := range []Kind{KindUnmaskedClientFrame, KindRSVWithoutExtension, KindMessageTruncated, KindInvalidUTF8} {
		p := mustOneProblem(t, c, k)
		if p.Frame != 2 {
			t.Errorf("%s points at frame %d, want 2: %s", k, p.Frame, p.Message)
		}
		if !strings.Contains(p.Message, "frame 2") {
			t.Errorf("%s text does not name frame 2: %s", k, p.Message)
		}
		checkProblemPoints(t, c, p)
	}
}

// declaredKinds reads problem.go and returns every constant of type Kind
// it declares, by name, so that a kind added there without a case here
// fails TestProblemKinds.
func declaredKinds(t *testing.T) map[string]Kind {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "problem.go", nil, 0)
	if err != nil {
		t.Fatalf("reading the problem kinds: %v", err)
	}
	out := map[string]Kind{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("kind %s is not a string literal", name.Name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("kind %s: %v", name.Name, err)
				}
				out[name.Name] = Kind(v)
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d kinds found in problem.go", len(out))
	}
	return out
}

// TestCloseCodes checks which close codes may be sent (RFC 6455 7.4.1,
// 7.4.2 and the IANA registry, which added 1012-1014).
func TestCloseCodes(t *testing.T) {
	valid := []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	invalid := []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}
	for _, code := range append(valid, invalid...) {
		isValid := code < 1004 || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
		isValid = isValid && code >= 1000
		var s script
		s.handshake()
		s.client(cf(OpClose, closePayload(code, "r")))
		s.server(sf(OpClose, closePayload(1000, "")))
		c := decodeWhole(&s, Options{})
		ps := problemsOf(c, KindInvalidCloseCode)
		if isValid && len(ps) != 0 {
			t.Errorf("code %d is valid but was reported:%s", code, listProblems(ps))
		}
		if !isValid && (len(ps) != 1 || ps[0].Frame != 0 || ps[0].Severity != Error) {
			t.Errorf("code %d is invalid; problems:%s", code, listProblems(c.Problems))
		}
		if c.Close == nil || c.Close.Code != code || c.Close.Reason != "r" || c.CloseReply == nil || c.CloseReply.Code != 1000 {
			t.Errorf("code %d: close %+v reply %+v", code, c.Close, c.CloseReply)
		}
		if c.State != StateClosed {
			t.Errorf("code %d: state %s after both closes", code, c.State)
		}
	}
}

// TestValidUTF8SplitAcrossFragments checks that a character split across
// fragments, and around a ping between them, is valid (RFC 6455 5.6).
func TestValidUTF8SplitAcrossFragments(t *testing.T) {
	text := "€ and 😀 and é"
	b := []byte(text)
	// Split inside the 3-byte euro sign and inside the 4-byte emoji.
	cuts := []int{1, 2, 9, 10, 11, len(b) - 1}
	var s script
	s.handshake()
	prev := 0
	for i, c := range append(cuts, len(b)) {
		op := OpContinuation
		if i == 0 {
			op = OpText
		}
		s.client(wsFrame{op: op, more: c != len(b), payload: b[prev:c], key: &testKey}.bytes())
		if i == 2 {
			s.client(cf(OpPing, "\xff is fine in a ping"))
		}
		prev = c
	}
	c := decodeWhole(&s, Options{})
	if len(c.Problems) != 0 {
		t.Fatalf("problems:%s", listProblems(c.Problems))
	}
	var text0 *Message
	for i := range c.Messages {
		if c.Messages[i].Opcode == OpText {
			text0 = &c.Messages[i]
		}
	}
	if text0 == nil || string(text0.Payload) != text || !text0.TextValid || len(text0.Frames) != len(cuts)+1 {
		t.Fatalf("split text message %+v", text0)
	}
	if c.Messages[0].Opcode != OpPing {
		t.Fatalf("the ping between fragments is not the first message: %+v", c.Messages[0])
	}
}

// TestMaxProblemsPerKind checks that a flood of one problem is capped and
// counted, while decoding goes on.
func TestMaxProblemsPerKind(t *testing.T) {
	var s script
	s.handshake()
	for i := 0; i < 50; i++ {
		s.server(cf(OpText, "m"))
	}
	c := decodeWhole(&s, Options{MaxProblemsPerKind: 7})
	if n := len(problemsOf(c, KindMaskedServerFrame)); n != 7 {
		t.Fatalf("%d masked-server-frame problems kept, want 7", n)
	}
	if c.SuppressedProblems != 43 || len(c.Messages) != 50 {
		t.Fatalf("suppressed %d (want 43), %d messages (want 50)", c.SuppressedProblems, len(c.Messages))
	}
}

// TestResyncKeepsCaptureTimes checks that frames found by
// resynchronisation carry the time of the chunk their first byte came in,
// not the time of the later chunk that confirmed them: without a handshake
// a frame is taken only once the headers after it are seen.
func TestResyncKeepsCaptureTimes(t *testing.T) {
	var s script
	s.server(sf(OpText, "a"))
	s.server(sf(OpText, "b"))
	s.server(sf(OpText, "c"))
	s.server(sf(OpText, "d"))
	c := decodeWhole(&s, Options{})
	if len(c.Frames) < 4 {
		t.Fatalf("%d frames; problems:%s", len(c.Frames), listProblems(c.Problems))
	}
	for i := 0; i < 4; i++ {
		if f := c.Frames[i]; !f.Time.Equal(stepTime(i)) || string(f.Payload) != string(rune('a'+i)) {
			t.Errorf("frame %d %q at %s, want step %d", i, f.Payload, f.Time.Format(time.StampMilli), i)
		}
	}

	// After a gap: the frame after the garbage is confirmed by the next.
	var g script
	g.handshake()
	g.client(cf(OpText, "x")[:4])
	g.gap(Client, 20)
	g.client([]byte("AAAA"))
	at := g.next()
	g.client(cf(OpText, "found"))
	g.client(cf(OpText, "confirming"))
	c = decodeWhole(&g, Options{})
	var found *Frame
	for i := range c.Frames {
		if string(c.Frames[i].Payload) == "found" {
			found = &c.Frames[i]
		}
	}
	if found == nil || !found.Time.Equal(stepTime(at)) {
		t.Fatalf("frame after resync %+v, want time of step %d", found, at)
	}
	if p := mustOneProblem(t, c, KindResync); !p.Time.Equal(stepTime(at)) || p.Offset != found.Offset {
		t.Fatalf("resync problem %+v", p)
	}
}

// TestCloseStates follows the closing handshake (RFC 6455 7.1.2, 7.1.4):
// open, closing after the first Close, closed after the answer, and the
// first Close and its answer recorded with their side.
func TestCloseStates(t *testing.T) {
	var s script
	s.handshake()
	s.client(cf(OpText, "bye soon"))
	c := decodeScript(&s, Options{}, whole, false).conn
	if c.State != StateOpen || c.Close != nil {
		t.Fatalf("state %s close %+v", c.State, c.Close)
	}
	s.server(sf(OpClose, closePayload(1001, "server going away")))
	c = decodeScript(&s, Options{}, whole, false).conn
	if c.State != StateClosing || c.Close == nil || c.Close.From != Server || c.Close.Code != 1001 || c.Close.Reason != "server going away" {
		t.Fatalf("after the first close: state %s close %+v", c.State, c.Close)
	}
	if m := c.Messages[1]; m.Close != c.Close && (m.Close == nil || *m.Close != *c.Close) || !m.TextValid {
		t.Fatalf("close message %+v", m)
	}
	s.client(cf(OpClose, ""))
	c = decodeScript(&s, Options{}, whole, false).conn
	if c.State != StateClosed || c.CloseReply == nil || c.CloseReply.From != Client || c.CloseReply.HasCode {
		t.Fatalf("after the answer: state %s reply %+v", c.State, c.CloseReply)
	}
	if len(c.Problems) != 0 {
		t.Fatalf("problems:%s", listProblems(c.Problems))
	}
}

// TestURL checks the URL rebuilt from the request: from Host and target,
// from an absolute-form target (as sent through a proxy), and wss when the
// source saw TLS.
func TestURL(t *testing.T) {
	for _, tc := range []struct {
		target string
		tls    bool
		want   string
	}{
		{"/chat?room=1", false, "ws://127.0.0.1:8080/chat?room=1"},
		{"/chat", true, "wss://127.0.0.1:8080/chat"},
		{"http://example.com:81/x", false, "ws://example.com:81/x"},
		{"https://example.com/x", true, "wss://example.com/x"},
	} {
		c := &Connection{TLS: tc.tls, Server: "127.0.0.1:9"}
		d := NewDecoder(c, Options{}, nil)
		d.Feed(Client, t0, head("GET "+tc.target+" HTTP/1.1", upgradeHeaders()))
		if c.URL != tc.want {
			t.Errorf("target %q tls %v: URL %q, want %q", tc.target, tc.tls, c.URL, tc.want)
		}
	}
}

// TestGapWhileHeld: client bytes after the Upgrade wait for the answer;
// a gap among them is replayed in place once the 101 comes, so the frame
// it hits is cut short and the frames after it are still found.
func TestGapWhileHeld(t *testing.T) {
	s := chunkScripts()["gap while held"]
	c := decodeWhole(s, Options{})
	var got []string
	for _, m := range c.Messages {
		got = append(got, m.From.String()+":"+string(m.Payload[:min(len(m.Payload), 13)]))
	}
	want := []string{"client:held", "client:hhhhhhhhhhhhh", "client:after the gap", "server:answer"}
	if !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q; problems:%s", got, want, listProblems(c.Problems))
	}
	if m := c.Messages[1]; !m.Truncated || m.Size != 300 {
		t.Fatalf("the frame with the gap %+v", m)
	}
	gapAt := int64(len(s.steps[0].b) + len(s.steps[1].b))
	if p := mustOneProblem(t, c, KindMissingBytes); p.Offset != gapAt || p.From != Client {
		t.Fatalf("missing bytes at %d, want %d", p.Offset, gapAt)
	}
}

// TestGapFirstWhileHeld: a gap right after the Upgrade request, before any
// held byte, is reported at its own offset.
func TestGapFirstWhileHeld(t *testing.T) {
	var s script
	s.client(upgradeRequest(upgradeHeaders()))
	gapAt := s.gap(Client, 50)
	s.client([]byte("AAAAAAAA"), cf(OpText, "found"), cf(OpText, "confirmed"))
	s.server(switching(acceptHeaders()))
	c := decodeWhole(&s, Options{})
	if p := mustOneProblem(t, c, KindMissingBytes); p.Offset != gapAt {
		t.Fatalf("missing bytes at %d, want %d", p.Offset, gapAt)
	}
	if len(c.Messages) != 2 || string(c.Messages[0].Payload) != "found" || c.Frames[0].Offset != gapAt+50+8 {
		t.Fatalf("messages %+v", c.Messages)
	}
	if c.Bytes[Client] != s.pos[Client] {
		t.Fatalf("client bytes %d, want %d", c.Bytes[Client], s.pos[Client])
	}
}
