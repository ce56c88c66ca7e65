package proxy

import (
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
// wake-up: few wake-ups under load, and the buffers are reused.
type feeder struct {
	tc   *session.Conn
	pcap *synth.Stream
	lag  *lag
	// queued is what waits for the decoder; guarded by lag.mu.
	queued int

	mu     sync.Mutex
	queue  []chunk
	arena  []byte
	closed bool
	// spare are the buffers the decoder gave back.
	spareQueue []chunk
	spareArena []byte

	wake chan struct{}
	done chan struct{}
}

// chunk is one step of the connection: bytes (at arena[off:off+n]), a FIN,
// a RST, or a problem the relay found.
type chunk struct {
	side    decode.Side
	t       time.Time
	off, n  int
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
	f := &feeder{tc: p.opts.Tap.Open(conn, session.ConnOptions{}), lag: p.lag, wake: make(chan struct{}, 1), done: make(chan struct{})}
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
	go f.run()
	return f
}

// push queues a copy of b, sent by side at t, for the decoder. It waits
// only when the decoder is at its lag bound.
func (f *feeder) push(side decode.Side, t time.Time, b []byte) {
	if f == nil || len(b) == 0 {
		return
	}
	f.lag.take(f, len(b))
	f.mu.Lock()
	f.queue = append(f.queue, chunk{side: side, t: t, off: len(f.arena), n: len(b)})
	f.arena = append(f.arena, b...)
	f.mu.Unlock()
	f.signal()
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
	f.signal()
	<-f.done
}

// run is the decoding goroutine.
func (f *feeder) run() {
	defer close(f.done)
	last := time.Time{}
	for range f.wake {
		f.mu.Lock()
		queue, arena, closed := f.queue, f.arena, f.closed
		f.queue, f.arena = f.spareQueue[:0], f.spareArena[:0]
		f.mu.Unlock()
		for _, c := range queue {
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
				b := arena[c.off : c.off+c.n]
				f.tc.Feed(c.side, c.t, b)
				if f.pcap != nil {
					f.pcap.Write(c.side == decode.Client, c.t, b)
				}
			}
		}
		f.lag.give(f, len(arena))
		f.mu.Lock()
		// The buffers are kept for the next batch unless a burst grew
		// them far: an idle connection that once lagged by a megabyte
		// need not hold it.
		// (The spares handed out at the start of this batch are being
		// filled now: they are replaced either way.)
		f.spareQueue, f.spareArena = nil, nil
		if cap(arena) <= maxConnLag/4 {
			f.spareQueue, f.spareArena = queue, arena
		}
		empty := len(f.queue) == 0
		f.mu.Unlock()
		if closed && empty {
			f.tc.End(later(time.Now().UTC(), last))
			return
		}
	}
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
