package decode

import "time"

// feedFrames reads RFC 6455 frames. The header of a frame is parsed in
// place when the chunk holds it whole (the common case, no copy) and
// collected in a small array when it is split across chunks.
func (d *Decoder) feedFrames(dir *direction, t time.Time, b []byte) int {
	f := &dir.frame
	consumed := 0
	for consumed < len(b) && dir.mode == modeFrames {
		if !f.inPayload {
			rest := b[consumed:]
			if f.hdrN == 0 {
				f.start = dir.pos + int64(consumed)
				f.time = t
				if ParseFrameHeader(rest, &f.h) {
					consumed += f.h.Size
					d.beginFrame(dir, t)
					continue
				}
			}
			for f.hdrN < 2 || f.hdrN < FrameHeaderSize(f.hdr[0], f.hdr[1]) {
				if consumed == len(b) {
					return consumed
				}
				f.hdr[f.hdrN] = b[consumed]
				f.hdrN++
				consumed++
			}
			ParseFrameHeader(f.hdr[:f.hdrN], &f.h)
			f.hdrN = 0
			d.beginFrame(dir, t)
			continue
		}
		n := len(b) - consumed
		if uint64(n) > f.left {
			n = int(f.left)
		}
		d.payload(dir, b[consumed:consumed+n])
		consumed += n
		f.left -= uint64(n)
		if f.left == 0 {
			d.endFrame(dir, t, false)
		}
	}
	return consumed
}

// beginFrame judges a complete header in the connection's context and
// decides where its payload goes.
func (d *Decoder) beginFrame(dir *direction, t time.Time) {
	f := &dir.frame
	h := &f.h
	// The frame's index is known only once it is complete (see
	// pendingProblem); idx stands for it in the problems' arguments.
	idx := thisFrame{}
	at := func(sev Severity, kind Kind, format string, args ...any) {
		f.pending = append(f.pending, pendingProblem{sev: sev, kind: kind, format: format, args: args})
	}

	v := h.Check()
	if v&ViolationReservedOpcode != 0 {
		at(Error, KindReservedOpcode, "%s frame %d uses reserved opcode %d (RFC 6455 5.2)", dir.side, idx, h.Opcode)
	}
	if v&ViolationControlTooLong != 0 {
		at(Error, KindControlFrameTooLong, "%s %s frame %d has a %d-byte payload; control frames carry at most 125 (RFC 6455 5.5)", dir.side, h.Opcode, idx, h.Length)
	}
	if v&ViolationControlFragmented != 0 {
		at(Error, KindControlFragmented, "%s %s frame %d has FIN clear; control frames must not be fragmented (RFC 6455 5.5)", dir.side, h.Opcode, idx)
	}
	if v&ViolationLengthTopBit != 0 {
		at(Error, KindLengthTopBit, "%s frame %d has a 64-bit length with the most significant bit set (RFC 6455 5.2)", dir.side, idx)
	}
	if v&ViolationNonMinimalLength != 0 {
		at(Warning, KindNonMinimalLength, "%s frame %d encodes length %d in %d bytes; the minimal form is required (RFC 6455 5.2)", dir.side, idx, h.Length, h.Size-2-maskBytes(h))
	}
	if d.roles {
		if dir.side == Client && !h.Masked {
			at(Error, KindUnmaskedClientFrame, "client frame %d is not masked (RFC 6455 5.1)", idx)
		}
		if dir.side == Server && h.Masked {
			at(Error, KindMaskedServerFrame, "server frame %d is masked (RFC 6455 5.1)", idx)
		}
	}
	deflate := d.hs.deflate != nil || d.hs.assumeDeflate
	allowed := uint8(0)
	if deflate && !h.Opcode.IsControl() && h.Opcode != OpContinuation {
		allowed = 4
	}
	if extra := h.Rsv &^ allowed; extra != 0 {
		switch {
		case deflate && h.Opcode == OpContinuation && extra == 4:
			at(Error, KindRSV1OnContinuation, "%s continuation frame %d has RSV1 set; only a message's first frame may (RFC 7692 6.1)", dir.side, idx)
		case deflate && h.Opcode.IsControl() && extra == 4:
			at(Error, KindRSVWithoutExtension, "%s %s frame %d has RSV1 set; control frames are never compressed (RFC 7692 6.1)", dir.side, h.Opcode, idx)
		default:
			at(Error, KindRSVWithoutExtension, "%s frame %d has RSV bits %03b set without a negotiated extension that defines them (RFC 6455 5.2)", dir.side, idx, extra)
		}
	}
	if dir.closeSent {
		at(Error, KindFrameAfterClose, "%s frame %d was sent after the %s's Close frame (RFC 6455 5.5.1)", dir.side, idx, dir.side)
	}

	f.inPayload = true
	f.left = h.Length
	f.maskPos = 0
	f.retained = 0
	f.control = h.Opcode.IsControl()
	m := &dir.msg
	if f.control {
		dir.ctrl = dir.ctrl[:0]
		f.bufStart = 0
	} else {
		if h.Opcode == OpContinuation {
			if !m.open {
				at(Error, KindUnexpectedContinuation, "%s continuation frame %d has no message to continue (RFC 6455 5.4)", dir.side, idx)
				d.openMessage(dir, OpContinuation, false)
			}
		} else {
			if m.open {
				at(Error, KindInterleavedDataFrame, "%s %s frame %d starts a new message while message of frame %d is unfinished (RFC 6455 5.4)", dir.side, h.Opcode, idx, m.frames[0])
				d.finishMessage(dir, t, true)
			}
			d.openMessage(dir, h.Opcode, deflate && h.Rsv&4 != 0)
		}
		f.bufStart = len(m.buf)
		// Reserve room for this frame's retained payload once, instead of
		// growing while it arrives; a claimed length is not trusted past
		// 1 MiB because it may be a lie or cut by a gap.
		want := int(min(h.Length, uint64(max(0, d.opts.MaxMessageSize-int64(len(m.buf)))), 1<<20))
		if cap(m.buf)-len(m.buf) < want {
			m.buf = growFor(m.buf, want, d.opts.MaxMessageSize)
		}
	}
	if f.left == 0 {
		d.endFrame(dir, t, false)
	}
}

// pendingProblem is a problem found in the header or payload of the frame
// being read. It is reported when the frame is complete, because frames
// are numbered in the order they complete: while a large frame of one side
// arrives, frames of the other side may complete and take the next
// indexes, so the index a frame will get is not known at its header.
type pendingProblem struct {
	sev    Severity
	kind   Kind
	format string
	args   []any
}

// thisFrame stands for the index of the frame being read in the arguments
// of a pendingProblem.
type thisFrame struct{}

// badThisFrame in messageState.textBadAt: the text turned invalid in the
// frame being read.
const badThisFrame = -2

// flushPending reports the pending problems of the frame being read, now
// that its index is known.
func (d *Decoder) flushPending(dir *direction, idx int) {
	f := &dir.frame
	for _, pp := range f.pending {
		for i, a := range pp.args {
			if _, ok := a.(thisFrame); ok {
				pp.args[i] = idx
			}
		}
		d.report(pp.sev, pp.kind, dir.side, where{time: f.time, frame: idx, message: -1, offset: f.start}, pp.format, pp.args...)
	}
	clear(f.pending)
	f.pending = f.pending[:0]
}

func maskBytes(h *FrameHeader) int {
	if h.Masked {
		return 4
	}
	return 0
}

// openMessage starts a data message on dir.
func (d *Decoder) openMessage(dir *direction, op Opcode, compressed bool) {
	m := &dir.msg
	m.open = true
	m.opcode = op
	m.compressed = compressed
	m.time = dir.frame.time
	m.textBadAt = -1
	m.text.reset()
}

// payload takes the next payload bytes of the current frame: unmasked into
// the message (or control) buffer up to the retain limit, and past it into
// scratch, where text is still checked.
func (d *Decoder) payload(dir *direction, p []byte) {
	f := &dir.frame
	if f.control {
		kept := retain(&dir.ctrl, p, f, d.opts.MaxMessageSize)
		f.retained += len(kept)
		f.maskPos += len(p)
		return
	}
	m := &dir.msg
	var kept []byte
	if !m.truncated {
		kept = retain(&m.buf, p, f, d.opts.MaxMessageSize)
		f.retained += len(kept)
		if len(kept) < len(p) {
			m.truncated = true
			first := any(thisFrame{})
			if len(m.frames) > 0 {
				first = m.frames[0]
			}
			f.pending = append(f.pending, pendingProblem{sev: Warning, kind: KindMessageTruncated,
				format: "%s message starting at frame %d is over the %d-byte retain limit; the rest is not kept",
				args:   []any{dir.side, first, d.opts.MaxMessageSize}})
		}
	}
	checkText := m.opcode == OpText && !m.compressed && !m.text.bad
	if checkText && len(kept) > 0 {
		d.writeText(dir, kept)
	}
	if rest := p[len(kept):]; checkText && len(rest) > 0 {
		// Past the retain limit: unmask into scratch only to check the text.
		if dir.scratch == nil {
			dir.scratch = make([]byte, 4096)
		}
		pos := f.maskPos + len(kept)
		for len(rest) > 0 {
			n := copy(dir.scratch, rest)
			if f.h.Masked {
				pos = maskCopy(dir.scratch, rest[:n], f.h.MaskKey, pos)
			}
			d.writeText(dir, dir.scratch[:n])
			rest = rest[n:]
		}
	}
	f.maskPos += len(p)
}

func (d *Decoder) writeText(dir *direction, p []byte) {
	m := &dir.msg
	if !m.text.write(p) && m.textBadAt < 0 {
		m.textBadAt = badThisFrame
	}
}

func (m *messageState) firstFrame(d *Decoder) int {
	if len(m.frames) > 0 {
		return m.frames[0]
	}
	return d.conn.FrameCount
}

// retain appends p, unmasked, to *buf while the buffer is under limit and
// returns the part that was kept (unmasked, inside *buf).
func retain(buf *[]byte, p []byte, f *frameState, limit int64) []byte {
	room := limit - int64(len(*buf))
	if room <= 0 {
		return nil
	}
	k := len(p)
	if int64(k) > room {
		k = int(room)
	}
	b := *buf
	if cap(b)-len(b) < k {
		b = growFor(b, k, limit)
	}
	start := len(b)
	b = b[:start+k]
	if f.h.Masked {
		maskCopy(b[start:], p[:k], f.h.MaskKey, f.maskPos)
	} else {
		copy(b[start:], p[:k])
	}
	*buf = b
	return b[start:]
}

// endFrame completes the current frame: emits it, and the message it
// completes. cut is set when the stream ended or a gap hit inside it.
func (d *Decoder) endFrame(dir *direction, t time.Time, cut bool) {
	f := &dir.frame
	f.inPayload = false
	h := &f.h
	next := d.conn.FrameCount // the index addFrame gives this frame
	d.flushPending(dir, next)
	if !f.control && dir.msg.textBadAt == badThisFrame {
		dir.msg.textBadAt = next
	}
	fr := Frame{
		From: dir.side, Time: f.time, Offset: f.start,
		Fin: h.Fin, Rsv: h.Rsv, Opcode: h.Opcode, Masked: h.Masked, MaskKey: h.MaskKey,
		Length: h.Length, HeaderLen: h.Size, Message: -1,
	}
	if f.control {
		fr.Payload = dir.ctrl[:f.retained]
		fr.Message = d.conn.MessageCount
	} else {
		fr.Payload = dir.msg.buf[f.bufStart : f.bufStart+f.retained]
		if h.Fin && !cut {
			fr.Message = d.conn.MessageCount
		}
	}
	idx := d.addFrame(&fr)

	if f.control {
		d.controlMessage(dir, idx, &fr)
		return
	}
	m := &dir.msg
	m.frames = append(m.frames, idx)
	// A frame cut off counts the payload that arrived (or was lost in a
	// gap), not the length its header claims, which may not fit an int64.
	got := int64(h.Length - f.left)
	m.wire += int64(h.Size) + got
	m.size += got
	m.lastTime = f.time
	if h.Fin || cut {
		d.finishMessage(dir, t, cut)
	}
}

// addFrame records a frame and emits it; it returns the frame's index.
func (d *Decoder) addFrame(fr *Frame) int {
	idx := d.conn.FrameCount
	d.conn.FrameCount++
	d.evFrame = *fr
	d.emit(Event{Kind: EventFrame, Conn: d.conn, Index: idx, Frame: &d.evFrame})
	return idx
}

// addMessage records a message and emits it; it returns its index.
func (d *Decoder) addMessage(msg *Message, frames []int) int {
	idx := d.conn.MessageCount
	d.conn.MessageCount++
	// As in addFrame: the listener sees the decoder's copies.
	d.evFrames = append(d.evFrames[:0], frames...)
	d.evMessage = *msg
	d.evMessage.Frames = d.evFrames
	d.emit(Event{Kind: EventMessage, Conn: d.conn, Index: idx, Message: &d.evMessage})
	return idx
}

// controlMessage turns a control frame into the message it is on its own
// (RFC 6455 5.5), in wire order even between fragments of a data message.
func (d *Decoder) controlMessage(dir *direction, frameIdx int, fr *Frame) {
	got := int64(fr.Length - dir.frame.left) // as in endFrame: what arrived
	msg := Message{
		From: dir.side, Time: fr.Time, LastTime: fr.Time, Opcode: fr.Opcode,
		WireSize: int64(fr.HeaderLen) + got,
		Size:     got, Payload: fr.Payload,
		Truncated: uint64(len(fr.Payload)) < fr.Length,
	}
	if fr.Opcode == OpClose {
		d.closeFrame(dir, frameIdx, fr, &msg)
	}
	one := [1]int{frameIdx}
	d.addMessage(&msg, one[:])
}

func (d *Decoder) problemAtFrame(dir *direction, sev Severity, kind Kind, fr *Frame, frameIdx int, format string, args ...any) {
	d.report(sev, kind, dir.side, where{time: fr.Time, frame: frameIdx, message: -1, offset: fr.Offset}, format, args...)
}
