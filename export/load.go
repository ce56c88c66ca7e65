package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wstap/wstap/decode"
)

// Load reads a HAR or wstap JSON file (detected by content) into
// connections. name is used in error messages ("session.har: entry 3:
// _webSocketMessages[2].opcode: ...").
//
// A file that is not JSON gets a *LoadError with the line and column of the
// syntax error; one that is JSON but not what it claims gets the JSON path
// of the first member that is wrong, and its line and column. Nothing is
// returned with an error: a half-loaded session would look like a whole
// one.
//
// Imported connections have Source "har" or "json". See loadHAR and
// loadJSON for how each format maps to the model.
func Load(name string, r io.Reader) ([]*decode.Connection, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	// Refused from the first bytes: a stream of zeros or a gzip bomb that
	// is not JSON costs nothing, instead of being read whole first.
	if err := Sniff(name, br); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("%s: reading: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	l := &loader{name: name, data: data}
	start := skipSpace(data, 0)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, l.syntaxError(err)
	}
	if end := skipSpace(data, int(dec.InputOffset())); end < len(data) {
		if m, ok := doc.(map[string]any); ok && m["event"] != nil {
			return nil, l.errorAt(int64(end), nil, errors.New("this is an NDJSON event stream (--ndjson), which is not read back; read a --json or --har export instead"))
		}
		return nil, l.errorAt(int64(end), nil, errors.New("more data after the end of the JSON document"))
	}
	root := val{l: l, v: doc, ok: true}
	var conns []*decode.Connection
	switch {
	case root.key("log").ok:
		conns = l.loadHAR(root)
	case root.key("connections").ok:
		conns = l.loadJSON(root)
	default:
		return nil, l.errorAt(int64(start), nil, errors.New(`neither a HAR (no "log" member) nor a wstap JSON export (no "connections" member)`))
	}
	if l.err != nil {
		return nil, l.err
	}
	return conns, nil
}

// utf8BOM is the UTF-8 byte order mark some editors put first.
const utf8BOM = "\xef\xbb\xbf"

// maxLeadingSpace bounds the white space Sniff looks through before the
// first byte of the document: a real export has a few bytes of it at most,
// and an endless stream of blanks must not be read for ever.
const maxLeadingSpace = 4 << 10

// Sniff checks from its first bytes, without consuming any, that r holds
// a HAR or wstap JSON export: its first byte after a byte order mark and
// white space must open a JSON object. Anything else (zeros, random bytes,
// a log file) is refused at once with a *LoadError that shows how it
// starts, instead of after reading it whole. It reads no more than it
// needs to decide: on a pipe, the first bytes that arrived.
func Sniff(name string, r *bufio.Reader) error {
	limit := min(r.Size(), len(utf8BOM)+maxLeadingSpace+1)
	// Three bytes tell a byte order mark from the start of a document; a
	// shorter input is whole when Peek returns.
	for n := len(utf8BOM); ; n = min(limit, max(n+1, r.Buffered())) {
		peek, err := r.Peek(n)
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s: reading: %w", name, err)
		}
		l := &loader{name: name, data: peek}
		start := skipSpace(peek, len(peek)-len(bytes.TrimPrefix(peek, []byte(utf8BOM))))
		switch {
		case start < len(peek) && peek[start] != '{':
			// Show a few more bytes if they already arrived.
			peek, _ = r.Peek(min(r.Buffered(), start+describeBytes))
			return l.errorAt(int64(start), nil, &NotExportError{"not a JSON object (it starts with " + describeStart(peek[start:]) + ")"})
		case start < len(peek):
			return nil
		case err == io.EOF:
			return l.errorAt(int64(start), nil, &NotExportError{"the file is empty"})
		case n == limit:
			return l.errorAt(int64(start), nil, &NotExportError{fmt.Sprintf("%d bytes of white space and no JSON", start)})
		}
	}
}

// NotExportError is what Sniff finds wrong with input that is not a HAR or
// wstap JSON export at all (as opposed to a broken one): What says how it
// starts.
type NotExportError struct{ What string }

func (e *NotExportError) Error() string {
	return e.What + "; a HAR or wstap JSON export was expected"
}

// describeBytes is how many of its first bytes an error shows of a file
// that is not JSON: enough to recognise a format by its magic number.
const describeBytes = 8

// describeStart shows the first bytes of a file that is not JSON: quoted
// when they are text, in hex when they are not (a pcap, a gzip file).
func describeStart(b []byte) string {
	b = b[:min(len(b), describeBytes)]
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c >= 0x7f {
			return fmt.Sprintf("the bytes % x", b)
		}
	}
	return strconv.Quote(string(b))
}

// LoadError is what Load returns for a file it cannot use: where, and what
// is wrong there.
type LoadError struct {
	Name string
	// Line and Column (1-based, column in bytes) locate the error; 0 when
	// unknown.
	Line, Column int
	// Path is the JSON path of the wrong member, "" for a syntax error.
	Path string
	Err  error
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.Name)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *LoadError) Unwrap() error { return e.Err }

// loader holds the file being loaded and its first error.
type loader struct {
	name string
	data []byte
	err  *LoadError
}

// errorAt makes an error at byte offset off.
func (l *loader) errorAt(off int64, p jpath, err error) *LoadError {
	line, col := lineCol(l.data, off)
	return &LoadError{Name: l.name, Line: line, Column: col, Path: p.String(), Err: err}
}

func (l *loader) syntaxError(err error) *LoadError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset is just past the byte that broke the syntax.
		return l.errorAt(max(0, se.Offset-1), nil, fmt.Errorf("invalid JSON: %v", se))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return l.errorAt(int64(len(l.data)), nil, errors.New("invalid JSON: the file ends in the middle of the document"))
	}
	return l.errorAt(0, nil, fmt.Errorf("invalid JSON: %w", err))
}

// fail records the first error, at the member p.
func (l *loader) fail(p jpath, format string, args ...any) {
	if l.err != nil {
		return
	}
	off, _ := findOffset(l.data, p)
	l.err = l.errorAt(off, p, fmt.Errorf(format, args...))
}

// lineCol converts a byte offset to a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// jpath is a JSON path: member names (string) and array indexes (int).
type jpath []any

func (p jpath) key(k string) jpath { return append(p[:len(p):len(p)], k) }
func (p jpath) idx(i int) jpath    { return append(p[:len(p):len(p)], i) }

// String writes the path as in JavaScript: log.entries[3].request.url.
func (p jpath) String() string {
	var b strings.Builder
	for _, el := range p {
		switch el := el.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(el))
			b.WriteByte(']')
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(el)
		}
	}
	return b.String()
}

// findOffset returns the byte offset where the value at path p starts, or,
// when it is missing, where the deepest existing container on the way
// starts. It walks the tokens again instead of keeping positions for every
// value, since it is only needed once, for an error.
func findOffset(data []byte, p jpath) (int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	valueStart := func() int64 {
		i := int(dec.InputOffset())
		for i < len(data) {
			switch data[i] {
			case ' ', '\t', '\r', '\n', ':', ',':
				i++
				continue
			}
			break
		}
		return int64(i)
	}
	at := valueStart()
	for _, el := range p {
		tok, err := dec.Token()
		if err != nil {
			return at, false
		}
		delim, _ := tok.(json.Delim)
		switch el := el.(type) {
		case string:
			if delim != '{' {
				return at, false
			}
			found := false
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return at, false
				}
				if k == el {
					found = true
					break
				}
				if skipValue(dec) != nil {
					return at, false
				}
			}
			if !found {
				return at, false
			}
		case int:
			if delim != '[' {
				return at, false
			}
			for i := 0; i < el; i++ {
				if !dec.More() || skipValue(dec) != nil {
					return at, false
				}
			}
			if !dec.More() {
				return at, false
			}
		}
		at = valueStart()
	}
	return at, true
}

// skipValue reads one whole value from dec.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
