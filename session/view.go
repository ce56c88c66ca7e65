package session

import (
	"context"

	"github.com/wstap/wstap/decode"
)

// MessageRef names one message of the store.
type MessageRef struct {
	Conn  ConnID
	Index int32
}

// Match decides whether a message belongs in a view. c is its
// connection's metadata; m has its payload only when the view was made
// with payloads (a text search needs them, a direction filter does not).
// Both are valid only during the call.
type Match func(c *decode.Connection, m *decode.Message) bool

// View is the messages of the store a Match selected, in the order they
// were examined: by connection, then by index, for what was recorded
// before an Update (a view of one connection is always in its order). It
// is a list of references (8
// bytes a message), so that a view of a million messages costs 8 MB and
// paging through it reads only the records shown. Update examines what
// was recorded since the last call, so that a view of a live session
// stays current at the cost of the new messages only.
type View struct {
	store    *Store
	only     ConnID // -1 for every connection
	payloads bool
	match    Match
	refs     []MessageRef
	// seen is, per connection, how many of its messages were examined.
	seen []int
	// matched says, per connection, whether one of its messages was
	// selected.
	matched []bool
}

// viewBatch is how many messages Update examines under one lock: enough
// to make the lock's cost vanish, few enough that recording is not held
// up for long.
const viewBatch = 1024

// NewView makes a view of the messages of connection only (or of all
// connections, with only -1) that match selects; payloads says whether
// match needs them. It is empty until Update.
func (s *Store) NewView(only ConnID, payloads bool, match Match) *View {
	return &View{store: s, only: only, payloads: payloads, match: match}
}

// Update examines the messages recorded since the last call. progress,
// if set, is called now and then with how many messages it examined so
// far. It stops, with ctx's error, when ctx is done: the view then holds
// what was examined, and the next Update carries on from there.
func (v *View) Update(ctx context.Context, progress func(examined int)) error {
	s := v.store
	var b viewBatchState
	examined := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return errSpillClosed
		}
		conns := s.conns
		s.mu.Unlock()
		for len(v.seen) < conns.n {
			v.seen = append(v.seen, 0)
			v.matched = append(v.matched, false)
		}
		n := 0
		for id := range ConnID(conns.n) {
			sc := conns.get(id)
			if sc == nil {
				continue // let go
			}
			if v.only >= 0 && id != v.only {
				continue
			}
			k, err := v.examine(id, sc, viewBatch-n, &b)
			n += k
			if err != nil {
				return err
			}
			if n >= viewBatch {
				break
			}
		}
		examined += n
		if progress != nil {
			progress(examined)
		}
		if n < viewBatch {
			return nil
		}
	}
}

// viewBatchState holds the buffers Update reuses from message to message.
type viewBatchState struct {
	m       decode.Message
	payload []byte
	frames  []int
}

// examine looks at up to limit messages of connection sc not examined
// yet, under its lock, and returns how many it looked at.
func (v *View) examine(id ConnID, sc *storedConn, limit int, b *viewBatchState) (int, error) {
	s := v.store
	sc.mu.Lock()
	defer sc.mu.Unlock()
	n := 0
	for ; v.seen[id] < sc.messages.n && n < limit; v.seen[id]++ {
		i := v.seen[id]
		mr, err := s.messageRec(sc, i, nil)
		if err != nil {
			return n, err
		}
		mr.message(&b.m)
		b.frames = b.frames[:0]
		for k := range int(mr.count) {
			fi, err := s.frameOf(sc, &mr, k, nil)
			if err != nil {
				return n, err
			}
			b.frames = append(b.frames, fi)
		}
		b.m.Frames = b.frames
		if v.payloads {
			if b.payload, err = s.payload(b.payload[:0], mr.pay); err != nil {
				return n, err
			}
			b.m.Payload = b.payload
		}
		n++
		if v.match == nil || v.match(&sc.meta, &b.m) {
			v.refs = append(v.refs, MessageRef{Conn: id, Index: int32(i)})
			v.matched[id] = true
		}
	}
	return n, nil
}

// Len returns how many messages the view selected.
func (v *View) Len() int { return len(v.refs) }

// At returns the i-th message the view selected.
func (v *View) At(i int) MessageRef { return v.refs[i] }

// Connections returns the connections with a selected message, in order.
func (v *View) Connections() []ConnID {
	var ids []ConnID
	for id, ok := range v.matched {
		if ok {
			ids = append(ids, ConnID(id))
		}
	}
	return ids
}
