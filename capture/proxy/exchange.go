package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"

	"time"

	"github.com/wstap/wstap/decode"
)

// The HTTP layer, for the connections whose requests must be read one by
// one: a forward proxy's absolute-form requests, which name where each
// goes and must reach the server in origin form, and a reverse proxy's
// with --rewrite-host. Each request goes to the upstream its route names,
// on the connection already open to it when there is one (keep-alive
// kept); an answer of 101 Switching Protocols ends the layer, and the
// connection is relayed as it comes from then on (RFC 9110 7.8).

// target is where a request goes: an address, over TLS or not, and the
// server name TLS verifies.
type target struct {
	addr string
	tls  bool
	name string
}

// exchanger relays the HTTP/1.1 exchanges of one client connection.
type exchanger struct {
	c      *clientConn
	client net.Conn
	cr     *bufio.Reader
	tlsIn  bool
	// route says where a request goes and returns its head as it is sent
	// there.
	route func(h *head) (target, []byte, error)

	leg *leg // the open upstream connection, if any
	at  target
}

// run relays requests until the connection ends; first, if not nil, is
// the head of the first request, already read.
func (x *exchanger) run(ctx context.Context, first []byte) {
	defer x.closeLeg()
	p := x.c.p
	for {
		raw := first
		first = nil
		if raw == nil {
			var err error
			raw, err = readHead(x.cr, p.opts.MaxHeadBytes)
			switch {
			case errors.Is(err, errHeadTooLarge):
				p.badRequest(x.client, err)
				return
			case err != nil:
				// The client closed between requests, or took too long
				// to send its first.
				if x.leg != nil && errors.Is(err, io.EOF) {
					x.leg.feed.event(chunk{side: decode.Client, t: now(), fin: true})
				}
				return
			}
		}
		// A request is being relayed: from now on, the client may take
		// its time.
		x.c.conn.SetDeadline(time.Time{})
		h, err := parseHead(raw, true)
		if err != nil {
			p.badRequest(x.client, err)
			return
		}
		t, out, err := x.route(h)
		if err != nil {
			p.badRequest(x.client, err)
			return
		}
		if x.leg == nil || x.at != t {
			x.closeLeg()
			up, err := p.dial(ctx, t.addr, t.tls, t.name)
			if err != nil {
				x.c.badGateway(x.client, raw, x.tlsIn, t.addr, err)
				return
			}
			if !x.c.hold(up) {
				return
			}
			x.leg = newLeg(x.c, x.client, x.cr, up, p.newFeeder(x.c.conn.RemoteAddr().String(), up.RemoteAddr().String(), x.tlsIn))
			x.at = t
		}
		if !x.exchange(h, out) {
			return
		}
	}
}

// closeLeg ends the relay to the current upstream, if any.
func (x *exchanger) closeLeg() {
	if x.leg != nil {
		x.leg.up.Close()
		x.leg.feed.close()
		x.leg = nil
	}
}

// exchange relays one request, whose head is sent as out, and its
// response. It reports whether the connection carries on with another
// request; after a 101 it has relayed the connection to its end.
func (x *exchanger) exchange(req *head, out []byte) bool {
	l := x.leg
	p := x.c.p
	toServer, toClient := l.toServer(), l.toClient()
	if _, err := toServer.Write(out); err != nil {
		l.vanished(decode.Server, err)
		return false
	}
	// The body goes on beside the response: a server may answer before it
	// has read it all, and a client that sent Expect: 100-continue waits
	// for the interim answer before sending it.
	var bodyDone chan error
	if chunked, n := req.bodyLength(req.method); chunked || n > 0 {
		bodyDone = make(chan error, 1)
		go func() { bodyDone <- copyBody(toServer, x.cr, chunked, n) }()
	}
	for {
		raw, err := readHead(l.ur, p.opts.MaxHeadBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				l.feed.event(chunk{side: decode.Server, t: now(), fin: true})
			} else if errors.Is(err, errHeadTooLarge) {
				toClient.Write(raw)
				p.warn("%s: the response of %s has a head over %d bytes; the connection is closed", x.client.RemoteAddr(), x.at.addr, p.opts.MaxHeadBytes)
			} else {
				l.vanished(decode.Server, err)
			}
			return false
		}
		if _, err := toClient.Write(raw); err != nil {
			l.vanished(decode.Client, err)
			return false
		}
		resp, err := parseHead(raw, false)
		if err != nil || resp.status == 101 {
			// Switching protocols, or not HTTP at all: from here on the
			// connection is relayed as it comes.
			if bodyDone != nil && <-bodyDone != nil {
				return false
			}
			l.relay()
			x.leg = nil
			return false
		}
		if resp.status < 200 {
			continue // an interim answer (100 Continue, 103 Early Hints)
		}
		chunked, n := resp.bodyLength(req.method)
		if err := copyBody(toClient, l.ur, chunked, n); err != nil {
			if !errors.Is(err, io.EOF) || n >= 0 || chunked {
				l.vanished(decode.Server, err)
			}
			return false
		}
		if bodyDone != nil {
			if err := <-bodyDone; err != nil {
				return false
			}
		}
		if n < 0 && !chunked {
			// The body ran until the server closed.
			l.feed.event(chunk{side: decode.Server, t: now(), fin: true})
			return false
		}
		return resp.keepAlive() && req.keepAlive()
	}
}
