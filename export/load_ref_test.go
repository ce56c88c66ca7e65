package export

// This file keeps the loader as it was before loading streamed: it read the
// whole file, decoded it into a generic tree and built every connection in
// memory. It is the reference the streaming loader is checked against (what
// Load returned before must be what the events of LoadEvents, recorded, give),
// and it exists only in the tests.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// refLoad is Load as it was: the whole file in memory, then the
// connections built from a generic tree (now as session.Conversations,
// since decode.Connection no longer keeps frames).
func refLoad(name string, r io.Reader) ([]*session.Conversation, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	// Refused from the first bytes: a stream of zeros or a gzip bomb that
	// is not JSON costs nothing, instead of being read whole first.
	if err := Sniff(name, br); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("%s: reading: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	l := &refLoader{name: name, data: data}
	start := skipSpace(data, 0)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, l.syntaxError(err)
	}
	if end := skipSpace(data, int(dec.InputOffset())); end < len(data) {
		if m, ok := doc.(map[string]any); ok && m["event"] != nil {
			return nil, l.errorAt(int64(end), nil, errors.New("this is an NDJSON event stream (--ndjson), which is not read back; read a --json or --har export instead"))
		}
		return nil, l.errorAt(int64(end), nil, errors.New("more data after the end of the JSON document"))
	}
	root := refVal{l: l, v: doc, ok: true}
	var conns []*session.Conversation
	switch {
	case root.key("log").ok:
		conns = l.loadHAR(root)
	case root.key("connections").ok:
		conns = l.loadJSON(root)
	default:
		return nil, l.errorAt(int64(start), nil, errors.New(`neither a HAR (no "log" member) nor a wstap JSON export (no "connections" member)`))
	}
	if l.err != nil {
		return nil, l.err
	}
	return conns, nil
}

// refLoader holds the file being loaded and its first error.
type refLoader struct {
	name string
	data []byte
	err  *LoadError
}

// errorAt makes an error at byte offset off.
func (l *refLoader) errorAt(off int64, p refPath, err error) *LoadError {
	line, col := lineCol(l.data, off)
	return &LoadError{Name: l.name, Line: line, Column: col, Path: p.String(), Err: err}
}

func (l *refLoader) syntaxError(err error) *LoadError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset is just past the byte that broke the syntax.
		return l.errorAt(max(0, se.Offset-1), nil, fmt.Errorf("invalid JSON: %v", se))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return l.errorAt(int64(len(l.data)), nil, errors.New("invalid JSON: the file ends in the middle of the document"))
	}
	return l.errorAt(0, nil, fmt.Errorf("invalid JSON: %w", err))
}

// fail records the first error, at the member p.
func (l *refLoader) fail(p refPath, format string, args ...any) {
	if l.err != nil {
		return
	}
	off, _ := refFindOffset(l.data, p)
	l.err = l.errorAt(off, p, fmt.Errorf(format, args...))
}

// refPath is a JSON path: member names (string) and array indexes (int).
type refPath []any

func (p refPath) key(k string) refPath { return append(p[:len(p):len(p)], k) }
func (p refPath) idx(i int) refPath    { return append(p[:len(p):len(p)], i) }

// String writes the path as in JavaScript: log.entries[3].request.url.
func (p refPath) String() string {
	var b strings.Builder
	for _, el := range p {
		switch el := el.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(el))
			b.WriteByte(']')
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(el)
		}
	}
	return b.String()
}

// refFindOffset returns the byte offset where the value at path p starts, or,
// when it is missing, where the deepest existing container on the way
// starts. It walks the tokens again instead of keeping positions for every
// value, since it is only needed once, for an error.
func refFindOffset(data []byte, p refPath) (int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	valueStart := func() int64 {
		i := int(dec.InputOffset())
		for i < len(data) {
			switch data[i] {
			case ' ', '\t', '\r', '\n', ':', ',':
				i++
				continue
			}
			break
		}
		return int64(i)
	}
	at := valueStart()
	for _, el := range p {
		tok, err := dec.Token()
		if err != nil {
			return at, false
		}
		delim, _ := tok.(json.Delim)
		switch el := el.(type) {
		case string:
			if delim != '{' {
				return at, false
			}
			found := false
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return at, false
				}
				if k == el {
					found = true
					break
				}
				if refSkipValue(dec) != nil {
					return at, false
				}
			}
			if !found {
				return at, false
			}
		case int:
			if delim != '[' {
				return at, false
			}
			for i := 0; i < el; i++ {
				if !dec.More() || refSkipValue(dec) != nil {
					return at, false
				}
			}
			if !dec.More() {
				return at, false
			}
		}
		at = valueStart()
	}
	return at, true
}

// refSkipValue reads one whole value from dec.
func refSkipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// loadHAR reads a HAR into the model. What it accepts and how:
//
//   - An entry is a WebSocket connection when its _resourceType is
//     "websocket", it has _webSocketMessages, its URL is ws: or wss:, or it
//     was answered 101 with Upgrade: websocket. Other entries are plain HTTP:
//     each becomes a connection of state not-websocket with one Exchange,
//     so that pages around the WebSocket are kept and written out again.
//     Entries that wstap wrote carry _wstap.id; entries sharing one are one
//     connection again (its exchanges, then its WebSocket).
//   - An http: or https: URL on a WebSocket entry (mitmproxy writes those)
//     becomes ws: or wss:.
//   - _webSocketMessages: type send is the client, receive the server, and
//     error becomes a problem of kind recorded-error. time is epoch seconds
//     (Chrome, mitmproxy) or epoch milliseconds (Playwright), told apart by
//     magnitude: a value of 1e11 or more is milliseconds, since 1e11
//     seconds is the year 5138 and 1e11 milliseconds is 1973. data is text
//     for opcode 1 (unless _encoding is "base64") and base64 otherwise.
//   - Each message becomes one frame: FIN set, its opcode, unmasked (the
//     mask is not recorded), the length of its payload, and the header
//     size such a frame has; the stream offset is unknown (-1).
//   - The response time is startedDateTime plus the timings before receive;
//     the connection was last seen at its last message or at the entry's
//     end, whichever is later.
//
// Members this reader does not use are ignored, and a member that is
// missing is treated as unknown, except those without which the entry
// means nothing: log, log.entries, request, request.url, and type, time,
// opcode and data of a message.
func (l *refLoader) loadHAR(root refVal) []*session.Conversation {
	logv := root.key("log")
	if !logv.object() {
		return nil
	}
	entries := logv.key("entries").require().list()
	var conns []*session.Conversation
	byID := map[string]*session.Conversation{}
	used := map[string]bool{}
	next := 1
	newID := func(want string) string {
		if want != "" && !used[want] {
			used[want] = true
			return want
		}
		for used[strconv.Itoa(next)] {
			next++
		}
		id := strconv.Itoa(next)
		used[id] = true
		return id
	}
	for _, ev := range entries {
		if l.err != nil {
			return nil
		}
		if !ev.require().object() {
			continue
		}
		wv := ev.key("_wstap")
		var own string
		if wv.object() {
			own = wv.key("id").str()
		}
		c := byID[own]
		if own == "" || c == nil {
			c = &session.Conversation{Connection: decode.Connection{ID: newID(own), Source: "har", State: decode.StateNotWebSocket}, Ended: true}
			conns = append(conns, c)
			if own != "" {
				byID[own] = c
			}
		}
		if wv.ok {
			c.Client = wv.key("client").str()
			c.Server = wv.key("server").str()
		}
		if refHarIsWebSocket(ev) {
			l.harWebSocket(c, ev, wv)
		} else {
			l.harExchange(c, ev)
		}
	}
	return conns
}

// refHarIsWebSocket tells a WebSocket entry from a plain HTTP one.
func refHarIsWebSocket(ev refVal) bool {
	if ev.key("_resourceType").str() == "websocket" || ev.key("_webSocketMessages").ok {
		return true
	}
	u := strings.ToLower(ev.key("request").key("url").str())
	if strings.HasPrefix(u, "ws:") || strings.HasPrefix(u, "wss:") {
		return true
	}
	resp := ev.key("response")
	if resp.key("status").float(0) != 101 {
		return false
	}
	for _, hv := range resp.key("headers").list() {
		if strings.EqualFold(hv.key("name").str(), "Upgrade") && strings.Contains(strings.ToLower(hv.key("value").str()), "websocket") {
			return true
		}
	}
	return false
}

// refHarTimes returns when the request started and when its response head
// arrived: startedDateTime plus the timings up to wait.
func refHarTimes(ev refVal) (started, answered time.Time) {
	started = ev.key("startedDateTime").time()
	if started.IsZero() {
		return started, started
	}
	tv := ev.key("timings")
	var ms float64
	for _, k := range [...]string{"blocked", "dns", "connect", "ssl", "send", "wait"} {
		// ssl is included in connect (HAR 1.2 timings), so it is not added twice.
		if v := tv.key(k).float(-1); v > 0 && k != "ssl" {
			ms += v
		}
	}
	return started, started.Add(time.Duration(ms * float64(time.Millisecond)))
}

// refHarURL parses a request URL, reporting a bad one at its path.
func refHarURL(v refVal) *url.URL {
	s := v.require().str()
	if v.l.err != nil {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		if err == nil {
			v.l.fail(v.p, "not an absolute URL: %q", s)
		} else {
			v.l.fail(v.p, "not a URL: %v", err)
		}
		return nil
	}
	return u
}

func refHarHeaders(v refVal) []decode.Header {
	var hs []decode.Header
	for _, hv := range v.list() {
		if !hv.require().object() {
			continue
		}
		hs = append(hs, decode.Header{Name: hv.key("name").require().str(), Value: hv.key("value").str()})
	}
	return hs
}

// refHarRequest reads a HAR request; u is its parsed URL.
func refHarRequest(rv refVal, u *url.URL, started time.Time) *decode.Request {
	r := &decode.Request{
		Method:  rv.key("method").str(),
		Target:  requestTarget(u, rv.key("url").str()),
		Proto:   rv.key("httpVersion").str(),
		Headers: refHarHeaders(rv.key("headers")),
		Time:    started,
	}
	if r.Method == "" {
		r.Method = "GET"
	}
	if _, ok := decode.Get(r.Headers, "Host"); !ok && u.Scheme != "ws" && u.Scheme != "wss" {
		// Without a Host header (an HTTP/2 request, or a tool that left it
		// out) the origin-form target loses the host; the absolute form
		// (RFC 9112 3.2.2) keeps the whole URL.
		r.Target = rv.key("url").str()
	}
	if pd := rv.key("postData"); pd.object() {
		r.Body = refHarText(pd)
	}
	r.BodySize = refHarSize(rv.key("bodySize"), len(r.Body))
	return r
}

// refHarSize reads a bodySize: tools write -1 for unknown, and Chrome writes
// negative sizes for bodies served from cache; those mean "unknown", and
// the size of the body that is there stands in.
func refHarSize(v refVal, have int) int64 {
	f := v.float(-1)
	if f < 0 || f > math.MaxInt64/2 {
		return int64(have)
	}
	return int64(f)
}

// refHarText reads "text", base64-decoded when "encoding" (or wstap's
// "_encoding" on postData) says base64.
func refHarText(v refVal) []byte {
	t := v.key("text")
	if !t.ok {
		return nil
	}
	if v.key("encoding").str() == "base64" || v.key("_encoding").str() == "base64" {
		return t.base64()
	}
	return []byte(t.str())
}

// refHarResponse reads a HAR response; status 0 means none was received
// (Chrome writes that for a request that failed) and gives nil.
func refHarResponse(rv refVal, answered time.Time) *decode.Response {
	if !rv.object() {
		return nil
	}
	status := int(rv.key("status").integer(0, 0, 999))
	if status == 0 {
		return nil
	}
	r := &decode.Response{
		Proto:   rv.key("httpVersion").str(),
		Status:  status,
		Reason:  rv.key("statusText").str(),
		Headers: refHarHeaders(rv.key("headers")),
		Time:    answered,
	}
	if cv := rv.key("content"); cv.object() {
		r.Body = refHarText(cv)
	}
	r.BodySize = refHarSize(rv.key("bodySize"), len(r.Body))
	return r
}

// harExchange adds a plain HTTP entry to c.
func (l *refLoader) harExchange(c *session.Conversation, ev refVal) {
	rv := ev.key("request").require()
	if !rv.object() {
		return
	}
	u := refHarURL(rv.key("url"))
	if u == nil {
		return
	}
	started, answered := refHarTimes(ev)
	x := decode.Exchange{Request: refHarRequest(rv, u, started), Response: refHarResponse(ev.key("response"), answered)}
	if x.Response == nil {
		x.Response = &decode.Response{}
	}
	c.Exchanges = append(c.Exchanges, x)
	c.Server = orDefault(c.Server, refHarServer(ev, u))
	touch(&c.Connection, started)
	touch(&c.Connection, answered)
}

// refHarServer is the server address: serverIPAddress (Chrome writes it in
// brackets for IPv6) with the URL's port, or the URL's host and port.
func refHarServer(ev refVal, u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https", "wss":
			port = "443"
		default:
			port = "80"
		}
	}
	host := strings.Trim(ev.key("serverIPAddress").str(), "[]")
	if net.ParseIP(host) == nil {
		host = u.Hostname()
	}
	return net.JoinHostPort(host, port)
}

// harWebSocket fills c from a WebSocket entry.
func (l *refLoader) harWebSocket(c *session.Conversation, ev, wv refVal) {
	rv := ev.key("request").require()
	if !rv.object() {
		return
	}
	uv := rv.key("url")
	u := refHarURL(uv)
	if u == nil {
		return
	}
	raw := uv.str()
	switch strings.ToLower(u.Scheme) {
	case "http":
		raw = "ws" + raw[len("http"):]
	case "https":
		raw = "wss" + raw[len("https"):]
	}
	c.URL = raw
	c.TLS = strings.HasPrefix(strings.ToLower(raw), "wss:")
	started, answered := refHarTimes(ev)
	c.Request = refHarRequest(rv, u, started)
	c.Response = refHarResponse(ev.key("response"), answered)
	c.Server = orDefault(c.Server, refHarServer(ev, u))
	touch(&c.Connection, started)
	touch(&c.Connection, answered)
	if d := ev.key("time").float(-1); d > 0 && !started.IsZero() {
		touch(&c.Connection, started.Add(time.Duration(d*float64(time.Millisecond))))
	}

	c.Protocol = decode.ProtocolRFC6455
	_, k1 := decode.Get(c.Request.Headers, "Sec-WebSocket-Key1")
	_, k2 := decode.Get(c.Request.Headers, "Sec-WebSocket-Key2")
	if k1 && k2 {
		c.Protocol = decode.ProtocolHixie76
	}
	switch {
	case c.Response == nil || c.Response.Status == 101:
		c.State = decode.StateClosed
	default:
		c.State = decode.StateRejected
	}
	if c.Response != nil {
		c.Subprotocol, _ = decode.Get(c.Response.Headers, "Sec-WebSocket-Protocol")
		c.Extensions = joinHeader(c.Response.Headers, "Sec-WebSocket-Extensions")
		c.Deflate = deflateParams(c.Extensions)
	}

	for _, mv := range ev.key("_webSocketMessages").list() {
		if l.err != nil {
			return
		}
		if mv.require().object() {
			l.harMessage(c, mv)
		}
	}
	if c.Response != nil && len(c.Messages) > 0 && c.Messages[0].Time.Before(c.Response.Time) {
		// Tools differ in what their timings cover (Chrome counts the whole
		// connection as wait); the 101 came before the first message.
		c.Response.Time = c.Messages[0].Time
	}
	c.FrameCount = len(c.Frames)
	c.MessageCount = len(c.Messages)
	if wv.ok {
		if s, ok := parseState(wv.key("state").str()); ok {
			c.State = s
		}
		for _, pv := range wv.key("problems").list() {
			if !pv.require().object() {
				continue
			}
			p := refJsonProblem(pv)
			// Frames are rebuilt one per message, so a problem keeps its
			// message and points at that message's frame; stream offsets
			// are not in a HAR.
			p.Frame, p.Offset = -1, -1
			if p.MessageIndex >= len(c.Messages) {
				p.MessageIndex = -1
			}
			if p.MessageIndex >= 0 {
				p.Frame = p.MessageIndex
			}
			c.Problems = append(c.Problems, p)
		}
	}
	c.ProblemCount = len(c.Problems)
}

// refHarMessageTime converts a _webSocketMessages time, in epoch seconds or
// (from 1e11 on) epoch milliseconds, to a time with microseconds.
func refHarMessageTime(v refVal) time.Time {
	f := v.float(0)
	if v.l.err != nil {
		return time.Time{}
	}
	if math.IsNaN(f) || math.Abs(f) >= 1e15 {
		v.l.fail(v.p, "time %v is out of range for epoch seconds or milliseconds", f)
		return time.Time{}
	}
	if math.Abs(f) >= 1e11 {
		return time.UnixMicro(int64(math.Round(f * 1e3))).UTC()
	}
	return time.UnixMicro(int64(math.Round(f * 1e6))).UTC()
}

// harMessage adds one _webSocketMessages item to c.
func (l *refLoader) harMessage(c *session.Conversation, mv refVal) {
	typ := mv.key("type").require().str()
	t := refHarMessageTime(mv.key("time").require())
	touch(&c.Connection, t)
	var from decode.Side
	switch typ {
	case "send":
		from = decode.Client
	case "receive":
		from = decode.Server
	case "error":
		c.Problems = append(c.Problems, decode.Problem{
			Severity: decode.Error, Kind: KindRecordedError, From: decode.Client, Time: t,
			Message: "the recording tool logged an error on this connection: " + mv.key("data").str(),
			Frame:   -1, MessageIndex: -1, Offset: -1,
		})
		return
	default:
		if l.err == nil {
			l.fail(mv.key("type").p, `expected "send", "receive" or "error", found %q`, typ)
		}
		return
	}
	op := decode.Opcode(mv.key("opcode").require().integer(0, 0, 15))
	dv := mv.key("data").require()
	var payload []byte
	if op == decode.OpText && mv.key("_encoding").str() != "base64" {
		payload = []byte(dv.str())
	} else {
		payload = dv.base64()
	}
	if l.err != nil {
		return
	}
	fi, mi := len(c.Frames), len(c.Messages)
	h := decode.AppendFrameHeader(nil, decode.FrameHeader{Fin: true, Opcode: op, Length: uint64(len(payload))})
	c.Frames = append(c.Frames, decode.Frame{
		From: from, Time: t, Offset: -1, Fin: true, Opcode: op,
		Length: uint64(len(payload)), HeaderLen: len(h), Payload: payload, Message: mi,
	})
	m := decode.Message{
		From: from, Time: t, LastTime: t, Opcode: op, Frames: []int{fi},
		WireSize: int64(len(h) + len(payload)), Size: int64(len(payload)), Payload: payload,
		Truncated: mv.key("_truncated").boolean(),
	}
	switch op {
	case decode.OpText:
		m.TextValid = utf8.Valid(payload) && !m.Truncated
	case decode.OpClose:
		m.Close = closeFromPayload(from, t, payload)
		m.TextValid = len(payload) >= 2 && utf8.Valid(payload[2:])
		switch {
		case c.Close == nil:
			c.Close = m.Close
		case c.CloseReply == nil && c.Close.From != from:
			c.CloseReply = m.Close
		}
	}
	c.Messages = append(c.Messages, m)
}

// loadJSON reads a wstap JSON export back into the model: everything
// JSONWriter writes, so that writing the loaded connections again gives
// the same file, except that Source becomes "json". A frame written
// without its payload gets it cut out of its message's payload again.
func (l *refLoader) loadJSON(root refVal) []*session.Conversation {
	if f := root.key("format"); f.ok && f.str() != JSONFormat {
		l.fail(f.p, "format is %q; this reader knows %q", f.str(), JSONFormat)
	}
	if v := root.key("version"); v.ok {
		if n := v.integer(0, 0, math.MaxInt32); n > JSONVersion {
			l.fail(v.p, "version %d is newer than this reader (%d)", n, JSONVersion)
		}
	}
	var conns []*session.Conversation
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

func (l *refLoader) jsonConn(cv refVal) *session.Conversation {
	c := &session.Conversation{Ended: true, Connection: decode.Connection{
		ID:     cv.key("id").require().str(),
		Client: cv.key("client").str(),
		Server: cv.key("server").str(),
		Source: "json",
		TLS:    cv.key("tls").boolean(),
		URL:    cv.key("url").str(),
	}}
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
		c.Request = refJsonRequest(v)
	}
	if v := cv.key("response"); v.object() {
		c.Response = refJsonResponse(v)
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
			x.Request = refJsonRequest(v)
		}
		if v := xv.key("response"); v.object() {
			x.Response = refJsonResponse(v)
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
		f.From = refJsonSide(fv.key("from").require())
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
		c.Close = refJsonClose(v)
	}
	if v := cv.key("close_reply"); v.object() {
		c.CloseReply = refJsonClose(v)
	}
	for _, pv := range cv.key("problems").list() {
		if !pv.require().object() {
			continue
		}
		c.Problems = append(c.Problems, refJsonProblem(pv))
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
func (l *refLoader) cutFramePayload(c *session.Conversation, fi int, fv refVal) {
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

func refJsonSide(v refVal) decode.Side {
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

func refJsonHeaders(v refVal) []decode.Header {
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

// refJsonBody reads body (text) or body_base64, and body_size.
func refJsonBody(v refVal) ([]byte, int64) {
	var body []byte
	if t := v.key("body"); t.ok {
		body = []byte(t.str())
	} else if b := v.key("body_base64"); b.ok {
		body = b.base64()
	}
	return body, v.key("body_size").integer(int64(len(body)), -1, math.MaxInt64)
}

func refJsonRequest(v refVal) *decode.Request {
	r := &decode.Request{
		Method:  v.key("method").str(),
		Target:  v.key("target").str(),
		Proto:   v.key("proto").str(),
		Time:    v.key("time").time(),
		Headers: refJsonHeaders(v.key("headers")),
	}
	r.Body, r.BodySize = refJsonBody(v)
	return r
}

func refJsonResponse(v refVal) *decode.Response {
	r := &decode.Response{
		Proto:   v.key("proto").str(),
		Status:  int(v.key("status").require().integer(0, 0, 999)),
		Reason:  v.key("reason").str(),
		Time:    v.key("time").time(),
		Headers: refJsonHeaders(v.key("headers")),
	}
	r.Body, r.BodySize = refJsonBody(v)
	return r
}

func (l *refLoader) jsonMessage(v refVal, nframes int) decode.Message {
	m := decode.Message{
		From:       refJsonSide(v.key("from").require()),
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

func refJsonClose(v refVal) *decode.Close {
	c := &decode.Close{
		From:   refJsonSide(v.key("from").require()),
		Time:   v.key("time").time(),
		Reason: v.key("reason").str(),
	}
	if code := v.key("code"); code.ok {
		c.HasCode = true
		c.Code = uint16(code.integer(0, 0, math.MaxUint16))
	}
	return c
}

func refJsonProblem(v refVal) decode.Problem {
	p := decode.Problem{
		Kind:         decode.Kind(v.key("kind").require().str()),
		Message:      v.key("message").str(),
		From:         refJsonSide(v.key("from")),
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

// refVal is one value of a loaded document with its path, so that every
// check can say where it failed. Accessors record the first error on the
// refLoader and return zero values from then on; the loaders check l.err once
// at the end instead of after every member.
type refVal struct {
	l  *refLoader
	p  refPath
	v  any
	ok bool // present (a JSON null counts as absent)
}

// key returns member k of an object; absent when v is not an object.
func (v refVal) key(k string) refVal {
	m, _ := v.v.(map[string]any)
	x, ok := m[k]
	return refVal{l: v.l, p: v.p.key(k), v: x, ok: ok && x != nil}
}

// object checks that v, when present, is an object.
func (v refVal) object() bool {
	if !v.ok {
		return false
	}
	if _, ok := v.v.(map[string]any); !ok {
		v.l.fail(v.p, "expected an object, found %s", refKindOf(v.v))
		return false
	}
	return true
}

// require records an error when v is absent.
func (v refVal) require() refVal {
	if !v.ok {
		v.l.fail(v.p, "required member is missing")
	}
	return v
}

// list returns the elements of an array; nil, without error, when absent.
func (v refVal) list() []refVal {
	if !v.ok {
		return nil
	}
	a, ok := v.v.([]any)
	if !ok {
		v.l.fail(v.p, "expected an array, found %s", refKindOf(v.v))
		return nil
	}
	out := make([]refVal, len(a))
	for i, x := range a {
		out[i] = refVal{l: v.l, p: v.p.idx(i), v: x, ok: x != nil}
	}
	return out
}

// str returns a string; "" when absent.
func (v refVal) str() string {
	if !v.ok {
		return ""
	}
	s, ok := v.v.(string)
	if !ok {
		v.l.fail(v.p, "expected a string, found %s", refKindOf(v.v))
	}
	return s
}

// boolean returns a boolean; false when absent.
func (v refVal) boolean() bool {
	if !v.ok {
		return false
	}
	b, ok := v.v.(bool)
	if !ok {
		v.l.fail(v.p, "expected true or false, found %s", refKindOf(v.v))
	}
	return b
}

// float returns a number; def when absent.
func (v refVal) float(def float64) float64 {
	if !v.ok {
		return def
	}
	n, ok := v.v.(json.Number)
	if !ok {
		v.l.fail(v.p, "expected a number, found %s", refKindOf(v.v))
		return def
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		v.l.fail(v.p, "number %s is out of range", n)
		return def
	}
	return f
}

// integer returns an integer in [lo, hi]; def when absent.
func (v refVal) integer(def, lo, hi int64) int64 {
	if !v.ok {
		return def
	}
	n, ok := v.v.(json.Number)
	if !ok {
		v.l.fail(v.p, "expected an integer, found %s", refKindOf(v.v))
		return def
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		v.l.fail(v.p, "expected an integer, found %s", n)
		return def
	}
	if i < lo || i > hi {
		v.l.fail(v.p, "%d is out of range (%d to %d)", i, lo, hi)
		return def
	}
	return i
}

// uinteger returns an unsigned 64-bit integer; 0 when absent.
func (v refVal) uinteger() uint64 {
	if !v.ok {
		return 0
	}
	n, ok := v.v.(json.Number)
	if !ok {
		v.l.fail(v.p, "expected an integer, found %s", refKindOf(v.v))
		return 0
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		v.l.fail(v.p, "expected an unsigned integer, found %s", n)
	}
	return u
}

// base64 decodes a standard base64 string; nil when absent.
func (v refVal) base64() []byte {
	s := v.str()
	if !v.ok || v.l.err != nil {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		v.l.fail(v.p, "not valid base64: %v", err)
		return nil
	}
	return b
}

// time parses an RFC 3339 time; the zero time when absent.
func (v refVal) time() time.Time {
	s := v.str()
	if !v.ok || v.l.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.l.fail(v.p, "not an RFC 3339 time: %q", s)
	}
	return t
}

func refKindOf(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unknown value"
}
