package export

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// Load reads a HAR or wstap JSON file (detected by content) into whole
// connections, in the order they start in the file. name is used in error
// messages ("session.har:5:45: log.entries[0]._webSocketMessages[1].opcode:
// ...").
//
// A file that is not JSON gets a *LoadError with the line and column of the
// syntax error; one that is JSON but not what it claims gets the JSON path
// of the first member that is wrong, and its line and column. Nothing is
// returned with an error: a half-loaded session would look like a whole
// one.
//
// Load keeps every connection whole in memory, for tests and small tools:
// it records the events of LoadEvents, which is how a large file is read,
// and cuts the frames written without payload out of their messages,
// reporting one it cannot cut.
func Load(name string, r io.Reader) ([]*session.Conversation, error) {
	var rec recorder
	err := loadEvents(context.Background(), name, r, rec.event, loadHooks{framePlace: rec.framePlace})
	if err == nil {
		err = rec.err
	}
	if err != nil {
		return nil, err
	}
	return rec.convs, nil
}

// LoadEvents reads a HAR or wstap JSON export from r and calls emit for
// each part of the session as it is read, in the order a decoder would
// emit them, with bounded memory for any file size: nothing is kept of a
// frame or message once its event is emitted. name is used in error
// messages, which are those of Load.
//
// Per connection, emit gets EventOpened first and EventClosed last, and in
// between the plain exchanges, the handshake (before the first frame,
// message or problem, or when it is read if it comes after them), and the
// frames, messages and problems, each with its Index in the connection as
// in the file. A wstap JSON export lists a connection's frames before its
// messages, and so do the events. A frame the file leaves without its
// payload, because it is a slice of its message's payload, comes with
// Payload nil and Message set: the consumer cuts it from that message,
// which follows, and checks that it lies there (Load does; the loader
// would have to keep the frames). A HAR message is one frame and one
// message; the frame is such a frame.
//
// Conn is one *decode.Connection per connection, the same from EventOpened
// to EventClosed, owned by the loader and filled as the file is read: what
// the file gives after the events (the close, the state, in a HAR the
// addresses under _wstap) is on Conn by EventClosed. Its counts are the
// decoder's: how many of each kind were emitted, so that during an event
// the count of its kind is its Index plus one (a JSON export's
// frame_count and the like are checked, not used). Everything an event
// points to (payloads, the frame, the message) is valid only during the
// call: the loader reuses its buffers.
//
// Connection IDs are as in the file; they need not be unique. A HAR entry
// without one (from another tool) gets the smallest number no connection
// has taken. ID is empty at EventOpened only for a JSON connection whose
// "id" follows its first exchange, frame, message or problem (a file with
// its members reordered); it is set when read. How HAR entries make
// connections is in loadHAR.
//
// When the file turns out to be wrong, LoadEvents returns the error of
// Load; the events emitted before it was found stay emitted, so the caller
// must treat the run as failed. A value longer than 128 MiB is refused
// where it starts, after reading no more of it than that. When ctx is
// done, loading stops within one value or one read, and the error wraps
// ctx.Err().
func LoadEvents(ctx context.Context, name string, r io.Reader, emit func(decode.Event)) error {
	return loadEvents(ctx, name, r, func(e decode.Event) error {
		emit(e)
		return nil
	}, loadHooks{})
}

// loadHooks let Load, which keeps everything, check what LoadEvents leaves
// to its consumer.
type loadHooks struct {
	// framePlace is told where each frame written without its payload
	// is, so that Load can report one it cannot cut out of its message.
	framePlace func(frame int, place *LoadError)
	// limit replaces maxValueSize, for tests.
	limit int64
}

func loadEvents(ctx context.Context, name string, r io.Reader, emit func(decode.Event) error, hooks loadHooks) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	// Refused from the first bytes: a stream of zeros or a gzip bomb that
	// is not JSON costs nothing.
	if err := Sniff(name, br); err != nil {
		return err
	}
	if b, _ := br.Peek(len(utf8BOM)); string(b) == utf8BOM {
		br.Discard(len(utf8BOM))
	}
	limit := hooks.limit
	if limit <= 0 {
		limit = maxValueSize
	}
	l := &loader{ctx: ctx, name: name, emit: emit, hooks: hooks}
	l.w = newWindow(ctx, br, limit)
	l.t = newTokens(l, l.w)
	return l.document()
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
		start := skipSpace(peek, len(peek)-len(bytes.TrimPrefix(peek, []byte(utf8BOM))))
		switch {
		case start < len(peek) && peek[start] != '{':
			// Show a few more bytes if they already arrived.
			peek, _ = r.Peek(min(r.Buffered(), start+describeBytes))
			return errorAtData(name, peek, int64(start), &NotExportError{"not a JSON object (it starts with " + describeStart(peek[start:]) + ")"})
		case start < len(peek):
			return nil
		case err == io.EOF:
			return errorAtData(name, peek, int64(start), &NotExportError{"the file is empty"})
		case n == limit:
			return errorAtData(name, peek, int64(start), &NotExportError{fmt.Sprintf("%d bytes of white space and no JSON", start)})
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

// errorAtData makes an error at byte offset off of data, which is all there
// is to look at.
func errorAtData(name string, data []byte, off int64, err error) *LoadError {
	line, col := lineCol(data, off)
	return &LoadError{Name: name, Line: line, Column: col, Err: err}
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
