package export

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wstap/wstap/decode"
)

// loadJSON reads the connections of a wstap JSON export, its '[' read:
// everything JSONWriter writes, so that writing the loaded connections
// again gives the same file, except that Source becomes "json".
//
// A connection is walked member by member and its long lists (exchanges,
// frames, messages, problems) element by element, each emitted as it is
// read. The other members are small and are set on the connection as they
// come: those before the first element are on it at EventOpened (as
// JSONWriter orders them, all of them but the close, the problems and the
// counts), the rest by EventClosed. A frame written without its payload is
// emitted with Payload nil: it is a slice of its message's payload, which
// follows (see session.Reader.Derivable, which JSONWriter asks).
func (l *loader) loadJSON() error {
	for i := 0; l.t.more(); i++ {
		l.push(pathEl{idx: i})
		if err := l.jsonConn(); err != nil {
			return err
		}
		l.pop()
	}
	return l.t.end()
}

// parseProtocol and parseState invert the String methods of the model.
func parseProtocol(s string) (decode.Protocol, bool) {
	for p := decode.ProtocolUnknown; p <= decode.ProtocolHixie75; p++ {
		if p.String() == s {
			return p, true
		}
	}
	return decode.ProtocolUnknown, false
}

func parseState(s string) (decode.State, bool) {
	for st := decode.StateHandshake; st <= decode.StateNotWebSocket; st++ {
		if st.String() == s {
			return st, true
		}
	}
	return decode.StateHandshake, false
}

// jsonConn is one connection of a JSON export as it is read.
type jsonConn struct {
	conn
	hasID bool
	// framesRead is set once a "frames" member was read whole: from
	// then on a message's frame indexes are checked as they are read.
	framesRead bool
	// Index checks that wait for the end of the connection, because
	// what they check against comes later: frames point at messages,
	// which follow them, and a message read before any "frames" member
	// points at frames not counted yet.
	messageRef refCheck // frames[i].message
	frameRef   refCheck // messages[i].frames[j], before the frames
}

// refCheck keeps, of some indexes, the first, the lowest and the highest,
// and where they are: element i of the list, item j of its own list. The
// first out of range is what Load reported; when the first is in range,
// the lowest or highest stands in for the first that is not, which would
// take a record of every index to find.
type refCheck struct {
	seen                   bool
	first, low, high       int64
	firstAt, lowAt, highAt refAt
}

type refAt struct{ line, col, i, j int }

func (r *refCheck) see(l *loader, n, off int64, i, j int) {
	at := func() refAt {
		line, col := l.w.lineCol(off)
		return refAt{line: line, col: col, i: i, j: j}
	}
	if !r.seen {
		r.first, r.firstAt = n, at()
	}
	if !r.seen || n < r.low {
		r.low, r.lowAt = n, at()
	}
	if !r.seen || n > r.high {
		r.high, r.highAt = n, at()
	}
	r.seen = true
}

// check returns a reference out of [lo, hi]: where it is and its value.
func (r *refCheck) check(lo, hi int64) (refAt, int64, bool) {
	switch {
	case !r.seen:
	case r.first < lo || r.first > hi:
		return r.firstAt, r.first, true
	case r.low < lo:
		return r.lowAt, r.low, true
	case r.high > hi:
		return r.highAt, r.high, true
	}
	return refAt{}, 0, false
}

// refError makes the error of a reference found wrong at the end of the
// connection, at list[at.i].key and, when sub, at its element at.j.
func (l *loader) refError(at refAt, list, key string, sub bool, format string, args ...any) error {
	path := append(l.path[:len(l.path):len(l.path)], pathEl{key: list}, pathEl{idx: at.i}, pathEl{key: key})
	if sub {
		path = append(path, pathEl{idx: at.j})
	}
	return &LoadError{Name: l.name, Line: at.line, Column: at.col, Path: pathString(path), Err: fmt.Errorf(format, args...)}
}

func (l *loader) jsonConn() error {
	ok, start, err := l.open('{')
	if err != nil {
		return err
	}
	if !ok {
		return l.errorAt(start, errors.New("required member is missing"))
	}
	idAt := l.place(start, append(l.path, pathEl{key: "id"}))
	jc := &jsonConn{conn: conn{c: &decode.Connection{Source: "json"}}}
	c := jc.c
	if err := l.members(func(k string) (err error) {
		switch k {
		case "exchanges", "frames", "messages", "problems":
			err = l.jsonList(jc, k)
		default:
			err = l.jsonMember(jc, k)
		}
		return err
	}); err != nil {
		return err
	}
	if !jc.hasID {
		return failAt(idAt, "required member is missing")
	}
	nframes, nmessages := c.FrameCount, c.MessageCount
	if at, n, bad := jc.messageRef.check(-1, int64(nmessages)-1); bad {
		return l.refError(at, "frames", "message", false, "%d is out of range (-1 to %d)", n, nmessages-1)
	}
	if nframes == 0 && jc.frameRef.seen {
		// The first reference read is the one that refers to nothing.
		return l.refError(jc.frameRef.firstAt, "messages", "frames", true, "refers to a frame, but the connection lists none")
	}
	if at, n, bad := jc.frameRef.check(0, int64(nframes)-1); bad {
		return l.refError(at, "messages", "frames", true, "%d is out of range (0 to %d)", n, nframes-1)
	}
	return l.sendClosed(&jc.conn)
}

// jsonList reads the exchanges, frames, messages or problems of a
// connection, emitting each.
func (l *loader) jsonList(jc *jsonConn, k string) error {
	ok, _, err := l.open('[')
	if err != nil || !ok {
		return err
	}
	for i := 0; l.t.more(); i++ {
		l.push(pathEl{idx: i})
		it, err := l.readItem()
		if err != nil {
			return err
		}
		if v := it.root(); v.require().object() {
			switch k {
			case "exchanges":
				err = l.jsonExchange(jc, v)
			case "frames":
				err = l.jsonFrame(jc, v)
			case "messages":
				err = l.jsonMessage(jc, v)
			default:
				p := jsonProblem(v)
				if err = it.check(); err == nil {
					l.problem = p
					err = l.sendProblem(&jc.conn, &l.problem)
				}
			}
		}
		if err == nil {
			err = it.check()
		}
		if err != nil {
			return err
		}
		l.pop()
	}
	if k == "frames" {
		jc.framesRead = true
	}
	return l.t.end()
}

// jsonMember reads a member of a connection other than its lists.
func (l *loader) jsonMember(jc *jsonConn, k string) error {
	it, err := l.readItem()
	if err != nil {
		return err
	}
	c := jc.c
	v := it.root()
	handshake := false
	switch k {
	case "id":
		c.ID = v.require().str()
		jc.hasID = true
	case "client":
		c.Client = v.str()
	case "server":
		c.Server = v.str()
	case "tls":
		c.TLS = v.boolean()
	case "url":
		c.URL = v.str()
	case "protocol":
		if v.ok {
			p, ok := parseProtocol(v.peek())
			if !ok {
				v.fail("unknown protocol %q", v.peek())
			}
			c.Protocol = p
		}
	case "state":
		if v.ok {
			s, ok := parseState(v.peek())
			if !ok {
				v.fail("unknown state %q", v.peek())
			}
			c.State = s
		}
	case "opened":
		c.Opened = v.time()
	case "last_seen":
		c.LastSeen = v.time()
	case "request":
		c.Request = nil
		if v.object() {
			c.Request = jsonRequest(v)
		}
		handshake = true
	case "response":
		c.Response = nil
		if v.object() {
			c.Response = jsonResponse(v)
		}
		handshake = true
	case "subprotocol":
		c.Subprotocol = v.str()
	case "extensions":
		c.Extensions = v.str()
	case "deflate":
		c.Deflate = nil
		if v.object() {
			c.Deflate = &decode.DeflateParams{
				ServerNoContextTakeover: v.key("server_no_context_takeover").boolean(),
				ClientNoContextTakeover: v.key("client_no_context_takeover").boolean(),
				ServerMaxWindowBits:     int(v.key("server_max_window_bits").integer(15, 8, 15)),
				ClientMaxWindowBits:     int(v.key("client_max_window_bits").integer(15, 8, 15)),
			}
		}
	case "close":
		c.Close = nil
		if v.object() {
			c.Close = jsonClose(v)
		}
	case "close_reply":
		c.CloseReply = nil
		if v.object() {
			c.CloseReply = jsonClose(v)
		}
	case "frame_count", "message_count", "problem_count":
		// Checked, but the counts are those of the events, which is what
		// a count means now (decode.Connection); JSONWriter writes the
		// same numbers.
		v.integer(0, 0, math.MaxInt32)
	case "suppressed_problems":
		c.SuppressedProblems = int(v.integer(0, 0, math.MaxInt32))
	case "bytes":
		c.Bytes = [2]int64{}
		if v.object() {
			c.Bytes[decode.Client] = v.key("client").integer(0, 0, math.MaxInt64)
			c.Bytes[decode.Server] = v.key("server").integer(0, 0, math.MaxInt64)
		}
	}
	if err := it.check(); err != nil {
		return err
	}
	// A handshake read after the first frame, message or problem (in a
	// file written in another order) is emitted when it is read.
	if handshake && jc.body() {
		return l.handshake(&jc.conn)
	}
	return nil
}

func (l *loader) jsonExchange(jc *jsonConn, xv val) error {
	x := &l.exchange
	*x = decode.Exchange{}
	if v := xv.key("request"); v.object() {
		x.Request = jsonRequest(v)
	}
	if v := xv.key("response"); v.object() {
		x.Response = jsonResponse(v)
	}
	if err := xv.it.check(); err != nil {
		return err
	}
	return l.sendExchange(&jc.conn, x)
}

func (l *loader) jsonFrame(jc *jsonConn, fv val) error {
	f := &l.frame
	*f = decode.Frame{
		From:   jsonSide(fv.key("from").require()),
		Time:   fv.key("time").time(),
		Offset: fv.key("offset").integer(-1, -1, math.MaxInt64),
		Fin:    fv.key("fin").boolean(),
		Rsv:    uint8(fv.key("rsv").integer(0, 0, 7)),
		Opcode: decode.Opcode(fv.key("opcode").require().integer(0, 0, 15)),
		Masked: fv.key("masked").boolean(),
	}
	if kv := fv.key("mask_key"); kv.ok {
		s := kv.peek()
		k, err := hex.DecodeString(s)
		if err != nil || len(k) != 4 {
			kv.fail("a mask key is 4 bytes in hex, like 0a1b2c3d; found %q", s)
		}
		copy(f.MaskKey[:], k)
	}
	f.Length = fv.key("length").uinteger()
	f.HeaderLen = int(fv.key("header_length").integer(0, 0, decode.MaxFrameHeaderSize))
	// The message it belongs to follows; its index is checked at the end.
	mv := fv.key("message")
	msg := mv.integer(-1, math.MinInt64, math.MaxInt64)
	f.Message = int(max(msg, -1))
	pv := fv.key("payload_base64")
	if pv.ok {
		f.Payload = pv.base64()
	}
	if err := fv.it.check(); err != nil {
		return err
	}
	if mv.ok {
		jc.messageRef.see(l, msg, fv.it.off+int64(mv.at), jc.c.FrameCount, 0)
	}
	if !pv.ok && f.Message >= 0 && l.hooks.framePlace != nil {
		l.hooks.framePlace(jc.c.FrameCount, l.place(fv.it.off, l.path))
	}
	return l.sendFrame(&jc.conn, f)
}

func (l *loader) jsonMessage(jc *jsonConn, v val) error {
	m := &l.message
	*m = decode.Message{
		From:       jsonSide(v.key("from").require()),
		Time:       v.key("time").time(),
		LastTime:   v.key("last_time").time(),
		Opcode:     decode.Opcode(v.key("opcode").require().integer(0, 0, 15)),
		Compressed: v.key("compressed").boolean(),
		WireSize:   v.key("wire_size").integer(0, 0, math.MaxInt64),
		Truncated:  v.key("truncated").boolean(),
		Raw:        v.key("raw").boolean(),
		TextValid:  v.key("text_valid").boolean(),
	}
	l.indexes = l.indexes[:0]
	for e := v.key("frames").list(); e.next(); {
		fv := e.val()
		if !jc.framesRead {
			// The frames are not read yet: checked at the end.
			n := fv.integer(0, math.MinInt64, math.MaxInt64)
			jc.frameRef.see(l, n, v.it.off+int64(fv.at), jc.c.MessageCount, e.n-1)
			l.indexes = append(l.indexes, int(max(n, 0)))
			continue
		}
		if jc.c.FrameCount == 0 {
			fv.fail("refers to a frame, but the connection lists none")
			break
		}
		l.indexes = append(l.indexes, int(fv.integer(0, 0, int64(jc.c.FrameCount-1))))
	}
	if len(l.indexes) > 0 {
		m.Frames = l.indexes
	}
	if t := v.key("text"); t.ok {
		m.Payload = t.text()
	} else {
		m.Payload = v.key("data_base64").require().base64()
	}
	m.Size = v.key("size").integer(int64(len(m.Payload)), 0, math.MaxInt64)
	if cv := v.key("close"); cv.object() {
		m.Close = closeFromPayload(m.From, m.Time, m.Payload)
		if code := cv.key("code"); code.ok {
			m.Close.HasCode = true
			m.Close.Code = uint16(code.integer(0, 0, math.MaxUint16))
		}
		if len(m.Payload) < 2 {
			// the payload was not kept: the reason is only in "close"
			m.Close.Reason = cv.key("reason").str()
		}
	}
	if err := v.it.check(); err != nil {
		return err
	}
	return l.sendMessage(&jc.conn, m)
}

// closeFromPayload parses a Close payload (RFC 6455 5.5.1): a 2-byte code
// and a reason, or nothing.
func closeFromPayload(from decode.Side, t time.Time, p []byte) *decode.Close {
	c := &decode.Close{From: from, Time: t}
	if len(p) >= 2 {
		c.HasCode = true
		c.Code = uint16(p[0])<<8 | uint16(p[1])
		c.Reason = string(p[2:])
	}
	return c
}

func jsonSide(v val) decode.Side {
	switch s := v.peek(); s {
	case "client":
		return decode.Client
	case "server":
		return decode.Server
	default:
		if v.ok {
			v.fail(`expected "client" or "server", found %q`, s)
		}
	}
	return decode.Client
}

func jsonHeaders(v val) []decode.Header {
	var hs []decode.Header
	for e := v.list(); e.next(); {
		hv := e.val()
		if !hv.require().object() {
			continue
		}
		h := decode.Header{Name: hv.key("name").require().str(), Value: hv.key("value").str()}
		if bv := hv.key("value_base64"); bv.ok {
			h.Value = string(bv.base64())
		}
		hs = append(hs, h)
	}
	return hs
}

// jsonBody reads body (text) or body_base64, and body_size. The body is
// the connection's to keep, so it is copied out of the loader's buffers.
func jsonBody(v val) ([]byte, int64) {
	var body []byte
	if t := v.key("body"); t.ok {
		body = bytes.Clone(t.text())
	} else if b := v.key("body_base64"); b.ok {
		body = bytes.Clone(b.base64())
	}
	return body, v.key("body_size").integer(int64(len(body)), -1, math.MaxInt64)
}

func jsonRequest(v val) *decode.Request {
	r := &decode.Request{
		Method:  v.key("method").str(),
		Target:  v.key("target").str(),
		Proto:   v.key("proto").str(),
		Time:    v.key("time").time(),
		Headers: jsonHeaders(v.key("headers")),
	}
	r.Body, r.BodySize = jsonBody(v)
	return r
}

func jsonResponse(v val) *decode.Response {
	r := &decode.Response{
		Proto:   v.key("proto").str(),
		Status:  int(v.key("status").require().integer(0, 0, 999)),
		Reason:  v.key("reason").str(),
		Time:    v.key("time").time(),
		Headers: jsonHeaders(v.key("headers")),
	}
	r.Body, r.BodySize = jsonBody(v)
	return r
}

func jsonClose(v val) *decode.Close {
	c := &decode.Close{
		From:   jsonSide(v.key("from").require()),
		Time:   v.key("time").time(),
		Reason: v.key("reason").str(),
	}
	if code := v.key("code"); code.ok {
		c.HasCode = true
		c.Code = uint16(code.integer(0, 0, math.MaxUint16))
	}
	return c
}

func jsonProblem(v val) decode.Problem {
	p := decode.Problem{
		Kind:         decode.Kind(v.key("kind").require().str()),
		Message:      v.key("message").str(),
		From:         jsonSide(v.key("from")),
		Time:         v.key("time").time(),
		Frame:        int(v.key("frame").integer(-1, -1, math.MaxInt32)),
		MessageIndex: int(v.key("message_index").integer(-1, -1, math.MaxInt32)),
		Offset:       v.key("offset").integer(-1, -1, math.MaxInt64),
	}
	switch s := v.key("severity").require().peek(); s {
	case "error":
		p.Severity = decode.Error
	case "warning":
		p.Severity = decode.Warning
	default:
		v.key("severity").fail(`expected "error" or "warning", found %q`, s)
	}
	return p
}
