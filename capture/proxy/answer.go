package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/wstap/wstap/decode"
)

// The proxy's own answers: when it cannot relay a request it says why, in
// an HTTP response the client can show, rather than resetting the
// connection.

// answerTimeout bounds writing an answer to a client that does not read.
const answerTimeout = 5 * time.Second

// answer writes an HTTP response with status and a plain-text body to w.
func answer(w net.Conn, status, body string) error {
	w.SetWriteDeadline(time.Now().Add(answerTimeout))
	_, err := w.Write(response(status, body))
	return err
}

// response is an HTTP/1.1 response with status and body that closes the
// connection.
func response(status, body string) []byte {
	return fmt.Appendf(nil, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, len(body), body)
}

// badRequest answers a request the proxy cannot read or route: 431 for a
// head over the limit, 400 with what is wrong otherwise.
func (p *Proxy) badRequest(client net.Conn, err error) {
	if errors.Is(err, errHeadTooLarge) {
		answer(client, "431 Request Header Fields Too Large", fmt.Sprintf("wstap: a request head is limited to %d bytes\n", p.opts.MaxHeadBytes))
		return
	}
	answer(client, "400 Bad Request", "wstap: "+err.Error()+"\n")
}

// refuse answers c with an HTTP error and closes it.
func refuse(c net.Conn, status, body string) {
	answer(c, status, body)
	c.Close()
}

// badGateway answers the client's request (raw, as it came) with a 502
// that says why target could not be reached, and records the attempt: the
// request, a problem, the answer. tlsIn says the client spoke TLS to the
// proxy.
func (c *clientConn) badGateway(client net.Conn, request []byte, tlsIn bool, target string, err error) {
	p := c.p
	f := p.newFeeder(client.RemoteAddr().String(), target, tlsIn)
	t := now()
	f.push(decode.Client, t, request)
	f.event(chunk{side: decode.Server, t: t, problem: &decode.Problem{
		Severity: decode.Error, Kind: decode.KindUpstreamFailed, From: decode.Server, Time: t,
		Frame: -1, MessageIndex: -1, Offset: -1,
		Message: fmt.Sprintf("the proxy could not reach %s: %v", target, err),
	}})
	p.warn("%s: cannot reach %s: %v (answered 502)", client.RemoteAddr(), target, err)
	resp := response("502 Bad Gateway", fmt.Sprintf("wstap: cannot reach %s: %v\n", target, err))
	client.SetWriteDeadline(time.Now().Add(answerTimeout))
	feedWriter{client, f, decode.Server}.Write(resp)
	f.close()
}

// buffered returns what r holds, unread: a request head that was waited
// for but not consumed.
func buffered(r *bufio.Reader) []byte {
	b, _ := r.Peek(r.Buffered())
	return b
}
