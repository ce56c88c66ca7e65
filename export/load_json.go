package export

import (
	"encoding/hex"
	"math"
	"time"

	"github.com/wstap/wstap/decode"
)

// loadJSON reads a wstap JSON export back into the model: everything
// JSONWriter writes, so that writing the loaded connections again gives
// the same file, except that Source becomes "json". A frame written
// without its payload gets it cut out of its message's payload again.
func (l *loader) loadJSON(root val) []*decode.Connection {
	if f := root.key("format"); f.ok && f.str() != JSONFormat {
		l.fail(f.p, "format is %q; this reader knows %q", f.str(), JSONFormat)
	}
	if v := root.key("version"); v.ok {
		if n := v.integer(0, 0, math.MaxInt32); n > JSONVersion {
			l.fail(v.p, "version %d is newer than this reader (%d)", n, JSONVersion)
		}
	}
	var conns []*decode.Connection
	for _, cv := range root.key("connections").list() {
		if l.err != nil {
			return nil
		}
		if !cv.require().object() {
			continue
		}
		conns = append(conns, l.jsonConn(cv))
	}
	return conns
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

func (l *loader) jsonConn(cv val) *decode.Connection {
	c := &decode.Connection{
		ID:     cv.key("id").require().str(),
		Client: cv.key("client").str(),
		Server: cv.key("server").str(),
		Source: "json",
		TLS:    cv.key("tls").boolean(),
		URL:    cv.key("url").str(),
	}
	if v := cv.key("protocol"); v.ok {
		p, ok := parseProtocol(v.str())
		if !ok && l.err == nil {
			l.fail(v.p, "unknown protocol %q", v.str())
		}
		c.Protocol = p
	}
	if v := cv.key("state"); v.ok {
		s, ok := parseState(v.str())
		if !ok && l.err == nil {
			l.fail(v.p, "unknown state %q", v.str())
		}
		c.State = s
	}
	c.Opened = cv.key("opened").time()
	c.LastSeen = cv.key("last_seen").time()
	if v := cv.key("request"); v.object() {
		c.Request = jsonRequest(v)
	}
	if v := cv.key("response"); v.object() {
		c.Response = jsonResponse(v)
	}
	c.Subprotocol = cv.key("subprotocol").str()
	c.Extensions = cv.key("extensions").str()
	if v := cv.key("deflate"); v.object() {
		c.Deflate = &decode.DeflateParams{
			ServerNoContextTakeover: v.key("server_no_context_takeover").boolean(),
			ClientNoContextTakeover: v.key("client_no_context_takeover").boolean(),
			ServerMaxWindowBits:     int(v.key("server_max_window_bits").integer(15, 8, 15)),
			ClientMaxWindowBits:     int(v.key("client_max_window_bits").integer(15, 8, 15)),
		}
	}
	for _, xv := range cv.key("exchanges").list() {
		if !xv.require().object() {
			continue
		}
		var x decode.Exchange
		if v := xv.key("request"); v.object() {
			x.Request = jsonRequest(v)
		}
		if v := xv.key("response"); v.object() {
			x.Response = jsonResponse(v)
		}
		c.Exchanges = append(c.Exchanges, x)
	}

	frames := cv.key("frames").list()
	messages := cv.key("messages").list()
	c.Frames = make([]decode.Frame, len(frames))
	c.Messages = make([]decode.Message, len(messages))
	// payloadFromMessage lists the frames written without a payload, to be
	// cut out of their message once the messages are read.
	var payloadFromMessage []int
	for i, fv := range frames {
		if !fv.require().object() {
			continue
		}
		f := &c.Frames[i]
		f.From = jsonSide(fv.key("from").require())
		f.Time = fv.key("time").time()
		f.Offset = fv.key("offset").integer(-1, -1, math.MaxInt64)
		f.Fin = fv.key("fin").boolean()
		f.Rsv = uint8(fv.key("rsv").integer(0, 0, 7))
		f.Opcode = decode.Opcode(fv.key("opcode").require().integer(0, 0, 15))
		f.Masked = fv.key("masked").boolean()
		if kv := fv.key("mask_key"); kv.ok {
			k, err := hex.DecodeString(kv.str())
			if (err != nil || len(k) != 4) && l.err == nil {
				l.fail(kv.p, "a mask key is 4 bytes in hex, like 0a1b2c3d; found %q", kv.str())
			}
			copy(f.MaskKey[:], k)
		}
		f.Length = fv.key("length").uinteger()
		f.HeaderLen = int(fv.key("header_length").integer(0, 0, decode.MaxFrameHeaderSize))
		mv := fv.key("message")
		f.Message = int(mv.integer(-1, -1, int64(len(messages)-1)))
		if pv := fv.key("payload_base64"); pv.ok {
			f.Payload = pv.base64()
		} else if f.Message >= 0 {
			payloadFromMessage = append(payloadFromMessage, i)
		}
	}
	for i, mv := range messages {
		if !mv.require().object() {
			continue
		}
		c.Messages[i] = l.jsonMessage(mv, len(frames))
	}
	for _, fi := range payloadFromMessage {
		l.cutFramePayload(c, fi, frames[fi])
	}
	if v := cv.key("close"); v.object() {
		c.Close = jsonClose(v)
	}
	if v := cv.key("close_reply"); v.object() {
		c.CloseReply = jsonClose(v)
	}
	for _, pv := range cv.key("problems").list() {
		if !pv.require().object() {
			continue
		}
		c.Problems = append(c.Problems, jsonProblem(pv))
	}
	count := func(name string, def int) int {
		return int(cv.key(name).integer(int64(def), 0, math.MaxInt32))
	}
	c.FrameCount = count("frame_count", len(c.Frames))
	c.MessageCount = count("message_count", len(c.Messages))
	c.ProblemCount = count("problem_count", len(c.Problems))
	c.SuppressedProblems = count("suppressed_problems", 0)
	if bv := cv.key("bytes"); bv.object() {
		c.Bytes[decode.Client] = bv.key("client").integer(0, 0, math.MaxInt64)
		c.Bytes[decode.Server] = bv.key("server").integer(0, 0, math.MaxInt64)
	}
	return c
}

// cutFramePayload gives frame fi, written without a payload, its bytes
// from its message: the frames of such a message are consecutive slices of
// its payload, each as long as its length field.
func (l *loader) cutFramePayload(c *decode.Connection, fi int, fv val) {
	f := &c.Frames[fi]
	m := &c.Messages[f.Message]
	off := uint64(0)
	for _, other := range m.Frames {
		if other == fi {
			end := off + f.Length
			if end > uint64(len(m.Payload)) || end < off {
				l.fail(fv.p, "the frame has no payload_base64 and its %d bytes at %d are not in message %d's %d-byte payload", f.Length, off, f.Message, len(m.Payload))
				return
			}
			f.Payload = m.Payload[off:end:end]
			return
		}
		if other >= 0 && other < len(c.Frames) {
			off += c.Frames[other].Length
		}
	}
	l.fail(fv.p, "the frame has no payload_base64 and message %d does not list it among its frames", f.Message)
}

func jsonSide(v val) decode.Side {
	switch s := v.str(); s {
	case "client":
		return decode.Client
	case "server":
		return decode.Server
	default:
		if v.ok {
			v.l.fail(v.p, `expected "client" or "server", found %q`, s)
		}
	}
	return decode.Client
}

func jsonHeaders(v val) []decode.Header {
	var hs []decode.Header
	for _, hv := range v.list() {
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

// jsonBody reads body (text) or body_base64, and body_size.
func jsonBody(v val) ([]byte, int64) {
	var body []byte
	if t := v.key("body"); t.ok {
		body = []byte(t.str())
	} else if b := v.key("body_base64"); b.ok {
		body = b.base64()
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

func (l *loader) jsonMessage(v val, nframes int) decode.Message {
	m := decode.Message{
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
	for _, fv := range v.key("frames").list() {
		if nframes == 0 {
			v.l.fail(fv.p, "refers to a frame, but the connection lists none")
			break
		}
		m.Frames = append(m.Frames, int(fv.integer(0, 0, int64(nframes-1))))
	}
	if t := v.key("text"); t.ok {
		m.Payload = []byte(t.str())
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
	return m
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
	switch s := v.key("severity").require().str(); s {
	case "error":
		p.Severity = decode.Error
	case "warning":
		p.Severity = decode.Warning
	default:
		v.l.fail(v.p.key("severity"), `expected "error" or "warning", found %q`, s)
	}
	return p
}
