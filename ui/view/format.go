package view

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
)

// Size writes a byte count for a column: exact up to 9999, then with a
// unit of 1000 (as the filter reads "10k"), three significant digits.
func Size(n int64) string {
	if n < 10000 {
		return strconv.FormatInt(n, 10)
	}
	units := "kMGTP"
	v := float64(n)
	for _, u := range units {
		v /= 1000
		if v < 999.5 || u == 'P' {
			switch {
			case v < 9.95:
				return strconv.FormatFloat(v, 'f', 1, 64) + string(u)
			default:
				return strconv.FormatFloat(v, 'f', 0, 64) + string(u)
			}
		}
	}
	return strconv.FormatInt(n, 10)
}

// Count writes a count with thousands separated by commas: 1,234,567.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Plural writes a count and a noun, with an s unless the count is 1.
func Plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return Count(n) + " " + noun + "s"
}

// Offset writes a time relative to a connection's start: +1.234s under a
// minute, +12m03.4s under an hour, +1h02m03s beyond; "" when either time
// is unknown.
func Offset(t, start time.Time) string {
	if t.IsZero() || start.IsZero() {
		return ""
	}
	d := t.Sub(start)
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + Duration(d)
}

// Duration writes a duration in the units of Offset.
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
	case d < time.Hour:
		m := int(d / time.Minute)
		s := (d - time.Duration(m)*time.Minute).Seconds()
		sec := strconv.FormatFloat(s, 'f', 1, 64)
		if s < 9.95 {
			sec = "0" + sec
		}
		return strconv.Itoa(m) + "m" + sec + "s"
	}
	h := int(d / time.Hour)
	m := int((d % time.Hour) / time.Minute)
	s := int((d % time.Minute) / time.Second)
	return strconv.Itoa(h) + "h" + pad2(m) + "m" + pad2(s) + "s"
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// StateName is a connection's state as the connection list says it:
// open, closing, closed, failed (the Upgrade was refused), http (plain
// HTTP only) or opening (the handshake is not complete). A connection
// that ended without a close is closed too.
func StateName(info decode.State, ended bool) string {
	switch info {
	case decode.StateRejected:
		return "failed"
	case decode.StateNotWebSocket:
		return "http"
	case decode.StateClosed:
		return "closed"
	}
	if ended {
		return "closed"
	}
	switch info {
	case decode.StateHandshake:
		return "opening"
	case decode.StateClosing:
		return "closing"
	}
	return "open"
}

// closeCodes are the names of the close codes RFC 6455 7.4.1 and the IANA
// registry define.
var closeCodes = map[uint16]string{
	1000: "normal closure", 1001: "going away", 1002: "protocol error",
	1003: "unsupported data", 1005: "no status", 1006: "abnormal closure",
	1007: "invalid payload data", 1008: "policy violation", 1009: "message too big",
	1010: "mandatory extension", 1011: "internal error", 1012: "service restart",
	1013: "try again later", 1014: "bad gateway", 1015: "TLS handshake",
}

// CloseText says what a close carries: "1000 normal closure: bye".
func CloseText(c *decode.Close) string {
	if c == nil {
		return ""
	}
	if !c.HasCode {
		return "no code"
	}
	s := strconv.Itoa(int(c.Code))
	if name, ok := closeCodes[c.Code]; ok {
		s += " " + name
	} else if c.Code >= 4000 && c.Code <= 4999 {
		s += " (application)"
	}
	if c.Reason != "" {
		s += ": " + strconv.Quote(c.Reason)
	}
	return s
}

// oneLine appends the text of p to l as it fits on one line: line breaks
// and tabs become visible symbols, other control characters a middle dot,
// and bytes that are not UTF-8 a replacement character in the invalid
// style. It stops after about width columns.
func oneLine(l Line, p []byte, width int, st Style) Line {
	var b strings.Builder
	cols := 0
	flush := func() {
		l = l.add(b.String(), st)
		b.Reset()
	}
	for len(p) > 0 && cols < width {
		r, n := utf8.DecodeRune(p)
		p = p[n:]
		switch {
		case r == utf8.RuneError && n <= 1:
			flush()
			l = l.add("\ufffd", StyleInvalid)
		case r == '\n':
			b.WriteString("⏎")
		case r == '\r':
			// \r\n is one line break; alone it is shown as one too.
			if len(p) == 0 || p[0] != '\n' {
				b.WriteString("⏎")
			}
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || !unicode.IsPrint(r) && r != ' ':
			b.WriteString("·")
		default:
			b.WriteRune(r)
		}
		cols++
	}
	flush()
	return l
}

// hexPreview appends the first bytes of p in hex, as many as fit in
// width columns.
func hexPreview(l Line, p []byte, width int, st Style) Line {
	var b strings.Builder
	for i, c := range p {
		if b.Len()+3 > width {
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return l.add(b.String(), st)
}

const hexDigits = "0123456789abcdef"

// printableText reports whether p reads as text: valid UTF-8 without
// control characters other than line breaks and tabs.
func printableText(p []byte) bool {
	if !utf8.Valid(p) {
		return false
	}
	for _, r := range string(p) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}
