package decode

import (
	"bytes"
	"time"
)

// maxHold bounds the client bytes kept while the answer to an Upgrade is
// pending. A client should not send frames before the 101 (RFC 6455 4.1),
// so more than this means the answer is missing from the capture.
const maxHold = 1 << 20

// handshakeState is what the decoder knows of the HTTP part of the
// connection.
type handshakeState struct {
	// pending are the requests still waiting for their responses, in order
	// (HTTP/1.1 answers in request order, RFC 9112 9.3).
	pending []*Request
	// upgrade is the Upgrade request awaiting its answer.
	upgrade  *Request
	protocol Protocol
	// offeredProtocols and offeredExtensions are what the client offered.
	offeredProtocols  []string
	offeredExtensions []Extension
	deflate           *DeflateParams
	// missing: no handshake was captured; RSV1 is then taken to mean
	// permessage-deflate (assumeDeflate), the only extension in use.
	missing       bool
	assumeDeflate bool
	// exchange is the plain exchange whose response body is being read.
	exchange *Exchange
	done     bool
}

// httpDirection is the HTTP parsing state of one direction.
type httpDirection struct {
	head []byte
	scan int // start of the line not yet complete
	time time.Time
	body bodyReader
	held []heldChunk
	size int // bytes held
	// heads counts the complete heads this direction sent: bytes that are
	// not HTTP are frames on a direction that sent none (as detect takes
	// them), and unexpected after one.
	heads int
}

type heldChunk struct {
	t    time.Time
	b    []byte
	gap  int64 // a gap marker when b is nil
	from int64 // stream position of b[0]
}

// detect decides what the first bytes of a direction are: an HTTP request
// or response, or frames of a connection whose handshake was not captured.
func (d *Decoder) detect(dir *direction, t time.Time, b []byte) int {
	if n := skipCRLF(b); n > 0 {
		return n
	}
	// The role is set once the head is parsed: a prefix may look like
	// both ("H" begins "HTTP/" and "HEAD").
	switch {
	case looksLikeResponse(b):
		dir.mode = modeHTTP
	case b[0] >= 'A' && b[0] <= 'Z' && looksLikeRequest(b):
		dir.mode = modeHTTP
	default:
		d.startWithoutHandshake(dir, t)
	}
	return 0
}

func skipCRLF(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// setRole fixes which side dir is, when that is not known yet. The caller's
// labels are a guess (a capture may miss the SYN); what a side sends
// decides.
func (d *Decoder) setRole(dir *direction, role Side) {
	if d.roles {
		return
	}
	d.roles = true
	if dir.side == role {
		return
	}
	d.dirs[0].side, d.dirs[1].side = d.dirs[1].side, d.dirs[0].side
	c := d.conn
	c.Client, c.Server = c.Server, c.Client
	c.Bytes[0], c.Bytes[1] = c.Bytes[1], c.Bytes[0]
}

// startWithoutHandshake switches dir to frames found by resynchronisation:
// the capture began after the handshake.
func (d *Decoder) startWithoutHandshake(dir *direction, t time.Time) {
	if !d.hs.missing && !d.hs.done {
		d.hs.missing = true
		d.hs.assumeDeflate = true
		d.conn.Protocol = ProtocolRFC6455
		d.conn.State = StateOpen
		d.problemf(Warning, KindHandshakeMissing, dir.side, t, "the WebSocket handshake was not captured; roles come from frame masking and permessage-deflate is assumed where RSV1 is set")
	}
	dir.mode = modeResync
	dir.resync = resyncState{start: dir.pos, detect: true}
}

// dirOf returns the direction that plays role.
func (d *Decoder) dirOf(role Side) *direction {
	if d.dirs[0].side == role {
		return &d.dirs[0]
	}
	return &d.dirs[1]
}

// feedHead collects an HTTP head until its blank line and parses it.
func (d *Decoder) feedHead(dir *direction, t time.Time, b []byte) int {
	h := &dir.http
	if len(h.head) == 0 {
		if n := skipCRLF(b); n > 0 {
			return n
		}
		h.time = t
		h.scan = 0
	}
	old := len(h.head)
	room := maxHeadSize - old
	take := min(len(b), room)
	h.head = append(h.head, b[:take]...)
	// Still deciding whether this is HTTP at all: a stream that stops
	// looking like a request or status line is frames after all.
	if bytes.IndexByte(h.head, ' ') < 0 || old < 16 {
		first := h.head[:min(len(h.head), 16)]
		if !looksLikeRequest(first) && !looksLikeResponse(first) {
			return d.notHTTP(dir, t, old)
		}
	}
	end := -1
	for {
		j := bytes.IndexByte(h.head[h.scan:], '\n')
		if j < 0 {
			break
		}
		j += h.scan
		blank := j == h.scan || (j == h.scan+1 && h.head[h.scan] == '\r')
		h.scan = j + 1
		if blank {
			end = j + 1
			break
		}
	}
	if end < 0 {
		if len(h.head) >= maxHeadSize {
			d.problemf(Error, KindHandshakeTooLarge, dir.side, h.time, "%s sent an HTTP head over %d bytes with no end; the rest of this direction is not decoded", dir.side, maxHeadSize)
			h.head = nil
			dir.mode = modeIgnore
		}
		return take
	}
	head := h.head[:end]
	consumed := end - old
	h.head = nil
	h.heads++
	if looksLikeResponse(head) {
		d.setRole(dir, Server)
		resp, err := parseResponseHead(head)
		if err != nil {
			d.malformed(dir, err)
			return consumed
		}
		resp.Time = h.time
		d.onResponse(dir, t, resp)
	} else {
		d.setRole(dir, Client)
		req, err := parseRequestHead(head)
		if err != nil {
			d.malformed(dir, err)
			return consumed
		}
		req.Time = h.time
		d.onRequest(dir, t, req)
	}
	return consumed
}

// notHTTP handles a direction whose first bytes looked like HTTP for a
// moment but are not: they are replayed as frames without a handshake, or
// ignored when this direction already sent HTTP and HTTP is expected.
func (d *Decoder) notHTTP(dir *direction, t time.Time, old int) int {
	buf := dir.http.head
	dir.http.head = nil
	if dir.http.heads > 0 && (d.hs.done || len(d.hs.pending) > 0 || d.conn.Request != nil) {
		// Show the bytes up to the first one that is not HTTP: how many
		// more arrived with it depends on the chunking.
		k := 1
		for k < len(buf) && (looksLikeRequest(buf[:k]) || looksLikeResponse(buf[:k])) {
			k++
		}
		d.problemf(Error, KindHandshakeMalformed, dir.side, t, "%s sent bytes that are neither HTTP nor expected here: % x", dir.side, buf[:k])
		dir.mode = modeIgnore
		return len(buf) - old
	}
	d.startWithoutHandshake(dir, t)
	start := dir.pos - int64(old)
	dir.pos = start
	d.feed(dir, t, buf)
	return len(buf) - old
}

func (d *Decoder) malformed(dir *direction, err error) {
	d.problemf(Error, KindHandshakeMalformed, dir.side, dir.http.time, "%s HTTP head does not parse: %v", dir.side, err)
	dir.mode = modeIgnore
}

// onRequest handles a complete request head: an Upgrade starts the
// handshake; anything else is plain HTTP whose body is skipped.
func (d *Decoder) onRequest(dir *direction, t time.Time, req *Request) {
	d.hs.pending = append(d.hs.pending, req)
	upgrade := hasToken(headerTokens(req.Headers, "Upgrade"), "websocket")
	if !upgrade {
		d.startBody(dir, requestBodyLength(req), &req.Body, &req.BodySize, nextHTTP)
		return
	}
	c := d.conn
	if c.Request != nil {
		// A second Upgrade on the same connection: the first was refused
		// (401 with credentials asked for, say). Keep it as an exchange.
		d.addExchange(&Exchange{Request: c.Request, Response: c.Response})
		c.Response = nil
		c.State = StateHandshake
	}
	c.Request = req
	d.hs.upgrade = req
	c.URL = requestURL(req, c.TLS, c.Server)
	_, key1 := Get(req.Headers, "Sec-WebSocket-Key1")
	_, key2 := Get(req.Headers, "Sec-WebSocket-Key2")
	_, key := Get(req.Headers, "Sec-WebSocket-Key")
	_, version := Get(req.Headers, "Sec-WebSocket-Version")
	switch {
	case key || version:
		d.hs.protocol = ProtocolRFC6455
	case key1 && key2:
		d.hs.protocol = ProtocolHixie76
	default:
		d.hs.protocol = ProtocolHixie75
	}
	c.Protocol = d.hs.protocol
	d.checkRequest(dir, req)
	if d.hs.protocol == ProtocolHixie76 {
		// The 8 bytes of key3 follow the head (hixie-76 4.1, step 41).
		d.startBody(dir, bodyLength{length: 8}, &req.Body, &req.BodySize, nextHold)
		return
	}
	dir.mode = modeHold
}

// onResponse handles a complete response head.
func (d *Decoder) onResponse(dir *direction, t time.Time, resp *Response) {
	if resp.Status >= 100 && resp.Status < 200 && resp.Status != 101 {
		return // interim (100 Continue, 103 Early Hints): the request waits on
	}
	var req *Request
	if len(d.hs.pending) > 0 {
		req = d.hs.pending[0]
		d.hs.pending = d.hs.pending[1:]
	}
	client := d.dirOf(Client)
	c := d.conn
	if req == nil && resp.Status == 101 {
		// The Upgrade request was not captured, its answer was.
		d.problemf(Warning, KindHandshakeMissing, Client, resp.Time, "the Upgrade request was not captured, only the server's 101 answer")
		d.hs.upgrade = &Request{}
		req = d.hs.upgrade
		if d.hs.protocol == ProtocolUnknown {
			d.hs.protocol = ProtocolRFC6455
			c.Protocol = ProtocolRFC6455
		}
	}
	if req == nil || req != d.hs.upgrade {
		ex := &Exchange{Request: req, Response: resp}
		if req == nil {
			ex.Request = &Request{}
		}
		d.hs.exchange = ex
		method := ex.Request.Method
		d.startBody(dir, responseBodyLength(resp, method), &resp.Body, &resp.BodySize, nextExchange)
		return
	}
	c.Response = resp
	d.hs.upgrade = nil
	if resp.Status != 101 {
		// A refused Upgrade (401, 403, 426, 502...) is a failed handshake
		// with its status, not a decoding error: HTTP goes on.
		c.State = StateRejected
		d.emit(Event{Kind: EventHandshake, Conn: c})
		d.startBody(dir, responseBodyLength(resp, "GET"), &resp.Body, &resp.BodySize, nextHTTP)
		d.release(client, modeHTTP)
		return
	}
	d.hs.done = true
	d.checkResponse(resp)
	c.State = StateOpen
	switch d.hs.protocol {
	case ProtocolHixie76:
		// The 16-byte MD5 answer to the challenge follows (hixie-76 5.2).
		d.startBody(dir, bodyLength{length: 16}, &resp.Body, &resp.BodySize, nextChallenge)
		d.release(client, modeHixie)
	case ProtocolHixie75:
		d.emit(Event{Kind: EventHandshake, Conn: c})
		dir.mode = modeHixie
		d.release(client, modeHixie)
	default:
		d.emit(Event{Kind: EventHandshake, Conn: c})
		dir.mode = modeFrames
		d.release(client, modeFrames)
	}
}

// hold keeps client bytes that follow an Upgrade request until the answer
// says whether they are frames (101) or more HTTP.
func (d *Decoder) hold(dir *direction, t time.Time, b []byte) int {
	h := &dir.http
	h.held = append(h.held, heldChunk{t: t, b: append([]byte(nil), b...), from: dir.pos})
	h.size += len(b)
	if h.size > maxHold {
		// The text names the limit, not h.size, which depends on how the
		// bytes were chunked.
		d.problemf(Error, KindDataBeforeResponse, dir.side, t, "the client sent more than %d bytes after its Upgrade request with no answer captured; decoding them as frames", maxHold)
		d.assumeUpgraded(t)
	}
	return len(b)
}

// assumeUpgraded treats a pending Upgrade as accepted although its answer
// was not seen, so that the frames after it are still shown.
func (d *Decoder) assumeUpgraded(t time.Time) {
	d.hs.done = true
	d.hs.upgrade = nil
	d.hs.assumeDeflate = true
	d.conn.State = StateOpen
	next := modeFrames
	if d.hs.protocol == ProtocolHixie75 || d.hs.protocol == ProtocolHixie76 {
		next = modeHixie
	}
	d.release(d.dirOf(Client), next)
	if srv := d.dirOf(Server); srv.mode == modeDetect || srv.mode == modeHTTP && len(srv.http.head) == 0 {
		srv.mode = next
	}
}

// release replays held client bytes in the mode the answer decided.
func (d *Decoder) release(dir *direction, next mode) {
	if dir.mode == modeHold || (dir.mode == modeDetect && next != modeHTTP) {
		dir.mode = next
	} else if dir.mode == modeBody && dir.http.body.next == nextHold {
		dir.http.body.next = nextMode(next)
		return
	}
	held := dir.http.held
	dir.http.held, dir.http.size = nil, 0
	if len(held) == 0 {
		return
	}
	saved := dir.pos
	for _, c := range held {
		dir.pos = c.from
		if c.b == nil {
			d.gap(dir, c.t, c.gap)
			continue
		}
		d.feed(dir, c.t, c.b)
	}
	dir.pos = saved
}

// endHandshake flushes an unanswered Upgrade at the end of the connection.
func (d *Decoder) endHandshake(t time.Time) {
	if d.hs.upgrade == nil {
		return
	}
	d.problemf(Warning, KindNoResponse, Server, t, "the connection ended before the server answered the Upgrade request")
	if cl := d.dirOf(Client); cl.http.size > 0 {
		d.assumeUpgraded(t)
		return
	}
	d.hs.upgrade = nil
	d.emit(Event{Kind: EventHandshake, Conn: d.conn})
}

// addExchange records a plain HTTP exchange.
func (d *Decoder) addExchange(ex *Exchange) {
	idx := d.conn.ExchangeCount
	d.conn.ExchangeCount++
	d.emit(Event{Kind: EventExchange, Conn: d.conn, Index: idx, Exchange: ex})
}
