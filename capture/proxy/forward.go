package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Forward mode: wstap is the client's HTTP proxy (RFC 9110 3.7). A
// request in absolute form (GET ws://host/path, GET http://host/) is sent
// on to its host in origin form; a CONNECT request opens a tunnel, in
// which a TLS ClientHello is answered with a leaf of wstap's CA for the
// name the client asks for, and anything else is relayed as it comes
// (browsers send ws:// through a CONNECT tunnel too).

// connectEstablished is the answer to a CONNECT whose upstream is
// reached.
const connectEstablished = "HTTP/1.1 200 Connection established\r\n\r\n"

// tlsHandshakeRecord is the first byte of a TLS ClientHello (RFC 8446
// 5.1: content type 22).
const tlsHandshakeRecord = 0x16

// serveForward reads the client's first request and serves it as the
// proxy it asked for.
func (c *clientConn) serveForward(ctx context.Context) {
	p := c.p
	cr := bufio.NewReaderSize(c.conn, readBuffer)
	raw, err := readHead(cr, p.opts.MaxHeadBytes)
	if errors.Is(err, errHeadTooLarge) {
		p.badRequest(c.conn, err)
	}
	if err != nil {
		return // gone, or too slow
	}
	h, err := parseHead(raw, true)
	if err != nil {
		p.badRequest(c.conn, err)
		return
	}
	if h.method == "CONNECT" {
		c.tunnel(ctx, cr, h)
		return
	}
	x := &exchanger{c: c, client: c.conn, cr: cr, route: forwardRoute}
	x.run(ctx, raw)
}

// forwardRoute sends an absolute-form request to the host it names, in
// origin form, without the fields meant for the proxy.
func forwardRoute(h *head) (target, []byte, error) {
	u, ok := absolute(h.target)
	if !ok {
		return target{}, nil, fmt.Errorf("request target %q is not an absolute URL, which a request to a proxy needs (RFC 9112 3.2.2)", clip(h.target))
	}
	t := target{name: u.Hostname()}
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		if port == "" {
			port = "80"
		}
	case "https", "wss":
		t.tls = true
		if port == "" {
			port = "443"
		}
	default:
		return target{}, nil, fmt.Errorf("request target %q: the proxy relays http, https, ws and wss", clip(h.target))
	}
	t.addr = net.JoinHostPort(u.Hostname(), port)
	line := h.method + " " + u.RequestURI() + " " + h.proto
	return t, h.rewrite(line, "Proxy-Connection", "Proxy-Authorization"), nil
}

// tunnel serves a CONNECT request: the upstream is dialled first, so that
// a client whose upstream cannot be reached is told so (502), then the
// tunnel's bytes are looked at: TLS is intercepted, anything else relayed
// as it comes.
func (c *clientConn) tunnel(ctx context.Context, cr *bufio.Reader, h *head) {
	p := c.p
	host, _, err := net.SplitHostPort(h.target)
	if err != nil {
		p.badRequest(c.conn, fmt.Errorf("CONNECT target %q is not host:port", clip(h.target)))
		return
	}
	up, err := p.dial(ctx, h.target, false, "")
	if err != nil {
		c.badGateway(c.conn, h.raw, false, h.target, err)
		return
	}
	if !c.hold(up) {
		return
	}
	if _, err := io.WriteString(c.conn, connectEstablished); err != nil {
		return
	}
	if p.passthrough(host) {
		c.conn.SetDeadline(time.Time{})
		splice(c.conn, cr, up)
		return
	}
	first, err := cr.Peek(1)
	if err != nil {
		return
	}
	var client net.Conn = c.conn
	tlsIn := first[0] == tlsHandshakeRecord
	if tlsIn {
		tc := tls.Server(&bufferedConn{c.conn, cr}, p.serverTLS(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			p.warn("%s: TLS handshake for %s: %v (does the client trust wstap's CA? see wstap ca)", c.conn.RemoteAddr(), host, err)
			return
		}
		client = tc
		cr = bufio.NewReaderSize(tc, readBuffer)
		name := tc.ConnectionState().ServerName
		if name == "" {
			name = host
		}
		hctx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout)
		utc := tls.Client(up, p.clientTLS(name))
		err := utc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			// The client is told inside its TLS, where it can read it.
			if awaitHead(cr) == nil {
				c.badGateway(client, buffered(cr), true, h.target, fmt.Errorf("TLS handshake: %w", err))
			}
			return
		}
		up = utc
	}
	if err := awaitHead(cr); err != nil {
		return
	}
	c.conn.SetDeadline(time.Time{})
	f := p.newFeeder(c.conn.RemoteAddr().String(), up.RemoteAddr().String(), tlsIn)
	newLeg(c, client, cr, up, f).relay()
}

// splice relays a tunnel that is not looked into (--passthrough), in both
// directions, until both ended. The standard library moves the bytes
// with splice(2) where it can.
func splice(client net.Conn, cr *bufio.Reader, up net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	half := func(dst net.Conn, src io.Reader) {
		defer wg.Done()
		_, err := io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
			cw.CloseWrite()
			return
		}
		client.Close()
		up.Close()
	}
	go half(up, cr)
	go half(client, up)
	wg.Wait()
}
