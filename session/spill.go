package session

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
)

// Bounds of the spill file's memory, each a named size with its reason.
const (
	// spillBuffer is the size of each of the two write buffers. The one
	// being filled and the one written before it stay in memory, so that
	// a sink following the store closely (the dump, the NDJSON stream, a
	// live view) reads what was just recorded without a system call.
	spillBuffer = 8 << 20
	// spillChunk is what a read of older data fetches from the file at
	// once: exports read a connection's payloads in order, and one read
	// serves many of them.
	spillChunk = 256 << 10
	// spillChunks is how many such chunks are cached (8 MiB).
	spillChunks = 32
)

// errSpillClosed is returned by a spill that was closed.
var errSpillClosed = errors.New("the spill file is closed")

// spill is the store's append-only file: payloads and full blocks of
// records. It is created in dir and unlinked at once, so that it goes away
// with the process however the process ends; what is written stays
// readable through the open descriptor. It is not safe for concurrent use:
// the store serialises access.
type spill struct {
	f    *os.File
	path string
	// cur is the buffer being filled, starting at file offset curStart;
	// prev the one written before it, at prevStart (empty at first).
	cur, prev           []byte
	curStart, prevStart int64
	// err is the first write error (a full disk): from then on nothing
	// is appended, and what was written stays readable.
	err error

	chunks   map[int64]*list.Element
	lru      list.List // of *spillChunkData, most recent first
	closed   bool
	scratchR []byte
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
	return &spill{f: f, path: f.Name(), cur: make([]byte, 0, spillBuffer), chunks: map[int64]*list.Element{}}, nil
}

// size is how many bytes were appended.
func (s *spill) size() int64 { return s.curStart + int64(len(s.cur)) }

// append adds b at the end and returns its offset. After a write error it
// returns that error and appends nothing.
func (s *spill) append(b []byte) (int64, error) {
	if s.err != nil {
		return -1, s.err
	}
	if s.closed {
		return -1, errSpillClosed
	}
	off := s.size()
	if len(b) > spillBuffer/4 {
		// A large payload goes to the file directly, after what is
		// buffered; it is read back through the chunk cache.
		if err := s.flush(); err != nil {
			return -1, err
		}
		if _, err := s.f.WriteAt(b, off); err != nil {
			s.err = fmt.Errorf("writing the spill file %s: %w", s.path, err)
			return -1, s.err
		}
		s.prev, s.prevStart = s.prev[:0], off+int64(len(b))
		s.curStart = off + int64(len(b))
		return off, nil
	}
	if len(s.cur)+len(b) > cap(s.cur) {
		if err := s.flush(); err != nil {
			return -1, err
		}
	}
	s.cur = append(s.cur, b...)
	return off, nil
}

// flush writes the buffer being filled to the file and makes it the
// previous one.
func (s *spill) flush() error {
	if len(s.cur) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(s.cur, s.curStart); err != nil {
		s.err = fmt.Errorf("writing the spill file %s: %w", s.path, err)
		return s.err
	}
	next := s.prev
	if cap(next) == 0 {
		next = make([]byte, 0, spillBuffer)
	}
	s.prev, s.prevStart = s.cur, s.curStart
	s.curStart += int64(len(s.cur))
	s.cur = next[:0]
	return nil
}

// readAt appends the n bytes at off to dst.
func (s *spill) readAt(dst []byte, off int64, n int) ([]byte, error) {
	if s.closed {
		return dst, errSpillClosed
	}
	if off < 0 || n < 0 || off+int64(n) > s.size() {
		return dst, fmt.Errorf("reading %d bytes at %d of the spill file: past its end (%d)", n, off, s.size())
	}
	for n > 0 {
		var piece []byte
		switch {
		case off >= s.curStart:
			piece = s.cur[off-s.curStart:]
		case off >= s.prevStart && off < s.prevStart+int64(len(s.prev)):
			piece = s.prev[off-s.prevStart:]
		default:
			var err error
			if piece, err = s.fileAt(off); err != nil {
				return dst, err
			}
		}
		piece = piece[:min(len(piece), n)]
		dst = append(dst, piece...)
		off += int64(len(piece))
		n -= len(piece)
	}
	return dst, nil
}

// fileAt returns the bytes of the file from off to the end of its chunk,
// through the chunk cache. A chunk that reaches into what is still
// buffered is read without being cached.
func (s *spill) fileAt(off int64) ([]byte, error) {
	idx := off / spillChunk
	start := idx * spillChunk
	end := min(start+spillChunk, s.curStart)
	if el, ok := s.chunks[idx]; ok {
		s.lru.MoveToFront(el)
		c := el.Value.(*spillChunkData)
		return c.data[off-start:], nil
	}
	var buf []byte
	cache := end == start+spillChunk
	if cache && len(s.chunks) >= spillChunks {
		el := s.lru.Back()
		old := el.Value.(*spillChunkData)
		s.lru.Remove(el)
		delete(s.chunks, old.index)
		buf = old.data[:spillChunk]
	} else if cache {
		buf = make([]byte, spillChunk)
	} else {
		if cap(s.scratchR) < spillChunk {
			s.scratchR = make([]byte, spillChunk)
		}
		buf = s.scratchR[:end-start]
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
// in the buffers, in the file, and in a cached chunk.
func (s *spill) overwrite(off int64, b []byte) error {
	if s.closed {
		return errSpillClosed
	}
	end := off + int64(len(b))
	if off < 0 || end > s.size() {
		return fmt.Errorf("rewriting %d bytes at %d of the spill file: past its end (%d)", len(b), off, s.size())
	}
	for _, buf := range []struct {
		data  []byte
		start int64
	}{{s.cur, s.curStart}, {s.prev, s.prevStart}} {
		lo, hi := max(off, buf.start), min(end, buf.start+int64(len(buf.data)))
		if lo < hi {
			copy(buf.data[lo-buf.start:hi-buf.start], b[lo-off:hi-off])
		}
	}
	if fileEnd := min(end, s.curStart); off < fileEnd {
		if _, err := s.f.WriteAt(b[:fileEnd-off], off); err != nil {
			s.err = fmt.Errorf("writing the spill file %s: %w", s.path, err)
			return s.err
		}
		for idx := off / spillChunk; idx*spillChunk < fileEnd; idx++ {
			if el, ok := s.chunks[idx]; ok {
				c := el.Value.(*spillChunkData)
				start := idx * spillChunk
				lo, hi := max(off, start), min(fileEnd, start+int64(len(c.data)))
				if lo < hi {
					copy(c.data[lo-start:hi-start], b[lo-off:hi-off])
				}
			}
		}
	}
	return nil
}

// close releases the file (already unlinked).
func (s *spill) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.cur, s.prev = nil, nil
	s.chunks = nil
	return s.f.Close()
}
