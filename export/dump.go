package export

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// previewBytes is how much of a payload a dump line shows as text, and
// previewHexBytes how much of a binary payload it shows in hex.
const (
	previewBytes    = 80
	previewHexBytes = 24
)

// dumpBufferSize is the Dumper's output buffer: large enough that a busy
// capture costs one write per few hundred lines rather than one per line.
const dumpBufferSize = 64 << 10

// Dumper is the live view of the traffic: one line per thing that happens,
// every line starting with the capture time (UTC, microseconds, "-" when
// unknown) and the connection id, like mitmdump's flow lines:
//
//	2026-11-21T05:26:41.120000Z #1 http 127.0.0.1:51234 GET http://127.0.0.1:20001/health -> 200 OK, response body 3 bytes
//	2026-11-21T05:26:41.122000Z #1 websocket 127.0.0.1:51234 GET ws://127.0.0.1:20001/chat?room=1 -> 101 Switching Protocols, subprotocol chat, extensions "permessage-deflate"
//	2026-11-21T05:26:41.123456Z #1 client->server text 5 "Hello" [compressed]
//	2026-11-21T05:26:41.124000Z #1 server->client binary 3 00 01 02
//	2026-11-21T05:26:41.124000Z #1 error unmasked-client-frame: client frame 3 is not masked (RFC 6455 5.1)
//	2026-11-21T05:26:42.000000Z #1 client->server close 5 1000 "bye"
//	2026-11-21T05:26:42.000100Z #1 server->client close 2 1000 ""
//	2026-11-21T05:26:42.000300Z #1 closed by client 1000 "bye", server answered 1000 ""; client->server 2 messages (420 bytes), server->client 2 messages (310 bytes), duration 877.3ms
//
// The third field says what the line is: "http" for a plain HTTP
// exchange, "websocket" for a connection's handshake (its header line),
// "client->server" or "server->client" for a message, "error" or
// "warning" for a problem, "closed" for the end of a connection. A
// connection whose handshake was not captured gets its header line the
// first time it shows anything, saying so.
//
// Everything a peer controls (payloads, header values, the URL, close
// reasons, problem texts that quote them) is quoted or escaped, so one
// event is always one line and no byte from the traffic reaches the
// terminal as a control character. Without color the framing is plain
// ASCII, for grep and awk; see SetColor. The URL, the subprotocol, the
// extensions and the header values that problem texts quote are redacted
// as Options.Redact says; payloads are shown as they are, as in every
// export.
//
// Lines are buffered: Event does not write each one through, because one
// system call per line is what limits a dump of a million messages. The
// caller calls Flush on a short timer and before exiting.
//
// A Dumper is not safe for concurrent use.
type Dumper struct {
	w      *bufio.Writer
	buf    []byte
	redact Redaction
	color  bool
	// conns is what the dump remembers of each connection it has shown
	// and not yet seen closed, by id: the decoder's connection and event
	// pointers are only valid during a call, so the counts are kept here.
	conns map[string]*dumpConn
	// lastID and last cache the most recent conns entry: consecutive
	// messages of one connection are the common case.
	lastID string
	last   *dumpConn
}

// dumpConn is the dump's own record of one connection.
type dumpConn struct {
	// headed is set once the connection's header line is printed.
	headed    bool
	messages  [2]int64 // by decode.Side
	exchanges int64
}

// NewDumper returns a Dumper writing to w through a buffer (see Flush),
// without color.
func NewDumper(w io.Writer, opts Options) *Dumper {
	return &Dumper{
		w:      bufio.NewWriterSize(w, dumpBufferSize),
		buf:    make([]byte, 0, 512),
		redact: opts.Redact,
		conns:  make(map[string]*dumpConn),
	}
}

// SetColor turns ANSI colors (SGR) on or off: client->server messages in
// cyan, server->client in green, errors in red, warnings in yellow,
// header lines bold and close lines dim. It is off by default; the caller
// turns it on for a terminal, and never when the NO_COLOR environment
// variable is set (https://no-color.org). With color off the output holds
// no escape byte at all.
func (d *Dumper) SetColor(on bool) { d.color = on }

// NewRenderer returns a renderer of the lines d writes, for rendering
// events on the goroutine that decodes them (see session.RenderingSink).
// What a line says of its connection (the header line shown once, the
// counts of the close line) is kept per connection, so a renderer given
// all the events of some connections, in order, renders their lines as d
// would.
func (d *Dumper) NewRenderer() session.Renderer {
	return &dumpRenderer{d: Dumper{redact: d.redact, color: d.color, conns: make(map[string]*dumpConn)}}
}

// WriteRendered writes lines a renderer of d rendered, as they are.
func (d *Dumper) WriteRendered(b []byte) error {
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("writing the dump: %w", err)
	}
	return nil
}

// dumpRenderer renders dump lines into bytes of the caller's. It is not
// safe for concurrent use.
type dumpRenderer struct{ d Dumper }

// Render appends the lines of e, if it has any, to b.
func (r *dumpRenderer) Render(b []byte, e decode.Event) []byte {
	r.d.buf = b
	r.d.Event(e) // no writer: nothing to fail
	b = r.d.buf
	r.d.buf = nil
	return b
}

// Flush writes out the buffered lines.
func (d *Dumper) Flush() error {
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("writing the dump: %w", err)
	}
	return nil
}

// Event prints the lines of e, if it has any: handshakes, exchanges,
// messages, problems and closes. Opened and frame events print nothing.
func (d *Dumper) Event(e decode.Event) error {
	c := e.Conn
	if c == nil {
		return nil
	}
	switch e.Kind {
	case decode.EventHandshake:
		st := d.state(c.ID)
		st.headed = true
		// The decoder reports an Upgrade that got no answer when the
		// connection ends: LastSeen is then the line's time.
		return d.header(c, c.LastSeen)
	case decode.EventExchange:
		x := e.Exchange
		if x == nil || x.Request != nil && x.Request == c.Request {
			// A refused Upgrade becomes an exchange when the client tries
			// again on the same connection; its header line said it all.
			return nil
		}
		d.state(c.ID).exchanges++
		d.begin(styleHeader)
		d.buf = appendExchangeLine(d.buf, c, x, d.redact)
		return d.end()
	case decode.EventMessage:
		m := e.Message
		if m == nil {
			return nil
		}
		st := d.state(c.ID)
		if !st.headed {
			// Messages without a header line: the handshake was not
			// captured, or its answer never came.
			st.headed = true
			if err := d.header(c, m.Time); err != nil {
				return err
			}
		}
		st.messages[m.From&1]++
		s := styleClient
		if m.From == decode.Server {
			s = styleServer
		}
		d.begin(s)
		d.buf = AppendDumpLine(d.buf, c, m)
		return d.end()
	case decode.EventProblem:
		p := e.Problem
		if p == nil {
			return nil
		}
		st := d.state(c.ID)
		if !st.headed && handshakeSkipped(c) {
			// The first sign of a connection caught mid-stream is the
			// handshake-missing problem: its header line comes first.
			st.headed = true
			if err := d.header(c, p.Time); err != nil {
				return err
			}
		}
		s := styleWarning
		if p.Severity == decode.Error {
			s = styleError
		}
		d.begin(s)
		d.buf = appendProblemLine(d.buf, c, p, d.redact)
		return d.end()
	case decode.EventClosed:
		st := d.state(c.ID)
		d.forget(c.ID)
		if !st.headed && c.State != decode.StateNotWebSocket && (c.Protocol != decode.ProtocolUnknown || c.Request != nil) {
			if err := d.header(c, c.LastSeen); err != nil {
				return err
			}
		}
		d.begin(styleClose)
		d.buf = appendCloseLine(d.buf, c, st)
		return d.end()
	}
	return nil
}

// handshakeSkipped reports whether c is WebSocket traffic whose handshake
// will never be seen: frames were found without one. A connection still
// in its handshake, or plain HTTP, gets its header line from the
// handshake event instead.
func handshakeSkipped(c *decode.Connection) bool {
	return c.Request == nil && c.Response == nil && c.Protocol != decode.ProtocolUnknown &&
		c.State != decode.StateHandshake && c.State != decode.StateNotWebSocket
}

// state returns the dump's record of connection id, creating it.
func (d *Dumper) state(id string) *dumpConn {
	if d.last != nil && id == d.lastID {
		return d.last
	}
	st := d.conns[id]
	if st == nil {
		st = &dumpConn{}
		d.conns[id] = st
	}
	d.lastID, d.last = id, st
	return st
}

// forget drops the record of a closed connection, so that the map holds
// the open connections only.
func (d *Dumper) forget(id string) {
	delete(d.conns, id)
	if d.lastID == id {
		d.lastID, d.last = "", nil
	}
}

// header prints the header line of c; at is its time when the handshake
// was not answered or not captured.
func (d *Dumper) header(c *decode.Connection, at time.Time) error {
	d.begin(styleHeader)
	d.buf = appendHeaderLine(d.buf, c, at, d.redact)
	return d.end()
}

// style is how a line is colored.
type style uint8

const (
	styleClient style = iota
	styleServer
	styleError
	styleWarning
	styleHeader
	styleClose
)

// sgr returns the ANSI SGR sequence that starts a line of style s.
func sgr(s style) string {
	switch s {
	case styleClient:
		return "\x1b[36m" // cyan
	case styleServer:
		return "\x1b[32m" // green
	case styleError:
		return "\x1b[31m" // red
	case styleWarning:
		return "\x1b[33m" // yellow
	case styleHeader:
		return "\x1b[1m" // bold
	}
	return "\x1b[2m" // dim
}

const sgrReset = "\x1b[0m"

// begin starts a line in d.buf (after what it holds, when rendering: see
// NewRenderer).
func (d *Dumper) begin(s style) {
	if d.w != nil {
		d.buf = d.buf[:0]
	}
	if d.color {
		d.buf = append(d.buf, sgr(s)...)
	}
}

// end finishes the line in d.buf and hands it to the buffer. The reset
// comes before the newline so that a line cut by a pager or a terminal
// resize never leaves the next one colored.
func (d *Dumper) end() error {
	if d.color {
		d.buf = append(d.buf, sgrReset...)
	}
	d.buf = append(d.buf, '\n')
	if d.w == nil {
		return nil // rendering: the line stays in d.buf
	}
	if _, err := d.w.Write(d.buf); err != nil {
		return fmt.Errorf("writing the dump: %w", err)
	}
	return nil
}

// AppendDumpLine appends the dump line of message m of connection c,
// without a newline or color.
func AppendDumpLine(b []byte, c *decode.Connection, m *decode.Message) []byte {
	b = appendPrefix(b, m.Time, c)
	if m.From == decode.Client {
		b = append(b, " client->server "...)
	} else {
		b = append(b, " server->client "...)
	}
	b = appendOpcode(b, m.Opcode)
	b = append(b, ' ')
	b = strconv.AppendInt(b, m.Size, 10)
	b = append(b, ' ')
	if m.Opcode == decode.OpClose && m.Close != nil {
		b = appendCloseCode(b, m.Close)
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

// AppendProblemLine appends the dump line of problem p of connection c,
// without a newline, color or redaction:
//
//	2026-11-21T05:26:41.123456Z #1 error unmasked-client-frame: client frame 3 is not masked (RFC 6455 5.1)
func AppendProblemLine(b []byte, c *decode.Connection, p *decode.Problem) []byte {
	return appendProblemLine(b, c, p, Redaction{})
}

func appendProblemLine(b []byte, c *decode.Connection, p *decode.Problem, r Redaction) []byte {
	b = appendPrefix(b, p.Time, c)
	b = append(b, ' ')
	b = append(b, p.Severity.String()...)
	b = append(b, ' ')
	b = appendText(b, string(p.Kind))
	b = append(b, ": "...)
	return appendText(b, redactProblem(c, p.Message, r))
}

// appendHeaderLine appends the header line of c: client, method and URL,
// the answer, protocol draft, subprotocol and extensions.
//
// The line's time is when the handshake completed. Without an answer it
// is at, when the caller learnt there was none (the end of the
// connection, or the first message of a connection caught mid-stream),
// so that the live view stays in time order.
func appendHeaderLine(b []byte, c *decode.Connection, at time.Time, r Redaction) []byte {
	switch {
	case c.Response != nil && !c.Response.Time.IsZero():
		at = c.Response.Time
	case c.Response != nil || at.IsZero():
		// An answer without a time (from a file): the handshake's start.
		at = c.Opened
		if c.Request != nil && !c.Request.Time.IsZero() {
			at = c.Request.Time
		}
	}
	b = appendPrefix(b, at, c)
	b = append(b, " websocket "...)
	b = appendAddr(b, c.Client)
	req, resp := c.Request, c.Response
	if req != nil && req.Method != "" {
		b = append(b, ' ')
		b = appendToken(b, req.Method)
		b = append(b, ' ')
		u := c.URL
		if u == "" {
			u = req.Target
		}
		b = appendToken(b, r.target(u))
	} else {
		b = append(b, " to "...)
		b = appendAddr(b, c.Server)
	}
	switch {
	case resp != nil:
		b = append(b, " -> "...)
		b = appendStatus(b, resp)
		if c.State == decode.StateRejected {
			b = append(b, ", upgrade refused"...)
		}
		if req == nil || req.Method == "" {
			b = append(b, ", request not captured"...)
		}
	case req != nil:
		b = append(b, " -> no answer"...)
	default:
		b = append(b, ", handshake not captured"...)
	}
	if c.Protocol == decode.ProtocolHixie75 || c.Protocol == decode.ProtocolHixie76 {
		b = append(b, ", "...)
		b = append(b, c.Protocol.String()...)
	}
	if c.Subprotocol != "" {
		b = append(b, ", subprotocol "...)
		b = appendToken(b, r.subprotocol(c.Subprotocol))
	}
	if c.Extensions != "" {
		ext := c.Extensions
		if r.header("Sec-WebSocket-Extensions") {
			ext = Redacted
		}
		b = append(b, ", extensions "...)
		b = strconv.AppendQuote(b, ext)
	}
	return b
}

// appendExchangeLine appends the line of a plain HTTP exchange: client,
// method, URL, status and body sizes.
func appendExchangeLine(b []byte, c *decode.Connection, x *decode.Exchange, r Redaction) []byte {
	req, resp := x.Request, x.Response
	var at time.Time
	switch {
	case resp != nil && !resp.Time.IsZero():
		at = resp.Time
	case req != nil:
		at = req.Time
	}
	b = appendPrefix(b, at, c)
	b = append(b, " http "...)
	b = appendAddr(b, c.Client)
	if req != nil && req.Method != "" {
		b = append(b, ' ')
		b = appendToken(b, req.Method)
		b = append(b, ' ')
		b = appendToken(b, r.target(httpURL(c, req)))
	} else {
		b = append(b, " to "...)
		b = appendAddr(b, c.Server)
		b = append(b, " (request not captured)"...)
	}
	if resp == nil {
		return append(b, " -> no answer"...)
	}
	b = append(b, " -> "...)
	b = appendStatus(b, resp)
	if req != nil && req.BodySize > 0 {
		b = append(b, ", request body "...)
		b = appendCount(b, req.BodySize, "byte", "bytes")
	}
	b = append(b, ", response body "...)
	return appendCount(b, resp.BodySize, "byte", "bytes")
}

// appendCloseLine appends the line that ends connection c: how it ended,
// then its totals.
func appendCloseLine(b []byte, c *decode.Connection, st *dumpConn) []byte {
	b = appendPrefix(b, c.LastSeen, c)
	b = append(b, " closed"...)
	websocket := false
	switch {
	case c.State == decode.StateNotWebSocket:
		b = append(b, ", plain HTTP"...)
	case c.State == decode.StateRejected:
		b = append(b, " after the upgrade was refused"...)
	case c.Close != nil:
		websocket = true
		b = append(b, " by "...)
		b = append(b, sideName(c.Close.From)...)
		b = append(b, ' ')
		b = appendCloseCode(b, c.Close)
		if r := c.CloseReply; r != nil {
			b = append(b, ", "...)
			b = append(b, sideName(r.From)...)
			b = append(b, " answered "...)
			b = appendCloseCode(b, r)
		} else {
			b = append(b, ", no answer from "...)
			b = append(b, sideName(c.Close.From.Other())...)
		}
	case c.Request != nil && c.Response == nil && st.messages[0]+st.messages[1] == 0:
		b = append(b, " before the server answered"...)
	default:
		websocket = true
		b = append(b, " without a close handshake: the TCP connection ended"...)
	}
	// The totals, each only when known: a connection loaded from a HAR
	// has no byte counts, and one without times has no duration.
	sep := "; "
	if st.exchanges > 0 {
		b = append(b, sep...)
		b = appendCount(b, st.exchanges, "exchange", "exchanges")
		sep = ", "
	}
	bytesKnown := c.Bytes[decode.Client] != 0 || c.Bytes[decode.Server] != 0
	for _, side := range [2]decode.Side{decode.Client, decode.Server} {
		if !websocket && !bytesKnown {
			break
		}
		b = append(b, sep...)
		sep = ", "
		if side == decode.Client {
			b = append(b, "client->server "...)
		} else {
			b = append(b, "server->client "...)
		}
		switch {
		case websocket && bytesKnown:
			b = appendCount(b, st.messages[side], "message", "messages")
			b = append(b, " ("...)
			b = appendCount(b, c.Bytes[side], "byte", "bytes")
			b = append(b, ')')
		case websocket:
			b = appendCount(b, st.messages[side], "message", "messages")
		default:
			b = appendCount(b, c.Bytes[side], "byte", "bytes")
		}
	}
	if !c.Opened.IsZero() && !c.LastSeen.IsZero() && !c.LastSeen.Before(c.Opened) {
		// From the times as the dump and the exports write them, to the
		// microsecond: a session loaded back from a file then shows the
		// same duration.
		b = append(b, sep...)
		b = append(b, "duration "...)
		b = appendDuration(b, c.LastSeen.Truncate(time.Microsecond).Sub(c.Opened.Truncate(time.Microsecond)))
	}
	return b
}

// appendPrefix appends what starts every line: the time and the
// connection id.
func appendPrefix(b []byte, t time.Time, c *decode.Connection) []byte {
	if t.IsZero() {
		b = append(b, '-')
	} else {
		b = appendTime(b, t)
	}
	b = append(b, " #"...)
	if c != nil {
		b = appendToken(b, c.ID)
	}
	return b
}

// appendStatus appends a response's status code and reason phrase.
func appendStatus(b []byte, resp *decode.Response) []byte {
	b = strconv.AppendInt(b, int64(resp.Status), 10)
	if resp.Reason != "" {
		b = append(b, ' ')
		b = appendText(b, resp.Reason)
	}
	return b
}

// appendCloseCode appends a Close frame's code and quoted reason, or
// "(no code)" for an empty Close (reported as 1005, RFC 6455 7.1.5).
func appendCloseCode(b []byte, cl *decode.Close) []byte {
	if !cl.HasCode {
		return append(b, "(no code)"...)
	}
	b = strconv.AppendUint(b, uint64(cl.Code), 10)
	b = append(b, ' ')
	n := previewLen(cl.Reason)
	b = strconv.AppendQuote(b, cl.Reason[:n])
	if n < len(cl.Reason) {
		b = append(b, "..."...)
	}
	return b
}

// appendOpcode appends the opcode's name, as decode.Opcode.String writes
// it, without building a string for reserved opcodes.
func appendOpcode(b []byte, o decode.Opcode) []byte {
	if o.IsReserved() {
		return append(b, 'o', 'p', "0123456789abcdef"[o&0xf])
	}
	return append(b, o.String()...)
}

// appendCount appends n and the noun that agrees with it: "1 message",
// "2 messages", "0 messages".
func appendCount(b []byte, n int64, one, many string) []byte {
	b = strconv.AppendInt(b, n, 10)
	b = append(b, ' ')
	if n == 1 {
		return append(b, one...)
	}
	return append(b, many...)
}

// appendDuration appends d rounded to what a reader of a log wants: three
// significant figures or so, and "us" rather than "µs" so that the framing
// stays ASCII.
func appendDuration(b []byte, d time.Duration) []byte {
	// Each unit is chosen after rounding, so that 999.96ms is "1.00s",
	// not "1000.0ms".
	if d < time.Millisecond {
		b = strconv.AppendInt(b, int64(d/time.Microsecond), 10)
		return append(b, "us"...)
	}
	if r := d.Round(100 * time.Microsecond); r < time.Second {
		b = strconv.AppendFloat(b, float64(r)/float64(time.Millisecond), 'f', 1, 64)
		return append(b, "ms"...)
	}
	if r := d.Round(10 * time.Millisecond); r < time.Minute {
		b = strconv.AppendFloat(b, r.Seconds(), 'f', 2, 64)
		return append(b, 's')
	}
	return append(b, d.Round(time.Second).String()...)
}

// appendAddr appends a peer's address, or "-" when it is not known (a
// HAR does not record the client's).
func appendAddr(b []byte, addr string) []byte {
	if addr == "" {
		return append(b, '-')
	}
	return appendToken(b, addr)
}

// appendToken appends s as it is when it is a run of printable ASCII
// without spaces or quotes (an address, a method, most URLs), otherwise
// quoted as Go quotes strings, so that a value never spans fields or
// lines.
func appendToken(b []byte, s string) []byte {
	if s == "" {
		return append(b, `""`...)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	return append(b, s...)
}

// appendText appends s unquoted, with every character that is not
// printable escaped as Go escapes it in a quoted string (\n, \x1b,
// \u2028), and every byte that is not UTF-8 as \xff: for prose such as
// a problem's text or a reason phrase, which should read as prose.
func appendText(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = appendByteEscape(b, c)
		case strconv.IsPrint(r):
			b = append(b, s[i:i+size]...)
		default:
			b = appendRuneEscape(b, r)
		}
		i += size
	}
	return b
}

// appendPreview appends the first previewBytes of p, quoted, cut at a
// character boundary, with "..." after the quote when p is longer.
func appendPreview(b []byte, p []byte) []byte {
	n := previewLen(p)
	b = appendGoQuoted(b, p[:n])
	if n < len(p) {
		b = append(b, "..."...)
	}
	return b
}

// previewLen returns how much of p a preview shows: previewBytes at
// most, without cutting a UTF-8 character in two.
func previewLen[T string | []byte](p T) int {
	n := len(p)
	if n > previewBytes {
		n = previewBytes
		for i := 0; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(p[n]); i++ {
			n--
		}
	}
	return n
}

// appendGoQuoted appends p quoted exactly as strconv.AppendQuote quotes
// string(p), without converting p to a string, which costs an allocation
// per message for previews longer than a few dozen bytes.
func appendGoQuoted(b []byte, p []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(p); {
		c := p[i]
		if c >= 0x20 && c < 0x7f {
			if c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = appendByteEscape(b, c)
		case strconv.IsPrint(r):
			b = append(b, p[i:i+size]...)
		default:
			b = appendRuneEscape(b, r)
		}
		i += size
	}
	return append(b, '"')
}

// appendByteEscape appends \x and two hex digits.
func appendByteEscape(b []byte, c byte) []byte {
	return append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendRuneEscape appends the escape strconv.Quote writes for a rune
// that is not printable.
func appendRuneEscape(b []byte, r rune) []byte {
	switch r {
	case '\a':
		return append(b, `\a`...)
	case '\b':
		return append(b, `\b`...)
	case '\f':
		return append(b, `\f`...)
	case '\n':
		return append(b, `\n`...)
	case '\r':
		return append(b, `\r`...)
	case '\t':
		return append(b, `\t`...)
	case '\v':
		return append(b, `\v`...)
	}
	switch {
	case r < ' ' || r == 0x7f:
		return appendByteEscape(b, byte(r))
	case r < 0x10000:
		b = append(b, '\\', 'u')
		for s := 12; s >= 0; s -= 4 {
			b = append(b, hexDigits[r>>uint(s)&0xf])
		}
		return b
	}
	b = append(b, '\\', 'U')
	for s := 28; s >= 0; s -= 4 {
		b = append(b, hexDigits[r>>uint(s)&0xf])
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
	n := min(len(p), previewHexBytes)
	for i, c := range p[:n] {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	if n < len(p) {
		b = append(b, " ..."...)
	}
	return b
}

var _ session.RenderingSink = (*Dumper)(nil)
