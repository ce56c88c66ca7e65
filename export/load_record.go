package export

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// recorder keeps the events of LoadEvents as whole connections, for Load.
// It relies on what the loader does beyond its contract: a connection's
// Conn, and the requests, responses and closes it points to, are its own
// and not touched after EventClosed; payloads, frame lists and the event
// structures are copied.
type recorder struct {
	convs []*session.Conversation
	conns map[*decode.Connection]*recording
	// place is where the frame the next frame event brings is, when it
	// was written without its payload.
	place      *LoadError
	placeFrame int
	err        error
}

// recording is one connection being recorded.
type recording struct {
	conv *session.Conversation
	// places are where the frames written without their payload are.
	places map[int]*LoadError
}

// framePlace is the loader's hook for frames written without payload.
func (r *recorder) framePlace(frame int, place *LoadError) {
	r.place, r.placeFrame = place, frame
}

func (r *recorder) event(e decode.Event) error {
	if r.conns == nil {
		r.conns = map[*decode.Connection]*recording{}
	}
	rec := r.conns[e.Conn]
	if rec == nil {
		rec = &recording{conv: &session.Conversation{Ended: true}}
		r.conns[e.Conn] = rec
		r.convs = append(r.convs, rec.conv)
	}
	conv := rec.conv
	switch e.Kind {
	case decode.EventExchange:
		conv.Exchanges = append(conv.Exchanges, *e.Exchange)
	case decode.EventFrame:
		f := *e.Frame
		f.Payload = bytes.Clone(f.Payload)
		conv.Frames = append(conv.Frames, f)
		if r.place != nil && r.placeFrame == e.Index {
			if rec.places == nil {
				rec.places = map[int]*LoadError{}
			}
			rec.places[e.Index] = r.place
		}
		r.place = nil
	case decode.EventMessage:
		m := *e.Message
		m.Payload = bytes.Clone(m.Payload)
		m.Frames = slices.Clone(m.Frames)
		conv.Messages = append(conv.Messages, m)
	case decode.EventProblem:
		conv.Problems = append(conv.Problems, *e.Problem)
	case decode.EventClosed:
		conv.Connection = *e.Conn
		delete(r.conns, e.Conn)
		for fi := range conv.Frames {
			if f := &conv.Frames[fi]; f.Payload == nil && f.Message >= 0 {
				if err := cutFramePayload(conv, fi, rec.places[fi]); err != nil {
					r.err = err
					return err
				}
			}
		}
	}
	return nil
}

// cutFramePayload gives frame fi, written without a payload, its bytes
// from its message: the frames of such a message are consecutive slices of
// its payload, each as long as its length field. place is where the frame
// is in the file.
func cutFramePayload(c *session.Conversation, fi int, place *LoadError) error {
	f := &c.Frames[fi]
	fail := func(format string, args ...any) error {
		if place == nil {
			return fmt.Errorf("connection %s: frame %d: "+format, append([]any{c.ID, fi}, args...)...)
		}
		return failAt(place, format, args...)
	}
	if f.Message >= len(c.Messages) {
		return fail("the frame has no payload_base64 and there is no message %d", f.Message)
	}
	m := &c.Messages[f.Message]
	off := uint64(0)
	for _, other := range m.Frames {
		if other == fi {
			end := off + f.Length
			if end > uint64(len(m.Payload)) || end < off {
				return fail("the frame has no payload_base64 and its %d bytes at %d are not in message %d's %d-byte payload", f.Length, off, f.Message, len(m.Payload))
			}
			f.Payload = m.Payload[off:end:end]
			return nil
		}
		if other >= 0 && other < len(c.Frames) {
			off += c.Frames[other].Length
		}
	}
	return fail("the frame has no payload_base64 and message %d does not list it among its frames", f.Message)
}
