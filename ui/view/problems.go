package view

import (
	"slices"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// problemIndex says where the problems of one connection are, so that a
// row can carry a marker and "next problem" can jump: the worst severity
// per message and per frame, and the messages with a problem in order. A
// connection keeps a bounded number of problems (the decoder caps them
// per kind), so the index stays small however long the connection is.
type problemIndex struct {
	conn  session.ConnID
	count int // problems indexed; -1 before the first build
	// worst severity of any problem, and whether there is one.
	any, anyError bool
	messages      map[int]decode.Severity
	frames        map[int]decode.Severity
	// ordered are the messages with problems, ascending; orderedFrames
	// the frames.
	ordered, orderedFrames []int
	list                   []decode.Problem
}

// build indexes the problems of connection id. A problem about a frame
// whose message was not known yet (a fragment) is put on the message the
// frame belongs to now.
func (p *problemIndex) build(s *session.Store, r *session.Reader, id session.ConnID, count int) {
	*p = problemIndex{conn: id, count: count, messages: map[int]decode.Severity{}, frames: map[int]decode.Severity{}}
	list, err := s.Problems(id)
	if err != nil {
		return
	}
	p.list = list
	worse := func(m map[int]decode.Severity, k int, sev decode.Severity) {
		if old, ok := m[k]; !ok || sev > old {
			m[k] = sev
		}
	}
	for i := range list {
		pr := &list[i]
		p.any = true
		p.anyError = p.anyError || pr.Severity == decode.Error
		msg := pr.MessageIndex
		if pr.Frame >= 0 {
			worse(p.frames, pr.Frame, pr.Severity)
			if msg < 0 {
				if f, err := r.FramePrefix(id, pr.Frame, 0); err == nil {
					msg = f.Message
				}
			}
		}
		if msg >= 0 {
			worse(p.messages, msg, pr.Severity)
		}
	}
	for k := range p.messages {
		p.ordered = append(p.ordered, k)
	}
	for k := range p.frames {
		p.orderedFrames = append(p.orderedFrames, k)
	}
	slices.Sort(p.ordered)
	slices.Sort(p.orderedFrames)
}

// message returns the worst severity of message i's problems.
func (p *problemIndex) message(i int) (decode.Severity, bool) {
	s, ok := p.messages[i]
	return s, ok
}

// frame returns the worst severity of frame i's problems.
func (p *problemIndex) frame(i int) (decode.Severity, bool) {
	s, ok := p.frames[i]
	return s, ok
}

// of returns the problems about message i (frames false) or frame i.
func (p *problemIndex) of(i int, frames bool, frameList []int) []decode.Problem {
	var out []decode.Problem
	for _, pr := range p.list {
		switch {
		case frames && pr.Frame == i,
			!frames && pr.MessageIndex == i,
			!frames && pr.MessageIndex < 0 && slices.Contains(frameList, pr.Frame):
			out = append(out, pr)
		}
	}
	return out
}

// problemSummary is what the connection list shows of a connection's
// problems: whether any is an error. It is kept per connection and
// rebuilt when the connection's count of problems changes.
type problemSummary struct {
	count    int
	anyError bool
}

// summarize returns whether connection id has an error among its count
// problems, from the cache when the count is the same.
func summarize(cache map[session.ConnID]problemSummary, s *session.Store, id session.ConnID, count int) problemSummary {
	if ps, ok := cache[id]; ok && ps.count == count {
		return ps
	}
	ps := problemSummary{count: count}
	if list, err := s.Problems(id); err == nil {
		for i := range list {
			if list[i].Severity == decode.Error {
				ps.anyError = true
				break
			}
		}
	}
	cache[id] = ps
	return ps
}
