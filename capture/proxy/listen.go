package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// Backoff after a temporary accept error, as net/http's server does: the
// operating system said it is out of something (descriptors, buffers),
// and it comes back when connections close.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// accept accepts connections until ctx is done or the listener fails for
// good. A temporary failure (out of file descriptors, a connection
// aborted before it was accepted) is waited out, never fatal: the proxy
// must not drop every live connection because one more could not come in.
func (p *Proxy) accept(ctx context.Context, ln net.Listener) error {
	var delay time.Duration
	warned := time.Time{}
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !temporary(err) {
				return fmt.Errorf("accepting connections on %s: %w", ln.Addr(), err)
			}
			delay = min(max(2*delay, minAcceptBackoff), maxAcceptBackoff)
			if time.Since(warned) > 10*time.Second {
				warned = time.Now()
				p.warn("accepting connections on %s: %v; waiting %v and trying again", ln.Addr(), err, delay)
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		delay = 0
		p.start(ctx, c)
	}
}

// temporary reports whether an accept error goes away by itself.
func temporary(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// clientConn is one connection a client made to the proxy, and the
// upstream connections made for it.
type clientConn struct {
	p    *Proxy
	conn net.Conn

	mu      sync.Mutex
	others  []net.Conn
	aborted bool
}

// start serves c on a goroutine of its own, or refuses it when the proxy
// is at its cap.
func (p *Proxy) start(ctx context.Context, c net.Conn) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		c.Close()
		return
	}
	if len(p.conns) >= p.opts.MaxConns {
		p.refused++
		n := p.refused
		p.mu.Unlock()
		if n == 1 || n%100 == 0 {
			p.warn("refused %d connections: %d are being relayed (--max-conns)", n, p.opts.MaxConns)
		}
		go refuse(c, "503 Service Unavailable", fmt.Sprintf("wstap: %d connections are being relayed, the most it takes (--max-conns)\n", p.opts.MaxConns))
		return
	}
	cc := &clientConn{p: p, conn: c}
	p.conns[cc] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer func() {
			cc.abort()
			p.mu.Lock()
			delete(p.conns, cc)
			p.mu.Unlock()
			p.wg.Done()
		}()
		cc.serve(ctx)
	}()
}

// hold registers an upstream connection, to be closed with the client's;
// it reports false (and closes it) when the client connection was
// aborted meanwhile.
func (c *clientConn) hold(u net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		u.Close()
		return false
	}
	c.others = append(c.others, u)
	return true
}

// abort closes the client's connection and every upstream made for it,
// which ends every relay of it.
func (c *clientConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aborted = true
	c.conn.Close()
	for _, u := range c.others {
		u.Close()
	}
}

// serve relays the client's connection, in the proxy's mode.
func (c *clientConn) serve(ctx context.Context) {
	// The client has this long to send what decides where its connection
	// goes: a TLS handshake, the head of a request.
	c.conn.SetDeadline(time.Now().Add(c.p.opts.HandshakeTimeout))
	if c.p.opts.Upstream != nil {
		c.serveReverse(ctx)
		return
	}
	c.serveForward(ctx)
}
