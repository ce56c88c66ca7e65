package capture

import (
	"bytes"
	"slices"
	"time"
)

// The two directions of a connection reach the decoder in the order they
// happened, which is not always the order of the capture: a capture that
// merges two links, or a segment held for reassembly, can show an answer
// before its question. TCP says what each side had received when it sent
// a segment (its acknowledgement number), so bytes that acknowledge bytes
// of the other direction not yet decoded wait for them. An Upgrade answer
// is then never decoded before its request, nor a Close reply before the
// Close.

// holdWait bounds, in capture time, how long bytes wait for the other
// direction: acknowledged bytes the capture never saw do not hold the
// connection up for longer.
const holdWait = time.Second

// maxAckAhead bounds how far ahead an acknowledgement may point and still
// be taken for one: further is a corrupt or unrelated number.
const maxAckAhead = 1 << 26

// emit passes an event of half hi to the decoder, or holds it while it
// acknowledges bytes of the other direction that were not decoded yet.
func (s *stream) emit(hi int, ev event) {
	h := &s.halves[hi]
	if len(h.held) == 0 && !s.waits(hi, &ev) {
		s.apply(hi, ev)
		if len(s.halves[1-hi].held) > 0 {
			s.release()
		}
		return
	}
	if ev.data != nil {
		ev.data = bytes.Clone(ev.data) // the assembler reuses its buffers
	}
	h.held = append(h.held, ev)
	if !s.holding {
		s.holding = true
		s.t.holding = append(s.t.holding, s)
	}
}

// waits reports whether ev acknowledges bytes of the other direction that
// have not reached the decoder.
func (s *stream) waits(hi int, ev *event) bool {
	o := &s.halves[1-hi]
	if !ev.hasAck || !o.known {
		return false
	}
	d := seqDiff(o.fed, ev.ack)
	return d > 0 && d <= maxAckAhead
}

// apply gives one event of half hi to the decoder.
func (s *stream) apply(hi int, ev event) {
	h := &s.halves[hi]
	switch {
	case ev.fin:
		h.fed++
	case ev.data != nil:
		h.fed += uint32(len(ev.data))
		if s.tc == nil && !s.tls && looksLikeTLS(ev.data) {
			s.tls = true
		}
		if !s.tls {
			s.feed(s.side(hi), ev.t, ev.data)
		}
	default:
		h.fed += uint32(ev.gap)
		if !s.tls {
			s.gap(s.side(hi), ev.t, ev.gap)
		}
	}
}

// looksLikeTLS reports whether a connection's first bytes are a TLS record
// header (RFC 8446 5.1): a content type from 20 to 23 and version 3.x. No
// WebSocket frame starts so (the type byte would be a frame with RSV1 clear,
// RSV3 set and a reserved opcode) and no HTTP message does. Such a
// connection is encrypted (wss://, HTTPS): it is not decoded at all.
func looksLikeTLS(b []byte) bool {
	return len(b) >= 3 && b[0] >= 20 && b[0] <= 23 && b[1] == 3 && b[2] <= 4
}

// release passes on the held events that no longer wait, or that waited
// holdWait, in order, on both sides.
func (s *stream) release() {
	for {
		progress := false
		for hi := range s.halves {
			h := &s.halves[hi]
			for len(h.held) > 0 {
				ev := h.held[0]
				if s.waits(hi, &ev) && s.t.now.Sub(ev.t) < holdWait {
					break
				}
				h.held[0] = event{}
				h.held = h.held[1:]
				s.apply(hi, ev)
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	if len(s.halves[0].held) == 0 && len(s.halves[1].held) == 0 {
		s.halves[0].held, s.halves[1].held = nil, nil
	}
}

// flushHeld passes every held event on, at the end of the connection.
func (s *stream) flushHeld() {
	s.release()
	// What is left waits for bytes that were never captured: the older
	// event goes first.
	for len(s.halves[0].held) > 0 || len(s.halves[1].held) > 0 {
		hi := 0
		if len(s.halves[0].held) == 0 || (len(s.halves[1].held) > 0 && s.halves[1].held[0].t.Before(s.halves[0].held[0].t)) {
			hi = 1
		}
		h := &s.halves[hi]
		ev := h.held[0]
		h.held = h.held[1:]
		s.apply(hi, ev)
		s.release()
	}
}

// releaseHeld lets go of held events that waited long enough, in every
// stream that holds some, in creation order so that the output does not
// depend on when each began to hold.
func (t *Tracker) releaseHeld() {
	if len(t.holding) == 0 {
		return
	}
	slices.SortFunc(t.holding, func(a, b *stream) int { return int(a.order - b.order) })
	keep := t.holding[:0]
	for _, s := range t.holding {
		if !s.ended {
			s.release()
		}
		if !s.ended && (len(s.halves[0].held) > 0 || len(s.halves[1].held) > 0) {
			keep = append(keep, s)
		} else {
			s.holding = false
		}
	}
	clear(t.holding[len(keep):])
	t.holding = keep
}
