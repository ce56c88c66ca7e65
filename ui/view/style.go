package view

// Style is the role of a piece of text. The screen maps roles to colors
// and attributes (and, with NO_COLOR, to attributes only), so that this
// package says what a piece of text is, not how it looks.
type Style uint8

const (
	StyleNormal Style = iota
	// StyleDim is text of less importance: column headers' units,
	// offsets, what is not selected by a filter.
	StyleDim
	// StyleHeader is a column header or a section title.
	StyleHeader
	// StyleClient and StyleServer color what each side sent.
	StyleClient
	StyleServer
	// StyleError and StyleWarning are problems of that severity, and
	// their markers.
	StyleError
	StyleWarning
	// StyleInvalid marks bytes that are not valid UTF-8 in text.
	StyleInvalid
	// StyleControl marks control frames (close, ping, pong).
	StyleControl
	// JSON, pretty-printed: member names, strings, numbers, true, false
	// and null, and punctuation.
	StyleKey
	StyleString
	StyleNumber
	StyleLiteral
	StylePunct
	// StyleOK is a state or a status that is as it should be (open, 101).
	StyleOK
	// StyleAccent draws the eye: the "N new" marker, a search hit.
	StyleAccent
)

// Span is a run of text in one style.
type Span struct {
	Text  string
	Style Style
}

// Line is one line of the screen, as spans; the screen cuts it at the
// width of its area.
type Line []Span

// Text returns the line without styles, for tests and for copying.
func (l Line) Text() string {
	n := 0
	for _, s := range l {
		n += len(s.Text)
	}
	b := make([]byte, 0, n)
	for _, s := range l {
		b = append(b, s.Text...)
	}
	return string(b)
}

// add appends a span, merging it with the last one when the style is the
// same.
func (l Line) add(text string, st Style) Line {
	if text == "" {
		return l
	}
	if n := len(l); n > 0 && l[n-1].Style == st {
		l[n-1].Text += text
		return l
	}
	return append(l, Span{text, st})
}
