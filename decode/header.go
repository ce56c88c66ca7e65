package decode

import "encoding/binary"

// FrameHeader is a parsed frame header (RFC 6455 5.2):
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
// ParseFrameHeader only reads the bits; whether they make sense is Check's
// business, so that a violating frame is still shown as it was sent.
type FrameHeader struct {
	Fin     bool
	Rsv     uint8
	Opcode  Opcode
	Masked  bool
	MaskKey [4]byte
	Length  uint64
	// Len7 is the 7-bit payload length field: the length itself, or 126 and
	// 127 for the 16- and 64-bit forms.
	Len7 uint8
	// Size is the header size in bytes.
	Size int
}

// MaxFrameHeaderSize is the largest header: 2 + 8 length bytes + 4 mask bytes.
const MaxFrameHeaderSize = 14

// FrameHeaderSize returns the size of the header that starts with the two
// bytes b0 and b1.
func FrameHeaderSize(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// ParseFrameHeader parses the header at the start of b. It returns ok false,
// and does not touch h, when b does not yet hold the whole header. It does
// not allocate.
func ParseFrameHeader(b []byte, h *FrameHeader) (ok bool) {
	if len(b) < 2 {
		return false
	}
	size := FrameHeaderSize(b[0], b[1])
	if len(b) < size {
		return false
	}
	b0, b1 := b[0], b[1]
	h.Fin = b0&0x80 != 0
	h.Rsv = (b0 >> 4) & 0x7
	h.Opcode = Opcode(b0 & 0xf)
	h.Masked = b1&0x80 != 0
	h.Len7 = b1 & 0x7f
	h.Size = size
	p := 2
	switch h.Len7 {
	case 126:
		h.Length = uint64(binary.BigEndian.Uint16(b[2:4]))
		p = 4
	case 127:
		h.Length = binary.BigEndian.Uint64(b[2:10])
		p = 10
	default:
		h.Length = uint64(h.Len7)
	}
	if h.Masked {
		copy(h.MaskKey[:], b[p:p+4])
	} else {
		h.MaskKey = [4]byte{}
	}
	return true
}

// Violation is a set of rule breaks found in a header on its own, without
// the connection's context. It is a bit set so that checking allocates
// nothing.
type Violation uint8

const (
	// ViolationReservedOpcode: opcodes 3-7 and 11-15 (RFC 6455 5.2).
	ViolationReservedOpcode Violation = 1 << iota
	// ViolationControlTooLong: control payload over 125 bytes (5.5).
	ViolationControlTooLong
	// ViolationControlFragmented: control frame without FIN (5.5).
	ViolationControlFragmented
	// ViolationLengthTopBit: 64-bit length with the most significant bit
	// set (5.2).
	ViolationLengthTopBit
	// ViolationNonMinimalLength: a longer length form than needed (5.2:
	// "the minimal number of bytes MUST be used"). Peers tolerate it, so it
	// is a warning.
	ViolationNonMinimalLength
)

// Check returns the violations the header shows on its own.
func (h *FrameHeader) Check() Violation {
	var v Violation
	if h.Opcode.IsReserved() {
		v |= ViolationReservedOpcode
	}
	if h.Opcode.IsControl() {
		if h.Length > 125 {
			v |= ViolationControlTooLong
		}
		if !h.Fin {
			v |= ViolationControlFragmented
		}
	}
	switch h.Len7 {
	case 126:
		if h.Length < 126 {
			v |= ViolationNonMinimalLength
		}
	case 127:
		if h.Length>>63 != 0 {
			v |= ViolationLengthTopBit
		} else if h.Length <= 0xffff {
			v |= ViolationNonMinimalLength
		}
	}
	return v
}

// AppendFrameHeader appends the minimal encoding of h to b. It is the
// inverse of ParseFrameHeader for valid headers and is used to build test
// traffic and resynchronisation candidates.
func AppendFrameHeader(b []byte, h FrameHeader) []byte {
	b0 := h.Rsv<<4 | byte(h.Opcode&0xf)
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	switch {
	case h.Length <= 125:
		b = append(b, b0, b1|byte(h.Length))
	case h.Length <= 0xffff:
		b = append(b, b0, b1|126)
		b = binary.BigEndian.AppendUint16(b, uint16(h.Length))
	default:
		b = append(b, b0, b1|127)
		b = binary.BigEndian.AppendUint64(b, h.Length)
	}
	if h.Masked {
		b = append(b, h.MaskKey[:]...)
	}
	return b
}
