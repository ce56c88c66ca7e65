package session

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// The spill file holds payloads and full blocks of records. Each writer (a
// connection, the store's log) has a stream of its own: its bytes go to an
// extent of the file reserved for it, so that what one connection wrote
// lies together however many connections were recorded at once. Reading a
// long connection back (an export at its end, a view paging through it)
// then reads its own bytes, not those of every connection that was open
// beside it: with twenty busy connections, that is twenty times less.
//
// The file is written and read outside the spill's lock: decoders that
// record and sinks that read back never wait for each other's system
// calls, only for a copy. A stream's current extent belongs to the
// stream's owner, whose own lock (the connection's, the log's) is held to
// append to the stream and to read its bytes back: most appends, which
// fit in it, take no shared lock at all. Measured on two cores, the spill's
// lock taken for every payload cost a fifth of the decoding goroutines'
// time in waking each other.
//
// Filled extents are written back late, not at once: they wait in memory,
// oldest first out, up to writeBackBytes. A sink that follows closely (an
// export writing each connection as it ends) reads them from memory, and
// when the store lets a connection go once every sink handled it (a run
// with no view to browse it later), its extents still waiting are dropped
// without ever being written: a capture of short connections then costs no
// file I/O at all, while long ones spill as before. Those that were
// written are punched out of the file as their stream is let go (see
// reclaim): the file's size only grows, but what lies on disk is bounded
// by what the store still keeps, not by all the traffic ever recorded:
// without that, a proxy left running with --json would fill the temporary
// directory with every byte it relayed, each long since exported.
const (
	// spillPage is the unit of reservation in the file.
	spillPage = 4 << 10
	// firstExtent is the first extent of a stream; each next one is twice
	// as large, up to maxExtent. A short connection reserves a page, a
	// busy one 64 KiB at a time.
	firstExtent = spillPage
	maxExtent   = 64 << 10
	// directPayload is the size from which a payload gets an extent of
	// its own rather than a place in its stream's current one.
	directPayload = maxExtent / 2
	// bigPayload is the size from which a payload is written to the file
	// at once: keeping a copy of it waiting would double the memory of a
	// message the decoder already holds whole.
	bigPayload = 1 << 20
	// longStream is how much a stream appended before its payloads from
	// directPayload up are written at once too: a connection that large
	// is not let go before its bytes are written back anyway, and copying
	// them to wait only costs (a proxied socket echoing 64 KiB messages
	// ran 25% slower that way).
	longStream = 4 << 20
	// writeBackBytes bounds the filled extents waiting in memory to be
	// written. 200 short connections open at once (the benchmark's short
	// shape) hold about 10-15 MiB between their first byte and their
	// export; with 24 MiB and the sinks paced to lag at most paceBytes,
	// almost none of it is written (134 writes for 320 MB of capture;
	// 671 with 16 MiB and a 2 MiB pace; 23,700 with 24 MiB unpaced), for
	// 30 MiB more peak RSS on long connections, whose bytes spill either
	// way.
	writeBackBytes = 24 << 20
	// liveWriteBack is writeBackBytes for a live source (a proxy, a
	// capture on an interface), which no sink paces: its connections'
	// bytes mostly spill anyway, and 500 proxied connections at once
	// peaked at 131-192 MiB of RSS with 24 MiB waiting, 122-127 MiB
	// with 8 MiB, relaying as fast.
	liveWriteBack = 8 << 20
	// maxActiveBytes bounds the memory of the extents being filled: past
	// it, new extents stay at firstExtent, so that a capture with
	// thousands of connections open at once does not hold 64 KiB each.
	maxActiveBytes = 4 << 20
	// recentBytes bounds the extents kept in memory after they were
	// written: a sink that reads what was recorded lately (a live view)
	// finds it here rather than in the file.
	recentBytes = 4 << 20
	// spillChunk is what a read of older data fetches from the file at
	// once: exports read a connection's payloads in order, and one read
	// serves many of them.
	spillChunk = 16 << 10
	// maxFreeBytes bounds the buffers of forgotten extents kept for new
	// ones. A sink replaying the log lets short connections go a block of
	// the log at a time, more than 4 MiB of extents at once: with 4 MiB,
	// a third of the extents of a capture of short connections read with
	// --ndjson were made fresh again moments after others were dropped
	// (5,600 of 15,000), costing zeroing and collection (3-4% of the run).
	maxFreeBytes = 16 << 20
	// spillChunks is how many such chunks are cached (4 MiB).
	spillChunks = 256
)

// errSpillClosed is returned by a spill that was closed.
var errSpillClosed = errors.New("the spill file is closed")

// spill is the store's file. It is created in dir and unlinked at once, so
// that it goes away with the process however the process ends; what is
// written stays readable through the open descriptor. It is safe for
// concurrent use.
type spill struct {
	f    *os.File
	path string

	mu sync.Mutex
	// end is the offset of the next free page of the file.
	end int64
	// pages maps the pages of the extents held in memory (being filled,
	// being written, or kept as recent) to them.
	pages       map[int64]*extent
	activeBytes int
	// recent are the extents filled and written lately, newest first,
	// up to recentBytes; an extent being written is not let go of.
	recent      list.List
	recentBytes int
	// waiting are the filled extents not written yet, oldest first, up to
	// maxWaiting bytes (writeBackBytes, or liveWriteBack).
	waiting      list.List
	waitingBytes int
	maxWaiting   int
	chunks       map[int64]*list.Element
	chunkLRU     list.List // of *spillChunkData, most recent first
	// writes counts the writes to the file that finished: a chunk read
	// while one finished may hold what was there before, and is not
	// cached.
	writes uint64
	// err is the first write error (a full disk): from then on nothing
	// is appended, and what was written stays readable.
	err    error
	closed bool
	// unusable is set with err or closed, for appends that do not take
	// mu.
	unusable atomic.Bool
	// free are buffers of forgotten extents by size class (bufferClass),
	// freeBytes their total.
	free      [5][][]byte
	freeBytes int
	// reclaim is set for a store that lets connections go: streams note
	// what of them was written, and letGo punches it out of the file.
	// noPunch is set when the file system refused a punch, or the file is
	// about to go (see draining); reclaimed counts the bytes given back.
	reclaim   bool
	noPunch   atomic.Bool
	reclaimed atomic.Int64
}

// extent is a reservation of the file held in memory: the one a stream is
// filling, or one filled lately.
type extent struct {
	start int64
	// data holds the bytes (len: used, cap: reserved).
	data []byte
	// writing is set from when the extent is handed to the file until the
	// write is done: until then its bytes are read from here only. dirty
	// is set when it changed meanwhile (overwrite): it is written again.
	writing, dirty bool
	// recent is its place in spill.recent once written, wait its place
	// in spill.waiting while it waits to be.
	recent, wait *list.Element
	// owner is the stream it belongs to (nil once let go), held its index
	// in owner.held.
	owner *spillStream
	held  int
	// dropped is set when its stream was let go while it was being
	// written: it is forgotten once written.
	dropped bool
	// passed counts its bytes nobody reads again (see pass), and
	// passedSpans are their whole pages, to punch out if it is written
	// before all of them were passed.
	passed      int
	passedSpans []fileSpan
}

// spillStream is one writer's sequence of extents. The zero value is a
// stream that has not reserved anything yet.
type spillStream struct {
	cur *extent
	// next is the size of the next extent.
	next int
	// held are its extents held in memory (being filled, waiting, being
	// written or recent), for letGo.
	held []*extent
	// appended counts the bytes appended to it.
	appended int64
	// written are the reservations of the file it wrote to, adjacent
	// ones joined, when the spill reclaims; guarded by spill.mu.
	written []fileSpan
}

// fileSpan is the bytes of the spill file from start to end.
type fileSpan struct{ start, end int64 }

// wrote notes that the reservation of n bytes at off was written; the
// caller holds mu. One stream's reservations often follow each other in
// the file (a busy connection beside idle ones), and are joined.
func (st *spillStream) wrote(off int64, n int) {
	end := off + pageRound(n)
	if l := len(st.written); l > 0 && st.written[l-1].end == off {
		st.written[l-1].end = end
		return
	}
	st.written = append(st.written, fileSpan{off, end})
}

// writtenEnd returns the end of the span of the file st wrote that holds
// off, or the largest offset when st does not know (a store that keeps
// every connection notes no spans). *at is where the search starts, and
// is left where the span was found: a connection is read in order, and
// its spans are noted in about the order of the file. The caller holds
// spill.mu.
func (st *spillStream) writtenEnd(off int64, at *int) int64 {
	n := len(st.written)
	for k := range n {
		i := (*at + k) % n
		if sp := st.written[i]; sp.start <= off && off < sp.end {
			*at = i
			return sp.end
		}
	}
	return math.MaxInt64
}

// readCurrent appends the n bytes at off to dst when they lie in st's
// current extent, which belongs to st's owner: the caller holds the
// owner's lock, and reads them without the spill's. It reports whether
// they did.
func (st *spillStream) readCurrent(dst []byte, off int64, n int) ([]byte, bool) {
	e := st.cur
	if e == nil || off < e.start || off+int64(n) > e.start+int64(len(e.data)) {
		return dst, false
	}
	at := off - e.start
	return append(dst, e.data[at:at+int64(n)]...), true
}

// pageRound is n rounded up to whole pages: what reserve takes for n.
func pageRound(n int) int64 {
	return int64((n + spillPage - 1) / spillPage * spillPage)
}

// hold adds e to its stream's extents held in memory; the caller holds mu.
func (st *spillStream) hold(e *extent) {
	e.owner, e.held = st, len(st.held)
	st.held = append(st.held, e)
}

// unhold removes e from its stream's extents; the caller holds mu.
func (e *extent) unhold() {
	st := e.owner
	if st == nil {
		return
	}
	last := st.held[len(st.held)-1]
	st.held[e.held], last.held = last, e.held
	st.held[len(st.held)-1] = nil
	st.held = st.held[:len(st.held)-1]
	e.owner = nil
}

type spillChunkData struct {
	index int64
	data  []byte
}

// newSpill creates the spill file in dir ("" for the temporary directory).
func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "wstap-spill-*")
	if err != nil {
		return nil, fmt.Errorf("creating the spill file: %w", err)
	}
	// Unlinked now: the file lives as long as the descriptor, so that
	// SIGKILL or a crash leaves nothing behind in the temporary directory.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("creating the spill file: %w", err)
	}
	return &spill{f: f, path: f.Name(), pages: map[int64]*extent{}, chunks: map[int64]*list.Element{}, maxWaiting: writeBackBytes}, nil
}

// size is how far the file's reservations reach.
func (s *spill) size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

// reserve takes n bytes, rounded up to whole pages, at the end of the
// file; the caller holds mu.
func (s *spill) reserve(n int) int64 {
	off := s.end
	s.end += pageRound(n)
	return off
}

// usable says why nothing can be appended, if so; the caller holds mu.
func (s *spill) usable() error {
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return errSpillClosed
	}
	return nil
}

// append adds b to stream st and returns its offset in the file. After a
// write error it returns that error and appends nothing. The caller holds
// the lock of st's owner.
func (s *spill) append(st *spillStream, b []byte) (int64, error) {
	st.appended += int64(len(b))
	if e := st.cur; e != nil && len(b) < directPayload && cap(e.data)-len(e.data) >= len(b) && !s.unusable.Load() {
		off := e.start + int64(len(e.data))
		e.data = append(e.data, b...)
		return off, nil
	}
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return -1, err
	}
	if len(b) >= bigPayload || len(b) >= directPayload && st.appended > longStream {
		// Nobody reads it before append returns its offset, so it is
		// written outside the lock; meanwhile its pages are marked, so
		// that a read of a neighbour does not cache a chunk that holds
		// them before they were written.
		off := s.reserve(len(b))
		pending := &extent{start: off, writing: true}
		s.mark(pending, len(b))
		s.mu.Unlock()
		err := s.writeAt(b, off)
		s.mu.Lock()
		s.writes++
		s.unmark(pending, len(b))
		s.dropChunks(off, off+int64(len(b)))
		if err == nil && s.reclaim {
			st.wrote(off, len(b))
		}
		s.mu.Unlock()
		if err != nil {
			return -1, err
		}
		return off, nil
	}
	if len(b) >= directPayload {
		// An extent of its own, waiting with the others; the stream's
		// current one goes on being filled.
		e := &extent{start: s.reserve(len(b)), data: append(s.buffer(len(b)), b...)}
		s.mark(e, len(b))
		st.hold(e)
		s.await(e)
		return e.start, s.writeBack()
	}
	if st.cur == nil || cap(st.cur.data)-len(st.cur.data) < len(b) {
		s.retire(st)
		size := max(st.next, firstExtent, len(b))
		if s.activeBytes+size > maxActiveBytes {
			size = max(firstExtent, len(b))
		}
		size = (size + spillPage - 1) / spillPage * spillPage
		st.next = min(2*size, maxExtent)
		e := &extent{start: s.reserve(size), data: s.buffer(size)}
		s.mark(e, size)
		st.hold(e)
		s.activeBytes += size
		st.cur = e
	}
	off := st.cur.start + int64(len(st.cur.data))
	st.cur.data = append(st.cur.data, b...)
	if s.waitingBytes > s.maxWaiting {
		return off, s.writeBack()
	}
	s.mu.Unlock()
	return off, nil
}

// flush ends the extent stream st is filling; it waits to be written with
// the others, and the stream reserves a new one at its next append.
func (s *spill) flush(st *spillStream) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errSpillClosed
	}
	s.retire(st)
	return s.writeBack()
}

// await puts a filled extent among those waiting to be written; the
// caller holds mu.
func (s *spill) await(e *extent) {
	e.wait = s.waiting.PushBack(e)
	s.waitingBytes += cap(e.data)
}

// writeBack writes the oldest waiting extents while more than
// maxWaiting bytes wait, and returns the first error. The caller holds mu,
// which writeBack releases: the writes are made outside it.
func (s *spill) writeBack() error {
	var due []*extent
	for s.waitingBytes > s.maxWaiting {
		el := s.waiting.Front()
		e := el.Value.(*extent)
		s.waiting.Remove(el)
		e.wait = nil
		s.waitingBytes -= cap(e.data)
		e.writing = true
		due = append(due, e)
	}
	s.mu.Unlock()
	var first error
	for _, e := range due {
		if err := s.write(e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// retire ends stream st's extent, which then waits to be written, or is
// dropped when empty or passed whole; the caller holds mu.
func (s *spill) retire(st *spillStream) {
	e := st.cur
	if e == nil {
		return
	}
	st.cur = nil
	s.activeBytes -= cap(e.data)
	if len(e.data) == 0 || e.passed == len(e.data) {
		s.forget(e)
		return
	}
	s.await(e)
}

// pass says that nobody reads the n bytes at off again: blocks of the
// store's log every sink passed. When they are in an extent still in
// memory, filled or being filled, it reports true, and an extent passed
// whole is forgotten without ever being written: the log of a run with
// sinks that keep up never reaches the disk, and does not fill the
// write-back budget while it waits. Otherwise (written, or being written)
// it reports false, and the caller punches the bytes out once written
// (see writtenSpan).
func (s *spill) pass(off int64, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.pages[off/spillPage]
	if e == nil || e.writing || e.recent != nil || off < e.start || off+int64(n) > e.start+int64(len(e.data)) {
		return false
	}
	e.passed += n
	if span := wholePages(off, n); span.end > span.start {
		e.passedSpans = append(e.passedSpans, span)
	}
	if e.passed == len(e.data) && e.wait != nil {
		s.waiting.Remove(e.wait)
		e.wait = nil
		s.waitingBytes -= cap(e.data)
		s.forget(e)
	}
	return true
}

// write writes an extent that waited to the file, then keeps it among the
// recent ones.
func (s *spill) write(e *extent) error {
	err := s.writeAt(e.data, e.start)
	s.mu.Lock()
	s.writes++
	for e.dirty && err == nil {
		e.dirty = false
		s.mu.Unlock()
		err = s.writeAt(e.data, e.start)
		s.mu.Lock()
	}
	e.writing = false
	// A chunk read meanwhile holds zeros where it now has data.
	s.dropChunks(e.start, e.start+int64(len(e.data)))
	span := fileSpan{e.start, e.start + pageRound(cap(e.data))}
	if e.dropped || s.closed {
		// Let go while it was written: nobody noted it to punch out.
		punch := e.dropped && !s.closed && s.reclaim
		s.forget(e)
		s.mu.Unlock()
		if punch {
			s.punch([]fileSpan{span})
		}
		return err
	}
	var passed []fileSpan
	defer func() {
		s.mu.Unlock()
		s.punch(passed)
	}()
	if err != nil {
		// Its bytes are not in the file: it stays in memory, where they
		// are read. Nothing is appended after a write error, so what
		// stays is bounded by the write-back budget.
		return err
	}
	if s.reclaim && e.owner != nil {
		e.owner.wrote(e.start, cap(e.data))
	}
	// Written before all of it was passed: what was, goes now.
	passed, e.passedSpans = e.passedSpans, nil
	e.recent = s.recent.PushFront(e)
	s.recentBytes += cap(e.data)
	for s.recentBytes > recentBytes {
		el := s.recent.Back()
		old := el.Value.(*extent)
		s.recent.Remove(el)
		old.recent = nil
		s.recentBytes -= cap(old.data)
		s.forget(old)
	}
	return err
}

// letGo forgets the extents of stream st held in memory, without writing
// those still waiting: nobody will read st's bytes again. Its pages of
// the file that were never written stay holes; those written are punched
// out when the spill reclaims (one being written is, once written).
func (s *spill) letGo(st *spillStream) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	written := st.written
	st.written = nil
	s.forgetStream(st)
	s.mu.Unlock()
	s.punch(written)
}

// punch gives the disk blocks of spans back, unless the file system
// refused before (then they stay until the file is closed) or the file is
// draining. It is called without mu, and only for bytes nobody reads any
// more.
func (s *spill) punch(spans []fileSpan) {
	for _, sp := range spans {
		if s.noPunch.Load() {
			return
		}
		if err := punchHole(s.f, sp.start, sp.end-sp.start); err != nil {
			s.noPunch.Store(true)
			return
		}
		s.reclaimed.Add(sp.end - sp.start)
	}
}

// writtenSpan returns the whole pages of the n bytes at off, when all of
// them are in the file: not held in memory, or held only as a recent
// extent, written and unchanged since. Those can be punched out; the
// others are being filled, wait to be written or are being written. The
// caller holds the lock of the stream's owner.
func (s *spill) writtenSpan(off int64, n int) (fileSpan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	span := wholePages(off, n)
	for p := off / spillPage; p*spillPage < off+int64(n); p++ {
		if e := s.pages[p]; e != nil && (e.recent == nil || e.writing) {
			return span, false
		}
	}
	return span, span.end > span.start
}

// wholePages is the span of the pages wholly inside the n bytes at off:
// those that can be punched out (empty when there are none).
func wholePages(off int64, n int) fileSpan {
	return fileSpan{(off + spillPage - 1) / spillPage * spillPage, (off + int64(n)) / spillPage * spillPage}
}

// draining stops punching: the file is read out and closed next, and
// giving its blocks back first would only cost system calls (thousands,
// for long connections interleaved in the file).
func (s *spill) draining() { s.noPunch.Store(true) }

// forgetStream is letGo's forgetting of st's extents; the caller holds
// mu.
func (s *spill) forgetStream(st *spillStream) {
	if st.cur != nil {
		s.activeBytes -= cap(st.cur.data)
		st.cur = nil
	}
	for len(st.held) > 0 {
		e := st.held[len(st.held)-1]
		switch {
		case e.wait != nil:
			s.waiting.Remove(e.wait)
			e.wait = nil
			s.waitingBytes -= cap(e.data)
		case e.recent != nil:
			s.recent.Remove(e.recent)
			e.recent = nil
			s.recentBytes -= cap(e.data)
		case e.writing:
			// write forgets it when done; its pages stay mapped until
			// then, so that no chunk is cached from the file meanwhile.
			e.dropped = true
			e.unhold()
			continue
		}
		s.forget(e)
	}
}

// forget unmaps e's pages and takes it from its stream; the caller holds
// mu.
func (s *spill) forget(e *extent) {
	s.unmark(e, cap(e.data))
	e.unhold()
	s.recycle(e.data)
	e.data = nil
}

// bufferClass returns the free list for buffers of capacity n, or -1 when
// such buffers are not kept: extents are a page to maxExtent, doubling.
func bufferClass(n int) int {
	for c, size := 0, spillPage; size <= maxExtent; c, size = c+1, size*2 {
		if n == size {
			return c
		}
	}
	return -1
}

// buffer returns an empty buffer of capacity n, one that held a forgotten
// extent when there is one; the caller holds mu. Extents come and go by
// the thousand a second, and fresh ones cost zeroing and collection.
func (s *spill) buffer(n int) []byte {
	if c := bufferClass(n); c >= 0 {
		if l := len(s.free[c]); l > 0 {
			b := s.free[c][l-1]
			s.free[c] = s.free[c][:l-1]
			s.freeBytes -= cap(b)
			return b[:0]
		}
	}
	return make([]byte, 0, n)
}

// recycle keeps the buffer of a forgotten extent for the next one, up to
// freeBytes; the caller holds mu, and nothing reads the extent any more
// (reads copy out under mu).
func (s *spill) recycle(b []byte) {
	if c := bufferClass(cap(b)); c >= 0 && s.freeBytes+cap(b) <= maxFreeBytes {
		s.free[c] = append(s.free[c], b)
		s.freeBytes += cap(b)
	}
}

// mark maps the pages of the n bytes from e.start to e; the caller holds
// mu.
func (s *spill) mark(e *extent, n int) {
	for p := e.start / spillPage; p*spillPage < e.start+int64(n); p++ {
		s.pages[p] = e
	}
}

// unmark unmaps the pages of the n bytes from e.start that map to e; the
// caller holds mu.
func (s *spill) unmark(e *extent, n int) {
	for p := e.start / spillPage; p*spillPage < e.start+int64(n); p++ {
		if s.pages[p] == e {
			delete(s.pages, p)
		}
	}
}

// writeAt writes b at off, recording the first failure.
func (s *spill) writeAt(b []byte, off int64) error {
	if _, err := s.f.WriteAt(b, off); err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.err == nil {
			s.err = fmt.Errorf("writing the spill file %s: %w", s.path, err)
			s.unusable.Store(true)
		}
		return s.err
	}
	return nil
}

// dropChunks forgets the cached chunks that overlap [from, to); the
// caller holds mu.
func (s *spill) dropChunks(from, to int64) {
	for idx := from / spillChunk; idx*spillChunk < to; idx++ {
		if el, ok := s.chunks[idx]; ok {
			s.chunkLRU.Remove(el)
			delete(s.chunks, idx)
		}
	}
}

// readAt appends the n bytes at off to dst: from an extent in memory, a
// cached chunk, or the file. The caller holds the lock of the owner of the
// stream they were appended to (see append).
func (s *spill) readAt(dst []byte, off int64, n int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readable(off, n); err != nil {
		return dst, err
	}
	for n > 0 {
		piece, err := s.piece(off, n)
		if err != nil {
			return dst, err
		}
		piece = piece[:min(len(piece), n)]
		dst = append(dst, piece...)
		off += int64(len(piece))
		n -= len(piece)
	}
	return dst, nil
}

// readWhole is readAt for a whole block of records: when none of its
// pages is held in memory, it is read from the file at once into dst, not
// a chunk at a time through the chunk cache (a long connection's export
// read its blocks in three system calls each, and pushed the payloads'
// chunks out of the cache). The caller holds the lock of the owner of the
// stream the bytes were appended to.
func (s *spill) readWhole(dst []byte, off int64, n int) ([]byte, error) {
	s.mu.Lock()
	if err := s.readable(off, n); err != nil {
		s.mu.Unlock()
		return dst, err
	}
	for p := off / spillPage; p*spillPage < off+int64(n); p++ {
		if s.pages[p] != nil {
			s.mu.Unlock()
			return s.readAt(dst, off, n)
		}
	}
	s.mu.Unlock()
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	if _, err := s.f.ReadAt(dst[start:], off); err != nil {
		return dst[:start], fmt.Errorf("reading the spill file %s: %w", s.path, err)
	}
	return dst, nil
}

// readable says why the n bytes at off cannot be read, if so; the caller
// holds mu.
func (s *spill) readable(off int64, n int) error {
	if s.closed {
		return errSpillClosed
	}
	if off < 0 || n < 0 || off+int64(n) > s.end {
		return fmt.Errorf("reading %d bytes at %d of the spill file: past its end (%d)", n, off, s.end)
	}
	return nil
}

// piece returns the bytes from off on that lie together in memory (in an
// extent, or in a chunk of the file, fetched when needed), for a read of
// n bytes at off; the caller holds mu.
func (s *spill) piece(off int64, n int) ([]byte, error) {
	var piece []byte
	if e := s.pages[off/spillPage]; e != nil {
		at := off - e.start
		if at >= int64(len(e.data)) {
			return nil, fmt.Errorf("reading %d bytes at %d of the spill file: not written yet", n, off)
		}
		piece = e.data[at:]
	} else if el, ok := s.chunks[off/spillChunk]; ok {
		s.chunkLRU.MoveToFront(el)
		c := el.Value.(*spillChunkData)
		piece = c.data[off-c.index*spillChunk:]
	} else {
		var err error
		if piece, err = s.fetch(off); err != nil {
			return nil, err
		}
		if s.closed {
			return nil, errSpillClosed
		}
	}
	if len(piece) == 0 {
		return nil, fmt.Errorf("reading %d bytes at %d of the spill file: nothing there", n, off)
	}
	return piece, nil
}

// readCopy is a reader's own copy of the bytes from what it read last to
// the end of the extent or chunk that held them, or of what it read from
// the file. Reading a connection that ended in order, its next payloads
// are there, read without the spill's lock: two goroutines rendering one
// long connection took that lock for every payload, and passed it
// between their cores.
type readCopy struct {
	start int64
	data  []byte
	// spans are where in its streams' written spans the copy was found
	// last: the next read is in the same one or the next.
	spans [2]int
}

// copyRead is the most a readCopy holds, and reads from the file at once.
const copyRead = 64 << 10

// holds reports whether p lies in rc's buffer.
func (rc *readCopy) holds(p []byte) bool {
	if cap(p) == 0 || cap(rc.data) == 0 {
		return false
	}
	return &p[:cap(p)][cap(p)-1] == &rc.data[:cap(rc.data)][cap(rc.data)-1]
}

// readCopied returns the n bytes at off, appended to one of the streams
// sts, through rc. Payloads are written once and never change, and the
// bytes of other streams a copy may hold are never read through it; the
// caller holds the lock of the streams' owner when it is still appending
// (a connection going on), so that the end of its current extent is not
// copied while it grows. The bytes returned are rc's: valid
// until its next read. The second result is false when a copy cannot
// hold them (more than copyRead bytes, or bytes that run into pages still
// held in memory); readAt reads those.
//
// Bytes not held in memory are read from the file straight into the copy,
// not through the chunk cache: that was two copies of each payload byte
// more, and a system call per 16 KiB, for bytes one reader reads once.
func (s *spill) readCopied(off int64, n int, sts [2]*spillStream, rc *readCopy) ([]byte, bool, error) {
	if off >= rc.start && off+int64(n) <= rc.start+int64(len(rc.data)) {
		at := off - rc.start
		return rc.data[at : at+int64(n)], true, nil
	}
	if n > copyRead {
		return nil, false, nil
	}
	s.mu.Lock()
	if err := s.readable(off, n); err != nil {
		s.mu.Unlock()
		return nil, true, err
	}
	if _, cached := s.chunks[off/spillChunk]; !cached && s.pages[off/spillPage] == nil {
		return s.copyFromFile(off, n, sts, rc)
	}
	piece, err := s.piece(off, n)
	if err == nil && len(piece) >= n {
		// Copied under the lock, which the decoding goroutines take for
		// their appends: no more than a chunk, unless the payload is more.
		rc.start, rc.data = off, append(rc.data[:0], piece[:min(len(piece), max(n, spillChunk))]...)
		s.mu.Unlock()
		return rc.data[:n], true, nil
	}
	s.mu.Unlock()
	if err != nil {
		return nil, true, err
	}
	return nil, false, nil
}

// copyFromFile is readCopied for bytes neither held in memory nor in a
// cached chunk, of one of the streams sts (those of one connection; nil
// for none): it reads up to copyRead bytes from the file into rc, but not
// past what that stream wrote there (the next extent is another
// stream's: with twenty connections recorded at once, half of what a copy
// read was bytes it would never serve) nor into the pages held in memory
// (the file does not have their bytes yet). The caller holds mu; copyFromFile releases it for the read. No
// extent is reserved below s.end meanwhile, so the range stays as it is.
func (s *spill) copyFromFile(off int64, n int, sts [2]*spillStream, rc *readCopy) ([]byte, bool, error) {
	end := min(off+copyRead, s.end)
	for i, st := range sts {
		if st != nil {
			end = min(end, st.writtenEnd(off, &rc.spans[i]))
		}
	}
	for p := off / spillPage; p*spillPage < end; p++ {
		if s.pages[p] != nil {
			end = max(off, p*spillPage)
			break
		}
	}
	s.mu.Unlock()
	if end-off < int64(n) {
		return nil, false, nil
	}
	if cap(rc.data) < copyRead {
		rc.data = make([]byte, 0, copyRead)
	}
	rc.start, rc.data = off, rc.data[:end-off]
	got, err := s.f.ReadAt(rc.data, off)
	rc.data = rc.data[:got]
	if got < n {
		rc.data = rc.data[:0]
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, true, fmt.Errorf("reading the spill file %s: %w", s.path, err)
	}
	return rc.data[:n], true, nil
}

// fetch reads the chunk holding off from the file, with mu released for
// the system call, and returns the bytes from off to the end of the chunk
// (or of what was written before the next page held in memory). A whole
// chunk is cached; the caller holds mu.
func (s *spill) fetch(off int64) ([]byte, error) {
	idx := off / spillChunk
	start := idx * spillChunk
	end := min(start+spillChunk, s.end)
	for p := off / spillPage; p*spillPage < end; p++ {
		if s.pages[p] != nil {
			end = p * spillPage
			break
		}
	}
	// A chunk is cached only when none of it is held in memory (being
	// filled or written): the file does not have those bytes yet.
	whole := end == start+spillChunk
	for p := start / spillPage; whole && p < off/spillPage; p++ {
		whole = s.pages[p] == nil
	}
	var buf []byte
	if whole && len(s.chunks) >= spillChunks {
		el := s.chunkLRU.Back()
		old := el.Value.(*spillChunkData)
		s.chunkLRU.Remove(el)
		delete(s.chunks, old.index)
		buf = old.data[:spillChunk]
	} else {
		buf = make([]byte, end-start)
	}
	writes := s.writes
	s.mu.Unlock()
	_, err := s.f.ReadAt(buf, start)
	s.mu.Lock()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the spill file %s: %w", s.path, err)
	}
	if whole && s.writes == writes {
		if el, ok := s.chunks[idx]; ok {
			// Another reader fetched it meanwhile.
			return el.Value.(*spillChunkData).data[off-start:], nil
		}
		s.chunks[idx] = s.chunkLRU.PushFront(&spillChunkData{index: idx, data: buf})
	}
	return buf[off-start:], nil
}

// overwrite replaces the len(b) bytes at off, which were appended before:
// in an extent held in memory, or in the file and a cached chunk. It is
// rare (a record patched after its block was written), so the write is
// made under the lock.
func (s *spill) overwrite(off int64, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errSpillClosed
	}
	for len(b) > 0 {
		e := s.pages[off/spillPage]
		// The bytes of this page that go to the file (all of them when
		// the page is not in memory, or is being or was written).
		n := min(len(b), int(spillPage-off%spillPage))
		if e != nil && e.data != nil {
			n = min(len(b), int(e.start+int64(cap(e.data))-off))
			copy(e.data[off-e.start:min(int64(len(e.data)), off-e.start+int64(n))], b[:n])
			if e.recent == nil || e.writing {
				// Being filled, or being written: written (again) with
				// the extent.
				e.dirty = e.writing
				off, b = off+int64(n), b[n:]
				continue
			}
		}
		if _, err := s.f.WriteAt(b[:n], off); err != nil {
			s.err = fmt.Errorf("writing the spill file %s: %w", s.path, err)
			s.unusable.Store(true)
			return s.err
		}
		s.dropChunks(off, off+int64(n))
		off, b = off+int64(n), b[n:]
	}
	return nil
}

// close releases the file (already unlinked).
func (s *spill) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.unusable.Store(true)
	s.pages, s.chunks = nil, nil
	return s.f.Close()
}
