package capture

import (
	"sync"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// Decoding, not reassembly, is most of the work of reading a capture
// (inflating compressed messages above all). With Options.Workers the
// tracker's goroutine only reads and reassembles, and hands each
// connection's bytes, in order, to one of several decoding goroutines.
// A connection always goes to the same worker, so its decoder sees what
// it would have seen inline. Every step is numbered, each worker is a lane
// of a session.Sequencer, and the store's log (and its list of
// connections) come out in the order of the steps, as inline decoding
// would have made them, whichever worker finishes first.

// op is one step for a connection's decoder.
type op struct {
	tc *session.Conn
	// order is the connection's creation order, which picks its worker.
	order int64
	kind  opKind
	side  decode.Side
	t     time.Time
	data  []byte
	gap   int64
	// step is the op's place among all ops.
	step int64
}

type opKind uint8

const (
	opFeed opKind = iota
	opGap
	opEnd
)

// batch carries ops to a worker; arena holds the bytes of its feeds.
type batch struct {
	ops   []op
	arena []byte
}

const (
	batchOps   = 2048
	batchBytes = 256 << 10
)

type workers struct {
	t    *Tracker
	in   []chan *batch
	cur  []*batch
	free chan *batch
	wg   sync.WaitGroup

	// order orders the store's log by step; steps counts the ops
	// numbered so far.
	order *session.Sequencer
	steps int64
}

func newWorkers(t *Tracker, n int) *workers {
	w := &workers{t: t, in: make([]chan *batch, n), cur: make([]*batch, n), free: make(chan *batch, 4*n), order: t.opts.Tap.Sequencer(n)}
	for i := range w.in {
		w.in[i] = make(chan *batch, 4)
		w.cur[i] = w.batch()
		w.wg.Add(1)
		go w.run(w.in[i], w.order.Lane(i))
	}
	return w
}

func (w *workers) batch() *batch {
	select {
	case b := <-w.free:
		return b
	default:
		return &batch{ops: make([]op, 0, batchOps), arena: make([]byte, 0, batchBytes)}
	}
}

// run decodes the batches of one worker, on its lane.
func (w *workers) run(in <-chan *batch, lane *session.Lane) {
	defer w.wg.Done()
	var steps []int64
	for b := range in {
		steps = steps[:0]
		for i := range b.ops {
			o := &b.ops[i]
			o.tc.SetLane(lane)
			lane.Begin(o.step)
			steps = append(steps, o.step)
			switch o.kind {
			case opFeed:
				o.tc.Feed(o.side, o.t, o.data)
			case opGap:
				o.tc.Gap(o.side, o.t, o.gap)
			case opEnd:
				o.tc.End(o.t)
			}
			*o = op{}
		}
		lane.Done(steps)
		b.ops, b.arena = b.ops[:0], b.arena[:0]
		select {
		case w.free <- b:
		default:
		}
	}
}

// add queues o for the worker of its connection.
func (w *workers) add(o op) {
	o.step = w.steps
	w.steps++
	i := int(o.order % int64(len(w.in)))
	b := w.cur[i]
	if o.data != nil {
		if len(b.arena)+len(o.data) > cap(b.arena) && len(b.ops) > 0 {
			b = w.send(i)
		}
		if len(o.data) > cap(b.arena)-len(b.arena) {
			o.data = append([]byte(nil), o.data...) // larger than an arena
		} else {
			start := len(b.arena)
			b.arena = append(b.arena, o.data...)
			o.data = b.arena[start:len(b.arena):len(b.arena)]
		}
	}
	b.ops = append(b.ops, o)
	if len(b.ops) >= batchOps {
		w.send(i)
	}
}

// send hands worker i its current batch and returns a fresh one.
func (w *workers) send(i int) *batch {
	w.in[i] <- w.cur[i]
	w.cur[i] = w.batch()
	return w.cur[i]
}

// flush hands every worker what it has queued.
func (w *workers) flush() {
	for i := range w.in {
		if len(w.cur[i].ops) > 0 {
			w.send(i)
		}
	}
}

// close waits until every queued op was decoded.
func (w *workers) close() {
	w.flush()
	for _, in := range w.in {
		close(in)
	}
	w.wg.Wait()
}

// feed, gap and endDecoding give a connection's decoder its next step,
// inline or through its worker.
func (s *stream) feed(side decode.Side, at time.Time, b []byte) {
	tc := s.decoding()
	if s.t.work == nil {
		tc.Feed(side, at, b)
		return
	}
	s.t.work.add(op{tc: tc, order: s.order, kind: opFeed, side: side, t: at, data: b})
}

func (s *stream) gap(side decode.Side, at time.Time, n int64) {
	tc := s.decoding()
	if s.t.work == nil {
		tc.Gap(side, at, n)
		return
	}
	s.t.work.add(op{tc: tc, order: s.order, kind: opGap, side: side, t: at, gap: n})
}

func (t *Tracker) endDecoding(s *stream, tc *session.Conn, at time.Time) {
	if t.work == nil {
		tc.End(at)
		return
	}
	t.work.add(op{tc: tc, order: s.order, kind: opEnd, t: at})
}
