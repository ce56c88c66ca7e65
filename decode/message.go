package decode

import (
	"encoding/binary"
	"time"
	"unicode/utf8"
)

// finishMessage completes the open data message of dir: inflates it when
// compressed, judges its text, emits it and resets the state for the next.
// incomplete is set when the message's end was never seen.
func (d *Decoder) finishMessage(dir *direction, t time.Time, incomplete bool) {
	m := &dir.msg
	if !m.open {
		return
	}
	msg := Message{
		From: dir.side, Time: m.time, LastTime: m.lastTime, Opcode: m.opcode,
		Compressed: m.compressed, WireSize: m.wire, Truncated: m.truncated || incomplete,
	}
	first := m.firstFrame(d)
	last := first
	if len(m.frames) > 0 {
		last = m.frames[len(m.frames)-1]
	}
	idx := d.conn.MessageCount
	at := func(sev Severity, kind Kind, frame int, format string, args ...any) {
		d.report(sev, kind, dir.side, where{time: m.time, frame: frame, message: idx, offset: -1}, format, args...)
	}
	if incomplete {
		at(Error, KindIncompleteMessage, last, "%s %s message %d (frames %d-%d) never got its final fragment", dir.side, m.opcode, idx, first, last)
	}

	if m.compressed && !incomplete {
		d.inflateMessage(dir, &msg, idx, at)
	} else {
		msg.Payload = m.buf
		msg.Size = m.size
		msg.Raw = m.compressed
		if m.opcode == OpText && !m.compressed {
			msg.TextValid = m.text.valid() && !msg.Truncated
			if m.text.bad {
				at(Error, KindInvalidUTF8, m.textBadAt, "%s text message %d is not valid UTF-8 (frame %d; RFC 6455 8.1)", dir.side, idx, m.textBadAt)
			} else if !incomplete && !m.truncated && m.text.n > 0 {
				at(Error, KindInvalidUTF8, last, "%s text message %d ends inside a UTF-8 character (RFC 6455 8.1)", dir.side, idx)
			}
		}
	}

	d.addMessage(&msg, m.frames)

	m.open = false
	m.frames = m.frames[:0]
	m.wire, m.size = 0, 0
	m.truncated = false
	// The listener saw the payload; the buffer is reused for the next
	// message, unless a large one grew it: a connection that once sent
	// 60 MiB must not hold 60 MiB for the rest of its life.
	m.buf = reuse(m.buf)
}

// inflateMessage decompresses a permessage-deflate message (RFC 7692 7.2.2).
// A message that will not inflate is kept compressed (Raw) with a problem;
// the direction's context is then lost, and later messages inflate where
// they do not reach back into it.
func (d *Decoder) inflateMessage(dir *direction, msg *Message, idx int, at func(Severity, Kind, int, string, ...any)) {
	m := &dir.msg
	if dir.infl == nil {
		takeover, bits := true, 15
		if p := d.hs.deflate; p != nil {
			takeover = !p.NoContextTakeover(dir.side)
			bits = p.WindowBits(dir.side)
		}
		dir.infl = d.opts.Pool.inflater(takeover, bits)
	}
	in := dir.infl
	d.compressed += int64(len(m.buf))
	if d.bomb {
		// The budget is spent: the message stays compressed. The context
		// goes with it, so later messages are not inflated either.
		msg.Raw = true
		msg.Payload = m.buf
		msg.Size = int64(len(m.buf))
		return
	}
	budget := d.opts.InflateBudget + d.opts.InflateRatio*d.compressed - d.inflated
	maxSize := min(d.opts.MaxInflateSize, max(budget, 0))
	contextKnown := !in.lost && !d.hs.missing
	var text *utf8Stream
	if m.opcode == OpText {
		m.text.reset()
		text = &m.text
	}
	out, res := in.inflate(m.buf, dir.inflated[:0], d.opts.MaxMessageSize, maxSize, text)
	d.inflated += res.size
	last := m.frames[len(m.frames)-1]
	if res.limited && maxSize < d.opts.MaxInflateSize {
		// Stopped by the connection's budget, not the message's limit.
		d.bomb = true
		d.reportBomb(dir, idx, last, at)
		msg.Raw = true
		msg.Payload = m.buf
		msg.Size = int64(len(m.buf))
		dir.inflated = reuse(out)
		return
	}
	dir.inflated = reuse(out)
	if res.err != nil {
		msg.Raw = true
		msg.Payload = m.buf
		msg.Size = int64(len(m.buf))
		if contextKnown {
			at(Error, KindInflateFailed, last, "%s message %d does not inflate: %v (RFC 7692 7.2.2); shown compressed", dir.side, idx, res.err)
		} else {
			at(Warning, KindContextLost, last, "%s message %d refers to compression context from before the capture or a lost message and cannot be inflated; shown compressed", dir.side, idx)
		}
		return
	}
	if in.lost && res.err == nil && !res.limited {
		in.lost = false // the window is whole again from here on
	}
	msg.Payload = out
	msg.Size = res.size
	if res.limited {
		msg.Truncated = true
		at(Error, KindInflateLimit, last, "%s message %d inflates past the %d-byte expansion limit (%d bytes compressed); inflation stopped", dir.side, idx, d.opts.MaxInflateSize, len(m.buf))
	} else if res.truncated {
		msg.Truncated = true
		at(Warning, KindMessageTruncated, last, "%s message %d inflates to %d bytes, over the %d-byte retain limit; the rest is not kept", dir.side, idx, res.size, d.opts.MaxMessageSize)
	}
	if m.truncated {
		msg.Truncated = true
	}
	if text != nil {
		msg.TextValid = text.valid() && !msg.Truncated
		if text.bad || (!res.limited && text.n > 0) {
			at(Error, KindInvalidUTF8, last, "%s text message %d is not valid UTF-8 after inflating (RFC 6455 8.1)", dir.side, idx)
		}
	}
}

// validCloseCode reports whether code may be sent in a Close frame
// (RFC 6455 7.4.1, 7.4.2 and the IANA registry): 1000-1003, 1007-1014,
// and 3000-4999. 1004 is reserved, and 1005, 1006 and 1015 must never be
// sent on the wire.
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// closeFrame parses a Close frame's payload (RFC 6455 5.5.1) and moves the
// connection towards closed.
func (d *Decoder) closeFrame(dir *direction, frameIdx int, fr *Frame, msg *Message) {
	c := &Close{From: dir.side, Time: fr.Time}
	p := fr.Payload
	switch {
	case fr.Length == 0:
	case fr.Length == 1:
		d.problemAtFrame(dir, Error, KindShortClosePayload, fr, frameIdx, "%s Close frame %d has a 1-byte payload; a body starts with a 2-byte code (RFC 6455 5.5.1)", dir.side, frameIdx)
	case len(p) >= 2:
		c.HasCode = true
		c.Code = binary.BigEndian.Uint16(p)
		reason := p[2:]
		if !validCloseCode(c.Code) {
			d.problemAtFrame(dir, Error, KindInvalidCloseCode, fr, frameIdx, "%s Close frame %d has code %d, which may not be sent (RFC 6455 7.4)", dir.side, frameIdx, c.Code)
		}
		if utf8.Valid(reason) {
			msg.TextValid = true
		} else {
			d.problemAtFrame(dir, Error, KindInvalidUTF8, fr, frameIdx, "%s Close frame %d has a reason that is not valid UTF-8 (RFC 6455 5.5.1)", dir.side, frameIdx)
		}
		c.Reason = string(reason)
	}
	msg.Close = c
	if dir.closeSent {
		return // a second Close from the same side: already reported as frame-after-close
	}
	dir.closeSent = true
	switch {
	case d.conn.Close == nil:
		d.conn.Close = c
		d.conn.State = StateClosing
	case d.conn.CloseReply == nil:
		d.conn.CloseReply = c
		d.conn.State = StateClosed
	}
}

// reportBomb says that the connection's inflation budget is spent (see
// Options.InflateBudget): message idx and every compressed message after
// it stay compressed.
func (d *Decoder) reportBomb(dir *direction, idx, frame int, at func(Severity, Kind, int, string, ...any)) {
	at(Error, KindDecompressionBomb, frame, "%s message %d would take the connection past its inflation budget (%d bytes inflated from %d compressed; the budget is %d bytes plus %d times the compressed size): a decompression bomb; this message and every later compressed one are shown compressed",
		dir.side, idx, d.inflated, d.compressed, d.opts.InflateBudget, d.opts.InflateRatio)
}
