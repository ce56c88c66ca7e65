package session

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wstap/wstap/decode"
)

// ConnID is a connection's place in the store: 0, 1, 2... in the order
// connections were shown. It is not the connection's ID string (which the
// tap hands out in capture order and which an import may choose).
type ConnID int

// StoreOptions configure a Store.
type StoreOptions struct {
	// SpillDir is where the spill file is made; "" is the temporary
	// directory (os.TempDir).
	SpillDir string
	// LetGo lets go of a connection's frames, messages and payloads once
	// it ended and every sink following the store handled it: for a run
	// that only writes its outputs, with no view to browse the store
	// afterwards. Its payloads still waiting to be written to the spill
	// file then never are (a capture of short connections costs no file
	// I/O), and the disk blocks of those that were are given back, so
	// that a proxy left running spills no more than the connections it
	// still keeps. Reading such a connection's frames or messages
	// afterwards is an error; its metadata, counts and problems stay.
	// Sinks must follow the store before anything is recorded. When every
	// sink renders on a Sequencer's lanes (RenderingSink), the
	// connections decoded there keep no frames, messages or exchanges at
	// all: nobody would read them (see Sequencer.unkept).
	LetGo bool
	// Live says the source cannot be held back for the sinks (a proxy, a
	// capture on an interface; see Pace): fewer of the spill file's
	// filled extents wait in memory to be written (see liveWriteBack).
	Live bool
}

// Store keeps every connection the tap shows: its metadata, problems and
// exchanges in memory, its frames and messages as compact records in
// blocks, and payloads and full blocks in the spill file. It is safe for
// concurrent use: the tap records from the goroutines that decode, while
// sinks and views read. Each connection has a lock of its own, so that
// decoders recording different connections, and a sink reading one that
// ended, do not wait for each other; mu guards what is shared (the list of
// connections, the log, the first failure). mu is never held while a
// connection's lock is taken; a connection's lock may be held while mu,
// the spill file's or the block cache's lock is taken.
type Store struct {
	mu    sync.Mutex
	sp    *spill
	cache *blockCache
	// conns are the connections (see connTable), and published is a copy
	// of it as of its last change, for readers; shut is set by Close.
	conns     connTable
	published atomic.Pointer[connTable]
	// letGoTotals count the connections let go (see Totals).
	letGoTotals Totals
	shut        atomic.Bool
	// items is the log of what happened, in order (see Item), and
	// itemStream its stream in the spill file.
	items      recordLog
	itemStream spillStream
	logIDs     int
	// changed is closed at the next change when someone waits for one.
	changed chan struct{}
	// waiting is set when someone waits on changed: recording a frame
	// then takes mu to wake them, and otherwise does not.
	waiting atomic.Bool
	closed  bool
	// err is the first spill failure, reported once; recording goes on
	// in memory.
	err error
	// letGo is StoreOptions.LetGo; followers counts the sinks following
	// the store, each of which handles a connection before it is let go.
	letGo     bool
	followers int
	// progress are the followers' places in the log; logPassed counts
	// its blocks every follower passed, and logPending are those of them
	// still in memory when they were, to give back once written (see
	// passed).
	progress   []int
	logPassed  int
	logPending []int
	// released is what a connection let go has instead of its records:
	// nothing, which nobody changes (a connection let go records
	// nothing), so that a reader that found it just before it went
	// reads no records rather than nil.
	released connRecords
	// endedBytes are the payload bytes of the connections that ended and
	// wait for the sinks to handle them before they are let go (see
	// Pace); unpaced is set when a sink stopped, and pacing with it.
	endedBytes atomic.Int64
	unpaced    atomic.Bool
	// hot are the sinks following the store that a Sequencer's lanes
	// render for (see RenderingSink).
	hot []hotSink
}

// paceBytes is how much of the payloads of connections that ended may wait
// for the sinks before Pace holds the source back: a sixth of the spill's
// write-back budget, which also holds the connections still open, so that
// what the sinks read is still in memory and is let go without ever being
// written.
const paceBytes = writeBackBytes / 6

// pacePoll is how often Pace looks again while it holds the source back.
const pacePoll = time.Millisecond

// storedConn is what the store keeps of one connection. mu guards all of
// it while it is recorded; once it ended, its records are read without it
// (see frozen). Once it is let go the store's table drops it (see
// connTable), and what its recorder or a reader that found it just before
// may still hold is this header: the rest goes at once.
type storedConn struct {
	mu sync.Mutex
	// id is its place in the list of connections, -1 until it has one
	// (see Sequencer).
	id ConnID
	// handled counts the sinks that handled the connection since it
	// ended; gone is set once it was let go (see StoreOptions.LetGo).
	handled int
	gone    atomic.Bool
	// frozen is set once the connection ended and its logs were sealed:
	// its frames, messages and payloads no longer change, and readers
	// read them without taking mu. Two goroutines rendering one long
	// connection spent more time passing mu's reader count between
	// their cores than rendering.
	frozen atomic.Bool
	// bytes are the payload bytes recorded for it.
	bytes int64
	// letGoMessages, letGoProblems and letGoErrors are its count of
	// messages and what problemCounts said when it was let go.
	letGoMessages, letGoProblems, letGoErrors int
	// unkept is set for a connection whose frames, messages and exchanges
	// are not kept (see Sequencer.unkept); unkeptMessages counts its
	// messages. Its metadata, handshakes and problems are.
	unkept         bool
	unkeptMessages int
	// connRecords is all the rest; once let go, the store's released,
	// which is empty and never changes.
	*connRecords
}

// connRecords is what the store keeps of a connection until it is let go.
type connRecords struct {
	meta decode.Connection
	// last are the decoder's objects the meta's copies were made from:
	// a changed pointer means a new handshake or close to copy.
	lastReq              *decode.Request
	lastResp             *decode.Response
	lastClose, lastReply *decode.Close
	lastDeflate          *decode.DeflateParams

	// stream is where the connection's payloads and full blocks go in the
	// spill file, but for those of the frames of compressed messages,
	// which go to wire. Only the list of frames reads those; in one
	// stream with the messages' payloads, each read of them from the file
	// read the messages' beside them too (the long capture shape read
	// 1 GB back for 527 MB written).
	stream, wire spillStream
	// compressed says, per direction, whether the data message being
	// sent is compressed (RSV1 on its first frame, RFC 7692 6): its
	// continuation frames do not say.
	compressed              [2]bool
	frames, messages, lists recordLog
	problems                []decode.Problem
	exchanges               []storedExchange
	// handshakes are the handshake as each handshake event saw it (the
	// answer's body, for one, comes later): what a sink following the
	// log shows for that event, however far behind it is.
	handshakes []handshakeCopy
}

type handshakeCopy struct {
	req  *decode.Request
	resp *decode.Response
}

// storedExchange is a plain HTTP exchange with its bodies in the spill
// file.
type storedExchange struct {
	req               *decode.Request
	resp              *decode.Response
	reqBody, respBody payRef
}

// NewStore makes a store with its spill file.
func NewStore(opts StoreOptions) (*Store, error) {
	sp, err := newSpill(opts.SpillDir)
	if err != nil {
		return nil, err
	}
	// A store that lets connections go gives their disk space back too.
	sp.reclaim = opts.LetGo
	if opts.Live {
		sp.maxWaiting = liveWriteBack
	}
	s := &Store{sp: sp, cache: newBlockCache(blockCacheBytes), changed: make(chan struct{}), letGo: opts.LetGo}
	s.items = s.newLog(itemRecSize, &s.itemStream)
	return s, nil
}

func (s *Store) newLog(size int, stream *spillStream) recordLog {
	s.logIDs++
	return recordLog{id: s.logIDs, size: size, stream: stream}
}

// Close releases the spill file; the store cannot be read afterwards.
// Waiters are woken.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.shut.Store(true)
	close(s.changed)
	return s.sp.close()
}

// Draining tells the store that its sources ended: the sinks read it out
// and it is closed next. Connections let go from then on keep their disk
// space until the spill file goes, which is soon.
func (s *Store) Draining() { s.sp.draining() }

// Err returns the first failure of the spill file (a full disk), or nil.
// What was recorded until then, and the records after it, are kept; the
// payloads after it are lost.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Len returns the number of connections.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns.n
}

// Changed returns a channel closed at the next change to the store (or at
// Close). Views wait on it and then ask for what they show: a live
// connection makes many changes, and a view that redraws after waking
// sees them all at once.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting.Store(true)
	return s.changed
}

// notify wakes the waiters; the caller holds mu.
func (s *Store) notify() {
	if s.waiting.Load() && !s.closed {
		close(s.changed)
		s.changed = make(chan struct{})
		s.waiting.Store(false)
	}
}

// fail records a spill failure.
func (s *Store) fail(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// add makes a connection and returns its id, and the connection for the
// one who records it; the caller holds mu. id, if not "", is the
// connection's ID instead of c's (an import's, made unique).
func (s *Store) add(c *decode.Connection, id string) (ConnID, *storedConn) {
	sc := s.newConn(c, id)
	return s.register(sc), sc
}

// newConn makes a connection's record, not in the list of connections
// yet (see register); the caller holds mu.
func (s *Store) newConn(c *decode.Connection, id string) *storedConn {
	sc := &storedConn{id: -1, connRecords: &connRecords{}}
	sc.frames, sc.messages, sc.lists = s.newLog(frameRecSize, &sc.stream), s.newLog(messageRecSize, &sc.stream), s.newLog(listRecSize, &sc.stream)
	if id != "" {
		sc.meta.ID = id
	}
	sc.snapshot(c, false)
	return sc
}

// register puts sc in the list of connections and returns its id; the
// caller holds mu.
func (s *Store) register(sc *storedConn) ConnID {
	sc.id = s.conns.add(sc)
	if sc.gone.Load() {
		// Let go before it had its place (see release): it keeps the
		// place, for the items that name it, but not its slot.
		s.conns.remove(sc.id)
	}
	s.publish()
	return sc.id
}

// publish makes the table as it is now the one readers find; the caller
// holds mu.
func (s *Store) publish() {
	t := s.conns
	s.published.Store(&t)
}

// snapshot copies what changed of the decoder's connection into the
// stored metadata. The decoder's objects are copied, never shared: the
// decoder goes on changing its own. A handshake's objects are copied again
// when the connection ends: the body of a refused Upgrade's answer (and
// hixie-76's challenge) arrives after the handshake event.
func (sc *storedConn) snapshot(c *decode.Connection, final bool) {
	m := &sc.meta
	id, req, resp, cl, reply, defl := m.ID, m.Request, m.Response, m.Close, m.CloseReply, m.Deflate
	*m = *c
	m.Request, m.Response, m.Close, m.CloseReply, m.Deflate = req, resp, cl, reply, defl
	if id != "" {
		m.ID = id // an import's id may have been changed to keep ids unique
	}
	if c.Request != sc.lastReq || final {
		sc.lastReq, m.Request = c.Request, copyRequest(c.Request)
	}
	if c.Response != sc.lastResp || final {
		sc.lastResp, m.Response = c.Response, copyResponse(c.Response)
	}
	if c.Close != sc.lastClose {
		sc.lastClose, m.Close = c.Close, copyClose(c.Close)
	}
	if c.CloseReply != sc.lastReply {
		sc.lastReply, m.CloseReply = c.CloseReply, copyClose(c.CloseReply)
	}
	if c.Deflate != sc.lastDeflate {
		sc.lastDeflate = c.Deflate
		if c.Deflate != nil {
			d := *c.Deflate
			m.Deflate = &d
		} else {
			m.Deflate = nil
		}
	}
}

func copyRequest(r *decode.Request) *decode.Request {
	if r == nil {
		return nil
	}
	c := *r
	c.Headers = slices.Clone(r.Headers)
	c.Body = slices.Clone(r.Body)
	return &c
}

func copyResponse(r *decode.Response) *decode.Response {
	if r == nil {
		return nil
	}
	c := *r
	c.Headers = slices.Clone(r.Headers)
	c.Body = slices.Clone(r.Body)
	return &c
}

func copyClose(c *decode.Close) *decode.Close {
	if c == nil {
		return nil
	}
	cc := *c
	return &cc
}

// record stores what e carries for connection sc, and logs it with the
// connection's state. imported is set for events an import made, whose
// frames may come without the payload their message repeats (see
// payFromMessage). The recorder holds sc from add: looking it up by id
// would take mu for every frame, from every decoding goroutine. With a
// lane, the log's item waits there for its turn (see Sequencer); the
// item's connection is sc's place in the list when it is logged.
func (s *Store) record(sc *storedConn, e decode.Event, state decode.State, imported bool, lane *Lane) {
	index := e.Index // a handshake's is the store's count of them
	sc.mu.Lock()
	if sc.frozen.Load() && e.Kind != decode.EventProblem {
		// Nothing follows a connection's end but problems (a decoder
		// that ended takes no more bytes); its records are read without
		// its lock from then on, and must not change.
		sc.mu.Unlock()
		return
	}
	if sc.gone.Load() {
		// A problem after the connection was let go is still counted.
		errors := 0
		if e.Problem.Severity == decode.Error {
			errors = 1
		}
		sc.letGoProblems++
		sc.letGoErrors += errors
		s.mu.Lock()
		s.letGoTotals.add(0, 0, 1, errors)
		s.mu.Unlock()
		sc.mu.Unlock()
		return
	}
	switch e.Kind {
	case decode.EventFrame:
		if !sc.unkept {
			s.recordFrame(sc, e.Frame, imported)
		}
		sc.meta.LastSeen, sc.meta.Bytes = e.Conn.LastSeen, e.Conn.Bytes
		sc.mu.Unlock()
		// Frames are not in the log, and wake nobody: views read them by
		// range when something else woke them (a message completes a
		// frame's message, and follows soon).
		return
	case decode.EventMessage:
		if sc.unkept {
			sc.unkeptMessages++
		} else {
			s.recordMessage(sc, e.Index, e.Message)
		}
		if e.Message.Opcode == decode.OpClose {
			sc.snapshot(e.Conn, false)
		}
		sc.meta.LastSeen, sc.meta.Bytes, sc.meta.State = e.Conn.LastSeen, e.Conn.Bytes, e.Conn.State
	case decode.EventProblem:
		sc.problems = append(sc.problems, *e.Problem)
	case decode.EventExchange:
		if !sc.unkept {
			s.recordExchange(sc, e.Exchange)
		}
	case decode.EventClosed:
		sc.snapshot(e.Conn, true)
		for _, l := range []*recordLog{&sc.frames, &sc.messages, &sc.lists} {
			l.seal(s.sp)
		}
		s.fail(s.sp.flush(&sc.stream))
		s.fail(s.sp.flush(&sc.wire))
		sc.frozen.Store(true)
		s.mu.Lock()
		unfollowed := s.letGo && s.followers == 0
		s.mu.Unlock()
		if s.letGo {
			s.endedBytes.Add(sc.bytes)
		}
		if unfollowed {
			s.release(sc)
		}
	case decode.EventHandshake:
		sc.snapshot(e.Conn, false)
		sc.handshakes = append(sc.handshakes, handshakeCopy{copyRequest(e.Conn.Request), copyResponse(e.Conn.Response)})
		index = len(sc.handshakes) - 1
	default: // opened
		sc.snapshot(e.Conn, false)
	}
	sc.mu.Unlock()
	it := Item{Kind: e.Kind, Index: index, State: state}
	if lane != nil {
		lane.add(sc, it, e)
		return
	}
	s.logItems([]pendingItem{{it: it, sc: sc}}, nil, nil)
}

// messageCount is how many messages sc recorded, kept or not; the
// caller holds sc.mu.
func (sc *storedConn) messageCount() int { return sc.messages.n + sc.unkeptMessages }

// recordFrame appends a frame record; its retained payload goes to the
// spill file, unless it is to be cut from its message's (an import that
// left it out).
func (s *Store) recordFrame(sc *storedConn, f *decode.Frame, imported bool) {
	pay := payRef{n: uint32(len(f.Payload))}
	if imported && f.Payload == nil && f.Message >= 0 && f.Length > 0 {
		pay = payRef{off: payFromMessage, n: uint32(min(f.Length, 1<<32-1))}
	} else {
		st := &sc.stream
		if sc.frameCompressed(f) {
			st = &sc.wire
		}
		pay.off = s.spillPayload(sc, st, f.Payload)
	}
	r := newFrameRec(f, pay)
	sc.frames.append(s.sp, r.put)
}

// frameCompressed reports whether f is a frame of a compressed message.
// The caller holds sc.mu.
func (sc *storedConn) frameCompressed(f *decode.Frame) bool {
	side := min(uint(f.From), 1)
	switch f.Opcode {
	case decode.OpText, decode.OpBinary:
		sc.compressed[side] = f.Rsv&4 != 0
	case decode.OpContinuation:
	default:
		return false // control frames are not compressed
	}
	return sc.compressed[side]
}

// readCurrent appends payload ref to dst when it lies in the current
// extent of one of sc's streams, and reports whether it did; the caller
// holds sc.mu, which guards those extents (see spillStream.readCurrent).
func (sc *storedConn) readCurrent(dst []byte, ref payRef) ([]byte, bool) {
	if ref.off < 0 || ref.n == 0 {
		return dst, false
	}
	if p, ok := sc.stream.readCurrent(dst, ref.off, int(ref.n)); ok {
		return p, true
	}
	return sc.wire.readCurrent(dst, ref.off, int(ref.n))
}

// spillPayload appends p to stream st of connection sc in the spill file
// and returns its offset, or payLost when the spill file failed.
func (s *Store) spillPayload(sc *storedConn, st *spillStream, p []byte) int64 {
	if len(p) == 0 {
		return 0
	}
	sc.bytes += int64(len(p))
	off, err := s.sp.append(st, p)
	if err != nil {
		s.fail(err)
		return payLost
	}
	return off
}

// recordMessage appends a message record. Its frames learn which message
// they belong to. The payload of a message that is not compressed is the
// payloads of its frames one after the other; when those lie one after
// the other in the spill file too (always for a message of one frame),
// the message points there instead of storing the bytes again.
func (s *Store) recordMessage(sc *storedConn, idx int, m *decode.Message) {
	var fr frameRec
	contiguous := !m.Compressed || m.Raw
	// derivable: the frames carry the message's payload whole (see
	// Reader.Derivable), decided here where the frames' records are at
	// hand rather than by every reader.
	derivable := contiguous
	next := int64(-1)
	total := 0
	for _, fi := range m.Frames {
		b, err := sc.frames.record(s.sp, s.cache, fi, nil)
		if err != nil {
			contiguous, derivable = false, false
			continue
		}
		fr.get(b)
		if fr.pay.off == payLost || uint64(fr.pay.n) != fr.length {
			derivable = false
		}
		if int(fr.message) != idx {
			fr.message = int32(idx)
			s.fail(sc.frames.update(s.sp, s.cache, fi, fr.put))
		}
		if fr.pay.n == 0 {
			continue
		}
		if fr.pay.off < 0 || (next >= 0 && fr.pay.off != next) {
			contiguous = false
		}
		if next < 0 {
			next = fr.pay.off
		}
		if fr.pay.off >= 0 {
			next = fr.pay.off + int64(fr.pay.n)
		}
		total += int(fr.pay.n)
	}
	pay := payRef{n: uint32(len(m.Payload))}
	if contiguous && total == len(m.Payload) && len(m.Payload) > 0 {
		pay.off = next - int64(total)
	} else {
		pay.off = s.spillPayload(sc, &sc.stream, m.Payload)
	}
	first, count := int32(0), int32(len(m.Frames))
	listed := false
	if count > 0 {
		first = int32(m.Frames[0])
		for i, fi := range m.Frames {
			if fi != m.Frames[0]+i {
				listed = true
				break
			}
		}
	}
	if listed {
		first = int32(sc.lists.n)
		for _, fi := range m.Frames {
			sc.lists.append(s.sp, func(b []byte) { putInt32(b, int32(fi)) })
		}
	}
	r := newMessageRec(m, pay, first, count, listed)
	derivable = derivable && total == len(m.Payload)
	if derivable {
		r.flags |= flagDerivable
	}
	if count == 1 {
		// Its one frame says whether it is derivable too: the JSON
		// export's list of frames, which asks for every frame, then
		// need not read the message's record as well (on long
		// connections, the records of every message read again).
		s.fail(sc.frames.update(s.sp, s.cache, m.Frames[0], func(b []byte) { markAlone(b, derivable) }))
	}
	sc.messages.append(s.sp, r.put)
}

// recordExchange keeps an exchange, its heads in memory and its bodies in
// the spill file.
func (s *Store) recordExchange(sc *storedConn, x *decode.Exchange) {
	var se storedExchange
	if x.Request != nil {
		se.req = copyRequest(x.Request)
		se.req.Body = nil
		se.reqBody = payRef{off: s.spillPayload(sc, &sc.stream, x.Request.Body), n: uint32(len(x.Request.Body))}
	}
	if x.Response != nil {
		se.resp = copyResponse(x.Response)
		se.resp.Body = nil
		se.respBody = payRef{off: s.spillPayload(sc, &sc.stream, x.Response.Body), n: uint32(len(x.Response.Body))}
	}
	sc.exchanges = append(sc.exchanges, se)
}

// Item is one entry of the store's log: what happened, in the order it
// was recorded. Frames are not logged (views read them by range).
type Item struct {
	Conn ConnID
	// Kind is what happened: opened, exchange, handshake, message,
	// problem or closed.
	Kind decode.EventKind
	// Index is the exchange, message or problem's index in its
	// connection.
	Index int
	// State is the connection's state when the item was recorded.
	State decode.State
}

const itemRecSize = 12

func (s *Store) logItem(it Item) {
	s.items.append(s.sp, func(b []byte) {
		putInt32(b[0:], int32(it.Conn))
		putInt32(b[4:], int32(it.Index))
		b[8], b[9], b[10], b[11] = byte(it.Kind), byte(it.State), 0, 0
	})
}

// Items returns how many items the log has.
func (s *Store) Items() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.items.n
}

// Item returns item i of the log.
func (s *Store) Item(i int) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Item{}, errSpillClosed
	}
	b, err := s.items.record(s.sp, s.cache, i, nil)
	if err != nil {
		return Item{}, err
	}
	return itemOf(b), nil
}

// ItemsFrom appends to dst the items of the log from i on, up to the end
// of the block of records i is in, or of the log: a sink follows the log a
// block at a time, taking the store's lock once for 1024 items, not for
// each (a long capture logs millions, while the decoders take the same
// lock to log more).
func (s *Store) ItemsFrom(i int, dst []Item) ([]Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return dst, errSpillClosed
	}
	b, err := s.items.recordsFrom(s.sp, s.cache, i)
	if err != nil {
		return dst, err
	}
	for ; len(b) >= itemRecSize; b = b[itemRecSize:] {
		dst = append(dst, itemOf(b))
	}
	return dst, nil
}

// itemOf decodes the item record b (see logItem).
func itemOf(b []byte) Item {
	return Item{Conn: ConnID(getInt32(b[0:])), Index: int(getInt32(b[4:])), Kind: decode.EventKind(b[8]), State: decode.State(b[9])}
}

// WaitItems blocks until the log has more than n items, the store is
// closed or ctx is done, and returns how many it has.
func (s *Store) WaitItems(ctx context.Context, n int) int {
	for {
		ch := s.Changed()
		s.mu.Lock()
		have, closed := s.items.n, s.closed
		s.mu.Unlock()
		if have > n || closed {
			return have
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return have
		}
	}
}

// conn returns the stored connection id. The caller locks it to use it.
func (s *Store) conn(id ConnID) (*storedConn, error) {
	if s.shut.Load() {
		return nil, errSpillClosed
	}
	t := s.published.Load()
	if t == nil || !t.has(id) {
		n := 0
		if t != nil {
			n = t.n
		}
		return nil, fmt.Errorf("no connection %d in the store (%d)", id, n)
	}
	sc := t.get(id)
	if sc == nil {
		return nil, letGoError(id)
	}
	if sc.gone.Load() {
		return nil, letGoError(id)
	}
	return sc, nil
}

// letGoError is the error of reading connection id once it was let go.
func letGoError(id ConnID) error {
	return fmt.Errorf("connection %d of the list was let go once every output wrote it", id)
}

// lockConn is conn with the connection's lock taken, for what reads its
// metadata: a connection let go between the two is an error too.
func (s *Store) lockConn(id ConnID) (*storedConn, error) {
	sc, err := s.conn(id)
	if err != nil {
		return nil, err
	}
	sc.mu.Lock()
	if sc.gone.Load() {
		sc.mu.Unlock()
		return nil, letGoError(id)
	}
	return sc, nil
}

// follower counts one more sink following the store, and returns its
// place in progress.
func (s *Store) follower() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.followers++
	s.progress = append(s.progress, 0)
	return len(s.progress) - 1
}

// passed tells the store that the follower in slot handled the log's
// first n items. With LetGo, the blocks of the log every follower passed
// are read by nobody any more, and their disk blocks are given back: the
// log takes 12 bytes an item, a gigabyte for a proxy that saw a hundred
// million. A block still in memory, waiting to be written, is tried again
// at the next call.
func (s *Store) passed(slot, n int) {
	if !s.letGo {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.progress[slot] = n
	passed := slices.Min(s.progress) / blockRecords
	todo := s.logPending
	s.logPending = nil
	for ; s.logPassed < passed; s.logPassed++ {
		todo = append(todo, s.logPassed)
	}
	var spans []fileSpan
	for _, b := range todo {
		off := s.items.spilled[b]
		if off == payLost {
			continue // kept in memory, where it stays
		}
		if s.sp.pass(off, blockRecords*itemRecSize) {
			continue // in memory: never written, or punched once written
		}
		span, ok := s.sp.writtenSpan(off, blockRecords*itemRecSize)
		if !ok {
			s.logPending = append(s.logPending, b)
			continue
		}
		spans = append(spans, span)
	}
	s.mu.Unlock()
	s.sp.punch(spans)
}

// handled tells the store that one of the sinks following it handled
// connection id, which ended; with StoreOptions.LetGo, the last of them
// lets it go.
func (s *Store) handled(id ConnID) {
	s.mu.Lock()
	if !s.letGo || s.closed || !s.conns.has(id) {
		s.mu.Unlock()
		return
	}
	sc, followers := s.conns.get(id), s.followers
	s.mu.Unlock()
	if sc == nil {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.handled++
	if sc.handled >= followers && sc.frozen.Load() && !sc.gone.Load() {
		s.release(sc)
	}
}

// Pace holds a source that can wait (a file being read) back while the
// sinks lag behind it: while the payloads of connections that ended and
// wait for the sinks to be let go exceed paceBytes. Without it a sink
// slower than decoding (an export, on a machine with few cores) falls
// further behind the whole run, and what it reads has been written to the
// spill file and must be read back; paced, the whole pipeline goes at the
// sinks' speed with no file I/O for short connections. It returns at once
// for a store that keeps everything, when ctx is done, and for good once a
// sink stopped (its connections are never let go). Before it waits it
// calls handOver (when not nil): a source that holds decoding work back
// (a batch not full yet) must hand it on, or what the sinks wait for
// (the end of a connection, or an earlier step a Sequencer waits for)
// may never come. A live source never calls it: the relay must not wait
// for a sink.
func (s *Store) Pace(ctx context.Context, handOver func()) {
	if !s.letGo || s.endedBytes.Load() <= paceBytes {
		return
	}
	if handOver != nil {
		handOver()
	}
	for s.endedBytes.Load() > paceBytes && !s.unpaced.Load() && ctx.Err() == nil {
		time.Sleep(pacePoll)
	}
}

// release lets go of connection sc: its records, payloads and metadata
// go, what Totals counts of it joins letGoTotals, and it leaves the
// table; the caller holds sc.mu. Every sink has handled sc, and nothing
// else reads a store that lets go: no reader is reading it without its
// lock (see frozen).
func (s *Store) release(sc *storedConn) {
	problems, errors := sc.problemCounts()
	sc.gone.Store(true)
	sc.letGoMessages = sc.messageCount()
	sc.letGoProblems, sc.letGoErrors = problems, errors
	s.endedBytes.Add(-sc.bytes)
	s.sp.letGo(&sc.stream)
	s.sp.letGo(&sc.wire)
	sc.connRecords = &s.released
	s.mu.Lock()
	s.letGoTotals.add(1, sc.letGoMessages, problems, errors)
	// Without a sink following the store a connection is let go as it
	// ends, which on a lane may be before it has a place in the list
	// (sc.id, which register gives under mu): register then leaves it
	// out of the table.
	if sc.id >= 0 && s.conns.remove(sc.id) {
		s.publish()
	}
	s.mu.Unlock()
}

// problemCounts returns how many problems sc has, those it only counted
// included, and how many of them are errors; the caller holds sc.mu.
func (sc *storedConn) problemCounts() (problems, errors int) {
	if sc.gone.Load() {
		return sc.letGoProblems, sc.letGoErrors
	}
	for i := range sc.problems {
		if sc.problems[i].Severity == decode.Error {
			errors++
		}
	}
	return len(sc.problems) + sc.meta.SuppressedProblems, errors
}

// Info is a copy of a connection's metadata, with the counts of what the
// store holds of it.
type Info struct {
	decode.Connection
	// Ended is set once the connection will not change again.
	Ended bool
}

// Info returns a copy of connection id's metadata. The counts are those
// of the frames, messages, problems and exchanges stored.
func (s *Store) Info(id ConnID) (Info, error) {
	sc, err := s.lockConn(id)
	if err != nil {
		return Info{}, err
	}
	defer sc.mu.Unlock()
	info := Info{Connection: sc.meta, Ended: sc.frozen.Load()}
	info.FrameCount, info.MessageCount = sc.frames.n, sc.messages.n
	info.ProblemCount, info.ExchangeCount = len(sc.problems), len(sc.exchanges)
	return info, nil
}

// Handshake returns connection id's metadata with the Upgrade request and
// answer as the i-th handshake item of the log saw them.
func (s *Store) Handshake(id ConnID, i int) (Info, error) {
	info, err := s.Info(id)
	if err != nil {
		return info, err
	}
	sc, err := s.lockConn(id)
	if err != nil {
		return info, err
	}
	defer sc.mu.Unlock()
	if i >= 0 && i < len(sc.handshakes) {
		info.Request, info.Response = sc.handshakes[i].req, sc.handshakes[i].resp
	}
	return info, nil
}

// Problems returns a copy of connection id's problems.
func (s *Store) Problems(id ConnID) ([]decode.Problem, error) {
	sc, err := s.lockConn(id)
	if err != nil {
		return nil, err
	}
	defer sc.mu.Unlock()
	return slices.Clone(sc.problems), nil
}

// Exchange returns a copy of plain exchange i of connection id, bodies
// included.
func (s *Store) Exchange(id ConnID, i int) (decode.Exchange, error) {
	sc, err := s.lockConn(id)
	if err != nil {
		return decode.Exchange{}, err
	}
	defer sc.mu.Unlock()
	if i < 0 || i >= len(sc.exchanges) {
		return decode.Exchange{}, fmt.Errorf("connection %s has no exchange %d", sc.meta.ID, i)
	}
	se := sc.exchanges[i]
	var x decode.Exchange
	if se.req != nil {
		x.Request = copyRequest(se.req)
		if x.Request.Body, err = s.payload(nil, se.reqBody); err != nil {
			return x, err
		}
	}
	if se.resp != nil {
		x.Response = copyResponse(se.resp)
		if x.Response.Body, err = s.payload(nil, se.respBody); err != nil {
			return x, err
		}
	}
	return x, nil
}

// payload appends the bytes of ref to dst. A payload the spill file lost
// is empty.
func (s *Store) payload(dst []byte, ref payRef) ([]byte, error) {
	if ref.n == 0 || ref.off == payLost {
		if dst == nil && ref.n == 0 && ref.off != payLost {
			return nil, nil
		}
		return dst, nil
	}
	return s.sp.readAt(dst, ref.off, int(ref.n))
}

// payloadCopied is payload through a reader's copy, for a connection that
// ended (see spill.readCopied): the bytes returned may be the copy's,
// valid until its next read; dst is used only when they are not.
func (s *Store) payloadCopied(dst []byte, sc *storedConn, ref payRef, rc *readCopy) ([]byte, error) {
	if ref.n == 0 || ref.off == payLost {
		return s.payload(dst, ref)
	}
	p, ok, err := s.sp.readCopied(ref.off, int(ref.n), [2]*spillStream{&sc.stream, &sc.wire}, rc)
	if ok {
		return p, err
	}
	return s.sp.readAt(dst, ref.off, int(ref.n))
}

func putInt32(b []byte, v int32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func getInt32(b []byte) int32 {
	return int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}
