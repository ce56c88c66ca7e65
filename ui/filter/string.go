package filter

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// String returns the filter in canonical form: keywords by their first
// name, and, or and not as words, sizes in bytes, parentheses only where
// precedence needs them, text quoted only where it must be. It parses
// back to an equivalent filter.
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	var b strings.Builder
	f.root.write(&b, precOr)
	return b.String()
}

// Precedences, loosest first.
const (
	precOr = iota
	precAnd
	precNot
	precTerm
)

func (n *node) prec() int {
	switch n.kind {
	case kindOr:
		return precOr
	case kindAnd:
		return precAnd
	case kindNot:
		return precNot
	}
	return precTerm
}

// write writes n where the context binds at least as tightly as min:
// a looser n is put in parentheses.
func (n *node) write(b *strings.Builder, min int) {
	if n.prec() < min {
		b.WriteByte('(')
		n.write(b, precOr)
		b.WriteByte(')')
		return
	}
	switch n.kind {
	case kindAnd, kindOr:
		sep := " and "
		if n.kind == kindOr {
			sep = " or "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			k.write(b, n.prec()+1)
		}
	case kindNot:
		b.WriteString("not ")
		n.kids[0].write(b, precNot)
	default:
		b.WriteString(n.termString())
	}
}

func (n *node) termString() string {
	switch n.kind {
	case kindSide, kindOpcode, kindFlag, kindProblem:
		if k := keywordOf(n); k != nil {
			return k.names[0]
		}
		// Opcodes no keyword names.
		switch n.ops {
		case opcodes(0):
			return "op:cont"
		case reservedOpcodes:
			return "op:reserved"
		}
		for i := range 16 {
			if n.ops == 1<<i {
				return "op:" + strconv.Itoa(i)
			}
		}
	case kindNumber:
		return [...]string{numSize: "size", numWire: "wire", numFrames: "frames"}[n.num] +
			[...]string{cmpEq: "=", cmpNe: "!=", cmpLt: "<", cmpLe: "<=", cmpGt: ">", cmpGe: ">="}[n.cmp] +
			strconv.FormatInt(n.n, 10)
	case kindID:
		return readable("id:", n.id, n)
	case kindText:
		t := n.text
		prefix := ""
		switch n.target {
		case targetURL:
			prefix = "url"
		case targetHost:
			prefix = "host"
		case targetPayload:
			if t.mode == equals {
				prefix = "payload"
			} else if t.exact {
				prefix = "case"
			}
		}
		switch t.mode {
		case contains:
			if prefix != "" {
				prefix += ":"
			}
			return readable(prefix, t.value, n)
		case equals:
			return readable(prefix+"=", t.value, n)
		case matches:
			if n.target != targetPayload {
				prefix += "~"
			} else if prefix != "" {
				prefix += ":"
			}
			return prefix + slashed(t.value)
		}
	}
	return "?"
}

// keywordOf returns the keyword whose term is n.
func keywordOf(n *node) *keyword {
	for i := range grammar {
		for j := range grammar[i].keywords {
			k := &grammar[i].keywords[j]
			t := &k.term
			if t.kind == n.kind && t.side == n.side && t.ops == n.ops && t.flag == n.flag {
				return k
			}
		}
	}
	return nil
}

// readable writes prefix and v as it reads back to the term n: v as it
// is when that parses to n, v quoted otherwise (a keyword, a word with a
// space or a parenthesis, something that looks like a field).
func readable(prefix, v string, n *node) string {
	if v != "" {
		if f, err := Parse(prefix + v); err == nil && f.root != nil && f.root.sameTerm(n) {
			return prefix + v
		}
	}
	return prefix + quote(v)
}

// sameTerm reports whether n is the term t with the same value.
func (n *node) sameTerm(t *node) bool {
	if n.kind != t.kind || n.target != t.target || n.id != t.id {
		return false
	}
	if n.kind != kindText {
		return true
	}
	return n.text.mode == t.text.mode && n.text.exact == t.text.exact && n.text.value == t.text.value
}

// quote writes s in double quotes with the escapes the parser reads:
// control characters and bytes that are not UTF-8 as \xHH.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < ' ' || r == 0x7f || r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[s[i]>>4])
			b.WriteByte("0123456789abcdef"[s[i]&0xf])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// slashed writes a regex between slashes, escaping the slashes in it.
func slashed(re string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(re); i++ {
		switch re[i] {
		case '\\':
			b.WriteByte('\\')
			if i+1 < len(re) {
				i++
				b.WriteByte(re[i])
			}
		case '/':
			b.WriteString(`\/`)
		default:
			b.WriteByte(re[i])
		}
	}
	b.WriteByte('/')
	return b.String()
}
