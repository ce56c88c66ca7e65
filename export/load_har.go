package export

import (
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
)

// KindRecordedError is the problem kind of an "error" item in a HAR's
// _webSocketMessages: an error the recording tool (Chrome DevTools) logged
// on the connection, such as a failed handshake.
const KindRecordedError decode.Kind = "recorded-error"

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
func (l *loader) loadHAR(root val) []*decode.Connection {
	logv := root.key("log")
	if !logv.object() {
		return nil
	}
	entries := logv.key("entries").require().list()
	var conns []*decode.Connection
	byID := map[string]*decode.Connection{}
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
			c = &decode.Connection{ID: newID(own), Source: "har", State: decode.StateNotWebSocket}
			conns = append(conns, c)
			if own != "" {
				byID[own] = c
			}
		}
		if wv.ok {
			c.Client = wv.key("client").str()
			c.Server = wv.key("server").str()
		}
		if harIsWebSocket(ev) {
			l.harWebSocket(c, ev, wv)
		} else {
			l.harExchange(c, ev)
		}
	}
	return conns
}

// harIsWebSocket tells a WebSocket entry from a plain HTTP one.
func harIsWebSocket(ev val) bool {
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

// harTimes returns when the request started and when its response head
// arrived: startedDateTime plus the timings up to wait.
func harTimes(ev val) (started, answered time.Time) {
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

// harURL parses a request URL, reporting a bad one at its path.
func harURL(v val) *url.URL {
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

// requestTarget is the origin-form target of a URL (RFC 9112 3.2.1): its
// path and query as they are written in the URL.
func requestTarget(u *url.URL, raw string) string {
	rest := raw
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[i:]
	} else {
		rest = ""
	}
	rest, _, _ = strings.Cut(rest, "#")
	if rest == "" || rest[0] == '?' {
		rest = "/" + rest
	}
	return rest
}

func harHeaders(v val) []decode.Header {
	var hs []decode.Header
	for _, hv := range v.list() {
		if !hv.require().object() {
			continue
		}
		hs = append(hs, decode.Header{Name: hv.key("name").require().str(), Value: hv.key("value").str()})
	}
	return hs
}

// harRequest reads a HAR request; u is its parsed URL.
func harRequest(rv val, u *url.URL, started time.Time) *decode.Request {
	r := &decode.Request{
		Method:  rv.key("method").str(),
		Target:  requestTarget(u, rv.key("url").str()),
		Proto:   rv.key("httpVersion").str(),
		Headers: harHeaders(rv.key("headers")),
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
		r.Body = harText(pd)
	}
	r.BodySize = harSize(rv.key("bodySize"), len(r.Body))
	return r
}

// harSize reads a bodySize: tools write -1 for unknown, and Chrome writes
// negative sizes for bodies served from cache; those mean "unknown", and
// the size of the body that is there stands in.
func harSize(v val, have int) int64 {
	f := v.float(-1)
	if f < 0 || f > math.MaxInt64/2 {
		return int64(have)
	}
	return int64(f)
}

// harText reads "text", base64-decoded when "encoding" (or wstap's
// "_encoding" on postData) says base64.
func harText(v val) []byte {
	t := v.key("text")
	if !t.ok {
		return nil
	}
	if v.key("encoding").str() == "base64" || v.key("_encoding").str() == "base64" {
		return t.base64()
	}
	return []byte(t.str())
}

// harResponse reads a HAR response; status 0 means none was received
// (Chrome writes that for a request that failed) and gives nil.
func harResponse(rv val, answered time.Time) *decode.Response {
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
		Headers: harHeaders(rv.key("headers")),
		Time:    answered,
	}
	if cv := rv.key("content"); cv.object() {
		r.Body = harText(cv)
	}
	r.BodySize = harSize(rv.key("bodySize"), len(r.Body))
	return r
}

// harExchange adds a plain HTTP entry to c.
func (l *loader) harExchange(c *decode.Connection, ev val) {
	rv := ev.key("request").require()
	if !rv.object() {
		return
	}
	u := harURL(rv.key("url"))
	if u == nil {
		return
	}
	started, answered := harTimes(ev)
	x := decode.Exchange{Request: harRequest(rv, u, started), Response: harResponse(ev.key("response"), answered)}
	if x.Response == nil {
		x.Response = &decode.Response{}
	}
	c.Exchanges = append(c.Exchanges, x)
	c.Server = orDefault(c.Server, harServer(ev, u))
	touch(c, started)
	touch(c, answered)
}

// touch widens the connection's Opened..LastSeen span to t.
func touch(c *decode.Connection, t time.Time) {
	if t.IsZero() {
		return
	}
	if c.Opened.IsZero() || t.Before(c.Opened) {
		c.Opened = t
	}
	if t.After(c.LastSeen) {
		c.LastSeen = t
	}
}

// harServer is the server address: serverIPAddress (Chrome writes it in
// brackets for IPv6) with the URL's port, or the URL's host and port.
func harServer(ev val, u *url.URL) string {
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
func (l *loader) harWebSocket(c *decode.Connection, ev, wv val) {
	rv := ev.key("request").require()
	if !rv.object() {
		return
	}
	uv := rv.key("url")
	u := harURL(uv)
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
	started, answered := harTimes(ev)
	c.Request = harRequest(rv, u, started)
	c.Response = harResponse(ev.key("response"), answered)
	c.Server = orDefault(c.Server, harServer(ev, u))
	touch(c, started)
	touch(c, answered)
	if d := ev.key("time").float(-1); d > 0 && !started.IsZero() {
		touch(c, started.Add(time.Duration(d*float64(time.Millisecond))))
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
			p := jsonProblem(pv)
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

// harMessageTime converts a _webSocketMessages time, in epoch seconds or
// (from 1e11 on) epoch milliseconds, to a time with microseconds.
func harMessageTime(v val) time.Time {
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
func (l *loader) harMessage(c *decode.Connection, mv val) {
	typ := mv.key("type").require().str()
	t := harMessageTime(mv.key("time").require())
	touch(c, t)
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

// joinHeader joins every instance of a list header (RFC 9110 5.3).
func joinHeader(hs []decode.Header, name string) string {
	var parts []string
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			parts = append(parts, h.Value)
		}
	}
	return strings.Join(parts, ", ")
}

// deflateParams reads accepted permessage-deflate parameters
// (RFC 7692 7.1) from a Sec-WebSocket-Extensions value, or nil when the
// extension is not there. The payloads in a HAR are already inflated; the
// parameters are kept to be shown.
func deflateParams(exts string) *decode.DeflateParams {
	list, _ := decode.ParseExtensions(exts)
	for _, e := range list {
		if !strings.EqualFold(e.Name, "permessage-deflate") {
			continue
		}
		p := &decode.DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
		for _, prm := range e.Params {
			bits, err := strconv.Atoi(prm.Value)
			ok := err == nil && bits >= 8 && bits <= 15
			switch strings.ToLower(prm.Name) {
			case "server_no_context_takeover":
				p.ServerNoContextTakeover = true
			case "client_no_context_takeover":
				p.ClientNoContextTakeover = true
			case "server_max_window_bits":
				if ok {
					p.ServerMaxWindowBits = bits
				}
			case "client_max_window_bits":
				if ok {
					p.ClientMaxWindowBits = bits
				}
			}
		}
		return p
	}
	return nil
}
