package export

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// jw writes JSON text by hand. The writers use it instead of
// encoding/json because they stream: a connection's frames and messages
// are written one at a time, and a large payload is encoded piece by piece
// instead of being copied into a string first. Everything is appended to a
// buffer of jw's own, which is handed to the writer once it holds
// spillSize bytes and on flush: an append costs much less than a call into
// a bufio.Writer per token, and numbers, times and strings are formatted
// straight into it. The first write error sticks and later writes are
// dropped, so callers check it once.
type jw struct {
	w   io.Writer
	out []byte // written but not yet handed to w
	err error
	// sec is the last second a time was written for, and secText that
	// time formatted up to the second: times come in order and many share
	// their second, which then needs no formatting again.
	sec     int64
	secText []byte
}

const (
	// spillSize is how much output jw collects before writing it out.
	spillSize = 64 << 10
	// keepSize is the largest buffer kept after a spill: one huge string
	// may grow it, and it then goes back to spillSize.
	keepSize = 1 << 20
	// base64Piece is how many payload bytes are base64-encoded into the
	// buffer at a time (a multiple of 3, so that the pieces join without
	// padding between them).
	base64Piece = 48 << 10
)

func newJW(w io.Writer) *jw {
	return &jw{w: w, out: make([]byte, 0, spillSize+spillSize/4)}
}

// spill writes the buffer out once it holds spillSize bytes. Every writing
// method calls it last, so the buffer never holds much more than one
// value past spillSize. A jw without a writer (rendering into the
// caller's bytes, see NDJSONWriter.NewRenderer) never writes out.
func (e *jw) spill() {
	if len(e.out) >= spillSize && e.w != nil {
		e.writeOut()
	}
}

// writeOut hands the buffer to w, or drops it after an error.
func (e *jw) writeOut() {
	if e.err == nil && len(e.out) > 0 {
		_, e.err = e.w.Write(e.out)
	}
	if cap(e.out) > keepSize {
		e.out = make([]byte, 0, spillSize+spillSize/4)
	}
	e.out = e.out[:0]
}

func (e *jw) raw(s string) {
	e.out = append(e.out, s...)
	e.spill()
}

// str writes s as a JSON string. Bytes that are not UTF-8 become U+FFFD, as
// encoding/json does; callers that must keep such bytes write base64.
func (e *jw) str(s string) {
	e.out = appendQuoted(e.out, s)
	e.spill()
}

// strBytes is str for a byte slice. The slice is viewed as a string
// without a copy: payloads can be large, and appendQuoted only reads.
func (e *jw) strBytes(b []byte) {
	e.str(unsafe.String(unsafe.SliceData(b), len(b)))
}

func (e *jw) int(n int64) {
	e.out = strconv.AppendInt(e.out, n, 10)
	e.spill()
}

func (e *jw) uint(n uint64) {
	e.out = strconv.AppendUint(e.out, n, 10)
	e.spill()
}

func (e *jw) bool(b bool) {
	if b {
		e.raw("true")
	} else {
		e.raw("false")
	}
}

// millis writes a number of milliseconds with at most three decimals
// (microsecond precision), the way HAR timings are written.
func (e *jw) millis(d time.Duration) {
	e.out = strconv.AppendFloat(e.out, float64(d.Microseconds())/1000, 'f', -1, 64)
	e.spill()
}

// epochSeconds writes t as seconds since 1970 with six decimals, the way
// Chrome writes _webSocketMessages times. It is formatted from the integer
// microseconds so that no float rounding creeps in.
func (e *jw) epochSeconds(t time.Time) {
	us := t.UnixMicro()
	b := e.out
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	b = appendDigits(b, int(us%1e6), 6)
	e.out = b
	e.spill()
}

// time writes t as a quoted timeLayout time.
func (e *jw) time(t time.Time) {
	e.out = e.appendTime(e.out, t)
	e.spill()
}

// appendTime appends t to b as a quoted timeLayout time. Times come in
// order and many share their second, so the text up to the second is kept
// and reused.
func (e *jw) appendTime(b []byte, t time.Time) []byte {
	if sec := t.Unix(); sec != e.sec || e.secText == nil {
		e.secText = appendTime(e.secText[:0], t)
		e.secText = e.secText[:len(e.secText)-len(".000000Z")]
		e.sec = sec
	}
	b = append(b, '"')
	b = append(b, e.secText...)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, `Z"`...)
}

// base64 writes b as a quoted standard base64 string. A large payload is
// encoded into the buffer in pieces, written out between them, so that
// the buffer does not grow with it.
func (e *jw) base64(b []byte) {
	e.out = append(e.out, '"')
	for len(b) > base64Piece {
		e.out = appendBase64(e.out, b[:base64Piece])
		b = b[base64Piece:]
		e.spill()
	}
	e.out = appendBase64(e.out, b)
	e.out = append(e.out, '"')
	e.spill()
}

// hex writes b as a quoted lower-case hex string.
func (e *jw) hex(b []byte) {
	e.out = append(e.out, '"')
	e.out = hex.AppendEncode(e.out, b)
	e.out = append(e.out, '"')
	e.spill()
}

// flush writes out everything written so far, through w when w is itself
// a bufio.Writer.
func (e *jw) flush() error {
	e.writeOut()
	if bw, ok := e.w.(*bufio.Writer); ok && e.err == nil {
		e.err = bw.Flush()
	}
	return e.err
}

// obj writes the members of one JSON object: on one line, separated by
// ", ", or one member per line, indented.
type obj struct {
	e      *jw
	indent string // "" for an object on one line
	n      int
}

// object starts an object. With indent empty it is written on one line;
// otherwise each member goes on its own line, indented by indent, and the
// closing brace one level (two spaces) less.
func (e *jw) object(indent string) obj {
	e.raw("{")
	return obj{e: e, indent: indent}
}

// key writes the separator and the member name.
func (o *obj) key(name string) *jw {
	e := o.e
	b := e.out
	switch {
	case o.indent == "":
		if o.n > 0 {
			b = append(b, ", "...)
		}
	case o.n > 0:
		b = append(b, ",\n"...)
		b = append(b, o.indent...)
	default:
		b = append(b, '\n')
		b = append(b, o.indent...)
	}
	o.n++
	b = append(b, '"')
	b = append(b, name...) // member names are constants that need no escaping
	e.out = append(b, `": `...)
	return e
}

func (o *obj) str(name, v string)            { o.key(name).str(v) }
func (o *obj) int(name string, v int64)      { o.key(name).int(v) }
func (o *obj) bool(name string, v bool)      { o.key(name).bool(v) }
func (o *obj) time(name string, t time.Time) { o.key(name).time(t) }

// timeIf writes t unless it is the zero time, which means "not known".
func (o *obj) timeIf(name string, t time.Time) {
	if !t.IsZero() {
		o.time(name, t)
	}
}

func (o *obj) end() {
	if o.indent != "" {
		o.e.raw("\n")
		o.e.raw(o.indent[:max(0, len(o.indent)-2)])
	}
	o.e.raw("}")
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string: quotes, backslashes and control
// characters escaped (RFC 8259 7), U+2028 and U+2029 escaped for
// JavaScript consumers, and every other character as it is. It does not
// escape <, > and & the way encoding/json does, so text stays readable.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		// Room for 8 bytes copied at once, or one escape (6 bytes).
		if cap(b)-len(b) < 8 {
			b = slices.Grow(b, len(s)-i+8)
		}
		if i+8 <= len(s) {
			// Where one of the eight is not plain, the eight are stored
			// whatever they are, and the output keeps those before it:
			// no copy call for the few bytes between two quotes of JSON
			// text.
			x := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
			special := notPlain(x)
			if special == 0 {
				// A run of plain text: found to its end, then copied
				// in one piece.
				j := i + 8
				for j+8 <= len(s) && notPlain(binary.LittleEndian.Uint64([]byte(s[j:j+8]))) == 0 {
					j += 8
				}
				b = append(b, s[i:j]...)
				i = j
				continue
			}
			n := len(b)
			binary.LittleEndian.PutUint64(b[n:n+8], x)
			k := bits.TrailingZeros64(special) >> 3
			b = b[:n+k]
			i += k
		}
		c := s[i]
		if plainByte(c) {
			// Fewer than eight bytes left: those up to the next byte
			// to escape, in one piece.
			j := i + 1
			for j < len(s) && plainByte(s[j]) {
				j++
			}
			b = append(b, s[i:j]...)
			i = j
			continue
		}
		if c < utf8.RuneSelf {
			b = appendEscape(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// plainByte reports whether c goes into a JSON string as it is: ASCII from
// 0x20 on, but for '"' and '\\'.
func plainByte(c byte) bool {
	return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\'
}

// notPlain marks, in the high bit of each of its bytes, the bytes of the
// eight in x (the first in the low byte) that cannot be copied into a
// JSON string as they are: those under 0x20, over 0x7f, '"' and '\\'. The
// lowest marked byte is exact (a borrow only runs upward from a marked
// byte); with L = 0x0101...01 and H = 0x8080...80, (v-L) &^ v & H marks
// a zero byte of v, and (x-0x20*L) & H, for bytes under 0x80, one under
// 0x20.
func notPlain(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (lo * '"')
	backslash := x ^ (lo * '\\')
	return (x | (x - lo*0x20) | (quote-lo)&^quote | (backslash-lo)&^backslash) & hi
}

func appendEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
