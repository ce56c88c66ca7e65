package export

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// JSONFormat is the value of the top-level "format" member of a wstap JSON
// export, and JSONVersion its "version": a reader can tell the file from
// any other JSON and refuse a version it does not know.
const (
	JSONFormat  = "wstap"
	JSONVersion = 1
)

// JSONWriter writes the full-fidelity JSON export (README.md, "JSON
// export", lists the contract fields): every connection with its
// handshake, frames, messages, close and problems. It streams: the opening is written by NewJSONWriter, each
// connection by Write as it is handed over, the closing by Close.
//
// Beyond the contract fields it writes what a reader needs to rebuild the
// connection exactly (Load reads it all back): stream offsets and header
// lengths of frames, a frame's payload when it cannot be cut out of its
// message's payload (compressed messages, truncated or unfinished ones),
// the wire size, the state and the protocol. A close message carries its
// payload as data_base64 and its parsed code and reason in "close".
//
// A JSONWriter is not safe for concurrent use.
type JSONWriter struct {
	e    *jw
	opts Options
	n    int
	done bool
	src  storeReader
}

// NewJSONWriter starts a JSON export on w.
func NewJSONWriter(w io.Writer, opts Options) *JSONWriter {
	j := &JSONWriter{e: newJW(w), opts: opts}
	j.e.raw(fmt.Sprintf("{\n  \"format\": %q,\n  \"version\": %d,\n  \"connections\": [", JSONFormat, JSONVersion))
	return j
}

// Write appends one connection, read from src piece by piece, and flushes
// it to the underlying writer.
func (j *JSONWriter) Write(src session.ConnSource) error {
	if j.done {
		return errors.New("json export: write after close")
	}
	if j.n > 0 {
		j.e.raw(",")
	}
	j.e.raw("\n    ")
	j.n++
	id := src.Meta().ID
	if err := writeConnJSON(j.e, src, j.opts.Redact); err != nil {
		return fmt.Errorf("reading connection %s for the JSON export: %w", id, err)
	}
	if err := j.e.flush(); err != nil {
		return fmt.Errorf("writing connection %s as JSON: %w", id, err)
	}
	return nil
}

// WriteConn writes connection id of the store: the JSON export as a
// session.ConnSink, which the store gives each connection when it ended.
func (j *JSONWriter) WriteConn(s *session.Store, id session.ConnID) error {
	src, err := j.src.source(s, id)
	if err != nil {
		return err
	}
	return j.Write(src)
}

// Flush is a no-op: Write flushes each connection. It makes the writer a
// session.ConnSink.
func (j *JSONWriter) Flush() error { return nil }

// Close writes the end of the document and flushes. It does not close the
// underlying writer.
func (j *JSONWriter) Close() error {
	if j.done {
		return j.e.err
	}
	j.done = true
	if j.n > 0 {
		j.e.raw("\n  ")
	}
	j.e.raw("]\n}\n")
	if err := j.e.flush(); err != nil {
		return fmt.Errorf("finishing the JSON export: %w", err)
	}
	return nil
}

// writeConnJSON writes one connection object at the indentation of a member
// of "connections". It returns the first error reading src; the object is
// then cut short, and the export must not be used.
func writeConnJSON(e *jw, src session.ConnSource, r Redaction) error {
	const in = "      "
	c := src.Meta()
	var err error
	o := e.object(in)
	o.str("id", c.ID)
	o.str("client", c.Client)
	o.str("server", c.Server)
	o.str("source", c.Source)
	o.str("protocol", c.Protocol.String())
	o.str("state", c.State.String())
	o.bool("tls", c.TLS)
	o.str("url", r.target(c.URL))
	o.timeIf("opened", c.Opened)
	o.timeIf("last_seen", c.LastSeen)
	writeHTTPPair(e, &o, c.Request, c.Response, r, in+"  ")
	o.str("subprotocol", r.subprotocol(c.Subprotocol))
	o.str("extensions", c.Extensions)
	if p := c.Deflate; p != nil {
		d := o.key("deflate").object("")
		d.bool("server_no_context_takeover", p.ServerNoContextTakeover)
		d.bool("client_no_context_takeover", p.ClientNoContextTakeover)
		d.int("server_max_window_bits", int64(p.ServerMaxWindowBits))
		d.int("client_max_window_bits", int64(p.ClientMaxWindowBits))
		d.end()
	}
	o.key("exchanges")
	writeList(e, in, c.ExchangeCount, func(i int) {
		x, xerr := src.Exchange(i)
		err = cmp.Or(err, xerr)
		xo := e.object(in + "    ")
		writeHTTPPair(e, &xo, x.Request, x.Response, r, in+"      ")
		xo.end()
	})

	o.key("frames")
	err = cmp.Or(err, writeLongList(e, in, c.FrameCount, src, func(src session.ConnSource) itemWriter {
		lastMsg, lastDerivable := -1, false // a message's frames are often together
		return func(e *jw, i int) error {
			// The head first: the payload is read only when the frame's
			// cannot be derived from its message's.
			f, err := src.FrameHead(i)
			if err != nil {
				e.raw("null")
				return err
			}
			if f.Message != lastMsg && f.Message >= 0 && f.Message < c.MessageCount {
				lastMsg = f.Message
				lastDerivable, err = src.Derivable(f.Message)
			}
			payload := !(f.Message == lastMsg && lastDerivable)
			if payload {
				var ferr error
				if f, ferr = src.Frame(i); ferr != nil {
					e.raw("null")
					return cmp.Or(err, ferr)
				}
			}
			writeFrameJSON(e, f, payload)
			return err
		}
	}))
	o.key("messages")
	err = cmp.Or(err, writeLongList(e, in, c.MessageCount, src, messageItems(writeMessageJSON)))
	writeCloses(e, &o, c)
	o.key("problems")
	writeList(e, in, c.ProblemCount, func(i int) {
		p, perr := src.Problem(i)
		err = cmp.Or(err, perr)
		writeProblemJSON(e, c, &p, r)
	})
	writeTotals(&o, c)
	o.end()
	return err
}

// writeCloses writes the connection's close and close_reply members, when
// there are any: shared by the JSON export and the NDJSON "closed" event.
func writeCloses(e *jw, o *obj, c *decode.Connection) {
	if c.Close != nil {
		o.key("close")
		writeCloseJSON(e, c.Close)
	}
	if c.CloseReply != nil {
		o.key("close_reply")
		writeCloseJSON(e, c.CloseReply)
	}
}

// writeTotals writes the counts a connection keeps even when its frames
// and messages are not kept, and its bytes per direction.
func writeTotals(o *obj, c *decode.Connection) {
	o.int("frame_count", int64(c.FrameCount))
	o.int("message_count", int64(c.MessageCount))
	o.int("problem_count", int64(c.ProblemCount))
	o.int("suppressed_problems", int64(c.SuppressedProblems))
	b := o.key("bytes").object("")
	b.int("client", c.Bytes[decode.Client])
	b.int("server", c.Bytes[decode.Server])
	b.end()
}

// writeList writes a JSON array with one element per line indented by in
// and two spaces, or on one line when in is empty; [] when empty.
func writeList(e *jw, in string, n int, item func(i int)) {
	if n == 0 {
		e.raw("[]")
		return
	}
	if in == "" {
		e.raw("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				e.raw(", ")
			}
			item(i)
		}
		e.raw("]")
		return
	}
	e.raw("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			e.raw(",")
		}
		e.raw("\n")
		e.raw(in)
		e.raw("  ")
		item(i)
	}
	e.raw("\n")
	e.raw(in)
	e.raw("]")
}

// writeHeadersJSON writes headers one per line. A value that is not UTF-8
// (obs-text, RFC 9110 5.5) also gets value_base64, so no byte is lost.
func writeHeadersJSON(e *jw, hs []decode.Header, in string) {
	writeList(e, in, len(hs), func(i int) {
		h := o1(e)
		h.str("name", hs[i].Name)
		h.str("value", hs[i].Value)
		if !utf8.ValidString(hs[i].Value) {
			h.key("value_base64").base64([]byte(hs[i].Value))
		}
		h.end()
	})
}

// o1 starts a one-line object.
func o1(e *jw) obj { return e.object("") }

// writeBody writes an HTTP body as text when it is UTF-8, base64 otherwise.
func writeBody(o *obj, body []byte, size int64) {
	o.int("body_size", size)
	switch {
	case len(body) == 0:
	case utf8.Valid(body):
		o.key("body").strBytes(body)
	default:
		o.key("body_base64").base64(body)
	}
}

// writeHTTPPair writes a request and its response as the members "request"
// and "response", each only when present.
func writeHTTPPair(e *jw, o *obj, q *decode.Request, p *decode.Response, r Redaction, in string) {
	if q != nil {
		o.key("request")
		writeRequestJSON(e, q, r, in)
	}
	if p != nil {
		o.key("response")
		writeResponseJSON(e, p, r, in)
	}
}

func writeRequestJSON(e *jw, q *decode.Request, r Redaction, in string) {
	o := e.object(in)
	o.str("method", q.Method)
	o.str("target", r.target(q.Target))
	o.str("proto", q.Proto)
	o.timeIf("time", q.Time)
	o.key("headers")
	writeHeadersJSON(e, r.headers(q.Headers), in)
	writeBody(&o, q.Body, q.BodySize)
	o.end()
}

func writeResponseJSON(e *jw, p *decode.Response, r Redaction, in string) {
	o := e.object(in)
	o.str("proto", p.Proto)
	o.int("status", int64(p.Status))
	o.str("reason", p.Reason)
	o.timeIf("time", p.Time)
	o.key("headers")
	writeHeadersJSON(e, r.headers(p.Headers), in)
	writeBody(&o, p.Body, p.BodySize)
	o.end()
}

// writeFrameJSON writes a frame object on one line. Its members are
// appended in one piece instead of through obj, whose call per member
// (separator, name, value, a check for a full buffer) was half of the
// rendering: a long capture's export is millions of frames and messages
// (BenchmarkRenderFrame, BenchmarkRenderMessage).
func writeFrameJSON(e *jw, f *decode.Frame, payload bool) {
	b := append(e.out, `{"from": "`...)
	b = append(b, sideName(f.From)...)
	b = append(b, '"')
	if !f.Time.IsZero() {
		b = append(b, `, "time": `...)
		b = e.appendTime(b, f.Time)
	}
	b = append(b, `, "offset": `...)
	b = strconv.AppendInt(b, f.Offset, 10)
	b = append(b, `, "fin": `...)
	b = strconv.AppendBool(b, f.Fin)
	b = append(b, `, "rsv": `...)
	b = strconv.AppendInt(b, int64(f.Rsv), 10)
	b = append(b, `, "opcode": `...)
	b = strconv.AppendInt(b, int64(f.Opcode), 10)
	if f.Masked {
		b = append(b, `, "masked": true, "mask_key": "`...)
		b = hex.AppendEncode(b, f.MaskKey[:])
		b = append(b, '"')
	} else {
		b = append(b, `, "masked": false`...)
	}
	b = append(b, `, "length": `...)
	b = strconv.AppendUint(b, f.Length, 10)
	b = append(b, `, "header_length": `...)
	b = strconv.AppendInt(b, int64(f.HeaderLen), 10)
	b = append(b, `, "message": `...)
	b = strconv.AppendInt(b, int64(f.Message), 10)
	e.out = b
	if payload && (len(f.Payload) > 0 || f.Message >= 0) {
		e.raw(`, "payload_base64": `)
		e.base64(f.Payload)
	}
	e.raw("}")
}

// isText reports whether a message's payload is written as "text": a text
// message whose payload is UTF-8 as it stands (not still compressed).
func isText(m *decode.Message) bool {
	return m.Opcode == decode.OpText && !m.Raw && utf8.Valid(m.Payload)
}

func writeMessageJSON(e *jw, m *decode.Message) {
	o := o1(e)
	messageFields(&o, m)
	o.end()
}

// messageFields writes the members of a message object, which must be
// one on one line. As writeFrameJSON, it appends them in one piece.
func messageFields(o *obj, m *decode.Message) {
	e := o.key("from")
	b := append(e.out, '"')
	b = append(b, sideName(m.From)...)
	b = append(b, '"')
	if !m.Time.IsZero() {
		b = append(b, `, "time": `...)
		b = e.appendTime(b, m.Time)
	}
	if !m.LastTime.IsZero() {
		b = append(b, `, "last_time": `...)
		b = e.appendTime(b, m.LastTime)
	}
	b = append(b, `, "opcode": `...)
	b = strconv.AppendInt(b, int64(m.Opcode), 10)
	b = append(b, `, "compressed": `...)
	b = strconv.AppendBool(b, m.Compressed)
	b = append(b, `, "frames": [`...)
	for i, f := range m.Frames {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(f), 10)
		if len(b) >= spillSize {
			// A message of a million fragments does not grow the
			// buffer with its list.
			e.out = b
			e.writeOut()
			b = e.out
		}
	}
	b = append(b, `], "wire_size": `...)
	b = strconv.AppendInt(b, m.WireSize, 10)
	b = append(b, `, "size": `...)
	b = strconv.AppendInt(b, m.Size, 10)
	if m.Truncated {
		b = append(b, `, "truncated": true`...)
	}
	if m.Raw {
		b = append(b, `, "raw": true`...)
	}
	if m.Opcode == decode.OpText || m.Opcode == decode.OpClose {
		b = append(b, `, "text_valid": `...)
		b = strconv.AppendBool(b, m.TextValid)
	}
	if c := m.Close; c != nil {
		b = append(b, `, "close": {`...)
		if c.HasCode {
			b = append(b, `"code": `...)
			b = strconv.AppendInt(b, int64(c.Code), 10)
			b = append(b, `, "reason": `...)
			b = appendQuoted(b, c.Reason)
		}
		b = append(b, '}')
	}
	e.out = b
	if isText(m) {
		e.raw(`, "text": `)
		e.strBytes(m.Payload)
	} else {
		e.raw(`, "data_base64": `)
		e.base64(m.Payload)
	}
}

func writeCloseJSON(e *jw, c *decode.Close) {
	o := o1(e)
	o.str("from", sideName(c.From))
	o.timeIf("time", c.Time)
	if c.HasCode {
		o.int("code", int64(c.Code))
		o.str("reason", c.Reason)
	}
	o.end()
}

func writeProblemJSON(e *jw, c *decode.Connection, p *decode.Problem, r Redaction) {
	o := o1(e)
	problemFields(&o, c, p, r)
	o.end()
}

// problemFields writes the members of a problem object of connection c.
// A few problem texts quote header values; those that r hides are hidden
// there too.
func problemFields(o *obj, c *decode.Connection, p *decode.Problem, r Redaction) {
	o.str("severity", p.Severity.String())
	o.str("kind", string(p.Kind))
	o.str("message", redactProblem(c, p.Message, r))
	o.str("from", sideName(p.From))
	o.timeIf("time", p.Time)
	if p.Frame >= 0 {
		o.int("frame", int64(p.Frame))
	}
	if p.MessageIndex >= 0 {
		o.int("message_index", int64(p.MessageIndex))
	}
	if p.Offset >= 0 {
		o.int("offset", p.Offset)
	}
}
