package decode

import "time"

// endDirection flushes what dir was in the middle of when the stream ended:
// nothing already decoded is lost, and what is incomplete says so.
func (d *Decoder) endDirection(dir *direction, t time.Time) {
	switch dir.mode {
	case modeFrames:
		f := &dir.frame
		if f.inPayload {
			p := newProblem(Error, KindTruncatedFrame, dir.side, "")
			p.Time, p.Frame, p.Offset = f.time, d.conn.FrameCount, f.start
			p.Message = fmtTruncated(dir.side, f.h.Opcode, d.conn.FrameCount, f.h.Length-f.left, f.h.Length)
			d.problem(p)
			d.endFrame(dir, t, true)
		} else if f.hdrN > 0 {
			p := newProblem(Error, KindTruncatedFrame, dir.side, "")
			p.Time, p.Offset = f.time, f.start
			p.Message = fmtCutHeader(dir.side, f.hdrN, f.start)
			d.problem(p)
			f.hdrN = 0
		}
		d.finishMessage(dir, t, true)
	case modeHixie:
		x := &dir.hixie
		if x.inFrame {
			p := newProblem(Error, KindTruncatedFrame, dir.side, "")
			p.Time, p.Frame, p.Offset = x.time, d.conn.FrameCount, x.start
			p.Message = fmtCutHixie(dir.side, d.conn.FrameCount, x.size)
			d.problem(p)
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
