package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"time"
)

// Reverse mode: every client connection goes to the one upstream. The
// client's first request must arrive within the handshake timeout before
// the upstream is dialled; from then on the connection is relayed as it
// comes (byte for byte, however many requests it carries), unless the
// Host must be rewritten, which takes reading each request's head.

// serveReverse relays the client's connection to the upstream.
func (c *clientConn) serveReverse(ctx context.Context) {
	p := c.p
	var client net.Conn = c.conn
	tlsIn := p.opts.ListenTLS
	if tlsIn {
		tc := tls.Server(c.conn, p.serverTLS(localHost(c.conn)))
		if err := tc.HandshakeContext(ctx); err != nil {
			p.warn("%s: TLS handshake: %v", c.conn.RemoteAddr(), err)
			return
		}
		client = tc
	}
	cr := bufio.NewReaderSize(client, readBuffer)
	if p.opts.RewriteHost {
		x := &exchanger{c: c, client: client, cr: cr, tlsIn: tlsIn, route: p.reverseRoute}
		x.run(ctx, nil)
		return
	}
	if err := awaitHead(cr); err != nil {
		return // gone, or too slow, before its request: nothing to relay
	}
	up, err := p.dial(ctx, p.upstreamAddr(), p.upstreamTLS(), p.opts.Upstream.Hostname())
	if err != nil {
		c.badGateway(client, buffered(cr), tlsIn, p.upstreamAddr(), err)
		return
	}
	if !c.hold(up) {
		return
	}
	c.conn.SetDeadline(time.Time{})
	f := p.newFeeder(c.conn.RemoteAddr().String(), up.RemoteAddr().String(), tlsIn)
	newLeg(c, client, cr, up, f).relay()
}

// localHost is the address the client connected to, the name of a TLS
// listener's leaf for a client that sends no server name.
func localHost(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.LocalAddr().String())
	if err != nil {
		return "localhost"
	}
	return host
}

// reverseRoute sends every request to the upstream, with its Host (and
// Origin, if any) rewritten to the upstream's (--rewrite-host).
func (p *Proxy) reverseRoute(h *head) (target, []byte, error) {
	u := p.opts.Upstream
	t := target{addr: p.upstreamAddr(), tls: p.upstreamTLS(), name: u.Hostname()}
	rewritten := *h
	rewritten.raw = h.replace("Host", u.Host)
	if h.get("Origin") != "" {
		origin := url.URL{Scheme: "http", Host: u.Host}
		if t.tls {
			origin.Scheme = "https"
		}
		rewritten.raw = rewritten.replace("Origin", origin.String())
	}
	return t, rewritten.raw, nil
}
