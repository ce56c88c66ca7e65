package decode

import "time"

// Options bound what a decoder keeps. The zero value means the defaults.
type Options struct {
	// MaxMessageSize is the most payload retained per message (and per
	// plain HTTP body). Past it the message is marked truncated with a
	// problem and decoding goes on. Default 64 MiB.
	MaxMessageSize int64
	// MaxInflateSize is the most a single compressed message may inflate
	// to before inflation stops: the expansion limit against decompression
	// bombs. Default 256 MiB.
	MaxInflateSize int64
	// InflateBudget and InflateRatio bound what a whole connection may
	// inflate to: InflateBudget bytes plus InflateRatio times the
	// compressed bytes it carried. Past that, its compressed messages are
	// left compressed with one decompression-bomb problem. The
	// per-message limit alone lets a bomb spread over many messages, each
	// under it, inflate to gigabytes from a few megabytes; a real
	// conversation compresses ten or twenty to one, and rarely more than a
	// hundred. Defaults 256 MiB and 100.
	InflateBudget int64
	InflateRatio  int64
	// MaxProblemsPerKind caps how many problems of one kind a connection
	// keeps; a stream of a million masked server frames is one finding, not
	// a million. The rest are counted in Connection.SuppressedProblems.
	// Default 100.
	MaxProblemsPerKind int
	// Pool, when set, lends the decoder buffers of decoders that ended,
	// and takes its own back when it ends.
	Pool *Pool
}

const (
	defaultMaxMessageSize     = 64 << 20
	defaultMaxInflateSize     = 256 << 20
	defaultInflateBudget      = 256 << 20
	defaultInflateRatio       = 100
	defaultMaxProblemsPerKind = 100
)

func (o Options) withDefaults() Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = defaultMaxMessageSize
	}
	if o.MaxInflateSize <= 0 {
		o.MaxInflateSize = defaultMaxInflateSize
	}
	if o.InflateBudget <= 0 {
		o.InflateBudget = defaultInflateBudget
	}
	if o.InflateRatio <= 0 {
		o.InflateRatio = defaultInflateRatio
	}
	if o.MaxProblemsPerKind <= 0 {
		o.MaxProblemsPerKind = defaultMaxProblemsPerKind
	}
	return o
}

// EventKind says what happened.
type EventKind uint8

const (
	EventOpened    EventKind = iota // first bytes of the connection
	EventExchange                   // a plain HTTP request and response
	EventHandshake                  // the Upgrade request and its answer
	EventFrame                      // a frame, complete
	EventMessage                    // a message, complete
	EventProblem                    // a problem found
	EventClosed                     // the connection ended
)

func (k EventKind) String() string {
	return [...]string{"opened", "exchange", "handshake", "frame", "message", "problem", "closed"}[k]
}

// Event is one thing the decoder found. Index is the position of the frame,
// message, problem or exchange in the connection. The decoder keeps nothing
// it has emitted: Frame, Message, Problem, Exchange and every slice in
// them are valid only during the listener's call, and whoever wants to
// keep them copies them (session.Store does).
type Event struct {
	Kind     EventKind
	Conn     *Connection
	Index    int
	Frame    *Frame
	Message  *Message
	Problem  *Problem
	Exchange *Exchange
}

// Listener receives events on the goroutine that feeds the decoder. It must
// not keep pointers into the event past the call.
type Listener func(Event)

// Decoder decodes one TCP connection. Feed it the bytes of both directions
// in capture order; how they are chunked does not change the result. A
// Decoder is not safe for concurrent use.
type Decoder struct {
	conn   *Connection
	opts   Options
	listen Listener
	// dirs are indexed by the side the caller says bytes come from; each
	// direction's side is the role its traffic showed (setRole), which
	// is the other one when the caller's labels were wrong.
	dirs [2]direction

	opened bool
	ended  bool
	// roles is set once the client side is known: from the handshake or
	// from the first frame's mask bit.
	roles bool

	hs handshakeState

	// problemCount counts problems by kind for MaxProblemsPerKind.
	problemCount map[Kind]int

	// inflated and compressed count what the connection's compressed
	// messages took on the wire and inflated to, for the inflation
	// budget; bomb is set once the budget is spent.
	inflated, compressed int64
	bomb                 bool

	// evFrame, evMessage, evFrames and evProblem hold what an event points
	// to; they are overwritten by the next event. A pointer to a local
	// handed to the listener would escape, one allocation per event.
	evFrame   Frame
	evMessage Message
	evFrames  []int
	evProblem Problem
}

// NewDecoder returns a decoder that fills c and calls listen (which may be
// nil) for every event.
func NewDecoder(c *Connection, opts Options, listen Listener) *Decoder {
	d := &Decoder{conn: c, opts: opts.withDefaults(), listen: listen}
	if c.Protocol == ProtocolUnknown && c.State == 0 {
		c.State = StateHandshake
	}
	d.dirs[Client] = direction{side: Client}
	d.dirs[Server] = direction{side: Server}
	return d
}

// Conn returns the connection the decoder fills.
func (d *Decoder) Conn() *Connection { return d.conn }

// Feed gives the decoder the next bytes sent by side from, captured at time
// t. The decoder copies what it keeps; b may be reused after the call.
func (d *Decoder) Feed(from Side, t time.Time, b []byte) {
	if d.ended || len(b) == 0 {
		return
	}
	d.touch(t)
	// dirs stay indexed by the caller's label; a direction's side is the
	// role its traffic showed, which may be the other one.
	dir := &d.dirs[from]
	d.conn.Bytes[dir.side] += int64(len(b))
	d.feed(dir, t, b)
}

// Gap tells the decoder that n bytes sent by side from are missing from the
// capture at time t. Decoding of that direction resumes at the next
// plausible frame header after the gap.
func (d *Decoder) Gap(from Side, t time.Time, n int64) {
	if d.ended || n <= 0 {
		return
	}
	d.touch(t)
	dir := &d.dirs[from]
	d.conn.Bytes[dir.side] += n
	d.gap(dir, t, n)
}

// End tells the decoder the connection ended (FIN, RST or end of capture)
// at time t. Anything incomplete is flushed with a problem that says so.
func (d *Decoder) End(t time.Time) {
	if d.ended {
		return
	}
	d.touch(t)
	d.endHandshake(t)
	for s := range d.dirs {
		d.endDirection(&d.dirs[s], t)
	}
	d.ended = true
	switch {
	case d.conn.Request == nil && d.conn.Protocol == ProtocolUnknown:
		// No Upgrade and no frames: plain HTTP, or nothing at all.
		d.conn.State = StateNotWebSocket
	case d.conn.State != StateRejected && d.conn.State != StateNotWebSocket:
		d.conn.State = StateClosed
	}
	d.emit(Event{Kind: EventClosed, Conn: d.conn})
	d.opts.Pool.release(d)
}

// Note records a problem the source of the bytes found outside them (a
// proxy whose upstream refused, a side that reset the connection), in its
// place among the events: after what was fed before it. p.Time must be
// set; a location it lacks must be -1.
func (d *Decoder) Note(p Problem) {
	if d.ended {
		return
	}
	d.touch(p.Time)
	d.problem(p)
}

func (d *Decoder) touch(t time.Time) {
	if !d.opened {
		d.opened = true
		if d.conn.Opened.IsZero() {
			d.conn.Opened = t
		}
		d.emit(Event{Kind: EventOpened, Conn: d.conn})
	}
	if t.After(d.conn.LastSeen) {
		d.conn.LastSeen = t
	}
}

func (d *Decoder) emit(e Event) {
	if d.listen != nil {
		d.listen(e)
	}
}

// problem records p, unless its kind has reached the per-kind cap.
func (d *Decoder) problem(p Problem) {
	if d.problemCount == nil {
		d.problemCount = make(map[Kind]int)
	}
	d.problemCount[p.Kind]++
	if d.problemCount[p.Kind] > d.opts.MaxProblemsPerKind {
		d.conn.SuppressedProblems++
		return
	}
	idx := d.conn.ProblemCount
	d.conn.ProblemCount++
	d.evProblem = p
	d.emit(Event{Kind: EventProblem, Conn: d.conn, Index: idx, Problem: &d.evProblem})
}

// problemf records a problem with no frame or message location.
func (d *Decoder) problemf(sev Severity, kind Kind, from Side, t time.Time, format string, args ...any) {
	d.report(sev, kind, from, at(t), format, args...)
}

// feed dispatches bytes by the direction's mode. Each mode consumes what it
// can and may switch mode; the rest goes to the new mode.
func (d *Decoder) feed(dir *direction, t time.Time, b []byte) {
	for len(b) > 0 {
		start := dir.pos
		var n int
		switch dir.mode {
		case modeDetect:
			n = d.detect(dir, t, b)
		case modeHTTP:
			n = d.feedHead(dir, t, b)
		case modeBody:
			n = d.feedBody(dir, t, b)
		case modeHold:
			n = d.hold(dir, t, b)
		case modeFrames:
			n = d.feedFrames(dir, t, b)
		case modeHixie:
			n = d.feedHixie(dir, t, b)
		case modeResync:
			n = d.feedResync(dir, t, b)
		default: // modeIgnore
			n = len(b)
		}
		// A mode that replays buffered bytes moves pos itself; what this
		// call consumed is measured from where it started.
		dir.pos = start + int64(n)
		b = b[n:]
	}
}
