package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
)

// The TLS layer: wstap ends the client's TLS with a leaf of its own CA for
// the name the client asked for, and opens TLS of its own to the
// upstream, verified against the system's roots (or --upstream-ca). Both
// offer HTTP/1.1 only (ALPN): a WebSocket Upgrade needs it, and a browser
// would otherwise speak HTTP/2 to the proxy.

// alpn is what both legs offer.
var alpn = []string{"http/1.1"}

// serverTLS is the configuration of the client's leg: a leaf for the name
// the client sends (SNI), or for fallback when it sends none.
func (p *Proxy) serverTLS(fallback string) *tls.Config {
	return &tls.Config{
		GetCertificate: p.opts.CA.GetCertificate(fallback),
		NextProtos:     alpn,
		KeyLogWriter:   p.opts.KeyLog,
		MinVersion:     tls.VersionTLS12,
	}
}

// clientTLS is the configuration of the upstream leg, for serverName.
func (p *Proxy) clientTLS(serverName string) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		RootCAs:            p.opts.UpstreamRoots,
		InsecureSkipVerify: p.opts.InsecureUpstream,
		NextProtos:         alpn,
		KeyLogWriter:       p.opts.KeyLog,
		MinVersion:         tls.VersionTLS12,
	}
}

// dial connects to addr, with TLS for serverName when tlsOn, within the
// dial timeout.
func (p *Proxy) dial(ctx context.Context, addr string, tlsOn bool, serverName string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout)
	defer cancel()
	raw, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil || !tlsOn {
		return raw, err
	}
	tc := tls.Client(raw, p.clientTLS(serverName))
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return tc, nil
}

// bufferedConn is a connection whose first bytes were read ahead into r
// (a peek at a TLS ClientHello): reads take them from r first, then from
// the connection itself, and r is let go.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) {
	if b.r != nil {
		if b.r.Buffered() > 0 {
			return b.r.Read(p)
		}
		b.r = nil
	}
	return b.Conn.Read(p)
}

// CloseWrite passes a half-close on to the connection, when it can.
func (b *bufferedConn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
