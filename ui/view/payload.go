package view

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxRenderBytes is how much of a payload the details area renders: a
// screen shows a few thousand bytes at a time, and pretty-printing 64 MiB
// on each selection would stall the UI. Copy (OSC 52) and the exports
// have the whole payload.
const maxRenderBytes = 256 << 10

// renderPayload renders a payload for the details area, width columns
// wide: pretty-printed and colored JSON, text with invalid UTF-8 bytes
// marked, or a hex dump with ASCII. asHex forces the hex dump; text says
// whether the payload is meant as text (a text message, a close reason).
func renderPayload(p []byte, text, asHex bool, width int) []Line {
	switch {
	case len(p) == 0:
		return []Line{{{"(empty payload)", StyleDim}}}
	case asHex:
		return hexDump(p, width)
	}
	if lines, ok := prettyJSON(p, width); ok {
		return lines
	}
	if text || printableText(p) {
		return textLines(p, width)
	}
	return hexDump(p, width)
}

// textLines renders text wrapped at width: each line break starts a new
// line, tabs are spaces, other control characters are shown as ^X in the
// invalid style, and bytes that are not UTF-8 as \xNN in the invalid
// style, so that what is wrong in a text message is visible where it is.
func textLines(p []byte, width int) []Line {
	width = max(width, 8)
	var lines []Line
	var cur Line
	var run strings.Builder
	cols := 0
	flush := func() {
		cur = cur.add(run.String(), StyleNormal)
		run.Reset()
	}
	newline := func() {
		flush()
		lines = append(lines, cur)
		cur, cols = nil, 0
	}
	mark := func(s string) {
		if cols+len(s) > width {
			newline()
		}
		flush()
		cur = cur.add(s, StyleInvalid)
		cols += len(s)
	}
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		switch {
		case r == utf8.RuneError && n <= 1:
			mark(`\x` + string(hexDigits[p[0]>>4]) + string(hexDigits[p[0]&15]))
		case r == '\n':
			newline()
		case r == '\r' && len(p) > 1 && p[1] == '\n':
		case r == '\t':
			for range 4 - cols%4 {
				if cols >= width {
					newline()
				}
				run.WriteByte(' ')
				cols++
			}
		case r < 0x20 || r == 0x7f:
			mark("^" + string(rune(r^0x40)))
		default:
			if cols >= width {
				newline()
			}
			run.WriteRune(r)
			cols++
		}
		p = p[n:]
	}
	flush()
	if len(cur) > 0 || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}

// hexDump renders p as lines of offset, bytes in hex and the same bytes
// as ASCII (a dot for the others): 16 bytes a line, or 8 when the area is
// too narrow for 16.
func hexDump(p []byte, width int) []Line {
	per := 16
	if width < 8+2+16*3+1+16 {
		per = 8
	}
	lines := make([]Line, 0, (len(p)+per-1)/per)
	var hx, asc strings.Builder
	for off := 0; off < len(p); off += per {
		chunk := p[off:min(off+per, len(p))]
		hx.Reset()
		asc.Reset()
		for i := range per {
			if i == per/2 {
				hx.WriteByte(' ')
			}
			if i < len(chunk) {
				c := chunk[i]
				hx.WriteByte(hexDigits[c>>4])
				hx.WriteByte(hexDigits[c&15])
				hx.WriteByte(' ')
				if c >= 0x20 && c < 0x7f {
					asc.WriteByte(c)
				} else {
					asc.WriteByte('.')
				}
			} else {
				hx.WriteString("   ")
			}
		}
		o := strconv.FormatInt(int64(off), 16)
		o = strings.Repeat("0", max(8-len(o), 0)) + o
		lines = append(lines, Line{{o + "  ", StyleDim}, {hx.String(), StyleNormal}, {" " + asc.String(), StyleString}})
	}
	return lines
}

// prettyJSON renders p as indented, colored JSON when it is a JSON object
// or array (a bare string or number is shown as text). Lines longer than
// width are wrapped.
func prettyJSON(p []byte, width int) ([]Line, bool) {
	t := bytes.TrimSpace(p)
	if len(t) == 0 || t[0] != '{' && t[0] != '[' || !json.Valid(t) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	type frame struct {
		object bool
		n      int // members or elements written
	}
	var stack []frame
	var lines []Line
	var cur Line
	indent := func() {
		cur = Line{{strings.Repeat("  ", len(stack)), StyleNormal}}
	}
	end := func() {
		lines = append(lines, cur)
		cur = nil
	}
	expectKey := func() bool {
		return len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].n%2 == 0
	}
	// value starts a value: a new line inside an array, after the key
	// inside an object.
	value := func() {
		if len(stack) == 0 {
			if cur == nil {
				indent()
			}
			return
		}
		top := &stack[len(stack)-1]
		if !top.object {
			if top.n > 0 {
				cur = cur.add(",", StylePunct)
			}
			if cur != nil {
				end()
			}
			indent()
		}
		top.n++
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				value()
				cur = cur.add(string(v), StylePunct)
				stack = append(stack, frame{object: v == '{'})
			default:
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if top.n > 0 {
					end()
					indent()
				}
				cur = cur.add(string(v), StylePunct)
			}
		case string:
			if expectKey() {
				top := &stack[len(stack)-1]
				if top.n > 0 {
					cur = cur.add(",", StylePunct)
				}
				end()
				indent()
				top.n++
				cur = cur.add(strconv.Quote(v), StyleKey).add(": ", StylePunct)
				continue
			}
			value()
			cur = cur.add(strconv.Quote(v), StyleString)
		case json.Number:
			value()
			cur = cur.add(string(v), StyleNumber)
		case bool:
			value()
			cur = cur.add(strconv.FormatBool(v), StyleLiteral)
		case nil:
			value()
			cur = cur.add("null", StyleLiteral)
		}
	}
	if cur != nil {
		end()
	}
	return wrapLines(lines, width), true
}

// wrapLines cuts lines longer than width columns into several, keeping
// the styles of their pieces.
func wrapLines(lines []Line, width int) []Line {
	width = max(width, 8)
	var out []Line
	for _, l := range lines {
		var cur Line
		cols := 0
		for _, sp := range l {
			text := sp.Text
			for text != "" {
				room := width - cols
				if room <= 0 {
					out = append(out, cur)
					cur, cols = Line{{"  ", StyleDim}}, 2
					continue
				}
				n, i := 0, 0
				for i < len(text) && n < room {
					_, size := utf8.DecodeRuneInString(text[i:])
					i += size
					n++
				}
				cur = cur.add(text[:i], sp.Style)
				cols += n
				text = text[i:]
			}
		}
		out = append(out, cur)
	}
	return out
}
