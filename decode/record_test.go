package decode

// recorded is a connection with everything its decoder emitted, copied:
// what the tests compare. The decoder keeps nothing it emits; in wstap
// session.Store is what keeps it.
type recorded struct {
	*Connection
	Frames    []Frame
	Messages  []Message
	Problems  []Problem
	Exchanges []Exchange
}

// newRecorded returns a recording of c and the listener that fills it,
// which passes every event on to next (if not nil) first.
func newRecorded(c *Connection, next Listener) (*recorded, Listener) {
	r := &recorded{Connection: c}
	return r, func(e Event) {
		if next != nil {
			next(e)
		}
		r.record(e)
	}
}

// record copies what e carries. A frame's Message is set when its message
// completes, as the frames of a message are only known as its then.
func (r *recorded) record(e Event) {
	switch e.Kind {
	case EventFrame:
		f := *e.Frame
		f.Payload = clone(f.Payload)
		r.Frames = append(r.Frames, f)
	case EventMessage:
		m := *e.Message
		m.Payload = clone(m.Payload)
		m.Frames = append([]int(nil), m.Frames...)
		if m.Close != nil {
			cl := *m.Close
			m.Close = &cl
		}
		for _, fi := range m.Frames {
			if fi >= 0 && fi < len(r.Frames) {
				r.Frames[fi].Message = e.Index
			}
		}
		r.Messages = append(r.Messages, m)
	case EventProblem:
		r.Problems = append(r.Problems, *e.Problem)
	case EventExchange:
		x := Exchange{}
		if e.Exchange.Request != nil {
			q := *e.Exchange.Request
			q.Body = clone(q.Body)
			x.Request = &q
		}
		if e.Exchange.Response != nil {
			p := *e.Exchange.Response
			p.Body = clone(p.Body)
			x.Response = &p
		}
		r.Exchanges = append(r.Exchanges, x)
	}
}

// clone copies b, keeping nil as nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
