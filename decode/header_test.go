package decode

import (
	"strings"
	"testing"
)

// bitString turns a bit string into bytes. Spaces and '|' only group digits for
// the reader, so a vector can be written field by field under the diagram
// of RFC 6455 5.2; "x" followed by hex digits, as a whole group, appends
// those bytes (for payload lengths and mask keys that are clearer in hex).
func bitString(s string) []byte {
	var out []byte
	var cur byte
	n := 0
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '|' }) {
		if strings.HasPrefix(f, "x") {
			if n != 0 {
				panic("hex group in the middle of a byte: " + s)
			}
			h := f[1:]
			for i := 0; i+1 < len(h); i += 2 {
				out = append(out, unhex(h[i])<<4|unhex(h[i+1]))
			}
			continue
		}
		for _, c := range f {
			if c != '0' && c != '1' {
				panic("not a bit: " + string(c))
			}
			cur = cur<<1 | byte(c-'0')
			n++
			if n == 8 {
				out = append(out, cur)
				cur, n = 0, 0
			}
		}
	}
	if n != 0 {
		panic("bit string is not whole bytes: " + s)
	}
	return out
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	panic("not hex: " + string(c))
}

// Header vectors follow the diagram of RFC 6455 5.2:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-------+-+-------------+-------------------------------+
//	|F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//	|I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//	|N|V|V|V|       |S|             |   (if payload len==126/127)   |
//	| |1|2|3|       |K|             |                               |
//	+-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//	|     Extended payload length continued, if payload len == 127  |
//	+ - - - - - - - - - - - - - - - +-------------------------------+
//	|                               |Masking-key, if MASK set to 1  |
//	+-------------------------------+-------------------------------+
//
// Each vector is written "F RRR opcode | M len7 | extended length | key".
var headerVectors = []struct {
	name string
	wire string
	want FrameHeader
	viol Violation
}{
	{"unmasked text Hello (5.7)", "1 000 0001 | 0 0000101",
		FrameHeader{Fin: true, Opcode: OpText, Length: 5, Len7: 5, Size: 2}, 0},
	{"masked text Hello (5.7)", "1 000 0001 | 1 0000101 | x37fa213d",
		FrameHeader{Fin: true, Opcode: OpText, Masked: true, MaskKey: testKey, Length: 5, Len7: 5, Size: 6}, 0},
	{"first fragment, no FIN", "0 000 0001 | 0 0000011",
		FrameHeader{Opcode: OpText, Length: 3, Len7: 3, Size: 2}, 0},
	{"continuation with FIN", "1 000 0000 | 0 0000010",
		FrameHeader{Fin: true, Opcode: OpContinuation, Length: 2, Len7: 2, Size: 2}, 0},
	{"empty binary", "1 000 0010 | 0 0000000",
		FrameHeader{Fin: true, Opcode: OpBinary, Size: 2}, 0},
	{"RSV1 compressed text (RFC 7692)", "1 100 0001 | 0 0000111",
		FrameHeader{Fin: true, Rsv: 4, Opcode: OpText, Length: 7, Len7: 7, Size: 2}, 0},
	{"RSV2 and RSV3", "1 011 0010 | 0 0000001",
		FrameHeader{Fin: true, Rsv: 3, Opcode: OpBinary, Length: 1, Len7: 1, Size: 2}, 0},
	{"largest 7-bit length 125", "1 000 0010 | 0 1111101",
		FrameHeader{Fin: true, Opcode: OpBinary, Length: 125, Len7: 125, Size: 2}, 0},
	{"126 takes the 16-bit form", "1 000 0010 | 0 1111110 | x007e",
		FrameHeader{Fin: true, Opcode: OpBinary, Length: 126, Len7: 126, Size: 4}, 0},
	{"256 in 16 bits (5.7)", "1 000 0010 | 0 1111110 | x0100",
		FrameHeader{Fin: true, Opcode: OpBinary, Length: 256, Len7: 126, Size: 4}, 0},
	{"largest 16-bit length 65535", "1 000 0010 | 0 1111110 | xffff",
		FrameHeader{Fin: true, Opcode: OpBinary, Length: 65535, Len7: 126, Size: 4}, 0},
	{"65536 takes the 64-bit form (5.7)", "1 000 0010 | 0 1111111 | x0000000000010000",
		FrameHeader{Fin: true, Opcode: OpBinary, Length: 65536, Len7: 127, Size: 10}, 0},
	{"64-bit length, masked", "1 000 0010 | 1 1111111 | x0000000100000000 | x01020304",
		FrameHeader{Fin: true, Opcode: OpBinary, Masked: true, MaskKey: [4]byte{1, 2, 3, 4}, Length: 1 << 32, Len7: 127, Size: 14}, 0},
	{"16-bit length, masked", "1 000 0001 | 1 1111110 | x1000 | xa0b0c0d0",
		FrameHeader{Fin: true, Opcode: OpText, Masked: true, MaskKey: [4]byte{0xa0, 0xb0, 0xc0, 0xd0}, Length: 4096, Len7: 126, Size: 8}, 0},
	{"ping 125 bytes", "1 000 1001 | 0 1111101",
		FrameHeader{Fin: true, Opcode: OpPing, Length: 125, Len7: 125, Size: 2}, 0},

	// Check: rule breaks a header shows on its own.
	{"5 in 16 bits is not minimal", "1 000 0001 | 0 1111110 | x0005",
		FrameHeader{Fin: true, Opcode: OpText, Length: 5, Len7: 126, Size: 4}, ViolationNonMinimalLength},
	{"125 in 16 bits is not minimal", "1 000 0001 | 0 1111110 | x007d",
		FrameHeader{Fin: true, Opcode: OpText, Length: 125, Len7: 126, Size: 4}, ViolationNonMinimalLength},
	{"65535 in 64 bits is not minimal", "1 000 0010 | 0 1111111 | x000000000000ffff",
		FrameHeader{Fin: true, Opcode: OpBinary, Length: 65535, Len7: 127, Size: 10}, ViolationNonMinimalLength},
	{"64-bit length with the top bit set", "1 000 0010 | 0 1111111 | x8000000000000001",
		FrameHeader{Fin: true, Opcode: OpBinary, Length: 1<<63 | 1, Len7: 127, Size: 10}, ViolationLengthTopBit},
	{"reserved data opcode 3", "1 000 0011 | 0 0000000",
		FrameHeader{Fin: true, Opcode: 3, Size: 2}, ViolationReservedOpcode},
	{"reserved control opcode 0xB", "1 000 1011 | 0 0000000",
		FrameHeader{Fin: true, Opcode: 0xB, Size: 2}, ViolationReservedOpcode},
	{"reserved opcode 0xF", "1 000 1111 | 0 0000000",
		FrameHeader{Fin: true, Opcode: 0xF, Size: 2}, ViolationReservedOpcode},
	{"ping of 126 bytes", "1 000 1001 | 0 1111110 | x007e",
		FrameHeader{Fin: true, Opcode: OpPing, Length: 126, Len7: 126, Size: 4}, ViolationControlTooLong},
	{"close without FIN", "0 000 1000 | 0 0000000",
		FrameHeader{Opcode: OpClose, Size: 2}, ViolationControlFragmented},
	{"pong without FIN, 200 bytes in 64 bits", "0 000 1010 | 0 1111111 | x00000000000000c8",
		FrameHeader{Opcode: OpPong, Length: 200, Len7: 127, Size: 10},
		ViolationControlFragmented | ViolationControlTooLong | ViolationNonMinimalLength},
}

// TestParseFrameHeaderVectors parses each vector, compares every field,
// checks Check's verdict, and checks that every shorter prefix is reported
// as incomplete without touching the header.
func TestParseFrameHeaderVectors(t *testing.T) {
	for _, v := range headerVectors {
		t.Run(v.name, func(t *testing.T) {
			wire := bitString(v.wire)
			if FrameHeaderSize(wire[0], wire[1]) != v.want.Size {
				t.Fatalf("FrameHeaderSize = %d, want %d", FrameHeaderSize(wire[0], wire[1]), v.want.Size)
			}
			for n := 0; n < len(wire); n++ {
				h := FrameHeader{Size: -7}
				if ParseFrameHeader(wire[:n], &h) {
					t.Fatalf("a %d-byte prefix of a %d-byte header parsed", n, len(wire))
				}
				if h.Size != -7 {
					t.Fatalf("an incomplete header changed its output")
				}
			}
			// Trailing payload bytes must not change the header.
			withPayload := append(append([]byte(nil), wire...), 0xde, 0xad)
			var h FrameHeader
			if !ParseFrameHeader(withPayload, &h) {
				t.Fatalf("the whole header did not parse")
			}
			if h != v.want {
				t.Fatalf("parsed\n %+v\nwant\n %+v", h, v.want)
			}
			if got := h.Check(); got != v.viol {
				t.Fatalf("Check() = %05b, want %05b", got, v.viol)
			}
		})
	}
}

// TestAppendFrameHeaderInverse checks that AppendFrameHeader writes the
// vectors that are minimal byte for byte, so that it is the inverse of
// ParseFrameHeader for valid headers.
func TestAppendFrameHeaderInverse(t *testing.T) {
	for _, v := range headerVectors {
		if v.viol&(ViolationNonMinimalLength|ViolationLengthTopBit) != 0 {
			continue
		}
		got := AppendFrameHeader([]byte{0xAA}, v.want)
		if want := bitString(v.wire); string(got[1:]) != string(want) || got[0] != 0xAA {
			t.Errorf("%s: AppendFrameHeader wrote % x, want % x after the prefix", v.name, got, want)
		}
	}
}

// TestParseFrameHeaderClearsKey checks that parsing an unmasked header
// after a masked one leaves no stale key behind.
func TestParseFrameHeaderClearsKey(t *testing.T) {
	var h FrameHeader
	ParseFrameHeader(bitString("1 000 0001 | 1 0000101 | x37fa213d"), &h)
	ParseFrameHeader(bitString("1 000 0001 | 0 0000101"), &h)
	if h.Masked || h.MaskKey != [4]byte{} {
		t.Fatalf("unmasked header kept mask %v %x", h.Masked, h.MaskKey)
	}
}

// TestOpcodeClasses checks IsControl and IsReserved for all 16 opcodes
// against RFC 6455 5.2.
func TestOpcodeClasses(t *testing.T) {
	for op := Opcode(0); op < 16; op++ {
		control := op >= 8
		reserved := (op >= 3 && op <= 7) || op >= 0xB
		if op.IsControl() != control || op.IsReserved() != reserved {
			t.Errorf("opcode %d: IsControl %v IsReserved %v, want %v %v", op, op.IsControl(), op.IsReserved(), control, reserved)
		}
	}
}
