package session

import (
	"slices"

	"github.com/wstap/wstap/decode"
)

// gate decides whether a connection is shown: once it showed WebSocket or
// HTTP traffic. Until then its events wait in pending, and they are
// dropped if it never does: a TLS or database connection is not news, nor
// the problems found while looking for frames in it.
//
// A handshake or an HTTP exchange settles it. Without one (a capture that
// began mid-connection), frames found in the bytes must make sense:
// frames from both sides, masked one way and unmasked the other (RFC 6455
// 5.1), or trustFrames clean frames from one side. A frame-level violation
// before that means the frames were read into bytes of another protocol:
// the connection is dropped and no longer decoded.
type gate struct {
	pending []decode.Event
	// frames counts the frames seen by side before the connection was
	// shown.
	frames   [2]int
	rejected bool
}

// trustFrames is how many clean frames one side must send before a
// connection whose handshake was not captured is taken for WebSocket
// when the other side is silent.
const trustFrames = 4

// pass takes the next event of a connection not shown yet. It returns
// true, with the events held so far, when the connection is to be shown
// now (e itself then follows them); otherwise it holds e (copied: the
// decoder's event is valid only during the call) or drops it.
func (g *gate) pass(e decode.Event) ([]decode.Event, bool) {
	if g.rejected {
		return nil, false
	}
	switch e.Kind {
	case decode.EventHandshake, decode.EventExchange:
	case decode.EventFrame:
		g.frames[e.Frame.From]++
		if (g.frames[decode.Client] == 0 || g.frames[decode.Server] == 0) && g.frames[e.Frame.From] < trustFrames {
			g.pending = append(g.pending, copyEvent(e))
			return nil, false
		}
	case decode.EventClosed:
		if g.frames[decode.Client]+g.frames[decode.Server] < 2 {
			return nil, false
		}
	default:
		if e.Problem != nil && suspicious(e.Problem.Kind) {
			g.rejected = true
			g.pending = nil
			return nil, false
		}
		g.pending = append(g.pending, copyEvent(e))
		return nil, false
	}
	pending := g.pending
	g.pending = nil
	return pending, true
}

// copyEvent copies what e points to, which the decoder reuses after the
// call.
func copyEvent(e decode.Event) decode.Event {
	switch {
	case e.Frame != nil:
		f := *e.Frame
		f.Payload = slices.Clone(f.Payload)
		e.Frame = &f
	case e.Message != nil:
		m := *e.Message
		m.Payload = slices.Clone(m.Payload)
		m.Frames = slices.Clone(m.Frames)
		if m.Close != nil {
			cl := *m.Close
			m.Close = &cl
		}
		e.Message = &m
	case e.Problem != nil:
		p := *e.Problem
		e.Problem = &p
	case e.Exchange != nil:
		x := decode.Exchange{Request: copyRequest(e.Exchange.Request), Response: copyResponse(e.Exchange.Response)}
		e.Exchange = &x
	}
	return e
}

// suspicious reports whether a problem, in a connection whose handshake
// was not captured, says that the frames found are not frames.
func suspicious(k decode.Kind) bool {
	switch k {
	case decode.KindUnmaskedClientFrame, decode.KindMaskedServerFrame,
		decode.KindRSVWithoutExtension, decode.KindRSV1OnContinuation,
		decode.KindReservedOpcode, decode.KindControlFrameTooLong,
		decode.KindControlFragmented, decode.KindUnexpectedContinuation,
		decode.KindInterleavedDataFrame, decode.KindLengthTopBit,
		decode.KindNonMinimalLength, decode.KindInvalidUTF8,
		decode.KindInvalidCloseCode, decode.KindShortClosePayload,
		decode.KindFrameAfterClose, decode.KindInflateFailed:
		return true
	}
	return false
}
