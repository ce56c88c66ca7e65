package decode

import "time"

// Resynchronisation finds frame boundaries again where they were lost: after
// a gap in the capture, and at the start of a capture that began in the
// middle of a conversation. A position is taken as a frame start when its
// header is plausible and the header right after that frame is plausible
// too. The decision depends only on the bytes, never on how they were
// chunked, so it waits for the confirming header when it is not there yet.

const (
	// resyncWindow: a candidate frame longer than this is taken on its
	// header alone rather than waiting for the header after it.
	resyncWindow = 64 << 10
	// detectLimit: without a handshake, give up looking for frames after
	// this many bytes of a direction; the connection is not WebSocket.
	detectLimit = 64 << 10
)

type resyncState struct {
	buf     []byte
	start   int64 // stream position of buf[0]
	skipped int64 // bytes skipped so far (gaps not included)
	// detect: no frame has been seen on this connection yet, so roles are
	// unknown and the bar is higher (two confirming headers).
	detect bool
	// marks are the capture times of the buffered bytes: marks[k].t from
	// stream position marks[k].pos on. Frames found in the buffer keep the
	// time of the chunk their first byte came in, not the time of the
	// chunk that confirmed them.
	marks []timeMark
}

type timeMark struct {
	pos int64
	t   time.Time
}

type verdict uint8

const (
	reject verdict = iota
	accept
	wait
)

func (d *Decoder) feedResync(dir *direction, t time.Time, b []byte) int {
	r := &dir.resync
	if len(r.buf) == 0 {
		r.start = dir.pos
		r.marks = r.marks[:0]
	}
	if n := len(r.marks); n == 0 || !r.marks[n-1].t.Equal(t) {
		r.marks = append(r.marks, timeMark{pos: r.start + int64(len(r.buf)), t: t})
	}
	r.buf = append(r.buf, b...)
	d.scanResync(dir, t, false)
	return len(b)
}

// scanResync looks for a frame start in the buffer. final is set at the end
// of the stream, when no more bytes will come to confirm a candidate.
func (d *Decoder) scanResync(dir *direction, t time.Time, final bool) {
	r := &dir.resync
	i := 0
	for ; i < len(r.buf); i++ {
		switch d.candidate(dir, r.buf, i, final) {
		case reject:
			continue
		case wait:
			r.drop(i)
			if r.detect && r.skipped > detectLimit {
				d.giveUp(dir)
			}
			return
		case accept:
			d.resume(dir, t, i)
			return
		}
	}
	r.drop(i)
	if r.detect && r.skipped > detectLimit {
		d.giveUp(dir)
	}
}

func (r *resyncState) drop(n int) {
	if n == 0 {
		return
	}
	r.skipped += int64(n)
	r.start += int64(n)
	r.buf = append(r.buf[:0], r.buf[n:]...)
	k := 0
	for k+1 < len(r.marks) && r.marks[k+1].pos <= r.start {
		k++
	}
	r.marks = append(r.marks[:0], r.marks[k:]...)
}

// giveUp stops looking: the bytes are not WebSocket frames.
func (d *Decoder) giveUp(dir *direction) {
	dir.mode = modeIgnore
	dir.resync = resyncState{}
}

// resume switches to frames at buffer position i and replays from there.
func (d *Decoder) resume(dir *direction, t time.Time, i int) {
	r := &dir.resync
	skipped := r.skipped + int64(i)
	var h FrameHeader
	ParseFrameHeader(r.buf[i:], &h)
	if !d.roles {
		// RFC 6455 5.1: clients mask, servers do not. The first frames
		// found decide, also when they follow a gap rather than start the
		// capture: a later decision would relabel a direction whose frames
		// were already reported.
		role := Server
		if h.Masked {
			role = Client
		}
		d.setRole(dir, role)
	}
	buf := r.buf[i:]
	pos := r.start + int64(i)
	marks := r.marks
	for len(marks) > 1 && marks[1].pos <= pos {
		marks = marks[1:]
	}
	if len(marks) > 0 {
		t = marks[0].t
	}
	if skipped > 0 {
		d.report(Warning, KindResync, dir.side, where{time: t, frame: -1, message: -1, offset: pos},
			"%s frames resume at offset %d after %d bytes that could not be decoded", dir.side, pos, skipped)
	}
	dir.resync = resyncState{}
	dir.mode = modeFrames
	dir.frame = frameState{}
	// Replay each stretch of the buffer with the time it was captured at.
	for k := range marks {
		end := pos + int64(len(buf))
		if k+1 < len(marks) {
			end = marks[k+1].pos
		}
		from := max(marks[k].pos, pos)
		if end <= from {
			continue
		}
		dir.pos = from
		d.feed(dir, marks[k].t, buf[from-pos:end-pos])
	}
	if len(marks) == 0 {
		dir.pos = pos
		d.feed(dir, t, buf)
	}
}

// candidate judges whether a frame starts at buf[i].
func (d *Decoder) candidate(dir *direction, buf []byte, i int, final bool) verdict {
	var h FrameHeader
	if !ParseFrameHeader(buf[i:], &h) {
		if final {
			return reject
		}
		return wait
	}
	if !d.plausible(dir, &h, nil) {
		return reject
	}
	if h.Length > resyncWindow {
		if dir.resync.detect {
			return reject
		}
		return accept
	}
	end := i + h.Size + int(h.Length)
	confirmations := 1
	if dir.resync.detect {
		confirmations = 2
	}
	prev := h
	for c := 0; c < confirmations; c++ {
		if end == len(buf) && final {
			return accept
		}
		var next FrameHeader
		if end > len(buf) || !ParseFrameHeader(buf[end:], &next) {
			if final {
				return reject
			}
			return wait
		}
		if !d.plausible(dir, &next, &prev) {
			return reject
		}
		if next.Length > resyncWindow {
			return accept
		}
		end += next.Size + int(next.Length)
		prev = next
	}
	return accept
}

// plausible reports whether h can be a real frame header of dir. prev, if
// not nil, is the frame before it, whose mask bit it must share.
func (d *Decoder) plausible(dir *direction, h *FrameHeader, prev *FrameHeader) bool {
	if h.Check() != 0 {
		return false
	}
	if d.roles && h.Masked != (dir.side == Client) {
		return false
	}
	if prev != nil && prev.Masked != h.Masked {
		return false
	}
	if h.Masked && h.MaskKey == [4]byte{} && h.Length > 0 {
		return false // a zero key is legal but almost never chosen
	}
	switch h.Rsv {
	case 0:
	case 4:
		if !(d.hs.deflate != nil || d.hs.assumeDeflate) || h.Opcode.IsControl() || h.Opcode == OpContinuation {
			return false
		}
	default:
		return false
	}
	// A continuation cannot follow a finished data message; a control
	// frame in between says nothing (it may sit between fragments, 5.4).
	if h.Opcode == OpContinuation && prev != nil && prev.Fin && !prev.Opcode.IsControl() {
		return false
	}
	if h.Length > 1<<32 {
		return false
	}
	return true
}

// gap handles n missing bytes of dir.
func (d *Decoder) gap(dir *direction, t time.Time, n int64) {
	start := dir.pos
	dir.pos += n
	if dir.mode == modeHold {
		// Kept in place among the held bytes; it is reported when they
		// are replayed (release), once the answer decided what they are.
		dir.http.held = append(dir.http.held, heldChunk{t: t, gap: n, from: start})
		return
	}
	d.report(Error, KindMissingBytes, dir.side, where{time: t, frame: -1, message: -1, offset: start},
		"%d bytes sent by the %s are missing from the capture at offset %d", n, dir.side, start)
	switch dir.mode {
	case modeFrames:
		f := &dir.frame
		if f.inPayload && uint64(n) <= f.left {
			// The gap is inside a payload: the framing is intact, only
			// these bytes of the message are lost.
			m := &dir.msg
			if !f.control && m.open {
				m.truncated = true
			}
			f.left -= uint64(n)
			f.maskPos += int(n)
			if f.left == 0 {
				d.endFrame(dir, t, false)
			}
			return
		}
		if f.inPayload || f.hdrN > 0 {
			if f.inPayload {
				n -= int64(f.left)
				f.left = 0
			}
			if f.hdrN > 0 {
				f.hdrN = 0
				n = 1 // position unknown now
			} else {
				d.endFrame(dir, t, true)
			}
			if n == 0 {
				return // the gap ended exactly at a frame boundary
			}
		}
		d.finishMessage(dir, t, true)
		dir.mode = modeResync
		dir.resync = resyncState{start: dir.pos}
	case modeResync:
		dir.resync.skipped += int64(len(dir.resync.buf))
		dir.resync.buf = dir.resync.buf[:0]
		dir.resync.marks = dir.resync.marks[:0]
		dir.resync.start = dir.pos
	case modeHixie:
		x := &dir.hixie
		if x.inFrame && x.lengthDone && uint64(n) <= x.left {
			x.left -= uint64(n)
			x.size += n
			return
		}
		x.inFrame = false
		x.seek = true
	case modeBody:
		br := &dir.http.body
		if !br.chunked && br.left > n {
			br.left -= n
			*br.size += n
			return
		}
		d.afterHTTPGap(dir)
	case modeHTTP, modeDetect:
		dir.http.head = nil
		d.afterHTTPGap(dir)
	}
}

// afterHTTPGap decides what to do when HTTP bytes are lost: if the
// connection was upgraded the bytes after the gap are frames; otherwise
// there is no telling where the next head starts.
func (d *Decoder) afterHTTPGap(dir *direction) {
	if d.hs.done || d.hs.missing {
		dir.mode = modeResync
		dir.resync = resyncState{start: dir.pos}
		return
	}
	dir.mode = modeIgnore
}
