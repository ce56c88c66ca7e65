package export

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// val is one value of a loaded document with its path, so that every
// check can say where it failed. Accessors record the first error on the
// loader and return zero values from then on; the loaders check l.err once
// at the end instead of after every member.
type val struct {
	l  *loader
	p  jpath
	v  any
	ok bool // present (a JSON null counts as absent)
}

// key returns member k of an object; absent when v is not an object.
func (v val) key(k string) val {
	m, _ := v.v.(map[string]any)
	x, ok := m[k]
	return val{l: v.l, p: v.p.key(k), v: x, ok: ok && x != nil}
}

// object checks that v, when present, is an object.
func (v val) object() bool {
	if !v.ok {
		return false
	}
	if _, ok := v.v.(map[string]any); !ok {
		v.l.fail(v.p, "expected an object, found %s", kindOf(v.v))
		return false
	}
	return true
}

// require records an error when v is absent.
func (v val) require() val {
	if !v.ok {
		v.l.fail(v.p, "required member is missing")
	}
	return v
}

// list returns the elements of an array; nil, without error, when absent.
func (v val) list() []val {
	if !v.ok {
		return nil
	}
	a, ok := v.v.([]any)
	if !ok {
		v.l.fail(v.p, "expected an array, found %s", kindOf(v.v))
		return nil
	}
	out := make([]val, len(a))
	for i, x := range a {
		out[i] = val{l: v.l, p: v.p.idx(i), v: x, ok: x != nil}
	}
	return out
}

// str returns a string; "" when absent.
func (v val) str() string {
	if !v.ok {
		return ""
	}
	s, ok := v.v.(string)
	if !ok {
		v.l.fail(v.p, "expected a string, found %s", kindOf(v.v))
	}
	return s
}

// boolean returns a boolean; false when absent.
func (v val) boolean() bool {
	if !v.ok {
		return false
	}
	b, ok := v.v.(bool)
	if !ok {
		v.l.fail(v.p, "expected true or false, found %s", kindOf(v.v))
	}
	return b
}

// float returns a number; def when absent.
func (v val) float(def float64) float64 {
	if !v.ok {
		return def
	}
	n, ok := v.v.(json.Number)
	if !ok {
		v.l.fail(v.p, "expected a number, found %s", kindOf(v.v))
		return def
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		v.l.fail(v.p, "number %s is out of range", n)
		return def
	}
	return f
}

// integer returns an integer in [lo, hi]; def when absent.
func (v val) integer(def, lo, hi int64) int64 {
	if !v.ok {
		return def
	}
	n, ok := v.v.(json.Number)
	if !ok {
		v.l.fail(v.p, "expected an integer, found %s", kindOf(v.v))
		return def
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		v.l.fail(v.p, "expected an integer, found %s", n)
		return def
	}
	if i < lo || i > hi {
		v.l.fail(v.p, "%d is out of range (%d to %d)", i, lo, hi)
		return def
	}
	return i
}

// uinteger returns an unsigned 64-bit integer; 0 when absent.
func (v val) uinteger() uint64 {
	if !v.ok {
		return 0
	}
	n, ok := v.v.(json.Number)
	if !ok {
		v.l.fail(v.p, "expected an integer, found %s", kindOf(v.v))
		return 0
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		v.l.fail(v.p, "expected an unsigned integer, found %s", n)
	}
	return u
}

// base64 decodes a standard base64 string; nil when absent.
func (v val) base64() []byte {
	s := v.str()
	if !v.ok || v.l.err != nil {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		v.l.fail(v.p, "not valid base64: %v", err)
		return nil
	}
	return b
}

// time parses an RFC 3339 time; the zero time when absent.
func (v val) time() time.Time {
	s := v.str()
	if !v.ok || v.l.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.l.fail(v.p, "not an RFC 3339 time: %q", s)
	}
	return t
}

func kindOf(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unknown value"
}
