package filter

import (
	"strings"

	"github.com/wstap/wstap/decode"
)

// The language is declared once, in the table below: the parser looks
// keywords, fields and operators up in it, and Help prints it, so that the
// help screen cannot drift from what the parser accepts.

// A keyword is a word (or sign) that is a term by itself. The first name
// is the one String writes.
type keyword struct {
	names []string
	term  node // copied for each use
}

// fieldKind says how a field's value is read and compared.
type fieldKind uint8

const (
	fieldFrom   fieldKind = iota // client or server
	fieldTo                      // the other side
	fieldOpcode                  // a number or a name
	fieldNumber                  // a number with a unit, compared
	fieldText                    // text: contains, equals, regex
	fieldRegex                   // re:REGEX
	fieldCase                    // case:TEXT or case:/REGEX/
	fieldID                      // a connection id, exactly
)

// A field is a name followed by an operator and a value: size>10k.
type field struct {
	names  []string
	kind   fieldKind
	num    numField   // fieldNumber
	target textTarget // fieldText
}

// opKind is a combinator.
type opKind uint8

const (
	opNone opKind = iota
	opAnd
	opOr
	opNot
)

// An operator combines terms; words are matched ignoring case.
type operator struct {
	kind  opKind
	names []string
}

// A row is a line of the help screen and the terms it declares.
type row struct {
	keywords []keyword
	fields   []field
	ops      []operator
	// examples are shown on the left (after the keywords' names); the
	// tests parse each of them.
	examples []string
	help     string
}

func opcodes(ops ...decode.Opcode) uint16 {
	var set uint16
	for _, op := range ops {
		set |= 1 << op
	}
	return set
}

const (
	controlOpcodes  uint16 = 0xff00 // 8-15: the high opcode bit (RFC 6455 5.5)
	dataOpcodes     uint16 = 0x00ff
	reservedOpcodes uint16 = 0xf8f8 // 3-7 and 11-15 (RFC 6455 5.2)
)

// grammar is the language, in the order of the help screen. It is never
// modified.
var grammar = []row{
	{keywords: []keyword{{[]string{"client", "sent", "send", ">"}, node{kind: kindSide, side: decode.Client}}},
		help: "sent by the client"},
	{keywords: []keyword{{[]string{"server", "received", "receive", "recv", "<"}, node{kind: kindSide, side: decode.Server}}},
		help: "sent by the server"},
	{fields: []field{{names: []string{"from"}, kind: fieldFrom}, {names: []string{"to"}, kind: fieldTo}},
		examples: []string{"from:client", "to:server"}, help: "the same, as fields"},
	{keywords: []keyword{
		{[]string{"text"}, node{kind: kindOpcode, ops: opcodes(decode.OpText)}},
		{[]string{"binary", "bin"}, node{kind: kindOpcode, ops: opcodes(decode.OpBinary)}},
		{[]string{"close"}, node{kind: kindOpcode, ops: opcodes(decode.OpClose)}},
		{[]string{"ping"}, node{kind: kindOpcode, ops: opcodes(decode.OpPing)}},
		{[]string{"pong"}, node{kind: kindOpcode, ops: opcodes(decode.OpPong)}},
	}, help: "messages of that opcode"},
	{keywords: []keyword{
		{[]string{"control", "ctrl"}, node{kind: kindOpcode, ops: controlOpcodes}},
		{[]string{"data"}, node{kind: kindOpcode, ops: dataOpcodes}},
	}, help: "close, ping, pong; text, binary"},
	{fields: []field{{names: []string{"opcode", "op", "type"}, kind: fieldOpcode}},
		examples: []string{"opcode:9", "op:ping", "type!=text"}, help: "opcode: 0-15, a name, cont, reserved"},
	{keywords: []keyword{
		{[]string{"compressed", "deflated"}, node{kind: kindFlag, flag: flagCompressed}},
	}, help: "compressed with permessage-deflate"},
	{keywords: []keyword{
		{[]string{"fragmented"}, node{kind: kindFlag, flag: flagFragmented}},
		{[]string{"truncated"}, node{kind: kindFlag, flag: flagTruncated}},
	}, help: "of 2+ frames; payload not kept whole"},
	{keywords: []keyword{
		{[]string{"invalid"}, node{kind: kindFlag, flag: flagInvalid}},
		{[]string{"raw"}, node{kind: kindFlag, flag: flagRaw}},
	}, help: "text not UTF-8; did not inflate"},
	{keywords: []keyword{{[]string{"problem", "problems"}, node{kind: kindProblem}}},
		help: "in a connection with problems"},
	{fields: []field{
		{names: []string{"size"}, kind: fieldNumber, num: numSize},
		{names: []string{"wire"}, kind: fieldNumber, num: numWire},
		{names: []string{"frames"}, kind: fieldNumber, num: numFrames},
	}, examples: []string{"size>10k", "wire<=1Mi", "frames>1"}, help: "bytes, wire bytes, frames: = != < <= > >="},
	{examples: []string{"size=1.5k", "size<64Ki"}, help: "k M G are 1000s, Ki Mi Gi 1024s"},
	{examples: []string{`hello`, `"two words"`}, help: "payload contains it, in any case"},
	{fields: []field{{names: []string{"re", "regex"}, kind: fieldRegex}},
		examples: []string{`/a.*z/`, `re:"a|b"`}, help: "matches the RE2 regex, any case"},
	{fields: []field{{names: []string{"payload", "body"}, kind: fieldText, target: targetPayload}},
		examples: []string{`payload="{}"`, `payload~^\[`}, help: "payload is, matches"},
	{fields: []field{{names: []string{"case"}, kind: fieldCase}},
		examples: []string{"case:Hi", "case:/Re/"}, help: "contains, matches, with case"},
	{fields: []field{
		{names: []string{"url"}, kind: fieldText, target: targetURL},
		{names: []string{"host"}, kind: fieldText, target: targetHost},
	}, examples: []string{"url:chat", "host=x.com", "url~^wss"}, help: "connection URL, host: contains, is, matches"},
	{fields: []field{{names: []string{"id", "conn"}, kind: fieldID}},
		examples: []string{"id:3"}, help: "connection 3"},
	{ops: []operator{{opAnd, []string{"and", "&&"}}}, examples: []string{"a b"}, help: "both"},
	{ops: []operator{{opOr, []string{"or", "||"}}}, help: "either"},
	{ops: []operator{{opNot, []string{"not", "!", "-"}}}, help: "not binds tighter than and, and than or"},
	{examples: []string{"(a or b) c"}, help: "grouping"},
}

// lookupKeyword returns the keyword called name (ignoring case).
func lookupKeyword(name string) *keyword {
	for i := range grammar {
		for j := range grammar[i].keywords {
			k := &grammar[i].keywords[j]
			for _, n := range k.names {
				if strings.EqualFold(n, name) {
					return k
				}
			}
		}
	}
	return nil
}

// lookupField returns the field called name (ignoring case).
func lookupField(name string) *field {
	for i := range grammar {
		for j := range grammar[i].fields {
			f := &grammar[i].fields[j]
			for _, n := range f.names {
				if strings.EqualFold(n, name) {
					return f
				}
			}
		}
	}
	return nil
}

// operatorAt returns the operator spelled at the start of s, and its
// length: a sign (&&, !), or a word followed by a delimiter.
func operatorAt(s string) (opKind, int) {
	word := s[:wordEnd(s, 0)]
	for i := range grammar {
		for _, op := range grammar[i].ops {
			for _, n := range op.names {
				if isWordChar(n[0]) {
					if strings.EqualFold(word, n) {
						return op.kind, len(n)
					}
				} else if strings.HasPrefix(s, n) {
					return op.kind, len(n)
				}
			}
		}
	}
	return opNone, 0
}

func isWordChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// Help returns a cheat sheet of the language, for the help screen: a
// line per group of terms, examples on the left.
func Help() string {
	type line struct{ left, right string }
	var lines []line
	width := 0
	for _, r := range grammar {
		var left []string
		for _, k := range r.keywords {
			left = append(left, k.names...)
		}
		left = append(left, r.examples...)
		right := r.help
		for _, op := range r.ops {
			for _, n := range op.names {
				switch {
				case op.kind == opNot && isWordChar(n[0]):
					left = append(left, n+" a")
				case op.kind == opNot:
					left = append(left, n+"a")
				default:
					left = append(left, "a "+n+" b")
				}
			}
		}
		// Field names no example shows are listed, so that every
		// spelling the parser knows is on the screen.
		var also []string
		for _, f := range r.fields {
			for _, n := range f.names {
				shown := false
				for _, e := range r.examples {
					if len(e) > len(n) && strings.EqualFold(e[:len(n)], n) && !isWordChar(e[len(n)]) {
						shown = true
					}
				}
				if !shown {
					also = append(also, n+":")
				}
			}
		}
		if len(also) > 0 {
			right += " (also " + strings.Join(also, " ") + ")"
		}
		// Forms with spaces (a and b) are told apart by commas.
		sep := " "
		for _, l := range left {
			if strings.Contains(l, " ") {
				sep = ", "
			}
		}
		l := line{strings.Join(left, sep), right}
		width = max(width, len(l.left))
		lines = append(lines, l)
	}
	var b strings.Builder
	b.WriteString("Filter: terms side by side must all match; text matches ignore case\n")
	for _, l := range lines {
		b.WriteString("  ")
		b.WriteString(l.left)
		b.WriteString(strings.Repeat(" ", width-len(l.left)+2))
		b.WriteString(l.right)
		b.WriteByte('\n')
	}
	return b.String()
}
