package session

import (
	"sync/atomic"

	"github.com/wstap/wstap/decode"
)

// eventReplay rebuilds decoder events from the log for an EventSink. It
// reads the store on the sink's goroutine and renders (calls the sink) on
// a goroutine of its own (see replayPipe): reading goes from connection
// to connection and finds each message where the decoding left it, out
// of the CPU's caches, and with rendering beside it on the other core the
// replay keeps up with the decoding. On one goroutine, the replay of a
// capture of long connections fell behind and ran alone on one core for
// its last second, and the short connections' replay was the slowest of
// the outputs.
type eventReplay struct {
	store  *Store
	reader *Reader
	// conns are the metadata of the connections being replayed, fetched
	// again when they change (opened, handshake, exchange, close, end).
	// What an event points to is never changed once made: a connection's
	// state changing makes a new copy (see event), so that an event in
	// the pipe stays as it was.
	conns map[ConnID]*decode.Connection
	pipe  *replayPipe
}

func newEventReplay(s *Store, sink EventSink) *eventReplay {
	return &eventReplay{
		store:  s,
		reader: s.newInterleavedReader(), // the log goes from connection to connection
		conns:  map[ConnID]*decode.Connection{},
		pipe:   newReplayPipe(sink),
	}
}

// rendered hands the sink what a lane rendered for an item, in its turn.
func (r *eventReplay) rendered(p rendered) error {
	if len(p.b) == 0 {
		return nil
	}
	return r.pipe.addRendered(p)
}

func (r *eventReplay) item(it Item) error {
	e, err := r.event(it)
	if err != nil {
		return err
	}
	return r.pipe.add(e)
}

// event reads the event of item it from the store. What it points to is
// valid until the next call, as a decoder's events are; a message's
// payload is the reader's.
func (r *eventReplay) event(it Item) (decode.Event, error) {
	c := r.conns[it.Conn]
	if c == nil || it.Kind != decode.EventMessage && it.Kind != decode.EventProblem {
		var info Info
		var err error
		if it.Kind == decode.EventHandshake {
			info, err = r.store.Handshake(it.Conn, it.Index)
		} else {
			info, err = r.store.Info(it.Conn)
		}
		if err != nil {
			return decode.Event{}, err
		}
		c = &info.Connection
		r.conns[it.Conn] = c
	}
	if c.State != it.State {
		changed := *c
		changed.State = it.State
		c = &changed
		r.conns[it.Conn] = c
	}
	e := decode.Event{Kind: it.Kind, Conn: c, Index: it.Index}
	if it.Kind == decode.EventHandshake {
		e.Index = 0 // as the decoder says: the index counts handshake copies here
	}
	switch it.Kind {
	case decode.EventMessage:
		m, err := r.reader.Message(it.Conn, it.Index)
		if err != nil {
			return decode.Event{}, err
		}
		e.Message = m
		if m.Opcode == decode.OpClose {
			// The close changed the connection's Close and state.
			delete(r.conns, it.Conn)
		}
	case decode.EventProblem:
		p, err := r.store.Problem(it.Conn, it.Index)
		if err != nil {
			return decode.Event{}, err
		}
		e.Problem = &p
	case decode.EventExchange:
		x, err := r.store.Exchange(it.Conn, it.Index)
		if err != nil {
			return decode.Event{}, err
		}
		e.Exchange = &x
	case decode.EventClosed:
		delete(r.conns, it.Conn)
	}
	return e, nil
}

// flush flushes the sink once the pipe rendered everything handed to it:
// the sink is not safe for concurrent use.
func (r *eventReplay) flush() error {
	if err := r.pipe.wait(); err != nil {
		return err
	}
	return r.pipe.sink.Flush()
}

// stop ends the pipe once it rendered everything handed to it.
func (r *eventReplay) stop() error { return r.pipe.close() }

// The pipe's batches: up to pipeEvents events, their payloads copied into
// an arena of pipeArena bytes (a larger payload gets memory of its own),
// pipeBatches of them at once, one being filled while the others wait for
// the renderer or are rendered: about a MiB in all (arenas of 1 MiB were
// no faster).
const (
	pipeEvents  = blockRecords
	pipeArena   = 256 << 10
	pipeBatches = 3
)

// replayPipe renders events on a goroutine of its own, in the order they
// are added. Each event is copied into a batch as it is added (the
// store's reader reuses its buffers), so reading the store for the next
// events and rendering the earlier ones go on side by side.
type replayPipe struct {
	sink EventSink
	// rendering is the sink as a RenderingSink, if it is one.
	rendering RenderingSink
	cur       *replayBatch
	// full carries batches to the renderer, free brings them back;
	// synced answers a nil batch on full once all before it were
	// rendered (see wait).
	full, free chan *replayBatch
	synced     chan struct{}
	done       chan struct{}
	// err is the sink's first error; failed is set with it, for the side
	// that adds to read without waiting.
	err    error
	failed atomic.Bool
}

// replayBatch is events and what they point to that the store's reader
// would reuse: messages, their payloads and lists of frames. An entry
// of events whose Conn is nil stands for the next of rendered, bytes a
// lane rendered for the sink (see RenderingSink), which never change and
// are not copied.
type replayBatch struct {
	events   []decode.Event
	rendered []rendered
	msgs     []decode.Message
	arena    []byte
	frames   []int
}

func newReplayPipe(sink EventSink) *replayPipe {
	rs, _ := sink.(RenderingSink)
	p := &replayPipe{
		sink:      sink,
		rendering: rs,
		full:      make(chan *replayBatch, pipeBatches),
		free:      make(chan *replayBatch, pipeBatches),
		synced:    make(chan struct{}),
		done:      make(chan struct{}),
	}
	for range pipeBatches - 1 {
		p.free <- newReplayBatch()
	}
	p.cur = newReplayBatch()
	go p.render()
	return p
}

func newReplayBatch() *replayBatch {
	return &replayBatch{
		events: make([]decode.Event, 0, pipeEvents),
		msgs:   make([]decode.Message, 0, pipeEvents),
		arena:  make([]byte, 0, pipeArena),
	}
}

// render is the pipe's goroutine: it renders the batches it is given in
// order, and once the sink failed only hands them back.
func (p *replayPipe) render() {
	defer close(p.done)
	for b := range p.full {
		if b == nil {
			p.synced <- struct{}{}
			continue
		}
		raw := b.rendered
		for i := range b.events {
			if p.err != nil {
				break
			}
			var err error
			if b.events[i].Conn == nil {
				err = p.rendering.WriteRendered(raw[0].b)
				raw[0].written()
				raw = raw[1:]
			} else {
				err = p.sink.Event(b.events[i])
			}
			if err != nil {
				p.err = err
				p.failed.Store(true)
			}
		}
		b.reset()
		p.free <- b
	}
}

func (b *replayBatch) reset() {
	// What they point to is not held here: a payload larger than the
	// arena has memory of its own, which would stay until overwritten.
	clear(b.events)
	clear(b.msgs)
	clear(b.rendered)
	b.events, b.msgs, b.arena, b.frames = b.events[:0], b.msgs[:0], b.arena[:0], b.frames[:0]
	b.rendered = b.rendered[:0]
}

// add copies e into the batch being filled, handing the batch over first
// when e does not fit.
func (p *replayPipe) add(e decode.Event) error {
	if p.failed.Load() {
		return p.sinkErr()
	}
	b := p.cur
	pay := 0
	if e.Message != nil {
		pay = len(e.Message.Payload)
	}
	if len(b.events) == cap(b.events) || pay <= pipeArena && len(b.arena)+pay > cap(b.arena) {
		p.handOver()
		b = p.cur
	}
	if m := e.Message; m != nil {
		copied := *m // a nil payload or list of frames stays nil
		switch {
		case m.Payload == nil:
		case pay <= pipeArena:
			at := len(b.arena)
			b.arena = append(b.arena, m.Payload...)
			copied.Payload = b.arena[at:len(b.arena):len(b.arena)]
		default:
			copied.Payload = append([]byte(nil), m.Payload...)
		}
		if m.Frames != nil {
			at := len(b.frames)
			b.frames = append(b.frames, m.Frames...)
			copied.Frames = b.frames[at:len(b.frames):len(b.frames)]
		}
		if m.Close != nil {
			cl := *m.Close
			copied.Close = &cl
		}
		b.msgs = append(b.msgs, copied)
		e.Message = &b.msgs[len(b.msgs)-1]
	}
	b.events = append(b.events, e)
	return nil
}

// addRendered adds bytes a lane rendered for the sink, after the events
// added before.
func (p *replayPipe) addRendered(raw rendered) error {
	if p.failed.Load() {
		return p.sinkErr()
	}
	if len(p.cur.events) == cap(p.cur.events) {
		p.handOver()
	}
	b := p.cur
	b.events = append(b.events, decode.Event{})
	b.rendered = append(b.rendered, raw)
	return nil
}

// handOver gives the batch being filled to the renderer and takes a free
// one to fill.
func (p *replayPipe) handOver() {
	if len(p.cur.events) == 0 {
		return
	}
	p.full <- p.cur
	p.cur = <-p.free
}

// wait hands over what was added and returns once it was all rendered,
// with the sink's first error.
func (p *replayPipe) wait() error {
	p.handOver()
	p.full <- nil
	<-p.synced
	return p.sinkErr()
}

// close renders what was added, ends the renderer, and returns the sink's
// first error.
func (p *replayPipe) close() error {
	p.handOver()
	close(p.full)
	<-p.done
	return p.sinkErr()
}

// sinkErr is the sink's first error, as the sink said it.
func (p *replayPipe) sinkErr() error {
	if !p.failed.Load() {
		return nil
	}
	return p.err
}
