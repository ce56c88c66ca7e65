package export

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// item is one JSON value the loader read whole (a frame, a message, a
// request, a scalar member): its bytes, valid until the next read, and
// where it is, so that every check can say where it failed. Checks record
// the first failure in err and return zero values from then on; the
// caller looks at err once, after reading what it needs, and reports it
// now or, for a member whose meaning depends on what follows, later.
//
// The decoder has checked the syntax, so the accessors only find the
// members and convert values; they still never index past the bytes.
type item struct {
	l    *loader
	b    []byte
	off  int64    // offset of b[0] in the input
	path []pathEl // path of the item itself
	err  *LoadError
	// objs caches the members of the objects of b looked at so far;
	// members are kept in l.mem.
	objs []objMembers
}

type objMembers struct {
	at         int
	start, end int // in l.mem
}

// member is one member of an object: its name (as written, escapes and
// all) and its value, as offsets in the item.
type member struct {
	key          []byte
	escaped      bool
	valAt, valTo int
}

// newItem starts reading the value b found at off, under the loader's
// current path.
func (l *loader) newItem(b []byte, off int64) *item {
	it := &l.it
	*it = item{l: l, b: b, off: off, path: l.path, objs: it.objs[:0]}
	l.mem = l.mem[:0]
	return it
}

// root is the item's value.
func (it *item) root() val {
	return val{it: it, raw: it.b, ok: !isNull(it.b)}
}

// val is one value inside an item: its bytes (nil when absent) and where
// they are. Its path is not kept: an error finds it from the offset.
type val struct {
	it  *item
	raw []byte
	// at is the offset in the item of the value or, when it is absent,
	// of the object that lacks it (of the null when it is null), which
	// is where an error about it points.
	at int
	// missing names the members below at that are absent ("a" or "a.b").
	missing string
	ok      bool // present (a JSON null counts as absent)
}

func isNull(b []byte) bool { return len(b) > 0 && b[0] == 'n' }

// fail records the first failure of the item, at v.
func (v val) fail(format string, args ...any) {
	it := v.it
	if it.err != nil {
		return
	}
	path := append(it.path[:len(it.path):len(it.path)], pathTo(it.b, v.at)...)
	if v.missing != "" {
		for _, k := range strings.Split(v.missing, ".") {
			path = append(path, pathEl{key: k})
		}
	}
	it.err = it.l.errorAtPath(it.off+int64(v.at), path, fmt.Errorf(format, args...))
}

// pathTo returns the path from the start of b, a JSON value, down to the
// value that starts at offset at.
func pathTo(b []byte, at int) []pathEl {
	var path []pathEl
	for i := 0; i < at && i < len(b); {
		obj := b[i] == '{'
		if !obj && b[i] != '[' {
			break
		}
		j := skipWS(b, i+1)
		found := false
		for n := 0; j < len(b) && b[j] != '}' && b[j] != ']'; n++ {
			el := pathEl{idx: n}
			if obj {
				k := stringEnd(b, j)
				el = pathEl{key: unquoteString(b[j+1 : max(j+1, k-1)])}
				j = skipWS(b, skipWS(b, k)+1) // past the colon
			}
			end := valueEnd(b, j)
			if at >= j && at < end {
				path, i, found = append(path, el), j, true
				break
			}
			j = skipWS(b, end)
			if j < len(b) && b[j] == ',' {
				j = skipWS(b, j+1)
			}
		}
		if !found {
			break
		}
	}
	return path
}

// key returns member k of an object; absent when v is not an object. When
// an object has the same member twice, the last one counts, as it did
// when objects were decoded into maps.
func (v val) key(k string) val {
	if !v.ok || v.raw[0] != '{' {
		if v.missing != "" {
			k = v.missing + "." + k
		}
		return val{it: v.it, at: v.at, missing: k}
	}
	ms := v.it.members(v.at, v.raw)
	for i := len(ms) - 1; i >= 0; i-- {
		m := &ms[i]
		if m.escaped && unquoteString(m.key) != k || !m.escaped && string(m.key) != k {
			continue
		}
		raw := v.it.b[m.valAt:m.valTo]
		return val{it: v.it, raw: raw, at: m.valAt, ok: !isNull(raw)}
	}
	return val{it: v.it, at: v.at, missing: k}
}

// members parses the object raw at offset at of the item, once.
func (it *item) members(at int, raw []byte) []member {
	for _, o := range it.objs {
		if o.at == at {
			return it.l.mem[o.start:o.end]
		}
	}
	start := len(it.l.mem)
	i := skipWS(raw, 1)
	for i < len(raw) && raw[i] == '"' {
		kEnd := stringEnd(raw, i)
		key := raw[i+1 : max(i+1, kEnd-1)]
		i = skipWS(raw, kEnd)
		i = skipWS(raw, i+1) // the colon
		vEnd := valueEnd(raw, i)
		it.l.mem = append(it.l.mem, member{key: key, escaped: bytes.IndexByte(key, '\\') >= 0, valAt: at + i, valTo: at + vEnd})
		i = skipWS(raw, vEnd)
		if i < len(raw) && raw[i] == ',' {
			i = skipWS(raw, i+1)
		}
	}
	it.objs = append(it.objs, objMembers{at: at, start: start, end: len(it.l.mem)})
	return it.l.mem[start:]
}

// object checks that v, when present, is an object.
func (v val) object() bool {
	if !v.ok {
		return false
	}
	if v.raw[0] != '{' {
		v.fail("expected an object, found %s", kindOf(v.raw))
		return false
	}
	return true
}

// require records an error when v is absent.
func (v val) require() val {
	if !v.ok {
		v.fail("required member is missing")
	}
	return v
}

// list returns the elements of an array, one after the other; none,
// without error, when absent.
func (v val) list() elems {
	if !v.ok {
		return elems{}
	}
	if v.raw[0] != '[' {
		v.fail("expected an array, found %s", kindOf(v.raw))
		return elems{}
	}
	return elems{v: v, i: skipWS(v.raw, 1)}
}

// elems iterates over the elements of an array.
type elems struct {
	v   val
	i   int // offset in v.raw of the next element
	n   int // its index
	cur val
}

// next moves to the next element, reporting false after the last.
func (e *elems) next() bool {
	raw := e.v.raw
	if e.i >= len(raw) || raw[e.i] == ']' {
		return false
	}
	end := valueEnd(raw, e.i)
	b := raw[e.i:end]
	e.cur = val{it: e.v.it, raw: b, at: e.v.at + e.i, ok: !isNull(b)}
	e.n++
	e.i = skipWS(raw, end)
	if e.i < len(raw) && raw[e.i] == ',' {
		e.i = skipWS(raw, e.i+1)
	}
	return true
}

// val is the current element.
func (e *elems) val() val { return e.cur }

// str returns a string; "" when absent.
func (v val) str() string {
	if !v.ok {
		return ""
	}
	if v.raw[0] != '"' {
		v.fail("expected a string, found %s", kindOf(v.raw))
		return ""
	}
	return unquoteString(v.raw[1 : len(v.raw)-1])
}

// peek returns a string that shares the input's bytes when it can: valid
// only until the next read, for a value that is compared or parsed and
// dropped, never kept.
func (v val) peek() string {
	if v.ok && v.raw[0] == '"' {
		s := v.raw[1 : len(v.raw)-1]
		if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
			return unsafe.String(unsafe.SliceData(s), len(s))
		}
	}
	return v.str()
}

// text returns the bytes of a string: the bytes of the input themselves
// when they need no unescaping, else unescaped into the loader's scratch
// buffer; nil when absent. Either way they are valid only until the next
// read or the next text.
func (v val) text() []byte {
	if !v.ok {
		return nil
	}
	if v.raw[0] != '"' {
		v.fail("expected a string, found %s", kindOf(v.raw))
		return nil
	}
	l := v.it.l
	b, copied := unquote(l.unq[:0], v.raw[1:len(v.raw)-1])
	if copied {
		l.unq = b[:0]
	}
	return b
}

// boolean returns a boolean; false when absent.
func (v val) boolean() bool {
	if !v.ok {
		return false
	}
	switch v.raw[0] {
	case 't':
		return true
	case 'f':
		return false
	}
	v.fail("expected true or false, found %s", kindOf(v.raw))
	return false
}

// number returns the text of a number, or "" (with an error) when v is
// something else.
func (v val) number(expected string) []byte {
	if c := v.raw[0]; c != '-' && (c < '0' || c > '9') {
		v.fail("expected %s, found %s", expected, kindOf(v.raw))
		return nil
	}
	return v.raw
}

// float returns a number; def when absent.
func (v val) float(def float64) float64 {
	if !v.ok {
		return def
	}
	n := v.number("a number")
	if n == nil {
		return def
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		v.fail("number %s is out of range", n)
		return def
	}
	return f
}

// integer returns an integer in [lo, hi]; def when absent.
func (v val) integer(def, lo, hi int64) int64 {
	if !v.ok {
		return def
	}
	n := v.number("an integer")
	if n == nil {
		return def
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		v.fail("expected an integer, found %s", n)
		return def
	}
	if i < lo || i > hi {
		v.fail("%d is out of range (%d to %d)", i, lo, hi)
		return def
	}
	return i
}

// uinteger returns an unsigned 64-bit integer; 0 when absent.
func (v val) uinteger() uint64 {
	if !v.ok {
		return 0
	}
	n := v.number("an integer")
	if n == nil {
		return 0
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		v.fail("expected an unsigned integer, found %s", n)
	}
	return u
}

// base64 decodes a standard base64 string into the loader's scratch
// buffer, valid until the next base64; never nil when present, nil when
// absent.
func (v val) base64() []byte {
	if !v.ok {
		return nil
	}
	s := v.text()
	if v.it.err != nil {
		return nil
	}
	l := v.it.l
	n := base64.StdEncoding.DecodedLen(len(s))
	if cap(l.b64) < n {
		l.b64 = make([]byte, n)
	}
	dst := l.b64[:n]
	m, err := base64.StdEncoding.Decode(dst, s)
	if err != nil {
		v.fail("not valid base64: %v", err)
		return nil
	}
	if m == 0 {
		return []byte{} // present but empty, which is not absent
	}
	return dst[:m:m]
}

// time parses an RFC 3339 time; the zero time when absent. The time does
// not keep the string (a numeric offset makes an unnamed zone), so the
// input's bytes do.
func (v val) time() time.Time {
	s := v.peek()
	if !v.ok || v.it.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.fail("not an RFC 3339 time: %q", s)
	}
	return t
}

// kindOf names the kind of a JSON value for an error.
func kindOf(raw []byte) string {
	switch raw[0] {
	case 'n':
		return "null"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case '[':
		return "an array"
	case '{':
		return "an object"
	}
	return "the number " + string(raw)
}

// The functions below read JSON that the decoder has already checked.
// They never index past the bytes, so that a mistake cannot crash the
// loader, but they do not report syntax errors.

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the offset just past the string starting at b[i].
func stringEnd(b []byte, i int) int {
	end, _ := valueEndOK(b, i)
	return end
}

// valueEnd returns the offset just past the value starting at b[i].
func valueEnd(b []byte, i int) int {
	end, _ := valueEndOK(b, i)
	return end
}

// valueEndOK returns the offset just past the value starting at b[i], and
// whether it ends within b (len(b) and false when it does not).
func valueEndOK(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return len(b), false
	}
	switch b[i] {
	case '"':
		// The next quote not escaped: one after an even run of backslashes.
		for i++; i < len(b); i++ {
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				break
			}
			i += j
			k := i
			for k > 0 && b[k-1] == '\\' {
				k--
			}
			if (i-k)%2 == 0 {
				return i + 1, true
			}
		}
		return len(b), false
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := valueEndOK(b, i)
				if !ok {
					return len(b), false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return len(b), false
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i, true
		}
		i++
	}
	// A number at the very end of an item is complete: items end where
	// their value does.
	return i, true
}

// unquote appends the string whose quoted contents are s to buf, or
// returns s itself when it needs no change; copied says which. It decodes
// as encoding/json does: escapes, surrogate pairs, and U+FFFD for invalid
// UTF-8 and for a lone surrogate.
func unquote(buf, s []byte) (b []byte, copied bool) {
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s, false
	}
	b = buf
	r := 0
	for r < len(s) {
		switch c := s[r]; {
		case c == '\\' && r+1 < len(s):
			switch e := s[r+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r:])
				if rr < 0 {
					return b, true
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if d := utf16.DecodeRune(rr, getu4(s[r:])); d != utf8.RuneError {
						b = utf8.AppendRune(b, d)
						r += 6
						continue
					}
					rr = utf8.RuneError
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	return b, true
}

// getu4 decodes the \uXXXX escape at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	r, err := strconv.ParseUint(string(s[2:6]), 16, 16)
	if err != nil {
		return -1
	}
	return rune(r)
}

// unquoteString is unquote into a new string.
func unquoteString(s []byte) string {
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	b, _ := unquote(make([]byte, 0, len(s)), s)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is not used again
}
