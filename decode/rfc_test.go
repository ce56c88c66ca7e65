package decode

import (
	"reflect"
	"testing"
)

// The examples of RFC 6455 5.7 and RFC 7692 7.2.3, byte for byte as the
// RFCs print them, decoded through a whole Decoder after a real handshake.
// Every field of every frame and message is compared.

// hexBytes lets byte vectors be written as the RFCs print them.
func hexBytes(b ...byte) []byte { return b }

// checkFrame compares frame i of c with want, field by field.
func checkFrame(t *testing.T, c *recorded, i int, want Frame) {
	t.Helper()
	if i >= len(c.Frames) {
		t.Fatalf("frame %d missing: %d frames; problems:%s", i, len(c.Frames), listProblems(c.Problems))
	}
	if got := c.Frames[i]; !reflect.DeepEqual(got, want) {
		t.Errorf("frame %d:\n got %+v\nwant %+v", i, got, want)
	}
}

// checkMessage compares message i of c with want, field by field.
func checkMessage(t *testing.T, c *recorded, i int, want Message) {
	t.Helper()
	if i >= len(c.Messages) {
		t.Fatalf("message %d missing: %d messages; problems:%s", i, len(c.Messages), listProblems(c.Problems))
	}
	if got := c.Messages[i]; !reflect.DeepEqual(got, want) {
		t.Errorf("message %d:\n got %+v\nwant %+v", i, got, want)
	}
}

// TestRFC6455Examples decodes the five examples of RFC 6455 5.7.
func TestRFC6455Examples(t *testing.T) {
	payload256 := make([]byte, 256)
	for i := range payload256 {
		payload256[i] = byte(i * 7)
	}
	payload64k := make([]byte, 65536)
	for i := range payload64k {
		payload64k[i] = byte(i % 251)
	}

	var s script
	s.handshake()
	// A single-frame unmasked text message.
	offSingle := s.server(hexBytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f))
	// A single-frame masked text message.
	offMasked := s.client(hexBytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58))
	// A fragmented unmasked text message, in two capture steps.
	offFrag1 := s.server(hexBytes(0x01, 0x03, 0x48, 0x65, 0x6c))
	offFrag2 := s.server(hexBytes(0x80, 0x02, 0x6c, 0x6f))
	// Unmasked Ping and masked Pong, both carrying "Hello".
	offPing := s.server(hexBytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f))
	offPong := s.client(hexBytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58))
	// 256 bytes of binary data in a single unmasked frame: 16-bit length.
	off256 := s.server(hexBytes(0x82, 0x7E, 0x01, 0x00), payload256)
	// 64 KiB in a single unmasked frame: 64-bit length.
	off64k := s.server(hexBytes(0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00), payload64k)

	for _, split := range rfcSplits {
		t.Run(split.name, func(t *testing.T) {
			checkRFC6455(t, decodeScript(&s, Options{}, split.f, false).conn, &s,
				[]int64{offSingle, offMasked, offFrag1, offFrag2, offPing, offPong, off256, off64k}, payload256, payload64k)
		})
	}
}

// rfcSplits are the ways the RFC examples are fed: whole, and one byte at
// a time, which cuts every header and payload.
var rfcSplits = []struct {
	name string
	f    splitter
}{{"whole", whole}, {"bytewise", bytewise}}

// checkRFC6455 compares every frame and message of the RFC 6455 5.7
// examples; offs are the stream offsets of the eight frames.
func checkRFC6455(t *testing.T, c *recorded, s *script, offs []int64, payload256, payload64k []byte) {
	hello := []byte("Hello")
	offSingle, offMasked, offFrag1, offFrag2, offPing, offPong, off256, off64k := offs[0], offs[1], offs[2], offs[3], offs[4], offs[5], offs[6], offs[7]
	if len(c.Problems) != 0 {
		t.Fatalf("valid RFC examples gave problems:%s", listProblems(c.Problems))
	}
	if c.State != StateOpen || c.Protocol != ProtocolRFC6455 {
		t.Fatalf("state %s protocol %s, want open rfc6455", c.State, c.Protocol)
	}
	// Steps 0 and 1 are the handshake.
	checkFrame(t, c, 0, Frame{From: Server, Time: stepTime(2), Offset: offSingle, Fin: true, Opcode: OpText,
		Length: 5, HeaderLen: 2, Payload: hello, Message: 0})
	checkMessage(t, c, 0, Message{From: Server, Time: stepTime(2), LastTime: stepTime(2), Opcode: OpText,
		Frames: []int{0}, WireSize: 7, Size: 5, Payload: hello, TextValid: true})

	checkFrame(t, c, 1, Frame{From: Client, Time: stepTime(3), Offset: offMasked, Fin: true, Opcode: OpText,
		Masked: true, MaskKey: testKey, Length: 5, HeaderLen: 6, Payload: hello, Message: 1})
	checkMessage(t, c, 1, Message{From: Client, Time: stepTime(3), LastTime: stepTime(3), Opcode: OpText,
		Frames: []int{1}, WireSize: 11, Size: 5, Payload: hello, TextValid: true})

	checkFrame(t, c, 2, Frame{From: Server, Time: stepTime(4), Offset: offFrag1, Opcode: OpText,
		Length: 3, HeaderLen: 2, Payload: []byte("Hel"), Message: 2})
	checkFrame(t, c, 3, Frame{From: Server, Time: stepTime(5), Offset: offFrag2, Fin: true, Opcode: OpContinuation,
		Length: 2, HeaderLen: 2, Payload: []byte("lo"), Message: 2})
	checkMessage(t, c, 2, Message{From: Server, Time: stepTime(4), LastTime: stepTime(5), Opcode: OpText,
		Frames: []int{2, 3}, WireSize: 9, Size: 5, Payload: hello, TextValid: true})

	checkFrame(t, c, 4, Frame{From: Server, Time: stepTime(6), Offset: offPing, Fin: true, Opcode: OpPing,
		Length: 5, HeaderLen: 2, Payload: hello, Message: 3})
	checkMessage(t, c, 3, Message{From: Server, Time: stepTime(6), LastTime: stepTime(6), Opcode: OpPing,
		Frames: []int{4}, WireSize: 7, Size: 5, Payload: hello})
	checkFrame(t, c, 5, Frame{From: Client, Time: stepTime(7), Offset: offPong, Fin: true, Opcode: OpPong,
		Masked: true, MaskKey: testKey, Length: 5, HeaderLen: 6, Payload: hello, Message: 4})
	checkMessage(t, c, 4, Message{From: Client, Time: stepTime(7), LastTime: stepTime(7), Opcode: OpPong,
		Frames: []int{5}, WireSize: 11, Size: 5, Payload: hello})

	checkFrame(t, c, 6, Frame{From: Server, Time: stepTime(8), Offset: off256, Fin: true, Opcode: OpBinary,
		Length: 256, HeaderLen: 4, Payload: payload256, Message: 5})
	checkMessage(t, c, 5, Message{From: Server, Time: stepTime(8), LastTime: stepTime(8), Opcode: OpBinary,
		Frames: []int{6}, WireSize: 260, Size: 256, Payload: payload256})
	checkFrame(t, c, 7, Frame{From: Server, Time: stepTime(9), Offset: off64k, Fin: true, Opcode: OpBinary,
		Length: 65536, HeaderLen: 10, Payload: payload64k, Message: 6})
	checkMessage(t, c, 6, Message{From: Server, Time: stepTime(9), LastTime: stepTime(9), Opcode: OpBinary,
		Frames: []int{7}, WireSize: 65546, Size: 65536, Payload: payload64k})

	if len(c.Frames) != 8 || len(c.Messages) != 7 || c.FrameCount != 8 || c.MessageCount != 7 {
		t.Fatalf("%d frames (count %d), %d messages (count %d); want 8 and 7",
			len(c.Frames), c.FrameCount, len(c.Messages), c.MessageCount)
	}
	if want := s.pos; c.Bytes != want {
		t.Fatalf("bytes seen %v, want %v", c.Bytes, want)
	}
}

// TestRFC7692Examples decodes the examples of RFC 7692 7.2.3 after a
// handshake that negotiated permessage-deflate with context takeover.
func TestRFC7692Examples(t *testing.T) {
	var s script
	s.deflateHandshake("")
	examples := []rfc7692Example{
		// 7.2.3.1: "Hello" compressed in one frame, and in two.
		{"7.2.3.1 one frame", [][]byte{hexBytes(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00)}},
		{"7.2.3.1 two frames", [][]byte{
			hexBytes(0x41, 0x03, 0xf2, 0x48, 0xcd),
			hexBytes(0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00)}},
		// 7.2.3.2: the second "Hello" only refers back into the LZ77
		// window of the first; the first is sent again so that the
		// window's last five bytes are "Hello" whatever came before.
		{"7.2.3.2 first", [][]byte{hexBytes(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00)}},
		{"7.2.3.2 second, shared window", [][]byte{hexBytes(0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00)}},
		// 7.2.3.3: a DEFLATE block with no compression.
		{"7.2.3.3 stored block", [][]byte{hexBytes(0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00)}},
		// 7.2.3.4: a DEFLATE block with BFINAL set.
		{"7.2.3.4 BFINAL", [][]byte{hexBytes(0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00)}},
		// 7.2.3.5: two DEFLATE blocks in one message.
		{"7.2.3.5 two blocks", [][]byte{hexBytes(0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00)}},
	}
	at := make([][]rfc7692Where, len(examples))
	for i, ex := range examples {
		for _, f := range ex.frames {
			step := len(s.steps)
			at[i] = append(at[i], rfc7692Where{step, s.server(f)})
		}
	}
	// The client's first message, masked: its context is its own.
	clientStep := len(s.steps)
	compressed := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	clientOff := s.client(wsFrame{op: OpText, rsv: 4, payload: compressed, key: &testKey}.bytes())

	for _, split := range rfcSplits {
		t.Run(split.name, func(t *testing.T) {
			c := decodeScript(&s, Options{}, split.f, false).conn
			checkRFC7692(t, c, examples, at, clientStep, clientOff, compressed)
		})
	}
}

// rfc7692Example is one example of RFC 7692 7.2.3: the frames of one
// message as printed.
type rfc7692Example struct {
	name   string
	frames [][]byte
}

// rfc7692Where is where a frame was sent: its step and stream offset.
type rfc7692Where struct {
	step int
	off  int64
}

// checkRFC7692 compares every frame and message of the RFC 7692 examples
// and of the client's masked compressed message after them.
func checkRFC7692(t *testing.T, c *recorded, examples []rfc7692Example, at [][]rfc7692Where, clientStep int, clientOff int64, compressed []byte) {
	hello := []byte("Hello")
	if len(c.Problems) != 0 {
		t.Fatalf("RFC 7692 examples gave problems:%s", listProblems(c.Problems))
	}
	if c.Deflate == nil || c.Extensions != "permessage-deflate" {
		t.Fatalf("permessage-deflate not negotiated: %+v %q", c.Deflate, c.Extensions)
	}
	if want := (DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}); *c.Deflate != want {
		t.Fatalf("deflate params %+v, want %+v", *c.Deflate, want)
	}

	fi := 0
	for mi, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			var frames []int
			var wire int64
			for k, f := range ex.frames {
				var h FrameHeader
				ParseFrameHeader(f, &h)
				checkFrame(t, c, fi, Frame{From: Server, Time: stepTime(at[mi][k].step), Offset: at[mi][k].off,
					Fin: h.Fin, Rsv: h.Rsv, Opcode: h.Opcode, Length: h.Length, HeaderLen: 2,
					Payload: f[2:], Message: mi})
				frames = append(frames, fi)
				wire += int64(len(f))
				fi++
			}
			last := at[mi][len(at[mi])-1].step
			checkMessage(t, c, mi, Message{From: Server, Time: stepTime(at[mi][0].step), LastTime: stepTime(last),
				Opcode: OpText, Frames: frames, Compressed: true, WireSize: wire, Size: 5,
				Payload: hello, TextValid: true})
		})
	}
	checkFrame(t, c, fi, Frame{From: Client, Time: stepTime(clientStep), Offset: clientOff, Fin: true, Rsv: 4,
		Opcode: OpText, Masked: true, MaskKey: testKey, Length: 7, HeaderLen: 6, Payload: compressed, Message: len(examples)})
	checkMessage(t, c, len(examples), Message{From: Client, Time: stepTime(clientStep), LastTime: stepTime(clientStep),
		Opcode: OpText, Frames: []int{fi}, Compressed: true, WireSize: 13, Size: 5, Payload: hello, TextValid: true})
}

// TestRFC7692SharedWindowNeedsContext shows that the second message of
// RFC 7692 7.2.3.2 really depends on the first: alone, after a handshake
// with context takeover, there is nothing to refer back to and it does not
// inflate; it is shown compressed with a problem.
func TestRFC7692SharedWindowNeedsContext(t *testing.T) {
	var s script
	s.deflateHandshake("")
	second := hexBytes(0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00)
	off := s.server(second)
	s.server(sf(OpText, "after"))
	c := decodeWhole(&s, Options{})
	p := mustOneProblem(t, c, KindInflateFailed)
	if p.Severity != Error || p.Frame != 0 || p.MessageIndex != 0 || p.From != Server {
		t.Fatalf("problem %+v", p)
	}
	m := c.Messages[0]
	if !m.Raw || string(m.Payload) != string(second[2:]) || m.Size != 5 || m.TextValid {
		t.Fatalf("uninflatable message %+v, want raw compressed payload", m)
	}
	if c.Frames[0].Offset != off {
		t.Fatalf("frame offset %d, want %d", c.Frames[0].Offset, off)
	}
	if len(c.Messages) != 2 || string(c.Messages[1].Payload) != "after" {
		t.Fatalf("decoding did not go on: %+v", c.Messages)
	}
}
