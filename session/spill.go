package session

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
)

// The spill file holds payloads and full blocks of records. Each writer (a
// connection, the store's log) has a stream of its own: its bytes go to an
// extent of the file reserved for it, so that what one connection wrote
// lies together however many connections were recorded at once. Reading a
// long connection back (an export at its end, a view paging through it)
// then reads its own bytes, not those of every connection that was open
// beside it: with twenty busy connections, that is twenty times less.
const (
	// spillPage is the unit of reservation in the file.
	spillPage = 4 << 10
	// firstExtent is the first extent of a stream; each next one is twice
	// as large, up to maxExtent. A short connection reserves a page, a
	// busy one 64 KiB at a time.
	firstExtent = spillPage
	maxExtent   = 64 << 10
	// directPayload is the size from which a payload is written to the
	// file at once, in a reservation of its own, rather than through its
	// stream's extent.
	directPayload = maxExtent / 2
	// maxActiveBytes bounds the memory of the extents being filled: past
	// it, new extents stay at firstExtent, so that a capture with
	// thousands of connections open at once does not hold 64 KiB each.
	maxActiveBytes = 32 << 20
	// spillChunk is what a read of written data fetches from the file at
	// once: exports read a connection's payloads in order, and one read
	// serves many of them.
	spillChunk = maxExtent
	// spillChunks is how many such chunks are cached (16 MiB).
	spillChunks = 256
)

// errSpillClosed is returned by a spill that was closed.
var errSpillClosed = errors.New("the spill file is closed")

// spill is the store's file. It is created in dir and unlinked at once, so
// that it goes away with the process however the process ends; what is
// written stays readable through the open descriptor. It is not safe for
// concurrent use: the store serialises access.
type spill struct {
	f    *os.File
	path string
	// end is the offset of the next free page of the file.
	end int64
	// active maps the pages of the extents being filled (not written to
	// the file yet) to their stream.
	active      map[int64]*spillStream
	activeBytes int
	// err is the first write error (a full disk): from then on nothing
	// is appended, and what was written stays readable.
	err error

	chunks  map[int64]*list.Element
	lru     list.List // of *spillChunkData, most recent first
	scratch []byte
	closed  bool
}

// spillStream is one writer's sequence of extents. The zero value is a
// stream that has not reserved anything yet.
type spillStream struct {
	// ext holds the bytes of the extent being filled (len: used, cap:
	// reserved); start is where it begins in the file.
	ext   []byte
	start int64
	// next is the size of the next extent.
	next int
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
	return &spill{f: f, path: f.Name(), active: map[int64]*spillStream{}, chunks: map[int64]*list.Element{}}, nil
}

// size is how far the file's reservations reach.
func (s *spill) size() int64 { return s.end }

// reserve takes n bytes, rounded up to whole pages, at the end of the file.
func (s *spill) reserve(n int) int64 {
	off := s.end
	s.end += int64((n + spillPage - 1) / spillPage * spillPage)
	return off
}

// append adds b to stream st and returns its offset in the file. After a
// write error it returns that error and appends nothing.
func (s *spill) append(st *spillStream, b []byte) (int64, error) {
	if s.err != nil {
		return -1, s.err
	}
	if s.closed {
		return -1, errSpillClosed
	}
	if len(b) >= directPayload {
		off := s.reserve(len(b))
		if _, err := s.f.WriteAt(b, off); err != nil {
			s.err = fmt.Errorf("writing the spill file %s: %w", s.path, err)
			return -1, s.err
		}
		s.dropChunks(off, off+int64(len(b)))
		return off, nil
	}
	if cap(st.ext)-len(st.ext) < len(b) {
		if err := s.flush(st); err != nil {
			return -1, err
		}
		size := max(st.next, firstExtent, len(b))
		if s.activeBytes+size > maxActiveBytes {
			size = max(firstExtent, len(b))
		}
		size = (size + spillPage - 1) / spillPage * spillPage
		st.next = min(2*size, maxExtent)
		st.start = s.reserve(size)
		st.ext = make([]byte, 0, size)
		for p := st.start; p < st.start+int64(size); p += spillPage {
			s.active[p/spillPage] = st
		}
		s.activeBytes += size
	}
	off := st.start + int64(len(st.ext))
	st.ext = append(st.ext, b...)
	return off, nil
}

// flush writes the extent stream st is filling to the file and lets go of
// it; the stream reserves a new one at its next append.
func (s *spill) flush(st *spillStream) error {
	if cap(st.ext) == 0 {
		return nil
	}
	size := cap(st.ext)
	for p := st.start; p < st.start+int64(size); p += spillPage {
		delete(s.active, p/spillPage)
	}
	s.activeBytes -= size
	used := st.ext
	st.ext = nil
	if len(used) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(used, st.start); err != nil {
		s.err = fmt.Errorf("writing the spill file %s: %w", s.path, err)
		return s.err
	}
	// A chunk read while this extent was still in memory holds zeros
	// where it now has data.
	s.dropChunks(st.start, st.start+int64(len(used)))
	return nil
}

// dropChunks forgets the cached chunks that overlap [from, to).
func (s *spill) dropChunks(from, to int64) {
	for idx := from / spillChunk; idx*spillChunk < to; idx++ {
		if el, ok := s.chunks[idx]; ok {
			s.lru.Remove(el)
			delete(s.chunks, idx)
		}
	}
}

// readAt appends the n bytes at off to dst: from the extent being filled
// when they are still in memory, from the file otherwise.
func (s *spill) readAt(dst []byte, off int64, n int) ([]byte, error) {
	if s.closed {
		return dst, errSpillClosed
	}
	if off < 0 || n < 0 || off+int64(n) > s.end {
		return dst, fmt.Errorf("reading %d bytes at %d of the spill file: past its end (%d)", n, off, s.end)
	}
	for n > 0 {
		var piece []byte
		if st := s.active[off/spillPage]; st != nil {
			at := int(off - st.start)
			if at > len(st.ext) {
				return dst, fmt.Errorf("reading %d bytes at %d of the spill file: not written yet", n, off)
			}
			piece = st.ext[at:]
		} else {
			var err error
			if piece, err = s.fileAt(off); err != nil {
				return dst, err
			}
		}
		if len(piece) == 0 {
			return dst, fmt.Errorf("reading %d bytes at %d of the spill file: nothing there", n, off)
		}
		piece = piece[:min(len(piece), n)]
		dst = append(dst, piece...)
		off += int64(len(piece))
		n -= len(piece)
	}
	return dst, nil
}

// fileAt returns the bytes of the file from off to the end of its chunk,
// through the chunk cache. A chunk that reaches into an extent still in
// memory is read without being cached, only up to that extent.
func (s *spill) fileAt(off int64) ([]byte, error) {
	idx := off / spillChunk
	start := idx * spillChunk
	if el, ok := s.chunks[idx]; ok {
		s.lru.MoveToFront(el)
		return el.Value.(*spillChunkData).data[off-start:], nil
	}
	end := min(start+spillChunk, s.end)
	for p := off / spillPage * spillPage; p < end; p += spillPage {
		if s.active[p/spillPage] != nil {
			end = p
			break
		}
	}
	cache := end == start+spillChunk
	var buf []byte
	switch {
	case cache && len(s.chunks) >= spillChunks:
		el := s.lru.Back()
		old := el.Value.(*spillChunkData)
		s.lru.Remove(el)
		delete(s.chunks, old.index)
		buf = old.data[:spillChunk]
	case cache:
		buf = make([]byte, spillChunk)
	default:
		if cap(s.scratch) < spillChunk {
			s.scratch = make([]byte, spillChunk)
		}
		buf = s.scratch[:end-start]
	}
	if _, err := s.f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the spill file %s: %w", s.path, err)
	}
	if cache {
		s.chunks[idx] = s.lru.PushFront(&spillChunkData{index: idx, data: buf})
	}
	return buf[off-start:], nil
}

// overwrite replaces the len(b) bytes at off, which were appended before:
// in the extent being filled, or in the file and a cached chunk.
func (s *spill) overwrite(off int64, b []byte) error {
	if s.closed {
		return errSpillClosed
	}
	for len(b) > 0 {
		if st := s.active[off/spillPage]; st != nil {
			n := copy(st.ext[off-st.start:], b)
			off, b = off+int64(n), b[n:]
			continue
		}
		// Up to the next page that is in memory, or the end.
		n := min(len(b), int(spillPage-off%spillPage))
		for n < len(b) && s.active[(off+int64(n))/spillPage] == nil {
			n = min(len(b), n+spillPage)
		}
		if _, err := s.f.WriteAt(b[:n], off); err != nil {
			s.err = fmt.Errorf("writing the spill file %s: %w", s.path, err)
			return s.err
		}
		s.dropChunks(off, off+int64(n))
		off, b = off+int64(n), b[n:]
	}
	return nil
}

// close releases the file (already unlinked).
func (s *spill) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.active, s.chunks = nil, nil
	return s.f.Close()
}
