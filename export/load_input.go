package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxValueSize is the longest single JSON value the loader holds whole: a
// frame, message, problem or header list read at once, or a string read as
// a token. A message payload is kept up to 64 MiB (decode.Options), which
// is about 86 MiB of base64 or of text with a few escapes; twice the
// payload leaves room for text that escapes more (quotes in a JSON text
// message). A longer value is refused with its place, after reading no
// more than this much of it: a 2 GB string in a hostile or broken file
// costs a bounded amount of memory, not the whole string: the decoder's
// buffer and the window each hold it and grow by doubling, which comes to
// two to four times this (2.5 measured, for the bound).
const maxValueSize = 128 << 20

// readChunk bounds each read from the input, so that the decoder's buffer
// runs at most this far past what it is decoding: the value bound above is
// then exact to within a chunk, and a cancellation is seen within one.
const readChunk = 64 << 10

// errTooLarge is what the window answers the decoder with once the value
// being read is longer than the bound.
var errTooLarge = errors.New("value too large")

// window is the input as the JSON decoder reads it, kept from the start of
// what the loader may still point at (keep) to what was read. Offsets are
// counted from the first byte after the byte order mark, as Load always
// counted them. It locates offsets as line and column for errors, bounds
// the value the decoder buffers, and stops reading when ctx is done.
type window struct {
	r     io.Reader
	ctx   context.Context
	limit int64
	// dec is the decoder reading from the window: what it has read but
	// not consumed is the value it is on.
	dec *json.Decoder

	buf  []byte // the input from base on
	base int64
	keep int64 // the earliest offset still needed; buf may drop what is before
	// err is the error that stopped reading, other than io.EOF: the
	// reader's, ctx's or errTooLarge. It is sticky.
	err error
	// readErr is set when err came from the reader.
	readErr bool

	// Newlines before base, and the offset of the last of them (-1 for
	// none): the line and column of any offset from base on follow.
	baseLines  int
	baseLastNL int64
	// A cursor caches the count at curOff, so that locating offsets one
	// after the other costs the bytes between them, not the window.
	curOff    int64
	curLines  int
	curLastNL int64
}

func newWindow(ctx context.Context, r io.Reader, limit int64) *window {
	return &window{r: r, ctx: ctx, limit: limit, baseLastNL: -1, curLastNL: -1}
}

// end is the offset just past what was read.
func (w *window) end() int64 { return w.base + int64(len(w.buf)) }

// Read reads the next chunk for the decoder and keeps a copy.
func (w *window) Read(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return 0, err
	}
	if w.dec != nil && w.end()-w.dec.InputOffset() >= w.limit {
		w.err = errTooLarge
		return 0, w.err
	}
	p = p[:min(len(p), readChunk)]
	n, err := w.r.Read(p)
	w.add(p[:n])
	if err != nil && err != io.EOF {
		w.err, w.readErr = err, true
	}
	return n, err
}

// readMore reads past what the decoder took, for the check that nothing
// follows the document; it reports false at the end of the input.
func (w *window) readMore() (bool, error) {
	var chunk [4 << 10]byte
	n, err := w.Read(chunk[:])
	if n > 0 {
		return true, nil
	}
	if err == io.EOF {
		return false, nil
	}
	if err == nil {
		return true, nil
	}
	return false, err
}

func (w *window) add(b []byte) {
	if len(w.buf)+len(b) > cap(w.buf) {
		w.compact()
	}
	if n := len(w.buf) + len(b); n > cap(w.buf) {
		// Doubled, as the decoder grows its buffer: a long value is
		// copied a few times in all, not once per step.
		w.buf = append(make([]byte, 0, max(2*cap(w.buf), n, 2*readChunk)), w.buf...)
	}
	w.buf = append(w.buf, b...)
}

// release tells the window that nothing before off is needed any more.
func (w *window) release(off int64) {
	w.keep = max(w.keep, min(off, w.end()))
}

// compact drops what is no longer needed when that is at least half the
// buffer, so that every byte is moved a bounded number of times.
func (w *window) compact() {
	dead := int(w.keep - w.base)
	if dead <= 0 || dead < len(w.buf)/2 {
		return
	}
	gone := w.buf[:dead]
	if n := bytes.Count(gone, []byte{'\n'}); n > 0 {
		w.baseLines += n
		w.baseLastNL = w.base + int64(bytes.LastIndexByte(gone, '\n'))
	}
	w.buf = w.buf[:copy(w.buf, w.buf[dead:])]
	w.base = w.keep
	if w.curOff < w.base {
		w.curOff, w.curLines, w.curLastNL = w.base, w.baseLines, w.baseLastNL
	}
}

// bytesFrom returns what was read from off on (off must not be before
// what the window keeps).
func (w *window) bytesFrom(off int64) []byte {
	return w.buf[min(max(off-w.base, 0), int64(len(w.buf))):]
}

// lineCol locates off as a 1-based line and column (in bytes). Offsets
// before what the window keeps are not located exactly; the loader
// locates those it needs while they are kept.
func (w *window) lineCol(off int64) (int, int) {
	off = min(max(off, w.base), w.end())
	if off < w.curOff {
		w.curOff, w.curLines, w.curLastNL = w.base, w.baseLines, w.baseLastNL
	}
	seg := w.buf[w.curOff-w.base : off-w.base]
	if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
		w.curLines += n
		w.curLastNL = w.curOff + int64(bytes.LastIndexByte(seg, '\n'))
	}
	w.curOff = off
	return w.curLines + 1, int(off - w.curLastNL)
}

// skipSep returns the offset of the first byte from off on that is not
// white space or a separator: where the value after off starts.
func (w *window) skipSep(off int64) int64 {
	for _, c := range w.bytesFrom(off) {
		switch c {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

// pathEl is one step of a JSON path: a member name, or an array index
// when key is "".
type pathEl struct {
	key string
	idx int
}

// appendPath writes a path as in JavaScript: log.entries[3].request.url.
func appendPath(b *strings.Builder, p []pathEl) {
	for _, el := range p {
		if el.key == "" {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(el.idx))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(el.key)
	}
}

// tokState mirrors where the decoder is in the document, so that a syntax
// error can be scanned again from a known state (see syntaxError).
type tokState uint8

const (
	stTop      tokState = iota // before the document
	stArrStart                 // after '['
	stArrValue                 // after an element
	stObjStart                 // after '{'
	stObjKey                   // after a member name
	stObjValue                 // after a member value
	stTopDone                  // after the document
)

// tokens walks the document with the decoder: containers that may be long
// (entries, connections, frames, messages) token by token, everything else
// as whole values of bounded size.
type tokens struct {
	l   *loader
	dec *json.Decoder
	w   *window
	st  []tokState
	raw rawValue
	// Where the last call started, and the state then: a syntax error
	// is scanned again from there.
	from   int64
	fromSt []tokState
}

// rawValue receives the bytes of one value from the decoder, without
// copying them: they are valid until the decoder reads again.
type rawValue struct{ b []byte }

func (r *rawValue) UnmarshalJSON(b []byte) error {
	r.b = b
	return nil
}

func newTokens(l *loader, w *window) *tokens {
	dec := json.NewDecoder(w)
	dec.UseNumber()
	w.dec = dec
	return &tokens{l: l, dec: dec, w: w, st: []tokState{stTop}}
}

// begin is called before every decoder call: it lets the window drop what
// was consumed, and notes where a syntax error would be scanned from.
func (t *tokens) begin() {
	t.from = t.dec.InputOffset()
	t.w.release(t.from)
	t.fromSt = append(t.fromSt[:0], t.st...)
}

// valueDone records that a value ended in the current container.
func (t *tokens) valueDone() {
	switch s := &t.st[len(t.st)-1]; *s {
	case stArrStart, stArrValue:
		*s = stArrValue
	case stObjKey:
		*s = stObjValue
	case stTop:
		*s = stTopDone
	}
}

// token reads one token, and where it starts.
func (t *tokens) token() (json.Token, int64, error) {
	t.begin()
	tok, err := t.dec.Token()
	if err != nil {
		return nil, 0, t.fail(err)
	}
	end := t.dec.InputOffset()
	switch tok {
	case json.Delim('{'):
		t.st = append(t.st, stObjStart)
		return tok, end - 1, nil
	case json.Delim('['):
		t.st = append(t.st, stArrStart)
		return tok, end - 1, nil
	case json.Delim('}'), json.Delim(']'):
		t.st = t.st[:len(t.st)-1]
		t.valueDone()
		return tok, end - 1, nil
	}
	start := t.w.skipSep(t.from)
	if s := &t.st[len(t.st)-1]; *s == stObjStart || *s == stObjValue {
		*s = stObjKey
	} else {
		t.valueDone()
	}
	return tok, start, nil
}

// value reads one whole value, and where it starts. The bytes are valid
// until the next read.
func (t *tokens) value() ([]byte, int64, error) {
	t.begin()
	if err := t.dec.Decode(&t.raw); err != nil {
		return nil, 0, t.fail(err)
	}
	t.valueDone()
	return t.raw.b, t.dec.InputOffset() - int64(len(t.raw.b)), nil
}

// more reports whether the current array or object has another element.
// An error is reported by the token or value read next.
func (t *tokens) more() bool {
	t.begin()
	if err := t.l.ctx.Err(); err != nil {
		return false
	}
	return t.dec.More()
}

// end reads the end of the current array or object.
func (t *tokens) end() error {
	if err := t.l.ctx.Err(); err != nil {
		return t.fail(err)
	}
	_, _, err := t.token()
	return err
}

// fail turns an error of the decoder into the error Load reports.
func (t *tokens) fail(err error) error {
	l := t.l
	switch {
	case errors.Is(err, errTooLarge):
		return l.tooLarge(t.w.skipSep(t.dec.InputOffset()))
	case t.w.readErr && err == t.w.err:
		return fmt.Errorf("%s: reading: %w", l.name, err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: loading stopped: %w", l.name, err)
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return l.errorAtPath(t.w.end(), nil, errors.New("invalid JSON: the file ends in the middle of the document"))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return t.syntaxError(se)
	}
	return l.errorAtPath(t.dec.InputOffset(), nil, fmt.Errorf("invalid JSON: %w", err))
}

// syntaxError reports a syntax error as Load did when it decoded the
// whole document at once: the same message, at the byte that broke the
// syntax. The streaming decoder words some errors differently and counts
// its offsets from where it resumed, so the bytes from where the failed
// call started are scanned again, after a prefix that puts the scanner in
// the state the decoder was in there.
func (t *tokens) syntaxError(se *json.SyntaxError) error {
	var prefix []byte
	for i, s := range t.fromSt {
		last := i == len(t.fromSt)-1
		switch {
		case s == stArrStart || s == stArrValue && !last:
			prefix = append(prefix, '[')
		case s == stArrValue:
			prefix = append(prefix, "[null"...)
		case s == stObjStart:
			prefix = append(prefix, '{')
		case s == stObjKey && last:
			prefix = append(prefix, `{""`...)
		case s == stObjKey:
			prefix = append(prefix, `{"":`...)
		case s == stObjValue:
			prefix = append(prefix, `{"":null`...)
		case s == stTopDone:
			prefix = append(prefix, "null"...)
		}
	}
	n := len(prefix)
	data := append(prefix, t.w.bytesFrom(t.from)...)
	// A NUL, which no state accepts, ends the bytes: an error at it means
	// the error was not in them.
	data = append(data, 0)
	var rescan *json.SyntaxError
	if err := json.Unmarshal(data, new(rawValue)); errors.As(err, &rescan) && rescan.Offset > int64(n) && rescan.Offset < int64(len(data)) {
		return t.l.errorAtPath(t.from+rescan.Offset-1-int64(n), nil, fmt.Errorf("invalid JSON: %v", rescan))
	}
	// Not found again (it should be): the decoder's own words, at the
	// position it stopped at.
	return t.l.errorAtPath(t.dec.InputOffset(), nil, fmt.Errorf("invalid JSON: %v", se))
}
