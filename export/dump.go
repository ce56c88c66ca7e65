package export

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
)

// previewBytes is how much of a payload a dump line shows as text, and
// previewHexBytes how much of a binary payload it shows in hex.
const (
	previewBytes    = 80
	previewHexBytes = 24
)

// Dumper prints one line per message as messages complete:
//
//	2026-11-21T05:26:41.123456Z #1 client->server text 5 "Hello"
//	2026-11-21T05:26:41.124000Z #1 server->client binary 3 00 01 02
//	2026-11-21T05:26:42.000000Z #1 client->server close 5 1000 "bye"
//
// The fields are the capture time (UTC, microseconds), the connection id,
// the direction, the opcode, the decoded size in bytes and a preview of the
// payload quoted the way Go quotes strings, so control characters and
// bytes that are not UTF-8 are escaped and one message is always one line.
// A payload that is not printable text (most binary messages) is shown as
// hex bytes instead, unquoted, which stays short and readable.
// A close message shows its code and reason instead of the raw payload.
// Flags in brackets end the line: [compressed] for permessage-deflate,
// [truncated] when the payload was not kept whole, [raw] when it could not
// be inflated. The dump shows no headers, so redaction does not change it.
//
// A Dumper is not safe for concurrent use.
type Dumper struct {
	w   *bufio.Writer
	buf []byte
	// problems, when set, receives one line per problem: kept off the
	// message stream so that stdout stays one line per message.
	problems io.Writer
}

// ReportProblems makes the Dumper print every problem the decoder finds
// to w, one line each:
//
//	2026-11-21T05:26:41.123456Z #1 error unmasked-client-frame: client frame 3 is not masked (RFC 6455 5.1)
func (d *Dumper) ReportProblems(w io.Writer) { d.problems = w }

// NewDumper returns a Dumper writing to w. Each line is flushed as it is
// written.
func NewDumper(w io.Writer, _ Options) *Dumper {
	return &Dumper{w: bufio.NewWriter(w)}
}

// Event prints a line for message events and ignores the others.
func (d *Dumper) Event(e decode.Event) error {
	if e.Kind == decode.EventProblem && e.Problem != nil && d.problems != nil {
		d.buf = AppendProblemLine(d.buf[:0], e.Conn, e.Problem)
		d.buf = append(d.buf, '\n')
		if _, err := d.problems.Write(d.buf); err != nil {
			return fmt.Errorf("writing a problem: %w", err)
		}
		return nil
	}
	if e.Kind != decode.EventMessage || e.Message == nil {
		return nil
	}
	d.buf = AppendDumpLine(d.buf[:0], e.Conn, e.Message)
	d.buf = append(d.buf, '\n')
	if _, err := d.w.Write(d.buf); err != nil {
		return fmt.Errorf("writing the dump: %w", err)
	}
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("writing the dump: %w", err)
	}
	return nil
}

// AppendDumpLine appends the dump line of message m of connection c,
// without a newline.
func AppendDumpLine(b []byte, c *decode.Connection, m *decode.Message) []byte {
	b = m.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, " #"...)
	if c != nil {
		b = append(b, c.ID...)
	}
	if m.From == decode.Client {
		b = append(b, " client->server "...)
	} else {
		b = append(b, " server->client "...)
	}
	b = append(b, m.Opcode.String()...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, m.Size, 10)
	b = append(b, ' ')
	if m.Opcode == decode.OpClose && m.Close != nil {
		if m.Close.HasCode {
			b = strconv.AppendUint(b, uint64(m.Close.Code), 10)
			b = append(b, ' ')
			b = appendPreview(b, []byte(m.Close.Reason))
		} else {
			b = append(b, "(no code)"...)
		}
	} else if m.Opcode == decode.OpText || printable(m.Payload) {
		b = appendPreview(b, m.Payload)
	} else {
		b = appendHexPreview(b, m.Payload)
	}
	if m.Compressed {
		b = append(b, " [compressed]"...)
	}
	if m.Truncated {
		b = append(b, " [truncated]"...)
	}
	if m.Raw {
		b = append(b, " [raw]"...)
	}
	return b
}

// AppendProblemLine appends the line ReportProblems prints for p, without
// a newline.
func AppendProblemLine(b []byte, c *decode.Connection, p *decode.Problem) []byte {
	if !p.Time.IsZero() {
		b = p.Time.UTC().AppendFormat(b, timeLayout)
		b = append(b, ' ')
	}
	b = append(b, '#')
	if c != nil {
		b = append(b, c.ID...)
	}
	b = append(b, ' ')
	b = append(b, p.Severity.String()...)
	b = append(b, ' ')
	b = append(b, p.Kind...)
	b = append(b, ": "...)
	b = append(b, p.Message...)
	return b
}

// appendPreview appends the first previewBytes of p, quoted, cut at a
// character boundary, with "..." after the quote when p is longer.
func appendPreview(b []byte, p []byte) []byte {
	n := len(p)
	if n > previewBytes {
		n = previewBytes
		// Do not cut a UTF-8 character in two: step back to its start.
		for i := 0; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(p[n]); i++ {
			n--
		}
	}
	b = strconv.AppendQuote(b, string(p[:n]))
	if n < len(p) {
		b = append(b, "..."...)
	}
	return b
}

// printable reports whether the start of p is UTF-8 text without control
// characters other than tab, CR and LF: a binary message carrying JSON is
// better shown as text.
func printable(p []byte) bool {
	p = p[:min(len(p), previewBytes)]
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size <= 1 {
			// An invalid byte, or a character cut by the preview limit.
			return len(p) < utf8.UTFMax && !utf8.FullRune(p)
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
		p = p[size:]
	}
	return true
}

// appendHexPreview appends the first previewHexBytes of p as hex pairs,
// with "..." when p is longer.
func appendHexPreview(b []byte, p []byte) []byte {
	const digits = "0123456789abcdef"
	n := min(len(p), previewHexBytes)
	for i, c := range p[:n] {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	if n < len(p) {
		b = append(b, " ..."...)
	}
	return b
}
