package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// ProxyOptions configure a Proxy.
type ProxyOptions struct {
	// Upstream is the host:port every accepted connection is relayed to.
	Upstream string
	// Tap decodes every relayed connection and shows those that carry
	// WebSocket or HTTP (not those that carried no bytes at all).
	Tap *session.Tap
	// Warn, if set, receives what went wrong with a connection that the
	// decoder cannot show (the upstream refused it). Called from several
	// goroutines.
	Warn func(msg string)
	// DialTimeout bounds connecting to the upstream; default 10 s.
	DialTimeout time.Duration
}

// Proxy is a reverse proxy for plain ws:// (and HTTP) traffic: every TCP
// connection accepted on its listener is relayed, byte for byte and in both
// directions, to one upstream address. Nothing is re-framed or rewritten,
// so the server sees exactly what the client sent and the other way round.
// A copy of every chunk, with the time it was read and its direction, goes
// to one decode.Decoder per connection.
//
// The decoder runs on a goroutine of its own per connection, fed through a
// bounded queue: decoding never delays the relay until that queue is full,
// and when it is full the relay waits rather than drop bytes, so memory
// stays bounded and the decoder sees everything that was relayed.
type Proxy struct {
	opts ProxyOptions

	mu      sync.Mutex
	conns   map[*proxyConn]struct{}
	closing bool
	wg      sync.WaitGroup
}

// proxyQueue is how many chunks a connection's decoder may lag behind the
// relay (each at most proxyChunk bytes): a bounded buffer, so that a slow
// decoder slows the relay a little but never makes it drop or change bytes.
const (
	proxyQueue = 64
	proxyChunk = 32 << 10
)

// NewProxy returns a proxy relaying to opts.Upstream.
func NewProxy(opts ProxyOptions) *Proxy {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	return &Proxy{opts: opts, conns: map[*proxyConn]struct{}{}}
}

// Active returns how many connections are being relayed or decoded.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Serve accepts connections on ln until ctx is done or ln fails. Then it
// stops accepting, closes every connection, ends every decoder, hands each
// connection to Done, and returns once all of that is finished: nothing
// read before the stop is lost. It returns nil when stopped by ctx.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("accepting connections on %s: %w", ln.Addr(), aerr)
			}
			break
		}
		p.start(ctx, c)
	}
	ln.Close()
	p.mu.Lock()
	p.closing = true
	for pc := range p.conns {
		pc.abort()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// proxyConn is one relayed connection.
type proxyConn struct {
	p        *Proxy
	id       string
	client   net.Conn
	mu       sync.Mutex
	upstream net.Conn
	aborted  bool
	chunks   chan proxyChunkMsg
	dialStop context.CancelFunc
}

// proxyChunkMsg is a copy of relayed bytes for the decoder.
type proxyChunkMsg struct {
	side decode.Side
	t    time.Time
	data []byte
}

// start registers c, in accept order, and relays it on goroutines of its
// own.
func (p *Proxy) start(ctx context.Context, c net.Conn) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		c.Close()
		return
	}
	dialCtx, dialStop := context.WithTimeout(context.WithoutCancel(ctx), p.opts.DialTimeout)
	pc := &proxyConn{p: p, id: p.opts.Tap.NextID(), client: c, chunks: make(chan proxyChunkMsg, proxyQueue), dialStop: dialStop}
	p.conns[pc] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	go pc.run(dialCtx, time.Now().UTC())
}

// abort closes both sockets, which ends both relay directions.
func (pc *proxyConn) abort() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.aborted = true
	pc.dialStop()
	pc.client.Close()
	if pc.upstream != nil {
		pc.upstream.Close()
	}
}

// run dials the upstream, relays both directions and decodes what they
// carry until both are done.
func (pc *proxyConn) run(dialCtx context.Context, opened time.Time) {
	p := pc.p
	defer func() {
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
		p.wg.Done()
	}()
	var d net.Dialer
	up, err := d.DialContext(dialCtx, "tcp", p.opts.Upstream)
	pc.dialStop()
	if err != nil {
		pc.client.Close()
		p.warn(fmt.Sprintf("connection %s from %s: connecting to the upstream: %v", pc.id, pc.client.RemoteAddr(), err))
		return
	}
	pc.mu.Lock()
	pc.upstream = up
	aborted := pc.aborted
	pc.mu.Unlock()
	if aborted {
		up.Close()
		pc.client.Close()
		return
	}

	conn := &decode.Connection{
		ID:     pc.id,
		Client: pc.client.RemoteAddr().String(),
		Server: up.RemoteAddr().String(),
		Source: "proxy",
		Opened: opened,
	}
	decoded := make(chan struct{})
	go pc.decode(conn, decoded)

	var relays sync.WaitGroup
	relays.Add(2)
	go pc.relay(&relays, decode.Client, pc.client, up)
	go pc.relay(&relays, decode.Server, up, pc.client)
	relays.Wait()
	pc.client.Close()
	up.Close()
	close(pc.chunks)
	<-decoded
}

// relay copies what from sends to to, queueing a copy for the decoder
// before writing it on: the decoder then sees a request before any answer
// to it, whichever relay goroutine runs first. When from closes its write
// half, to's write half is closed too (TCP half-close); on any other error
// both sockets are closed.
func (pc *proxyConn) relay(wg *sync.WaitGroup, side decode.Side, from, to net.Conn) {
	defer wg.Done()
	buf := make([]byte, proxyChunk)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			pc.chunks <- proxyChunkMsg{side: side, t: time.Now().UTC(), data: append([]byte(nil), buf[:n]...)}
			if _, werr := to.Write(buf[:n]); werr != nil {
				pc.abort()
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				pc.abort()
				return
			}
			if cw, ok := to.(interface{ CloseWrite() error }); ok {
				if cw.CloseWrite() == nil {
					return
				}
			}
			pc.abort()
			return
		}
	}
}

// decode feeds the queued chunks to the connection's decoder on the tap,
// on a goroutine of its own because a decoder is not safe for concurrent
// use, then ends it.
func (pc *proxyConn) decode(conn *decode.Connection, decoded chan<- struct{}) {
	defer close(decoded)
	tc := pc.p.opts.Tap.Open(conn, session.ConnOptions{})
	last := conn.Opened
	for ch := range pc.chunks {
		tc.Feed(ch.side, ch.t, ch.data)
		last = ch.t
	}
	tc.End(later(time.Now().UTC(), last))
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (p *Proxy) warn(msg string) {
	if p.opts.Warn != nil {
		p.opts.Warn(msg)
	}
}
