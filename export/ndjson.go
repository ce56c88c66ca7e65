package export

import (
	"fmt"
	"io"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// NDJSONWriter writes one JSON object per line for each event as it
// happens, so that the stream can be piped into jq or a log shipper. It
// buffers what it writes until Flush, which its caller calls on a short
// timer: a long-running proxy that is killed loses at most the last
// moment. Every line has "event" (opened, exchange, handshake,
// message, problem, closed) and "conn" (the connection id); the other
// members are those of the JSON export:
//
//	{"event": "opened", "conn": "1", "time": ..., "client": ..., "server": ..., "source": ...}
//	{"event": "exchange", "conn": "1", "index": 0, "request": {...}, "response": {...}}
//	{"event": "handshake", "conn": "1", "time": ..., "url": ..., "state": ..., "protocol": ..., "request": {...}, "response": {...}, "subprotocol": ..., "extensions": ...}
//	{"event": "message", "conn": "1", "index": 0, "from": "client", "time": ..., "opcode": 1, ..., "text": "Hello"}
//	{"event": "problem", "conn": "1", "index": 0, "severity": "error", "kind": ..., "message": ..., ...}
//	{"event": "closed", "conn": "1", "time": ..., "state": ..., "close": {...}, "frame_count": ..., ...}
//
// Frame events are not written: a message lists the indexes of its frames,
// and the JSON export has the frames in full.
//
// An NDJSONWriter is not safe for concurrent use.
type NDJSONWriter struct {
	e    *jw
	opts Options
}

// NewNDJSONWriter returns a writer of events to w.
func NewNDJSONWriter(w io.Writer, opts Options) *NDJSONWriter {
	return &NDJSONWriter{e: newJW(w), opts: opts}
}

// Event writes the line for e, if it has one, and flushes it.
func (n *NDJSONWriter) Event(ev decode.Event) error {
	c := ev.Conn
	switch {
	case c == nil, ev.Kind == decode.EventFrame,
		ev.Kind == decode.EventMessage && ev.Message == nil,
		ev.Kind == decode.EventProblem && ev.Problem == nil:
		return nil
	}
	e, r := n.e, n.opts.Redact
	o := o1(e)
	o.str("event", ev.Kind.String())
	o.str("conn", c.ID)
	switch ev.Kind {
	case decode.EventOpened:
		o.timeIf("time", c.Opened)
		o.str("client", c.Client)
		o.str("server", c.Server)
		o.str("source", c.Source)
	case decode.EventExchange:
		o.int("index", int64(ev.Index))
		if x := ev.Exchange; x != nil {
			writeHTTPPair(e, &o, x.Request, x.Response, r, "")
		}
	case decode.EventHandshake:
		switch {
		case c.Response != nil:
			o.timeIf("time", c.Response.Time)
		case c.Request != nil:
			o.timeIf("time", c.Request.Time)
		}
		o.str("url", r.target(c.URL))
		o.str("state", c.State.String())
		o.str("protocol", c.Protocol.String())
		writeHTTPPair(e, &o, c.Request, c.Response, r, "")
		o.str("subprotocol", r.subprotocol(c.Subprotocol))
		o.str("extensions", c.Extensions)
	case decode.EventMessage:
		o.int("index", int64(ev.Index))
		messageFields(&o, ev.Message)
	case decode.EventProblem:
		o.int("index", int64(ev.Index))
		problemFields(&o, c, ev.Problem, r)
	case decode.EventClosed:
		o.timeIf("time", c.LastSeen)
		o.str("state", c.State.String())
		writeCloses(e, &o, c)
		writeTotals(&o, c)
	}
	o.end()
	e.raw("\n")
	if e.err != nil {
		return fmt.Errorf("writing the %s event of connection %s: %w", ev.Kind, c.ID, e.err)
	}
	return nil
}

// Flush writes out the events written so far. Event buffers them (a
// million events are not a million system calls); whoever follows a live
// session flushes on a short timer and at the end.
func (n *NDJSONWriter) Flush() error {
	if err := n.e.flush(); err != nil {
		return fmt.Errorf("writing the NDJSON stream: %w", err)
	}
	return nil
}

// NewRenderer returns a renderer of the lines n writes, for rendering
// events on the goroutine that decodes them (see session.RenderingSink):
// the line of an event is a function of the event alone.
func (n *NDJSONWriter) NewRenderer() session.Renderer {
	return &ndjsonRenderer{w: NDJSONWriter{e: &jw{}, opts: n.opts}}
}

// WriteRendered writes lines a renderer of n rendered, as they are.
func (n *NDJSONWriter) WriteRendered(b []byte) error {
	e := n.e
	e.out = append(e.out, b...)
	e.spill()
	if e.err != nil {
		return fmt.Errorf("writing the NDJSON stream: %w", e.err)
	}
	return nil
}

// ndjsonRenderer renders NDJSON lines into bytes of the caller's. It is
// not safe for concurrent use.
type ndjsonRenderer struct{ w NDJSONWriter }

// Render appends the line of e, if it has one, to b.
func (r *ndjsonRenderer) Render(b []byte, e decode.Event) []byte {
	r.w.e.out = b
	r.w.Event(e) // no writer: nothing to fail
	b = r.w.e.out
	r.w.e.out = nil
	return b
}

var _ session.RenderingSink = (*NDJSONWriter)(nil)
