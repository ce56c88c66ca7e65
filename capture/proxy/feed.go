package proxy

import (
	"bytes"
	"net/netip"
	"sync"
	"time"

	"github.com/wstap/wstap/capture/synth"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// Bounds on what relayed bytes wait for their decoder. The relay hands a
// copy of each read to the connection's decoder and writes it on at once;
// decoding runs beside it. When a decoder falls behind (the CPU is shared
// with the peers, the store writes to disk), the copies wait in memory up
// to these bounds, and past them the relay of that connection waits for
// its decoder: a debugger that silently lost bytes under load would show a
// conversation that did not happen, and one that queued without bound
// would run out of memory on a fast, long-lived socket.
const (
	// maxConnLag is what one connection's decoder may lag: some
	// 16 messages of 64 KiB in flight.
	maxConnLag = 1 << 20
	// maxTotalLag is what all decoders together may lag: it bounds the
	// memory of the copies whatever the number of connections. A
	// connection with nothing queued may always queue one read, so that
	// a busy connection cannot starve an idle one.
	maxTotalLag = 32 << 20
)

// lag accounts the bytes queued for decoders across the proxy.
type lag struct {
	mu      sync.Mutex
	cond    sync.Cond
	total   int
	waiters int
}

func newLag() *lag {
	l := &lag{}
	l.cond.L = &l.mu
	return l
}

// take accounts n more bytes queued by f, first waiting while f (or the
// proxy as a whole) is at its bound.
func (l *lag) take(f *feeder, n int) {
	l.mu.Lock()
	for f.queued > 0 && (f.queued+n > maxConnLag || l.total+n > maxTotalLag) {
		l.waiters++
		l.cond.Wait()
		l.waiters--
	}
	f.queued += n
	l.total += n
	l.mu.Unlock()
}

// give accounts n bytes of f decoded, waking the relays that wait.
func (l *lag) give(f *feeder, n int) {
	if n == 0 {
		return
	}
	l.mu.Lock()
	f.queued -= n
	l.total -= n
	if l.waiters > 0 {
		l.cond.Broadcast()
	}
	l.mu.Unlock()
}

// feeder takes copies of what one relayed connection carries to its
// decoder on the tap, on a goroutine of its own, and to the pcapng file
// (--write). Relays push, the decoder drains everything queued at each
// wake-up: few wake-ups under load. The copies are packed into buffers of
// the proxy's pool, which go back to it once decoded: a busy connection
// does not allocate per read, and an idle one holds no buffer at all.
type feeder struct {
	tc   *session.Conn
	pcap *synth.Stream
	lag  *lag
	// buffers and small are the proxy's pools; a buffer goes back to
	// the one its capacity says.
	buffers, small, bulk *sync.Pool
	// queued is what waits for the decoder; guarded by lag.mu.
	queued int

	mu     sync.Mutex
	queue  []chunk
	cur    *[]byte // the buffer being packed, handed over with the queue
	closed bool
	// spare is the queue the decoder gave back, for the next batch.
	spare []chunk

	// pending is what was queued since the decoder was last woken, and
	// armed is set while timer will wake it, delay after the first of it
	// (wakeDelay).
	pending int
	armed   bool
	timer   *time.Timer
	delay   time.Duration

	wake chan struct{}
	done chan struct{}
}

// A decoder is woken at once when wakeBytes wait for it, and otherwise
// within wakeDelay of the first byte queued: waking it for every small
// message put a goroutine switch and a thread wake-up in the relay's path
// of every round trip.
const (
	wakeBytes = 256 << 10
	wakeDelay = time.Millisecond
)

// chunk is one step of the connection: bytes (data, in buf when buf is a
// buffer of the pool), a FIN, a RST, or a problem the relay found.
type chunk struct {
	side    decode.Side
	t       time.Time
	data    []byte
	buf     *[]byte
	fin     bool
	reset   bool
	problem *decode.Problem
}

// newFeeder opens a connection on the tap for the relay between client
// and server, writes it to --write's file if there is one, and starts
// decoding. tlsIn says the client spoke TLS to the proxy (its URL is
// wss://).
func (p *Proxy) newFeeder(client, server string, tlsIn bool) *feeder {
	at := now()
	conn := &decode.Connection{ID: p.opts.Tap.NextID(), Client: client, Server: server, Source: "proxy", TLS: tlsIn, Opened: at}
	f := &feeder{tc: p.opts.Tap.Open(conn), lag: p.lag, buffers: &p.buffers, small: &p.small, bulk: &p.bulk, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if p.opts.Pcap != nil {
		c, errc := netip.ParseAddrPort(client)
		s, errs := netip.ParseAddrPort(server)
		if errc == nil && errs == nil {
			var err error
			if f.pcap, err = p.opts.Pcap.Open(c, s, at); err != nil {
				p.warn("writing the relay of %s to %s to the pcapng file: %v", client, server, err)
			}
		}
	}
	f.startTimer(wakeDelay)
	go f.run()
	return f
}

// startTimer makes the feeder's wake-up timer, stopped, for a delay.
func (f *feeder) startTimer(delay time.Duration) {
	f.delay = delay
	f.timer = time.AfterFunc(time.Hour, f.fire)
	f.timer.Stop()
}

// fire is the timer's: it wakes the decoder for what is pending.
func (f *feeder) fire() {
	f.mu.Lock()
	f.armed, f.pending = false, 0
	f.mu.Unlock()
	f.signal()
}

// push queues a copy of b, sent by side at t, for the decoder. It waits
// only when the decoder is at its lag bound.
func (f *feeder) push(side decode.Side, t time.Time, b []byte) {
	if f == nil || len(b) == 0 {
		return
	}
	f.lag.take(f, len(b))
	f.mu.Lock()
	c := chunk{side: side, t: t}
	switch {
	case len(b) > bulkBuffer:
		// Bigger than a read (a head or body the HTTP layer writes at
		// once): a copy of its own.
		c.data = bytes.Clone(b)
	case len(b) > relayBuffer:
		// A bulk read: a bulk buffer of its own. The buffer being
		// packed is done with: a buffer's chunks must be consecutive in
		// the queue (see run).
		bp := f.bulk.Get().(*[]byte)
		*bp = append((*bp)[:0], b...)
		c.data, c.buf = *bp, bp
		f.cur = nil
	default:
		if f.cur == nil || cap(*f.cur)-len(*f.cur) < len(b) {
			// A small buffer for a small read: five hundred connections
			// that each have a message queued must not hold 64 KiB each.
			pool := f.small
			if len(b) > smallBuffer {
				pool = f.buffers
			}
			f.cur = pool.Get().(*[]byte)
			*f.cur = (*f.cur)[:0]
		}
		start := len(*f.cur)
		*f.cur = append(*f.cur, b...)
		c.data, c.buf = (*f.cur)[start:], f.cur
	}
	f.queue = append(f.queue, c)
	f.pending += len(b)
	now, arm := f.pending >= wakeBytes, false
	if now {
		f.pending = 0
	} else if !f.armed {
		f.armed, arm = true, true
	}
	f.mu.Unlock()
	switch {
	case now:
		f.signal()
	case arm:
		f.timer.Reset(f.delay)
	}
}

// event queues a FIN, a RST or a problem.
func (f *feeder) event(c chunk) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.queue = append(f.queue, c)
	f.mu.Unlock()
	f.signal()
}

func (f *feeder) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// close ends the connection: the decoder takes what is queued and ends.
// It waits until that is done.
func (f *feeder) close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.timer.Stop()
	f.signal()
	<-f.done
}

// run is the decoding goroutine.
func (f *feeder) run() {
	defer close(f.done)
	last := time.Time{}
	for range f.wake {
		f.mu.Lock()
		queue, closed := f.queue, f.closed
		// The buffers of the queue are the decoder's now: the next push
		// starts a new one.
		f.queue, f.cur, f.spare = f.spare[:0], nil, nil
		f.mu.Unlock()
		decoded := 0
		var done *[]byte
		for i := range queue {
			c := &queue[i]
			last = c.t
			switch {
			case c.problem != nil:
				f.tc.Note(*c.problem)
			case c.fin:
				if f.pcap != nil {
					f.pcap.CloseWrite(c.side == decode.Client, c.t)
				}
			case c.reset:
				if f.pcap != nil {
					f.pcap.Reset(c.side == decode.Client, c.t)
				}
			default:
				f.tc.Feed(c.side, c.t, c.data)
				if f.pcap != nil {
					f.pcap.Write(c.side == decode.Client, c.t, c.data)
				}
				decoded += len(c.data)
			}
			// A buffer's chunks are consecutive (events may lie between
			// them): it is given back once the decoder moved past it.
			if c.buf != nil && c.buf != done {
				if done != nil {
					f.give(done)
				}
				done = c.buf
			}
			*c = chunk{}
		}
		if done != nil {
			f.give(done)
		}
		f.lag.give(f, decoded)
		f.mu.Lock()
		f.spare = queue
		empty := len(f.queue) == 0
		f.mu.Unlock()
		if closed && empty {
			f.tc.End(later(time.Now().UTC(), last))
			return
		}
	}
}

// give returns a decoded buffer to its pool.
func (f *feeder) give(b *[]byte) {
	switch cap(*b) {
	case smallBuffer:
		f.small.Put(b)
	case bulkBuffer:
		f.bulk.Put(b)
	default:
		f.buffers.Put(b)
	}
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
