package filter

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
)

// Error is an expression that does not parse: what is wrong, and where.
// Pos and End are byte offsets in the expression, expr[Pos:End] the part
// to highlight (empty at the end of the expression); a UI that counts
// columns in characters converts with utf8.RuneCountInString(expr[:Pos]).
type Error struct {
	Pos, End int
	Msg      string
}

func (e *Error) Error() string { return "at " + strconv.Itoa(e.Pos) + ": " + e.Msg }

// maxDepth bounds the nesting of parentheses and negations, so that no
// input can make the parser, or Match, recurse without limit.
const maxDepth = 100

type parser struct {
	s     string
	pos   int
	depth int
}

// Parse parses a filter expression (see the package documentation). An
// empty or blank expression is the filter that matches everything. The
// error, if any, is an *Error.
func Parse(expr string) (*Filter, error) {
	p := parser{s: expr}
	p.space()
	if p.pos == len(p.s) {
		return &Filter{}, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	// or stops only at the end or at a ")" it did not open.
	if p.pos < len(p.s) {
		return nil, p.errorf(p.pos, p.pos+1, "unexpected ): there is no ( to close")
	}
	return &Filter{root: n, payload: n.needsPayload()}, nil
}

func (p *parser) errorf(pos, end int, format string, args ...any) *Error {
	return &Error{Pos: pos, End: end, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (p *parser) space() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

// wordEnd returns where the word starting at i in s ends: at a space, a
// parenthesis, && or ||. A single & or | is part of a word, because URLs
// and payloads have them.
func wordEnd(s string, i int) int {
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', ')':
			return i
		case '&', '|':
			if i+1 < len(s) && s[i+1] == c {
				return i
			}
		default:
			if isSpace(c) {
				return i
			}
		}
	}
	return i
}

// delimiter reports whether a term may end at i: the next term, or an
// operator, must not be glued to a quoted string or a /regex/.
func delimiter(s string, i int) bool {
	return i == len(s) || wordEnd(s, i) == i
}

func (p *parser) operator() (opKind, int) {
	if p.pos == len(p.s) {
		return opNone, 0
	}
	return operatorAt(p.s[p.pos:])
}

// operand checks that a term follows the operator at s[at:end].
func (p *parser) operand(at, end int) *Error {
	p.space()
	if p.pos == len(p.s) || p.s[p.pos] == ')' {
		return p.errorf(at, end, "%s needs a term after it", p.s[at:end])
	}
	return nil
}

// or parses terms joined by or; it stops at the end or at a ")".
func (p *parser) or() (*node, *Error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []*node{x}
	for {
		p.space()
		op, n := p.operator()
		if op != opOr {
			break
		}
		at := p.pos
		p.pos += n
		if err := p.operand(at, at+n); err != nil {
			return nil, err
		}
		if x, err = p.and(); err != nil {
			return nil, err
		}
		kids = append(kids, x)
	}
	return combine(kindOr, kids), nil
}

// and parses terms joined by and, or side by side.
func (p *parser) and() (*node, *Error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	kids := []*node{x}
	for {
		p.space()
		if p.pos == len(p.s) || p.s[p.pos] == ')' {
			break
		}
		op, n := p.operator()
		if op == opOr {
			break
		}
		if op == opAnd {
			at := p.pos
			p.pos += n
			if err := p.operand(at, at+n); err != nil {
				return nil, err
			}
		}
		if x, err = p.unary(); err != nil {
			return nil, err
		}
		kids = append(kids, x)
	}
	return combine(kindAnd, kids), nil
}

// combine joins kids with and or or, flattening nested groups of the
// same kind, so that a long chain is one node and not a deep tree.
func combine(k kind, kids []*node) *node {
	if len(kids) == 1 {
		return kids[0]
	}
	n := &node{kind: k}
	for _, x := range kids {
		if x.kind == k {
			n.kids = append(n.kids, x.kids...)
		} else {
			n.kids = append(n.kids, x)
		}
	}
	n.order = slices.Clone(n.kids)
	slices.SortStableFunc(n.order, func(a, b *node) int { return a.cost() - b.cost() })
	return n
}

func (p *parser) enter(at, end int) *Error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf(at, end, "nested too deeply (more than %d levels)", maxDepth)
	}
	return nil
}

// unary parses a negation, a group in parentheses, or a term.
func (p *parser) unary() (*node, *Error) {
	p.space()
	at := p.pos
	op, n := p.operator()
	switch op {
	case opAnd, opOr:
		return nil, p.errorf(at, at+n, "%s needs a term before it", p.s[at:at+n])
	case opNot:
		if strings.HasPrefix(p.s[at:], "!=") {
			return nil, p.errorf(at, at+2, "!= needs a field before it, as in size!=0")
		}
		p.pos += n
		if err := p.operand(at, at+n); err != nil {
			return nil, err
		}
		if err := p.enter(at, at+n); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return &node{kind: kindNot, kids: []*node{x}}, nil
	}
	switch p.s[at] {
	case '(':
		p.pos++
		p.space()
		if p.pos == len(p.s) {
			return nil, p.errorf(at, at+1, "unclosed (: add a )")
		}
		if p.s[p.pos] == ')' {
			return nil, p.errorf(at, p.pos+1, "empty parentheses")
		}
		if err := p.enter(at, at+1); err != nil {
			return nil, err
		}
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		p.depth--
		if p.pos == len(p.s) {
			return nil, p.errorf(at, at+1, "unclosed (: add a )")
		}
		p.pos++ // the ")" that stopped or
		return x, nil
	case ')':
		return nil, p.errorf(at, at+1, "unexpected ): there is no ( to close")
	}
	return p.term()
}

// term parses one term: a keyword, a field and its value, quoted text, a
// /regex/ or a word to search for.
func (p *parser) term() (*node, *Error) {
	at := p.pos
	switch p.s[at] {
	case '"', '\'':
		v, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if err := p.delimited("the quoted text"); err != nil {
			return nil, err
		}
		return p.textTerm(targetPayload, contains, false, v, at, p.pos)
	case '/':
		return p.regexTerm(targetPayload, false)
	case '>', '<':
		if strings.HasPrefix(p.s[at+1:], "=") {
			return nil, p.errorf(at, at+2, "%s needs a field before it, as in size%s10k", p.s[at:at+2], p.s[at:at+2])
		}
		// A sign alone is a direction; glued to a word, as in <html>,
		// it is text to search for.
		if delimiter(p.s, at+1) {
			p.pos++
			return keywordTerm(lookupKeyword(p.s[at : at+1])), nil
		}
	}
	end := wordEnd(p.s, at)
	name := at
	for name < end && isWordChar(p.s[name]) {
		name++
	}
	if name > at {
		f := lookupField(p.s[at:name])
		_, opLen := comparisonAt(p.s, name)
		switch {
		case f != nil && (opLen > 0 || name == end):
			return p.field(f, at, name)
		case opLen > 0:
			return nil, p.errorf(at, name+opLen, "unknown field %s; to search for the text, quote it: %s",
				p.s[at:name+opLen], quote(p.s[at:end]))
		}
	}
	word := p.s[at:end]
	p.pos = end
	if k := lookupKeyword(word); k != nil {
		return keywordTerm(k), nil
	}
	if word == "&" || word == "|" {
		return nil, p.errorf(at, end, "%s is not an operator: write %s%s, or quote it to search for it", word, word, word)
	}
	return p.textTerm(targetPayload, contains, false, word, at, end)
}

func keywordTerm(k *keyword) *node {
	n := k.term
	return &n
}

func not(n *node) *node { return &node{kind: kindNot, kids: []*node{n}} }

// comparison is the operator between a field and its value.
type comparison uint8

const (
	compColon comparison = iota // contains, or equals where nothing can contain
	compEq                      // = or ==
	compNe                      // !=
	compLt
	compLe
	compGt
	compGe
	compTilde // matches a regex
)

func (c comparison) String() string {
	return [...]string{compColon: ":", compEq: "=", compNe: "!=", compLt: "<", compLe: "<=", compGt: ">", compGe: ">=", compTilde: "~"}[c]
}

// takes returns the comparisons a field of kind k takes.
func (k fieldKind) takes() string {
	switch k {
	case fieldNumber:
		return ": = != < <= > >="
	case fieldText:
		return ": = != ~"
	case fieldRegex, fieldCase:
		return ":"
	}
	return ": = !="
}

// comparisonAt returns the comparison at s[i:] and its length, 0 if none.
func comparisonAt(s string, i int) (comparison, int) {
	for _, c := range [...]struct {
		op   string
		comp comparison
	}{{"==", compEq}, {"!=", compNe}, {"<=", compLe}, {">=", compGe}, {"=", compEq}, {"<", compLt}, {">", compGt}, {":", compColon}, {"~", compTilde}} {
		if strings.HasPrefix(s[i:], c.op) {
			return c.comp, len(c.op)
		}
	}
	return 0, 0
}

// field parses the comparison and value of the field f named s[at:name].
// Spaces may surround the comparison, as in Wireshark: size > 10k.
func (p *parser) field(f *field, at, name int) (*node, *Error) {
	fname := p.s[at:name]
	p.pos = name
	p.space()
	comp, n := comparisonAt(p.s, p.pos)
	if n == 0 {
		return nil, p.errorf(at, name, "%s needs a comparison and a value, as in %s", fname, fieldExample(f))
	}
	cat, cend := p.pos, p.pos+n
	if takes := f.kind.takes(); !slices.Contains(strings.Fields(takes), comp.String()) {
		return nil, p.errorf(cat, cend, "%s does not take %s; it takes %s", fname, p.s[cat:cend], takes)
	}
	p.pos = cend
	p.space()
	if p.pos == len(p.s) || wordEnd(p.s, p.pos) == p.pos {
		return nil, p.errorf(at, cend, "%s needs a value after it, as in %s", p.s[at:cend], fieldExample(f))
	}
	vat := p.pos
	switch f.kind {
	case fieldText:
		switch comp {
		case compTilde:
			return p.regexValue(f.target, false)
		case compColon:
			return p.textValue(f.target, contains, false)
		case compEq:
			return p.textValue(f.target, equals, false)
		}
		x, err := p.textValue(f.target, equals, false)
		if err != nil {
			return nil, err
		}
		return not(x), nil
	case fieldRegex:
		return p.regexValue(targetPayload, false)
	case fieldCase:
		if p.s[vat] == '/' {
			return p.regexTerm(targetPayload, true)
		}
		return p.textValue(targetPayload, contains, true)
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	vend := p.pos
	var x *node
	switch f.kind {
	case fieldFrom, fieldTo:
		var side decode.Side
		switch {
		case strings.EqualFold(v, "client"):
			side = decode.Client
		case strings.EqualFold(v, "server"):
			side = decode.Server
		default:
			return nil, p.errorf(vat, vend, "%s takes client or server, not %s", fname, quote(v))
		}
		if f.kind == fieldTo {
			side = side.Other()
		}
		x = &node{kind: kindSide, side: side}
	case fieldOpcode:
		ops, ok := opcodeValue(v)
		if !ok {
			return nil, p.errorf(vat, vend, "%s takes 0-15 or cont, text, binary, close, ping, pong, control, data, reserved; not %s", fname, quote(v))
		}
		x = &node{kind: kindOpcode, ops: ops}
	case fieldNumber:
		num, msg := parseNumber(v, f.num != numFrames)
		if msg != "" {
			return nil, p.errorf(vat, vend, "%s %s", fname, msg)
		}
		c := [...]cmp{compColon: cmpEq, compEq: cmpEq, compNe: cmpNe, compLt: cmpLt, compLe: cmpLe, compGt: cmpGt, compGe: cmpGe}[comp]
		return &node{kind: kindNumber, num: f.num, cmp: c, n: num}, nil
	case fieldID:
		x = &node{kind: kindID, id: v}
	}
	if comp == compNe {
		x = not(x)
	}
	return x, nil
}

// fieldExample is an example of f in use from the help screen: one that
// names it, or else the one in the same place in its row.
func fieldExample(f *field) string {
	for _, r := range grammar {
		for j := range r.fields {
			if &r.fields[j] != f {
				continue
			}
			for _, e := range r.examples {
				for _, n := range f.names {
					if len(e) > len(n) && strings.EqualFold(e[:len(n)], n) && !isWordChar(e[len(n)]) {
						return e
					}
				}
			}
			return r.examples[min(j, len(r.examples)-1)]
		}
	}
	return f.names[0] + ":"
}

// value reads a field's value: quoted text or a word.
func (p *parser) value() (string, *Error) {
	at := p.pos
	if c := p.s[at]; c == '"' || c == '\'' {
		v, err := p.quoted()
		if err != nil {
			return "", err
		}
		return v, p.delimited("the quoted text")
	}
	p.pos = wordEnd(p.s, at)
	return p.s[at:p.pos], nil
}

func (p *parser) textValue(target textTarget, mode textMode, exact bool) (*node, *Error) {
	at := p.pos
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return p.textTerm(target, mode, exact, v, at, p.pos)
}

// regexValue reads a regex given as a /regex/, quoted text or a word.
func (p *parser) regexValue(target textTarget, exact bool) (*node, *Error) {
	if p.s[p.pos] == '/' {
		return p.regexTerm(target, exact)
	}
	at := p.pos
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return p.textTerm(target, matches, exact, v, at, p.pos)
}

// regexTerm reads a /regex/. A / in it is written \/, which RE2 reads as
// a /, so the text between the slashes is the regex as it is.
func (p *parser) regexTerm(target textTarget, exact bool) (*node, *Error) {
	at := p.pos
	for i := at + 1; i < len(p.s); i++ {
		switch p.s[i] {
		case '\\':
			i++
		case '/':
			p.pos = i + 1
			if !delimiter(p.s, p.pos) {
				r, size := utf8.DecodeRuneInString(p.s[p.pos:])
				hint := "put a space between terms"
				if r == 'i' || r == 's' || r == 'm' || r == 'g' {
					hint = "flags do not follow a /regex/: case is ignored unless in case:/regex/, others go in (?s)"
				}
				return nil, p.errorf(p.pos, p.pos+size, "unexpected %q after /regex/; %s", r, hint)
			}
			return p.textTerm(target, matches, exact, p.s[at+1:i], at+1, i)
		}
	}
	return nil, p.errorf(at, len(p.s), "unclosed /regex/: add a closing /")
}

// textTerm makes a text term of value, written at s[at:end]; a regex that
// does not compile is reported where the regexp package says it goes
// wrong.
func (p *parser) textTerm(target textTarget, mode textMode, exact bool, value string, at, end int) (*node, *Error) {
	t, err := newText(mode, exact, value)
	if err != nil {
		msg, i, j := regexError(err, p.s[at:end])
		return nil, p.errorf(at+i, at+j, "%s", msg)
	}
	return &node{kind: kindText, target: target, text: t}, nil
}

// delimited checks that a quoted text or a /regex/ is not glued to what
// follows: "a"b is more likely a typo than two terms.
func (p *parser) delimited(what string) *Error {
	if delimiter(p.s, p.pos) {
		return nil
	}
	r, size := utf8.DecodeRuneInString(p.s[p.pos:])
	return p.errorf(p.pos, p.pos+size, "unexpected %q after %s; put a space between terms", r, what)
}

// quoted reads a string in double or single quotes. The escapes are \\,
// \", \', \n, \r, \t and \xHH (any byte, for binary payloads).
func (p *parser) quoted() (string, *Error) {
	at := p.pos
	q := p.s[at]
	var b []byte // only when there is an escape
	start := at + 1
	for i := start; i < len(p.s); {
		c := p.s[i]
		if c == q {
			p.pos = i + 1
			if b == nil {
				return p.s[start:i], nil
			}
			return string(append(b, p.s[start:i]...)), nil
		}
		if c != '\\' {
			i++
			continue
		}
		if i+1 == len(p.s) {
			break
		}
		b = append(b, p.s[start:i]...)
		switch e := p.s[i+1]; e {
		case '\\', '"', '\'':
			b = append(b, e)
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'x':
			h, err := strconv.ParseUint(p.s[i+2:min(i+4, len(p.s))], 16, 8)
			if err != nil || i+4 > len(p.s) {
				return "", p.errorf(i, min(i+4, len(p.s)), `\x needs two hex digits, as in \x7f`)
			}
			b = append(b, byte(h))
			i += 2
		default:
			r, size := utf8.DecodeRuneInString(p.s[i+1:])
			if !unicode.IsPrint(r) {
				r = ' ' // not shown as it is, in a one-line message
			}
			return "", p.errorf(i, i+1+size, `unknown escape \%c; write \\ for a backslash`, r)
		}
		i += 2
		start = i
	}
	return "", p.errorf(at, len(p.s), "unclosed quote: add a closing %c", q)
}

// opcodeValue reads an opcode: 0-15 (or 0x0-0xf), a keyword that names
// opcodes (text, control...), cont or reserved.
func opcodeValue(v string) (uint16, bool) {
	switch strings.ToLower(v) {
	case "cont", "continuation":
		return opcodes(decode.OpContinuation), true
	case "reserved":
		return reservedOpcodes, true
	}
	if k := lookupKeyword(v); k != nil && k.term.kind == kindOpcode {
		return k.term.ops, true
	}
	// Decimal, or hex as RFC 6455 writes opcodes (%x9); not Go's octal.
	digits, base := v, 10
	if len(v) > 2 && (v[:2] == "0x" || v[:2] == "0X") {
		digits, base = v[2:], 16
	}
	for i := 0; i < len(digits); i++ {
		if c := lowerASCII(digits[i]); !('0' <= c && c <= '9' || base == 16 && 'a' <= c && c <= 'f') {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, base, 8)
	if err != nil || n > 15 {
		return 0, false
	}
	return 1 << n, true
}

// parseNumber reads a whole number; with bytes, also a fraction and a
// unit: k, M, G are powers of 1000 and Ki, Mi, Gi powers of 1024, as in
// IEC 80000-13 (a B after them is allowed: kB, MiB). The message says
// what is wrong.
func parseNumber(v string, bytes bool) (int64, string) {
	const usage = "takes a whole number, as in 2"
	const usageBytes = "takes a number of bytes, as in 1000, 10k or 1.5Mi"
	bad := func() (int64, string) {
		if bytes {
			return 0, usageBytes + ", not " + quote(v)
		}
		return 0, usage + ", not " + quote(v)
	}
	var mant uint64
	digits, frac := 0, 0
	i := 0
	tooLarge := false
	digit := func() {
		d := uint64(v[i] - '0')
		if mant > (math.MaxUint64-d)/10 {
			tooLarge = true
		}
		mant = mant*10 + d
		i++
	}
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		digit()
		digits++
	}
	if bytes && i < len(v) && v[i] == '.' {
		i++
		for i < len(v) && '0' <= v[i] && v[i] <= '9' {
			digit()
			frac++
		}
	}
	if digits == 0 {
		return bad()
	}
	mult := uint64(1)
	if bytes {
		switch strings.ToLower(v[i:]) {
		case "", "b":
		case "k", "kb":
			mult = 1e3
		case "m", "mb":
			mult = 1e6
		case "g", "gb":
			mult = 1e9
		case "ki", "kib":
			mult = 1 << 10
		case "mi", "mib":
			mult = 1 << 20
		case "gi", "gib":
			mult = 1 << 30
		default:
			return bad()
		}
	} else if i < len(v) {
		return bad()
	}
	if frac > 18 {
		return 0, quote(v) + " has too many decimals"
	}
	if tooLarge {
		return 0, quote(v) + " is too large"
	}
	hi, lo := bits.Mul64(mant, mult)
	div := uint64(1)
	for range frac {
		div *= 10
	}
	if hi != 0 || lo/div > math.MaxInt64 {
		return 0, quote(v) + " is too large"
	}
	if lo%div != 0 {
		return 0, quote(v) + " is not a whole number of bytes"
	}
	return int64(lo / div), ""
}
