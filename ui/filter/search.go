package filter

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// textMode is how a text term compares.
type textMode uint8

const (
	contains textMode = iota
	equals
	matches // a regular expression
)

// text is a compiled text comparison. Everything a match needs is
// computed here once, so that matching a payload allocates nothing: the
// needle with its ASCII letters lowered, the byte a search scans for, the
// regular expression.
type text struct {
	mode  textMode
	exact bool   // match case; otherwise case is ignored
	value string // as written (after unquoting): the needle or the regex
	// raw is value as bytes, for comparisons against payloads.
	raw []byte
	// lower is value with its ASCII letters lowered, for contains
	// ignoring case; rare is the index of the byte in it that the search
	// scans for (see rarest).
	lower []byte
	rare  int
	// re is the regex of matches, and of contains ignoring case when the
	// needle has letters outside ASCII, whose folding the byte search
	// does not know.
	re *regexp.Regexp
	// pre is text every match of re contains (lowered when preFold), and
	// preRare its byte to scan for: a payload without it is rejected at
	// the speed of the byte search, as regexp cannot when it ignores case
	// (it then looks for no literal prefix).
	pre     []byte
	preFold bool
	preRare int
}

// newText compiles a text comparison. For a regex the error is
// regexp's, so that the parser can place it.
func newText(mode textMode, exact bool, value string) (*text, error) {
	t := &text{mode: mode, exact: exact, value: value, raw: []byte(value)}
	switch mode {
	case matches:
		src := value
		if !exact {
			// A prefix, not a (?i:...) wrapper: a wrapper would turn the
			// invalid "a)(b" into a valid regex.
			src = "(?i)" + value
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, err
		}
		t.re = re
		t.prefilter(src)
	case contains:
		if exact {
			break
		}
		if foldsOutsideASCII(value) {
			src := "(?i)" + regexp.QuoteMeta(value)
			t.re = regexp.MustCompile(src)
			t.prefilter(src)
			break
		}
		t.lower = make([]byte, len(value))
		for i := 0; i < len(value); i++ {
			t.lower[i] = lowerASCII(value[i])
		}
		t.rare = rarest(t.lower)
	}
	return t, nil
}

// matchBytes reports whether b satisfies t.
func (t *text) matchBytes(b []byte) bool {
	switch {
	case t.re != nil:
		if t.pre != nil {
			if t.preFold && indexFold(b, t.pre, t.preRare, bytes.IndexByte) < 0 ||
				!t.preFold && !bytes.Contains(b, t.pre) {
				return false
			}
		}
		return t.re.Match(b)
	case t.mode == equals:
		if t.exact {
			return bytes.Equal(b, t.raw)
		}
		return bytes.EqualFold(b, t.raw)
	case t.exact:
		return bytes.Contains(b, t.raw)
	}
	return indexFold(b, t.lower, t.rare, bytes.IndexByte) >= 0
}

// matchString is matchBytes for a string, without converting it. The
// strings (URLs, hosts) are short: no prefilter.
func (t *text) matchString(s string) bool {
	switch {
	case t.re != nil:
		return t.re.MatchString(s)
	case t.mode == equals:
		if t.exact {
			return s == t.value
		}
		return strings.EqualFold(s, t.value)
	case t.exact:
		return strings.Contains(s, t.value)
	}
	return indexFold(s, t.lower, t.rare, strings.IndexByte) >= 0
}

// prefilter sets pre to the longest piece of ASCII text that every match
// of the regex src contains, if there is one.
func (t *text) prefilter(src string) {
	re, err := syntax.Parse(src, syntax.Perl) // as regexp.Compile parses
	if err != nil {
		return
	}
	var best []rune
	bestFold := false
	for _, lit := range requiredLiterals(re.Simplify(), nil) {
		fold := lit.Flags&syntax.FoldCase != 0
		// Runs of ASCII; when folding, k and s end a run too, because
		// they fold to the Kelvin sign and the long s, which the byte
		// search does not know.
		run := 0
		for i, r := range append(lit.Rune, utf8.MaxRune+1) {
			if r < utf8.RuneSelf && !(fold && strings.ContainsRune("kKsS", r)) {
				run++
				continue
			}
			if run > len(best) {
				best, bestFold = lit.Rune[i-run:i], fold
			}
			run = 0
		}
	}
	if len(best) == 0 {
		return
	}
	t.pre, t.preFold = []byte(string(best)), bestFold
	if bestFold {
		for i, c := range t.pre {
			t.pre[i] = lowerASCII(c)
		}
		t.preRare = rarest(t.pre)
	}
}

// requiredLiterals appends to lits the literals every match of re
// contains: re itself, the literals of a concatenation, what is in a
// group or repeated at least once.
func requiredLiterals(re *syntax.Regexp, lits []*syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpLiteral:
		lits = append(lits, re)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			lits = requiredLiterals(sub, lits)
		}
	case syntax.OpCapture, syntax.OpPlus:
		lits = requiredLiterals(re.Sub[0], lits)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			lits = requiredLiterals(re.Sub[0], lits)
		}
	}
	return lits
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// foldsOutsideASCII reports whether s is UTF-8 with a letter outside
// ASCII that has other cases (é and É): the byte search folds ASCII only.
// Bytes that are not UTF-8 (a needle written with \xff) are compared as
// they are.
func foldsOutsideASCII(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r >= utf8.RuneSelf && unicode.SimpleFold(r) != r {
			return true
		}
	}
	return false
}

// indexFold returns the index of the first occurrence of lower in h,
// ignoring the case of ASCII letters, or -1. lower has its ASCII letters
// lowered already, and rare is the index of the byte in it to scan for.
//
// It scans for that one byte (in both cases) with indexByte, which is
// vectorised, and compares the window around each hit: no lowered copy of
// h is made, so a search through a 1 MB payload allocates nothing, and a
// rare byte keeps the hits, and so the comparisons, few.
func indexFold[T string | []byte](h T, lower []byte, rare int, indexByte func(T, byte) int) int {
	n := len(lower)
	if n == 0 {
		return 0
	}
	if len(h) < n {
		return -1
	}
	lo, up := lower[rare], upperASCII(lower[rare])
	// The rare byte can be at rare .. last in h.
	last := len(h) - n + rare
	const none = int(^uint(0) >> 1)
	nextLo, nextUp := -1, -1
	if lo == up {
		nextUp = none
	}
	for i := rare; i <= last; {
		if nextLo < i {
			nextLo = none
			if j := indexByte(h[i:last+1], lo); j >= 0 {
				nextLo = i + j
			}
		}
		if nextUp < i {
			nextUp = none
			if j := indexByte(h[i:last+1], up); j >= 0 {
				nextUp = i + j
			}
		}
		p := min(nextLo, nextUp)
		if p == none {
			return -1
		}
		start := p - rare
		if equalFoldAt(h[start:start+n], lower) {
			return start
		}
		i = p + 1
	}
	return -1
}

// equalFoldAt reports whether w equals lower, ignoring the case of ASCII
// letters in w.
func equalFoldAt[T string | []byte](w T, lower []byte) bool {
	for i := 0; i < len(lower); i++ {
		if lowerASCII(w[i]) != lower[i] {
			return false
		}
	}
	return true
}

// commonBytes are the bytes most frequent in WebSocket payloads (English
// text and JSON), most frequent first. A search scans for the needle byte
// that comes latest here, or for one that is not here at all: the fewer
// hits, the fewer windows to compare. A letter counts for both its cases.
const commonBytes = ` e"tao:,insrhl1d0c2u{}m.3fp-g_95w4y8b67v/k[]x=jqz`

// rarest returns the index of the byte of lower to scan for.
func rarest(lower []byte) int {
	best, bestRank := 0, len(commonBytes)+1
	for i, c := range lower {
		r := strings.IndexByte(commonBytes, c)
		if r < 0 {
			r = -1 // rarer than anything listed
		} else {
			r = len(commonBytes) - r
		}
		if r < bestRank {
			best, bestRank = i, r
		}
	}
	return best
}

// regexError turns a regexp compile error into a message and the part of
// src it is about, so that the error can point at it: regexp/syntax says
// which piece of the expression is wrong, not where it is.
func regexError(err error, src string) (msg string, at, end int) {
	at, end = 0, len(src)
	if se, ok := err.(*syntax.Error); ok {
		msg = "bad regex: " + se.Code.String()
		expr := se.Expr
		if strings.Index(src, expr) < 0 && strings.HasPrefix(expr, "(?i)") {
			expr = expr[len("(?i)"):] // the prefix that ignores case
		}
		if expr != "" {
			msg += ": " + quote(expr)
			if i := strings.Index(src, expr); i >= 0 {
				at, end = i, i+len(expr)
			}
		}
		return msg, at, end
	}
	return "bad regex: " + err.Error(), at, end
}
