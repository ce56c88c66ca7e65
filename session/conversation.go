package session

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/wstap/wstap/decode"
)

// Conversation is a whole connection read out of the store: its metadata
// and copies of every frame, message, problem and exchange. It is what
// tests compare and small tools print; it holds everything in memory, so
// the writers and views of wstap itself read the store piece by piece
// instead.
type Conversation struct {
	decode.Connection
	ConnID    ConnID
	Ended     bool
	Frames    []decode.Frame
	Messages  []decode.Message
	Problems  []decode.Problem
	Exchanges []decode.Exchange
}

// Conversation reads connection id whole.
func (s *Store) Conversation(id ConnID) (*Conversation, error) {
	info, err := s.Info(id)
	if err != nil {
		return nil, err
	}
	c := &Conversation{Connection: info.Connection, ConnID: id, Ended: info.Ended}
	r := s.NewReader()
	for i := range info.FrameCount {
		f, err := r.Frame(id, i)
		if err != nil {
			return nil, err
		}
		cf := *f
		cf.Payload = bytes.Clone(f.Payload)
		c.Frames = append(c.Frames, cf)
	}
	for i := range info.MessageCount {
		m, err := r.Message(id, i)
		if err != nil {
			return nil, err
		}
		cm := *m
		cm.Payload = bytes.Clone(m.Payload)
		cm.Frames = slices.Clone(m.Frames)
		if m.Close != nil {
			cl := *m.Close
			cm.Close = &cl
		}
		c.Messages = append(c.Messages, cm)
	}
	if c.Problems, err = s.Problems(id); err != nil {
		return nil, err
	}
	for i := range info.ExchangeCount {
		x, err := s.Exchange(id, i)
		if err != nil {
			return nil, err
		}
		c.Exchanges = append(c.Exchanges, x)
	}
	return c, nil
}

// Ended returns every connection that ended, whole, in the order they
// ended (the order of their closed items in the log).
func (s *Store) Ended() ([]*Conversation, error) {
	var out []*Conversation
	for i := range s.Items() {
		it, err := s.Item(i)
		if err != nil {
			return out, err
		}
		if it.Kind != decode.EventClosed {
			continue
		}
		c, err := s.Conversation(it.Conn)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ConnSource is a whole connection to be read piece by piece, as the JSON
// and HAR writers read one: a connection in the store (Store.Source), or
// a Conversation in memory. Frame and Message return what is valid until
// the next call.
type ConnSource interface {
	// Meta is the connection's metadata; its counts say how many frames,
	// messages, problems and exchanges there are.
	Meta() *decode.Connection
	Frame(i int) (*decode.Frame, error)
	// FrameHead is frame i without its payload when that costs a read
	// (it may be there anyway): most frames' payloads are their
	// message's, which the JSON export writes once.
	FrameHead(i int) (*decode.Frame, error)
	Message(i int) (*decode.Message, error)
	// Derivable reports whether message i's frames carry exactly its
	// payload (see Reader.Derivable).
	Derivable(i int) (bool, error)
	Problem(i int) (decode.Problem, error)
	Exchange(i int) (decode.Exchange, error)
	// Fork returns a source of the same connection to be used beside
	// this one, on another goroutine: what a source returns is valid
	// until its next call, and a writer rendering a long list on several
	// goroutines gives each its own.
	Fork() ConnSource
}

// Source returns connection id of the store as a ConnSource, with its
// metadata as it is now.
func (s *Store) Source(id ConnID) (ConnSource, error) {
	return s.NewReader().Source(id)
}

// Source returns connection id as a ConnSource that reads through r: what
// it returns is valid until r's next read, by this source or another. An
// export of thousands of connections reads them through one reader, whose
// buffers then serve them all instead of being grown again for each.
func (r *Reader) Source(id ConnID) (ConnSource, error) {
	info, err := r.s.Info(id)
	if err != nil {
		return nil, err
	}
	// The reader's copy of a chunk may hold bytes of other streams that
	// were not written yet when it was made; it served the connection it
	// was made for, and goes with it.
	r.copied.start, r.copied.data = 0, r.copied.data[:0]
	return &storeSource{s: r.s, id: id, meta: info.Connection, r: r}, nil
}

type storeSource struct {
	s    *Store
	id   ConnID
	meta decode.Connection
	r    *Reader
}

func (v *storeSource) Meta() *decode.Connection               { return &v.meta }
func (v *storeSource) Frame(i int) (*decode.Frame, error)     { return v.r.Frame(v.id, i) }
func (v *storeSource) FrameHead(i int) (*decode.Frame, error) { return v.r.FramePrefix(v.id, i, 0) }
func (v *storeSource) Message(i int) (*decode.Message, error) { return v.r.Message(v.id, i) }
func (v *storeSource) Derivable(i int) (bool, error)          { return v.r.Derivable(v.id, i) }
func (v *storeSource) Problem(i int) (decode.Problem, error)  { return v.s.Problem(v.id, i) }
func (v *storeSource) Fork() ConnSource {
	return &storeSource{s: v.s, id: v.id, meta: v.meta, r: v.s.NewReader()}
}
func (v *storeSource) Exchange(i int) (decode.Exchange, error) {
	return v.s.Exchange(v.id, i)
}

// Meta, Frame, Message, Derivable, Problem and Exchange make a
// Conversation a ConnSource. Its counts are its slices' lengths.
func (c *Conversation) Meta() *decode.Connection {
	m := c.Connection
	m.FrameCount, m.MessageCount = len(c.Frames), len(c.Messages)
	m.ProblemCount, m.ExchangeCount = len(c.Problems), len(c.Exchanges)
	return &m
}

func (c *Conversation) Frame(i int) (*decode.Frame, error) {
	if i < 0 || i >= len(c.Frames) {
		return nil, fmt.Errorf("connection %s has no frame %d", c.ID, i)
	}
	return &c.Frames[i], nil
}

func (c *Conversation) FrameHead(i int) (*decode.Frame, error) { return c.Frame(i) }

func (c *Conversation) Message(i int) (*decode.Message, error) {
	if i < 0 || i >= len(c.Messages) {
		return nil, fmt.Errorf("connection %s has no message %d", c.ID, i)
	}
	return &c.Messages[i], nil
}

// Fork returns c itself: reading it changes nothing.
func (c *Conversation) Fork() ConnSource { return c }

// Derivable compares the bytes, as the store's records cannot.
func (c *Conversation) Derivable(i int) (bool, error) {
	m, err := c.Message(i)
	if err != nil {
		return false, err
	}
	if m.Compressed && !m.Raw {
		return false, nil
	}
	off := 0
	for _, fi := range m.Frames {
		if fi < 0 || fi >= len(c.Frames) {
			return false, nil
		}
		f := &c.Frames[fi]
		if uint64(len(f.Payload)) != f.Length || off+len(f.Payload) > len(m.Payload) ||
			!bytes.Equal(f.Payload, m.Payload[off:off+len(f.Payload)]) {
			return false, nil
		}
		off += len(f.Payload)
	}
	return off == len(m.Payload), nil
}

func (c *Conversation) Problem(i int) (decode.Problem, error) {
	if i < 0 || i >= len(c.Problems) {
		return decode.Problem{}, fmt.Errorf("connection %s has no problem %d", c.ID, i)
	}
	return c.Problems[i], nil
}

func (c *Conversation) Exchange(i int) (decode.Exchange, error) {
	if i < 0 || i >= len(c.Exchanges) {
		return decode.Exchange{}, fmt.Errorf("connection %s has no exchange %d", c.ID, i)
	}
	return c.Exchanges[i], nil
}
