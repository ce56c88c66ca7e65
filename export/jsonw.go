package export

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// jw writes JSON text by hand into a buffered writer. The writers use it
// instead of encoding/json because they stream: a connection's frames and
// messages are written one at a time, and a large payload goes through a
// base64 encoder straight into the buffer instead of being copied into a
// string first. The first write error sticks and later writes are dropped,
// so callers check it once.
type jw struct {
	w   *bufio.Writer
	err error
	buf []byte // scratch for number and string encoding
}

func newJW(w io.Writer) *jw {
	if bw, ok := w.(*bufio.Writer); ok {
		return &jw{w: bw}
	}
	return &jw{w: bufio.NewWriterSize(w, 64<<10)}
}

func (e *jw) raw(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (e *jw) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// str writes s as a JSON string. Bytes that are not UTF-8 become U+FFFD, as
// encoding/json does; callers that must keep such bytes write base64.
func (e *jw) str(s string) {
	e.buf = appendQuoted(e.buf[:0], s)
	e.bytes(e.buf)
}

// strBytes is str for a byte slice. The slice is viewed as a string
// without a copy: payloads can be large, and appendQuoted only reads.
func (e *jw) strBytes(b []byte) {
	e.buf = appendQuoted(e.buf[:0], unsafe.String(unsafe.SliceData(b), len(b)))
	e.bytes(e.buf)
}

func (e *jw) int(n int64) {
	e.buf = strconv.AppendInt(e.buf[:0], n, 10)
	e.bytes(e.buf)
}

func (e *jw) uint(n uint64) {
	e.buf = strconv.AppendUint(e.buf[:0], n, 10)
	e.bytes(e.buf)
}

func (e *jw) bool(b bool) {
	if b {
		e.raw("true")
	} else {
		e.raw("false")
	}
}

// float writes a number of milliseconds with at most three decimals
// (microsecond precision), the way HAR timings are written.
func (e *jw) millis(d time.Duration) {
	e.buf = strconv.AppendFloat(e.buf[:0], float64(d.Microseconds())/1000, 'f', -1, 64)
	e.bytes(e.buf)
}

// epochSeconds writes t as seconds since 1970 with six decimals, the way
// Chrome writes _webSocketMessages times. It is formatted from the integer
// microseconds so that no float rounding creeps in.
func (e *jw) epochSeconds(t time.Time) {
	us := t.UnixMicro()
	neg := us < 0
	if neg {
		us = -us
	}
	b := e.buf[:0]
	if neg {
		b = append(b, '-')
	}
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(1e5); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	e.buf = b
	e.bytes(b)
}

func (e *jw) time(t time.Time) {
	e.buf = append(e.buf[:0], '"')
	e.buf = t.UTC().AppendFormat(e.buf, timeLayout)
	e.buf = append(e.buf, '"')
	e.bytes(e.buf)
}

// base64 writes b as a quoted standard base64 string. A large payload is
// encoded straight into the output buffer in pieces instead of into a
// copy of its own.
func (e *jw) base64(b []byte) {
	const direct = 32 << 10
	if len(b) <= direct {
		e.buf = append(e.buf[:0], '"')
		e.buf = base64.StdEncoding.AppendEncode(e.buf, b)
		e.buf = append(e.buf, '"')
		e.bytes(e.buf)
		return
	}
	e.raw(`"`)
	if e.err == nil {
		enc := base64.NewEncoder(base64.StdEncoding, e.w)
		if _, err := enc.Write(b); err != nil {
			e.err = err
		}
		if err := enc.Close(); err != nil && e.err == nil {
			e.err = err
		}
	}
	e.raw(`"`)
}

// hex writes b as a quoted lower-case hex string.
func (e *jw) hex(b []byte) {
	e.buf = append(e.buf[:0], '"')
	e.buf = hex.AppendEncode(e.buf, b)
	e.buf = append(e.buf, '"')
	e.bytes(e.buf)
}

func (e *jw) flush() error {
	if e.err == nil {
		e.err = e.w.Flush()
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
	switch {
	case o.indent == "":
		if o.n > 0 {
			e.raw(", ")
		}
	case o.n > 0:
		e.raw(",\n")
		e.raw(o.indent)
	default:
		e.raw("\n")
		e.raw(o.indent)
	}
	o.n++
	e.raw(`"`)
	e.raw(name) // member names are constants that need no escaping
	e.raw(`": `)
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
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendEscape(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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
