package session

import (
	"fmt"

	"github.com/wstap/wstap/decode"
)

// Reader reads frames and messages out of a store into buffers it reuses,
// so that paging through a million messages allocates nothing per message.
// What it returns is valid until its next call, as a decoder's events are.
// A Reader is not safe for concurrent use; the store is, and any number of
// readers may read it at once.
type Reader struct {
	s      *Store
	memos  blockMemos
	copied readCopy
	// interleaved is set for a reader that goes from connection to
	// connection (a sink replaying the log): one copy of the bytes around
	// a payload would not serve the next read, so it has none but those
	// of long connections in copies, one each (see copyFor), and it
	// reads blocks of records through the shared cache (see blockMemo).
	interleaved bool
	copies      map[*storedConn]*readCopy
	frame       decode.Frame
	message     decode.Message
	payload     []byte
	frames      []int
	close       decode.Close
	// derivable is what the frame read last said of its message (see
	// Derivable), when it was its one frame.
	derivable struct {
		id        ConnID
		index     int32
		known, is bool
	}
}

// NewReader returns a reader of s.
func (s *Store) NewReader() *Reader { return &Reader{s: s} }

// newInterleavedReader returns a reader for going from connection to
// connection (see Reader.interleaved).
func (s *Store) newInterleavedReader() *Reader {
	r := &Reader{s: s, interleaved: true}
	r.memos.frames.shared, r.memos.messages.shared, r.memos.lists.shared = true, true, true
	return r
}

// blockMemos are the blocks of records a reader read last, one per log
// of a connection (see blockMemo).
type blockMemos struct{ frames, messages, lists blockMemo }

// open finds connection id for one read. A connection that ended is
// frozen: it is read without its lock, through the reader's memos of its
// blocks (memos is not nil then). Otherwise its lock is taken, and memos
// is nil: its blocks may still change. The caller calls unlock when done.
func (r *Reader) open(id ConnID) (sc *storedConn, memos *blockMemos, unlock func(), err error) {
	if sc, err = r.s.conn(id); err != nil {
		return nil, nil, nil, err
	}
	if sc.frozen.Load() {
		return sc, &r.memos, func() {}, nil
	}
	sc.mu.Lock()
	return sc, nil, sc.mu.Unlock, nil
}

// payloadOf reads a payload of sc, through the reader's copy when sc
// ended (memos from open are not nil) or through its copy for sc when it
// is interleaved and sc long (copyFor), into the reader's buffer
// otherwise: from sc's current extents when there, else through the
// spill. What it returns is valid until the reader's next read.
func (r *Reader) payloadOf(sc *storedConn, memos *blockMemos, ref payRef) ([]byte, error) {
	var p []byte
	var err error
	var rc *readCopy
	switch {
	case r.interleaved:
		rc = r.copyFor(sc)
	case memos != nil:
		rc = &r.copied
	}
	if rc != nil {
		p, err = r.s.payloadCopied(r.payload[:0], sc, ref, rc)
	} else {
		current := false
		if memos == nil {
			// A connection going on, whose lock open took: what it
			// appended lately is read without the spill's lock, which
			// the replay of the log following close behind the
			// decoding took for every payload.
			p, current = sc.readCurrent(r.payload[:0], ref)
		}
		if !current {
			p, err = r.s.payload(r.payload[:0], ref)
		}
	}
	if cap(p) > cap(r.payload) && (rc == nil || !rc.holds(p)) {
		r.payload = p[:0] // it grew: keep the larger buffer
	}
	return p, err
}

// interleavedCopies bounds the copies of an interleaved reader: 2 MiB.
const interleavedCopies = 32

// copyFor returns the interleaved reader's copy for connection sc, or nil
// when it reads sc without one. A reader replaying the log goes from
// connection to connection; for short ones a copy of the bytes around a
// payload would not serve the next read and only cost, but the payloads
// of a long one (past longStream) follow each other, and read through the
// spill's lock and its chunk cache they were two thirds of the replay's
// reading. Bytes once appended never change, so a copy stays good while
// the connection goes on (its lock is held to read what is being
// appended, see Reader.open).
func (r *Reader) copyFor(sc *storedConn) *readCopy {
	if sc.stream.appended < longStream {
		return nil
	}
	if rc := r.copies[sc]; rc != nil {
		return rc
	}
	if r.copies == nil {
		r.copies = map[*storedConn]*readCopy{}
	}
	rc := &readCopy{}
	if len(r.copies) >= interleavedCopies {
		for old, oc := range r.copies { // any one: its buffer is taken over
			delete(r.copies, old)
			rc = oc
			*rc = readCopy{data: rc.data[:0]}
			break
		}
	}
	r.copies[sc] = rc
	return rc
}

// frameRec returns the record of frame i of sc, through memos when not
// nil; the caller holds sc.mu.
func (s *Store) frameRec(sc *storedConn, i int, memos *blockMemos) (frameRec, error) {
	var fr frameRec
	b, err := sc.frames.record(s.sp, s.cache, i, memos.forFrames())
	if err != nil {
		return fr, fmt.Errorf("connection %s: frame: %w", sc.meta.ID, err)
	}
	fr.get(b)
	return fr, nil
}

// messageRec returns the record of message i of sc, through memos when
// not nil; the caller holds sc.mu.
func (s *Store) messageRec(sc *storedConn, i int, memos *blockMemos) (messageRec, error) {
	var mr messageRec
	b, err := sc.messages.record(s.sp, s.cache, i, memos.forMessages())
	if err != nil {
		return mr, fmt.Errorf("connection %s: message: %w", sc.meta.ID, err)
	}
	mr.get(b)
	return mr, nil
}

// Frame returns frame i of connection id, its payload included.
func (r *Reader) Frame(id ConnID, i int) (*decode.Frame, error) {
	return r.readFrame(id, i, -1)
}

// FramePrefix returns frame i of connection id with at most n bytes of
// its payload (none when n is 0): a list of frames shows none, and a view
// of one shows what fits on a screen, not 64 MiB.
func (r *Reader) FramePrefix(id ConnID, i, n int) (*decode.Frame, error) {
	return r.readFrame(id, i, max(n, 0))
}

// readFrame reads frame i with at most limit bytes of its payload (all of
// it when limit is negative).
func (r *Reader) readFrame(id ConnID, i, limit int) (*decode.Frame, error) {
	s := r.s
	sc, memos, unlock, err := r.open(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	fr, err := s.frameRec(sc, i, memos)
	if err != nil {
		return nil, err
	}
	fr.frame(&r.frame)
	r.derivable.known, r.derivable.is = fr.flags&flagAlone != 0, fr.flags&flagDerivable != 0
	r.derivable.id, r.derivable.index = id, fr.message
	if limit == 0 {
		// The head only: an imported frame's payload need not even be
		// found in its message's.
		r.frame.Payload = r.payload[:0]
		return &r.frame, nil
	}
	pay := fr.pay
	if pay.off == payFromMessage {
		if pay, err = s.cutFromMessage(sc, i, &fr, memos); err != nil {
			return nil, fmt.Errorf("connection %s: frame %d: %w", sc.meta.ID, i, err)
		}
	}
	if r.frame.Payload, err = r.payloadOf(sc, memos, cut(pay, limit)); err != nil {
		return nil, fmt.Errorf("connection %s: frame %d: %w", sc.meta.ID, i, err)
	}
	return &r.frame, nil
}

// cutFromMessage finds where frame i's payload lies in its message's: the
// frames before it in the message take the bytes before. The caller holds
// mu.
func (s *Store) cutFromMessage(sc *storedConn, i int, fr *frameRec, memos *blockMemos) (payRef, error) {
	if fr.message < 0 || int(fr.message) >= sc.messages.n {
		return payRef{off: payLost}, nil
	}
	mr, err := s.messageRec(sc, int(fr.message), memos)
	if err != nil {
		return payRef{}, err
	}
	var off int64
	for k := range int(mr.count) {
		fi, err := s.frameOf(sc, &mr, k, memos)
		if err != nil {
			return payRef{}, err
		}
		if fi == i {
			if mr.pay.off < 0 || off+int64(fr.pay.n) > int64(mr.pay.n) {
				return payRef{off: payLost}, nil
			}
			return payRef{off: mr.pay.off + off, n: fr.pay.n}, nil
		}
		other, err := s.frameRec(sc, fi, memos)
		if err != nil {
			return payRef{}, err
		}
		off += int64(other.pay.n)
	}
	return payRef{off: payLost}, nil
}

// frameOf returns the index of the k-th frame of message record mr,
// through memos when not nil; the caller holds sc.mu.
func (s *Store) frameOf(sc *storedConn, mr *messageRec, k int, memos *blockMemos) (int, error) {
	if mr.flags&flagListed == 0 {
		return int(mr.first) + k, nil
	}
	b, err := sc.lists.record(s.sp, s.cache, int(mr.first)+k, memos.forLists())
	if err != nil {
		return 0, err
	}
	return int(getInt32(b)), nil
}

// Message returns message i of connection id, with its payload, the list
// of its frames and, for a close message, its Close.
func (r *Reader) Message(id ConnID, i int) (*decode.Message, error) {
	return r.readMessage(id, i, -1)
}

// MessageHead returns message i of connection id without reading its
// payload (Payload is nil; Size says how big it is): what a list of
// messages shows.
func (r *Reader) MessageHead(id ConnID, i int) (*decode.Message, error) {
	return r.readMessage(id, i, 0)
}

// MessagePrefix returns message i of connection id with at most n bytes
// of its payload: a one-line preview reads a few dozen bytes of a message
// that may hold megabytes. A close message's Close is parsed from those
// bytes.
func (r *Reader) MessagePrefix(id ConnID, i, n int) (*decode.Message, error) {
	return r.readMessage(id, i, max(n, 1))
}

// readMessage reads message i with at most limit bytes of its payload
// (none when limit is 0, all of it when it is negative).
func (r *Reader) readMessage(id ConnID, i, limit int) (*decode.Message, error) {
	s := r.s
	sc, memos, unlock, err := r.open(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	mr, err := s.messageRec(sc, i, memos)
	if err != nil {
		return nil, err
	}
	mr.message(&r.message)
	r.frames = r.frames[:0]
	for k := range int(mr.count) {
		fi, err := s.frameOf(sc, &mr, k, memos)
		if err != nil {
			return nil, fmt.Errorf("connection %s: message %d: %w", sc.meta.ID, i, err)
		}
		r.frames = append(r.frames, fi)
	}
	r.message.Frames = r.frames
	if limit == 0 {
		return &r.message, nil
	}
	if r.message.Payload, err = r.payloadOf(sc, memos, cut(mr.pay, limit)); err != nil {
		return nil, fmt.Errorf("connection %s: message %d: %w", sc.meta.ID, i, err)
	}
	if mr.pay.off == payLost && mr.pay.n > 0 {
		// The spill file failed before the payload could be kept.
		r.message.Truncated = true
	}
	if r.message.Opcode == decode.OpClose {
		r.close = *closeOf(&r.message)
		r.message.Close = &r.close
	}
	return &r.message, nil
}

// cut returns ref shortened to at most limit bytes; a negative limit
// leaves it whole.
func cut(ref payRef, limit int) payRef {
	if limit >= 0 && int64(ref.n) > int64(limit) {
		ref.n = uint32(limit)
	}
	return ref
}

// Derivable reports whether the frames of message i of connection id
// carry exactly its payload, one after the other: a message that is not
// compressed (or could not be inflated) whose frames were all kept whole.
// The JSON export then leaves the frames' payloads out.
//
// The frame of a message of one frame says whether it is: asked for the
// message of the frame read last, that answers without a read.
func (r *Reader) Derivable(id ConnID, i int) (bool, error) {
	if d := r.derivable; d.known && d.id == id && int(d.index) == i {
		return d.is, nil
	}
	sc, memos, unlock, err := r.open(id)
	if err != nil {
		return false, err
	}
	defer unlock()
	mr, err := r.s.messageRec(sc, i, memos)
	if err != nil {
		return false, err
	}
	return mr.flags&flagDerivable != 0, nil
}
