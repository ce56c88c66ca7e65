package session

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wstap/wstap/decode"
)

// TapOptions configure a Tap.
type TapOptions struct {
	// Decode bounds what each connection's decoder keeps.
	Decode decode.Options
	// Observe, if set, sees every event of a shown connection as it is
	// recorded, on the goroutine that decodes it: what the decoder said,
	// to hold what the store returns against.
	Observe decode.Listener
}

// Tap is the one way in for every source: packet captures, live capture,
// the proxy and imports of HAR or JSON files. It hands out connection ids,
// makes one decoder per connection, decides which connections are shown
// (those that carry WebSocket or HTTP; see gate.go) and records what they
// carry in the store. It is safe for concurrent use by the goroutines of
// several connections; each Conn is used by one goroutine at a time.
type Tap struct {
	store *Store
	opts  TapOptions

	mu sync.Mutex
	// next is the last number handed out as an id; claimed are the ids
	// imports took, which numbering skips. Only imported ids are kept,
	// so that a capture of a million connections costs nothing here.
	next    int
	claimed map[string]bool

	shown, messages atomic.Int64
}

// NewTap returns a tap recording into store.
func NewTap(store *Store, opts TapOptions) *Tap {
	if opts.Decode.Pool == nil {
		// The tap's decoders lend each other their buffers.
		opts.Decode.Pool = decode.NewPool()
	}
	return &Tap{store: store, opts: opts, claimed: map[string]bool{}}
}

// Store returns the store the tap records into.
func (t *Tap) Store() *Store { return t.store }

// Stats count what the tap showed.
type Stats struct {
	// Connections are the connections shown; Messages the messages they
	// carried so far.
	Connections, Messages int64
}

// Stats returns what the tap showed so far.
func (t *Tap) Stats() Stats {
	return Stats{Connections: t.shown.Load(), Messages: t.messages.Load()}
}

// NextID returns the next unused numeric id: "1", "2"... Sources that see
// connections before they know whether to show them (a capture numbers
// every TCP connection, as tshark does) take ids this way.
func (t *Tap) NextID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nextID()
}

func (t *Tap) nextID() string {
	for {
		t.next++
		id := strconv.Itoa(t.next)
		if !t.claimed[id] {
			return id
		}
	}
}

// ClaimID returns id if no connection has it yet, or a fresh one: an
// imported connection keeps the id it was saved with when it can, so
// that an export read back says the same thing.
func (t *Tap) ClaimID(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id == "" || t.claimed[id] {
		return t.nextID()
	}
	if n, err := strconv.Atoi(id); err == nil && strconv.Itoa(n) == id && n >= 1 && n <= t.next {
		return t.nextID() // numbering already gave it out
	}
	t.claimed[id] = true
	return id
}

// Conn is one decoded connection on the tap. Feed it the bytes of both
// directions in capture order, then End it. It is not safe for concurrent
// use.
type Conn struct {
	tap  *Tap
	dec  *decode.Decoder
	conn *decode.Connection
	gate gate
	// stored is the store's record of it, once shown.
	stored *storedConn
	shown  bool
	// lane, when set, is where its log items wait for their turn (see
	// Sequencer).
	lane  *Lane
	ended bool
	// broken is set when decoding the connection panicked (guard): it is
	// decoded no further.
	broken bool
	// inStore is set while the store's own code runs for it (show,
	// record): see guard.
	inStore bool
}

// Open starts decoding a connection. c says what is known of it: its ID
// (from NextID), addresses, source and when it was first seen. The tap's
// decoder fills it from then on; the caller must not change it.
func (t *Tap) Open(c *decode.Connection) *Conn {
	tc := &Conn{tap: t, conn: c}
	tc.dec = decode.NewDecoder(c, t.opts.Decode, tc.listen)
	return tc
}

// Feed gives the decoder the next bytes side sent, captured at at.
func (c *Conn) Feed(side decode.Side, at time.Time, b []byte) {
	if c.decoding() {
		defer c.guard(at)
		c.dec.Feed(side, at, b)
	}
}

// Gap tells the decoder that n bytes side sent are missing.
func (c *Conn) Gap(side decode.Side, at time.Time, n int64) {
	if c.decoding() {
		defer c.guard(at)
		c.dec.Gap(side, at, n)
	}
}

// Note records a problem the source found outside the bytes, such as a
// proxy's upstream that could not be reached (decode.Decoder.Note).
func (c *Conn) Note(p decode.Problem) {
	if c.decoding() {
		defer c.guard(p.Time)
		c.dec.Note(p)
	}
}

// decoding reports whether the connection's bytes still go to its decoder.
func (c *Conn) decoding() bool { return !c.gate.rejected && !c.broken }

// guard, deferred around every call into the decoder, turns a panic (a
// bug some input found) into an internal-error problem on the connection,
// which is decoded no further: the other connections, and everything this
// one recorded so far, are kept, and a terminal UI is not left in raw
// mode by a crash on a decoding goroutine.
func (c *Conn) guard(at time.Time) {
	r := recover()
	if r == nil {
		return
	}
	if c.inStore {
		// The store's own code failed, perhaps holding its locks:
		// recording the failure in it would wait on them for ever, and
		// so would every connection after. A crash with the stack says
		// more than a hang.
		panic(r)
	}
	c.broken = true
	stack := string(debug.Stack())
	p := decode.Problem{
		Severity: decode.Error, Kind: decode.KindInternalError, From: decode.Client, Time: at,
		Frame: -1, MessageIndex: -1, Offset: -1,
		Message: fmt.Sprintf("wstap failed while decoding this connection and decodes it no further: %v (please report it, with the capture if you can share it): %s", r, firstFrames(stack)),
	}
	idx := c.conn.ProblemCount
	c.conn.ProblemCount++
	c.forwardSafely(decode.Event{Kind: decode.EventProblem, Conn: c.conn, Index: idx, Problem: &p})
}

// forwardSafely records e for a broken connection: shown now if it was
// not (so that the failure is seen), and never panicking again.
func (c *Conn) forwardSafely(e decode.Event) {
	defer func() { recover() }()
	if !c.shown {
		c.show()
	}
	c.forward(e)
}

// firstFrames keeps the lines of a stack that locate a panic: the
// function that panicked and its callers, a few of them.
func firstFrames(stack string) string {
	lines := strings.Split(stack, "\n")
	var keep []string
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") && i+2 < len(lines) {
			keep = lines[i+2:]
			break
		}
	}
	if len(keep) > 8 {
		keep = keep[:8]
	}
	for i := range keep {
		keep[i] = strings.TrimSpace(keep[i])
	}
	return strings.Join(keep, " ")
}

// End ends the connection at at: the decoder flushes what is incomplete,
// and the connection is recorded as ended.
// It reports whether the connection was shown.
func (c *Conn) End(at time.Time) bool {
	if c.ended {
		return c.shown
	}
	c.ended = true
	if c.decoding() {
		func() {
			defer c.guard(at)
			c.dec.End(at)
		}()
	}
	if c.broken {
		// The decoder's own end did not come: the connection ends here,
		// with what it had.
		c.conn.LastSeen = later(c.conn.LastSeen, at)
		c.conn.State = decode.StateClosed
		c.forwardSafely(decode.Event{Kind: decode.EventClosed, Conn: c.conn})
	}
	c.gate = gate{rejected: c.gate.rejected}
	return c.shown
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Shown reports whether the connection is in the store.
func (c *Conn) Shown() bool { return c.shown }

// ID returns the connection's place in the store, -1 until it has one
// (when shown; on a lane, when its first item reached the store's log).
func (c *Conn) ID() ConnID {
	if !c.shown {
		return -1
	}
	s := c.tap.store
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.stored.id
}

// Connection returns the decoder's connection. It changes while bytes are
// fed; read it on the feeding goroutine only.
func (c *Conn) Connection() *decode.Connection { return c.conn }

// listen is the decoder's listener: events pass the gate, then go to the
// store.
func (c *Conn) listen(e decode.Event) {
	if c.shown {
		c.forward(e)
		return
	}
	pending, ok := c.gate.pass(e)
	if !ok {
		return
	}
	c.show()
	for _, p := range pending {
		c.forward(p)
	}
	c.forward(e)
}

// show puts the connection in the store.
func (c *Conn) show() {
	s := c.tap.store
	c.inStore = true // not reset by a panic: see guard
	s.mu.Lock()
	if !s.closed {
		if c.lane != nil {
			// Its place in the list comes with its first item in the
			// log, in the order of the steps (Sequencer).
			c.stored = s.newConn(c.conn, "")
			c.stored.unkept = c.lane.q.unkept
		} else {
			_, c.stored = s.add(c.conn, "")
		}
		c.shown = true
	}
	s.mu.Unlock()
	c.inStore = false
	if c.shown {
		c.tap.shown.Add(1)
	}
}

// forward records a shown connection's event.
func (c *Conn) forward(e decode.Event) {
	if !c.shown {
		return
	}
	c.record(e)
}

func (c *Conn) record(e decode.Event) {
	if e.Kind == decode.EventMessage {
		c.tap.messages.Add(1)
	}
	if c.tap.opts.Observe != nil {
		c.tap.opts.Observe(e)
	}
	c.inStore = true
	c.tap.store.record(c.stored, e, c.conn.State, false, c.lane)
	c.inStore = false
}
