package decode

import "unicode/utf8"

// utf8Stream validates UTF-8 that arrives in pieces: a text message split
// across fragments may split a character too (RFC 6455 5.6, 8.1), so up to
// three bytes of an incomplete character are carried to the next piece.
type utf8Stream struct {
	carry [utf8.UTFMax]byte
	n     int
	bad   bool
}

// write checks p as the continuation of what came before. It returns false
// once the text so far is known to be invalid.
func (u *utf8Stream) write(p []byte) bool {
	if u.bad {
		return false
	}
	if u.n > 0 {
		need := utf8SeqLen(u.carry[0]) - u.n
		take := min(need, len(p))
		copy(u.carry[u.n:], p[:take])
		u.n += take
		p = p[take:]
		if u.n < utf8SeqLen(u.carry[0]) {
			// Still incomplete: at least check the bytes so far are
			// continuation bytes of a possible character.
			if !utf8.FullRune(u.carry[:u.n]) && validPrefix(u.carry[:u.n]) {
				return true
			}
			u.bad = true
			return false
		}
		if !utf8.Valid(u.carry[:u.n]) {
			u.bad = true
			return false
		}
		u.n = 0
	}
	// Find an incomplete character at the end and carry it.
	tail := incompleteTail(p)
	if !utf8.Valid(p[:len(p)-tail]) {
		u.bad = true
		return false
	}
	if tail > 0 {
		if !validPrefix(p[len(p)-tail:]) {
			u.bad = true
			return false
		}
		u.n = copy(u.carry[:], p[len(p)-tail:])
	}
	return true
}

// valid reports whether everything written is complete, valid UTF-8.
func (u *utf8Stream) valid() bool { return !u.bad && u.n == 0 }

func (u *utf8Stream) reset() { *u = utf8Stream{} }

// utf8SeqLen is the length of the sequence a lead byte starts, or 1 for a
// byte that cannot lead (it is then judged invalid by utf8.Valid).
func utf8SeqLen(b byte) int {
	switch {
	case b >= 0xF0 && b <= 0xF4:
		return 4
	case b >= 0xE0 && b <= 0xEF:
		return 3
	case b >= 0xC2 && b <= 0xDF:
		return 2
	}
	return 1
}

// incompleteTail returns how many bytes at the end of p are the start of a
// character that needs more bytes.
func incompleteTail(p []byte) int {
	for i := 1; i <= 3 && i <= len(p); i++ {
		c := p[len(p)-i]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a lead byte
			if utf8SeqLen(c) > i {
				return i
			}
			return 0
		}
	}
	return 0
}

// validPrefix reports whether b can be completed to a valid character: the
// lead byte is a valid one and the next bytes stay within the ranges of
// RFC 3629 4 (no overlong forms, no surrogates, nothing past U+10FFFF).
func validPrefix(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	c := b[0]
	if utf8SeqLen(c) == 1 {
		return false
	}
	if len(b) >= 2 {
		lo, hi := byte(0x80), byte(0xBF)
		switch c {
		case 0xE0:
			lo = 0xA0
		case 0xED:
			hi = 0x9F
		case 0xF0:
			lo = 0x90
		case 0xF4:
			hi = 0x8F
		}
		if b[1] < lo || b[1] > hi {
			return false
		}
	}
	for _, x := range b[min(2, len(b)):] {
		if x < 0x80 || x > 0xBF {
			return false
		}
	}
	return true
}
