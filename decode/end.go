package decode

import "time"

// endDirection flushes what dir was in the middle of when the stream ended:
// nothing already decoded is lost, and what is incomplete says so.
func (d *Decoder) endDirection(dir *direction, t time.Time) {
	switch dir.mode {
	case modeFrames:
		f := &dir.frame
		if f.inPayload {
			w := where{time: f.time, frame: d.conn.FrameCount, message: -1, offset: f.start}
			d.report(Error, KindTruncatedFrame, dir.side, w, "%s %s frame %d is cut off after %d of %d payload bytes", dir.side, f.h.Opcode, w.frame, f.h.Length-f.left, f.h.Length)
			d.endFrame(dir, t, true)
		} else if f.hdrN > 0 {
			w := where{time: f.time, frame: -1, message: -1, offset: f.start}
			d.report(Error, KindTruncatedFrame, dir.side, w, "%s stream ends inside a frame header (%d bytes at offset %d)", dir.side, f.hdrN, f.start)
			f.hdrN = 0
		}
		d.finishMessage(dir, t, true)
	case modeHixie:
		x := &dir.hixie
		if x.inFrame {
			w := where{time: x.time, frame: d.conn.FrameCount, message: -1, offset: x.start}
			d.report(Error, KindTruncatedFrame, dir.side, w, "%s hixie frame %d is cut off after %d payload bytes", dir.side, w.frame, x.size)
			d.hixieFrame(dir, 1+x.lenBytes)
		}
	case modeResync:
		if len(dir.resync.buf) > 0 {
			d.scanResync(dir, t, true)
			if dir.mode == modeFrames {
				d.endDirection(dir, t)
			}
		}
	case modeBody:
		if br := &dir.http.body; !br.chunked && br.left < 0 {
			d.finishBody(dir, t) // a body delimited by the connection's end
		}
	case modeHTTP:
		if len(dir.http.head) > 0 {
			d.problemf(Warning, KindHandshakeMalformed, dir.side, t, "the %s's stream ended inside an HTTP head (%d bytes)", dir.side, len(dir.http.head))
		}
	}
	if d.hs.missing && d.conn.FrameCount == 0 && d.conn.Request == nil {
		d.conn.State = StateNotWebSocket
	}
}
