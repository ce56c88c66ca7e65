package session

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/wstap/wstap/decode"
)

// The store keeps one fixed-size record per frame and per message. They
// are written little-endian into blocks (see recordLog); these functions
// are the one place that knows the layout.

const (
	frameRecSize   = 48
	messageRecSize = 56
	listRecSize    = 4
)

// payRef says where a payload is. off is its offset in the spill file,
// payLost when it could not be kept (the spill file failed) and
// payFromMessage when a frame's payload is to be cut from its message's
// (an import that left it out because it repeats the message's bytes).
type payRef struct {
	off int64
	n   uint32
}

const (
	payLost        = -1
	payFromMessage = -2
)

// frameRec is the compact form of a decode.Frame.
type frameRec struct {
	time      int64
	offset    int64
	length    uint64
	pay       payRef
	mask      [4]byte
	message   int32
	flags     uint16
	headerLen uint8
}

// messageRec is the compact form of a decode.Message. Its frames are
// first, first+1, ... first+count-1 unless listed, in which case first is
// where its frame indexes start in the connection's list log.
type messageRec struct {
	time, lastTime int64
	wireSize, size int64
	pay            payRef
	first, count   int32
	flags          uint16
}

// Flag bits of frame and message records.
const (
	flagServer     = 1 << 0
	flagFin        = 1 << 1
	flagMasked     = 1 << 2
	flagCompressed = 1 << 3
	flagTruncated  = 1 << 4
	flagRaw        = 1 << 5
	flagTextValid  = 1 << 6
	flagListed     = 1 << 7
	// flagDerivable marks a message whose frames carry its payload (see
	// Reader.Derivable). flagAlone marks the frame of a message of one
	// frame, whose flagDerivable then says the same of its message.
	flagDerivable = 1 << 15
	flagAlone     = 1 << 7 // frames: the message flags' flagListed
	// The opcode takes bits 8-11, RSV bits 12-14.
	opcodeShift = 8
	rsvShift    = 12
)

// zeroTime stands for the zero time.Time, which has no UnixNano.
const zeroTime = math.MinInt64

func packTime(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return t.UnixNano()
}

func unpackTime(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func sideFlag(s decode.Side) uint16 {
	if s == decode.Server {
		return flagServer
	}
	return 0
}

func flagSide(f uint16) decode.Side {
	if f&flagServer != 0 {
		return decode.Server
	}
	return decode.Client
}

func bit(on bool, b uint16) uint16 {
	if on {
		return b
	}
	return 0
}

// newFrameRec makes the record of f, whose payload is at pay.
func newFrameRec(f *decode.Frame, pay payRef) frameRec {
	return frameRec{
		time: packTime(f.Time), offset: f.Offset, length: f.Length, pay: pay,
		mask: f.MaskKey, message: int32(f.Message),
		flags: sideFlag(f.From) | bit(f.Fin, flagFin) | bit(f.Masked, flagMasked) |
			uint16(f.Opcode&0xf)<<opcodeShift | uint16(f.Rsv&7)<<rsvShift,
		headerLen: uint8(f.HeaderLen),
	}
}

// frame fills f from the record, without its payload.
func (r *frameRec) frame(f *decode.Frame) {
	*f = decode.Frame{
		From: flagSide(r.flags), Time: unpackTime(r.time), Offset: r.offset,
		Fin: r.flags&flagFin != 0, Rsv: uint8(r.flags>>rsvShift) & 7,
		Opcode: decode.Opcode(r.flags>>opcodeShift) & 0xf, Masked: r.flags&flagMasked != 0,
		Length: r.length, HeaderLen: int(r.headerLen), Message: int(r.message),
	}
	if f.Masked {
		f.MaskKey = r.mask
	}
}

func (r *frameRec) put(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], uint64(r.time))
	binary.LittleEndian.PutUint64(b[8:], uint64(r.offset))
	binary.LittleEndian.PutUint64(b[16:], r.length)
	binary.LittleEndian.PutUint64(b[24:], uint64(r.pay.off))
	binary.LittleEndian.PutUint32(b[32:], r.pay.n)
	copy(b[36:40], r.mask[:])
	binary.LittleEndian.PutUint32(b[40:], uint32(r.message))
	binary.LittleEndian.PutUint16(b[44:], r.flags)
	b[46] = r.headerLen
	b[47] = 0
}

// markAlone sets flagAlone in the frame record b, and flagDerivable when
// derivable is set.
func markAlone(b []byte, derivable bool) {
	binary.LittleEndian.PutUint16(b[44:], binary.LittleEndian.Uint16(b[44:])|flagAlone|bit(derivable, flagDerivable))
}

func (r *frameRec) get(b []byte) {
	r.time = int64(binary.LittleEndian.Uint64(b[0:]))
	r.offset = int64(binary.LittleEndian.Uint64(b[8:]))
	r.length = binary.LittleEndian.Uint64(b[16:])
	r.pay.off = int64(binary.LittleEndian.Uint64(b[24:]))
	r.pay.n = binary.LittleEndian.Uint32(b[32:])
	copy(r.mask[:], b[36:40])
	r.message = int32(binary.LittleEndian.Uint32(b[40:]))
	r.flags = binary.LittleEndian.Uint16(b[44:])
	r.headerLen = b[46]
}

// newMessageRec makes the record of m, whose payload is at pay and whose
// frames are described by first and count (see messageRec).
func newMessageRec(m *decode.Message, pay payRef, first, count int32, listed bool) messageRec {
	return messageRec{
		time: packTime(m.Time), lastTime: packTime(m.LastTime),
		wireSize: m.WireSize, size: m.Size, pay: pay, first: first, count: count,
		flags: sideFlag(m.From) | bit(m.Compressed, flagCompressed) | bit(m.Truncated, flagTruncated) |
			bit(m.Raw, flagRaw) | bit(m.TextValid, flagTextValid) | bit(listed, flagListed) |
			uint16(m.Opcode&0xf)<<opcodeShift,
	}
}

// message fills m from the record, without its payload and frame list.
func (r *messageRec) message(m *decode.Message) {
	*m = decode.Message{
		From: flagSide(r.flags), Time: unpackTime(r.time), LastTime: unpackTime(r.lastTime),
		Opcode: decode.Opcode(r.flags>>opcodeShift) & 0xf, Compressed: r.flags&flagCompressed != 0,
		WireSize: r.wireSize, Size: r.size, Truncated: r.flags&flagTruncated != 0,
		Raw: r.flags&flagRaw != 0, TextValid: r.flags&flagTextValid != 0,
	}
}

func (r *messageRec) put(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], uint64(r.time))
	binary.LittleEndian.PutUint64(b[8:], uint64(r.lastTime))
	binary.LittleEndian.PutUint64(b[16:], uint64(r.wireSize))
	binary.LittleEndian.PutUint64(b[24:], uint64(r.size))
	binary.LittleEndian.PutUint64(b[32:], uint64(r.pay.off))
	binary.LittleEndian.PutUint32(b[40:], r.pay.n)
	binary.LittleEndian.PutUint32(b[44:], uint32(r.first))
	binary.LittleEndian.PutUint32(b[48:], uint32(r.count))
	binary.LittleEndian.PutUint16(b[52:], r.flags)
	b[54], b[55] = 0, 0
}

func (r *messageRec) get(b []byte) {
	r.time = int64(binary.LittleEndian.Uint64(b[0:]))
	r.lastTime = int64(binary.LittleEndian.Uint64(b[8:]))
	r.wireSize = int64(binary.LittleEndian.Uint64(b[16:]))
	r.size = int64(binary.LittleEndian.Uint64(b[24:]))
	r.pay.off = int64(binary.LittleEndian.Uint64(b[32:]))
	r.pay.n = binary.LittleEndian.Uint32(b[40:])
	r.first = int32(binary.LittleEndian.Uint32(b[44:]))
	r.count = int32(binary.LittleEndian.Uint32(b[48:]))
	r.flags = binary.LittleEndian.Uint16(b[52:])
}

// closeOf parses the Close a close message carries (RFC 6455 5.5.1): as
// the decoder does, a code when the payload has at least two bytes, and
// the rest as the reason.
func closeOf(m *decode.Message) *decode.Close {
	c := &decode.Close{From: m.From, Time: m.Time}
	if len(m.Payload) >= 2 {
		c.HasCode = true
		c.Code = binary.BigEndian.Uint16(m.Payload)
		c.Reason = string(m.Payload[2:])
	}
	return c
}
