package decode

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"strings"
	"time"
)

// The drafts before RFC 6455 (draft-hixie-thewebsocketprotocol-75 and -76,
// also called hybi-00) frame text between a 0x00 byte and a 0xFF byte, and
// have a length-prefixed form for frame types with the high bit set. In
// hixie-76 the frame 0xFF 0x00 is the closing handshake. There is no
// masking and no fragmentation; browsers spoke it until 2011, and some
// embedded devices still do.

// hixieState is the hixie frame being read.
type hixieState struct {
	inFrame bool
	typ     byte
	start   int64
	time    time.Time
	// length-prefixed frames: the length while it is read, then what is
	// left of the payload.
	lengthDone bool
	length     uint64
	left       uint64
	lenBytes   int
	buf        []byte
	size       int64
	// seek is set after a gap: skip to the byte after the next 0xFF.
	seek bool
}

// hixieKeyNumber computes a hixie-76 key's number: its digits read as a
// decimal number, divided by its count of spaces (hixie-76 4.1 step 23).
func hixieKeyNumber(key string) (uint32, bool) {
	var digits uint64
	spaces := uint64(0)
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c >= '0' && c <= '9':
			digits = digits*10 + uint64(c-'0')
			if digits > 1<<40 {
				return 0, false
			}
		case c == ' ':
			spaces++
		}
	}
	if spaces == 0 || digits%spaces != 0 {
		return 0, false
	}
	return uint32(digits / spaces), true
}

// HixieChallenge returns the 16-byte answer a hixie-76 server sends:
// MD5 of the two key numbers (big endian) and the 8-byte key3.
func HixieChallenge(key1, key2 string, key3 []byte) ([16]byte, bool) {
	n1, ok1 := hixieKeyNumber(key1)
	n2, ok2 := hixieKeyNumber(key2)
	if !ok1 || !ok2 || len(key3) != 8 {
		return [16]byte{}, false
	}
	var in [16]byte
	binary.BigEndian.PutUint32(in[0:4], n1)
	binary.BigEndian.PutUint32(in[4:8], n2)
	copy(in[8:], key3)
	return md5.Sum(in[:]), true
}

// checkChallenge compares the server's hixie-76 answer with the expected one.
func (d *Decoder) checkChallenge() {
	req, resp := d.conn.Request, d.conn.Response
	if req == nil || resp == nil {
		return
	}
	k1, _ := Get(req.Headers, "Sec-WebSocket-Key1")
	k2, _ := Get(req.Headers, "Sec-WebSocket-Key2")
	want, ok := HixieChallenge(k1, k2, req.Body)
	switch {
	case !ok:
		d.problemf(Error, KindBadKey, Client, req.Time, "Sec-WebSocket-Key1/Key2 are not valid hixie-76 keys (digits divisible by a non-zero count of spaces)")
	case !bytes.Equal(want[:], resp.Body):
		d.problemf(Error, KindBadChallenge, Server, resp.Time, "the hixie-76 challenge answer is % x; it should be % x", resp.Body, want[:])
	}
	if !strings.HasPrefix(resp.Reason, "WebSocket Protocol Handshake") {
		d.problemf(Warning, KindHandshakeMalformed, Server, resp.Time, "the hixie-76 101 reason is %q, not \"WebSocket Protocol Handshake\"", resp.Reason)
	}
}

// feedHixie reads hixie frames.
func (d *Decoder) feedHixie(dir *direction, t time.Time, b []byte) int {
	x := &dir.hixie
	consumed := 0
	for consumed < len(b) {
		rest := b[consumed:]
		if x.seek {
			i := bytes.IndexByte(rest, 0xFF)
			if i < 0 {
				return len(b)
			}
			consumed += i + 1
			x.seek = false
			continue
		}
		if !x.inFrame {
			*x = hixieState{inFrame: true, typ: rest[0], start: dir.pos + int64(consumed), time: t, buf: x.buf[:0]}
			consumed++
			continue
		}
		if x.typ&0x80 == 0 {
			// Sentinel-delimited text: up to the 0xFF.
			i := bytes.IndexByte(rest, 0xFF)
			end := i
			if i < 0 {
				end = len(rest)
			}
			d.hixieKeep(x, rest[:end])
			if i < 0 {
				return len(b)
			}
			consumed += i + 1
			d.hixieFrame(dir, 2)
			continue
		}
		if !x.lengthDone {
			c := rest[0]
			consumed++
			x.lenBytes++
			x.length = x.length<<7 | uint64(c&0x7f)
			if x.length > 1<<40 {
				d.problemf(Error, KindHixieFraming, dir.side, t, "%s hixie frame at offset %d claims a length over 2^40; the rest of this direction is not decoded", dir.side, x.start)
				dir.mode = modeIgnore
				return len(b)
			}
			if c&0x80 == 0 {
				x.lengthDone = true
				x.left = x.length
				if x.left == 0 {
					d.hixieFrame(dir, 1+x.lenBytes)
				}
			}
			continue
		}
		n := len(rest)
		if uint64(n) > x.left {
			n = int(x.left)
		}
		d.hixieKeep(x, rest[:n])
		consumed += n
		x.left -= uint64(n)
		if x.left == 0 {
			d.hixieFrame(dir, 1+x.lenBytes)
		}
	}
	return consumed
}

func (d *Decoder) hixieKeep(x *hixieState, p []byte) {
	x.size += int64(len(p))
	if room := d.opts.MaxMessageSize - int64(len(x.buf)); room > 0 {
		x.buf = append(x.buf, p[:min(int64(len(p)), room)]...)
	}
}

// hixieFrame emits the completed hixie frame as a frame and a message of
// the model: text for 0x00, close for 0xFF 0x00, binary for other
// length-prefixed types.
func (d *Decoder) hixieFrame(dir *direction, overhead int) {
	x := &dir.hixie
	x.inFrame = false
	op := OpText
	idx := d.conn.FrameCount
	switch {
	case x.typ == 0xFF && x.length == 0:
		op = OpClose
	case x.typ&0x80 != 0:
		op = OpBinary
	case x.typ != 0x00:
		d.report(Warning, KindHixieFraming, dir.side, where{time: x.time, frame: idx, message: -1, offset: x.start},
			"%s hixie frame %d has type 0x%02x; only 0x00 carries text (hixie-76 4.2)", dir.side, idx, x.typ)
	}
	payload := x.buf
	fr := Frame{From: dir.side, Time: x.time, Offset: x.start, Fin: true, Opcode: op,
		Length: uint64(x.size), HeaderLen: overhead, Payload: payload, Message: d.conn.MessageCount}
	fi := d.addFrame(&fr)
	msg := Message{From: dir.side, Time: x.time, LastTime: x.time, Opcode: op,
		WireSize: int64(overhead) + x.size, Size: x.size, Payload: payload,
		Truncated: int64(len(payload)) < x.size}
	if op == OpText {
		var u utf8Stream
		u.write(payload)
		msg.TextValid = u.valid() && !msg.Truncated
		if !u.valid() && !msg.Truncated {
			d.problemAtFrame(dir, Error, KindInvalidUTF8, &fr, fi, "%s hixie text frame %d is not valid UTF-8", dir.side, fi)
		}
	}
	if op == OpClose {
		d.closeFrame(dir, fi, &fr, &msg)
	}
	one := [1]int{fi}
	d.addMessage(&msg, one[:])
	x.buf = x.buf[:0]
}
