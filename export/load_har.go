package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
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

// maxWaitingConnections bounds the connections of a HAR that wait for more
// entries: those that had plain exchanges under a _wstap.id and may still
// get their WebSocket entry. wstap writes a connection's entries one after
// the other, so at most one really waits; past the bound (a file that
// interleaves thousands of them) the one that waited longest is ended, and
// a later entry with its id starts a connection of its own.
const maxWaitingConnections = 4096

// maxHeldProblems bounds the problems of a WebSocket entry held until its
// messages are read: a _wstap that precedes _webSocketMessages (wstap
// writes it after them, where nothing is held) has its problems checked
// against the number of messages, which is known only at the end. wstap
// writes at most 100 problems of a kind (decode.Options), a few thousand
// in all; a file that lists more before its messages is refused.
const maxHeldProblems = 1 << 14

// loadHAR reads a HAR, its "log" object open at start. What it accepts and
// how:
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
//     size such a frame has; the stream offset is unknown (-1). The frame
//     is emitted without its payload, which is its message's.
//   - The response time is startedDateTime plus the timings before receive;
//     the connection was last seen at its last message or at the entry's
//     end, whichever is later.
//
// Members this reader does not use are ignored, and a member that is
// missing is treated as unknown, except those without which the entry
// means nothing: log, log.entries, request, request.url, and type, time,
// opcode and data of a message.
//
// Entries stream: a WebSocket entry's messages are emitted as they are
// read, and the entry is committed to its connection at the first of
// them, which opens with what the entry said before it (Chrome, mitmproxy
// and wstap write the request, the response and the timings first); the
// rest is set by the end of the entry, which ends the connection. wstap
// writes _wstap (the id, the client address, the state, the problems)
// after the messages; the id is known before them from "connection",
// which wstap writes first, when log.creator says the file is wstap's.
// An entry whose id comes only after its messages (a file whose members
// were sorted, or whose creator was rewritten) is a connection of its
// own, with a number for an id. Exchanges under an id wait for the
// WebSocket entry with that id (see maxWaitingConnections); those still
// waiting end with the entries. Entries without an id are a connection
// each, ended with the entry.
func (l *loader) loadHAR(start int64) error {
	entriesAt := l.place(start, append(l.path, pathEl{key: "entries"}))
	h := &harState{waiting: map[string]*harConn{}}
	seen := false
	if err := l.members(func(k string) (err error) {
		switch {
		case k == "entries" && !seen:
			seen = true
			err = l.harEntries(h)
		case k == "creator":
			// Lenient: nothing but the hint above depends on it.
			var it *item
			if it, err = l.readItem(); err == nil {
				if n := it.root().key("name"); n.ok && n.raw[0] == '"' {
					h.byWstap = n.str() == "wstap"
				}
			}
		default:
			err = l.skip()
		}
		return err
	}); err != nil {
		return err
	}
	if !seen {
		return failAt(entriesAt, "required member is missing")
	}
	return nil
}

// harState is what a HAR's connections share while it is read.
type harState struct {
	// byWstap is set when log.creator.name is "wstap": then an entry's
	// "connection" is its _wstap.id.
	byWstap bool
	// waiting are the connections that had plain exchanges under an id
	// and may get more entries, by id, and in the order they started.
	waiting map[string]*harConn
	order   []*harConn
	ids     idMaker
}

// harConn is a connection being loaded from a HAR.
type harConn struct {
	conn
	key     string    // its _wstap.id while it waits for more entries
	ended   bool      // EventClosed was emitted
	started bool      // a data message was loaded
	first   time.Time // the time of its first data message
	hdr     [decode.MaxFrameHeaderSize]byte
}

// idMaker invents the IDs of HAR entries that have none, as Load always
// did: the smallest number from 1 on that no connection has taken. It
// keeps only the taken numbers past the smallest free one, which stay few
// when a file numbers its connections in order, as wstap does.
type idMaker struct {
	next  int // the smallest number that may be free
	taken map[int]bool
}

// take notes an ID from the file.
func (m *idMaker) take(id string) {
	m.next = max(m.next, 1)
	n, err := strconv.Atoi(id)
	if err != nil || strconv.Itoa(n) != id || n < m.next {
		return
	}
	if m.taken == nil {
		m.taken = map[int]bool{}
	}
	m.taken[n] = true
	m.skipTaken()
}

// skipTaken moves next past the numbers taken.
func (m *idMaker) skipTaken() {
	for m.taken[m.next] {
		delete(m.taken, m.next)
		m.next++
	}
}

// make returns a new ID.
func (m *idMaker) make() string {
	m.next = max(m.next, 1)
	m.skipTaken()
	m.next++
	return strconv.Itoa(m.next - 1)
}

// harEntries reads log.entries.
func (l *loader) harEntries(h *harState) error {
	ok, start, err := l.open('[')
	if err != nil {
		return err
	}
	if !ok {
		return l.errorAt(start, errors.New("required member is missing"))
	}
	for i := 0; l.t.more(); i++ {
		l.push(pathEl{idx: i})
		if err := l.harEntry(h); err != nil {
			return err
		}
		l.pop()
	}
	if err := l.t.end(); err != nil {
		return err
	}
	for _, hc := range slices.Clone(h.order) { // harEnd shortens it
		if err := l.harEnd(h, hc); err != nil {
			return err
		}
	}
	h.order = nil
	return nil
}

// harEntry collects the members of an entry as they are read.
type harEntry struct {
	conn *harConn // once committed

	resourceType string
	// messages is set when _webSocketMessages is there (even empty), and
	// messagesRead once it is read whole.
	messages, messagesRead bool

	request     bool // present (null included)
	req         *decode.Request
	u           *url.URL
	rawURL      string
	resp        *decode.Response
	upgrade     bool // answered 101 with Upgrade: websocket
	started     time.Time
	wait        time.Duration // the timings before the response
	timingsErr  error         // a bad timing, which counts only with a start time
	serverIP    string
	duration    float64 // "time", in milliseconds; -1 when unknown
	durationErr error
	connection  string

	wstap                 bool // _wstap is there
	id, client, server    string
	state                 string
	stateErr, problemsErr error
	problems              []decode.Problem // held until the messages are read
	prevServer            string
}

// harEntry reads one entry of log.entries and emits what it holds.
func (l *loader) harEntry(h *harState) error {
	ok, start, err := l.open('{')
	if err != nil {
		return err
	}
	if !ok {
		return l.errorAt(start, errors.New("required member is missing"))
	}
	requestAt := l.place(start, append(l.path, pathEl{key: "request"}))
	e := &harEntry{duration: -1}
	if err := l.members(func(k string) (err error) {
		switch k {
		case "_webSocketMessages":
			err = l.harMessages(h, e)
		case "_wstap":
			err = l.harWstap(e)
		default:
			err = l.harMember(e, k)
		}
		return err
	}); err != nil {
		return err
	}
	if !e.request {
		return failAt(requestAt, "required member is missing")
	}
	if e.conn != nil || e.isWebSocket() {
		return l.harWebSocketEnd(h, e)
	}
	return l.harExchange(h, e)
}

// harMember reads a member of an entry other than its messages and _wstap.
// Each is checked as it is read when Load always checked it; "time" and
// the timings count only on a WebSocket entry and with a start time, and
// their errors wait until that is known.
func (l *loader) harMember(e *harEntry, k string) error {
	switch k {
	case "request", "response", "startedDateTime", "timings", "serverIPAddress", "_resourceType", "time", "connection":
	default:
		return l.skip()
	}
	it, err := l.readItem()
	if err != nil {
		return err
	}
	v := it.root()
	switch k {
	case "request":
		e.request = true
		v.require()
		if v.object() {
			e.u = harURL(v.key("url"))
			if e.u != nil {
				e.rawURL = v.key("url").str()
				e.req = harRequest(v, e.u)
			}
		}
	case "response":
		e.resp, e.upgrade = harResponse(v)
	case "startedDateTime":
		e.started = v.time()
	case "timings":
		var ms float64
		for _, t := range [...]string{"blocked", "dns", "connect", "ssl", "send", "wait"} {
			// ssl is included in connect (HAR 1.2 timings), so it is not added twice.
			if f := v.key(t).float(-1); f > 0 && t != "ssl" {
				ms += f
			}
		}
		e.wait = time.Duration(ms * float64(time.Millisecond))
		e.timingsErr, it.err = it.check(), nil
	case "serverIPAddress":
		e.serverIP = v.str()
	case "_resourceType":
		e.resourceType = v.str()
	case "time":
		e.duration = v.float(-1)
		e.durationErr, it.err = it.check(), nil
	case "connection":
		if v.ok && v.raw[0] == '"' {
			e.connection = v.str()
		}
	}
	return it.check()
}

// isWebSocket tells a WebSocket entry from a plain HTTP one.
func (e *harEntry) isWebSocket() bool {
	u := strings.ToLower(e.rawURL)
	return e.resourceType == "websocket" || e.messages ||
		strings.HasPrefix(u, "ws:") || strings.HasPrefix(u, "wss:") || e.upgrade
}

// times returns when the request started and when its response head
// arrived: startedDateTime plus the timings up to wait.
func (e *harEntry) times() (started, answered time.Time, err error) {
	if e.started.IsZero() {
		return e.started, e.started, nil
	}
	return e.started, e.started.Add(e.wait), e.timingsErr
}

// harURL parses a request URL, reporting a bad one at its path.
func harURL(v val) *url.URL {
	s := v.require().str()
	if v.it.err != nil {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		if err == nil {
			v.fail("not an absolute URL: %q", s)
		} else {
			v.fail("not a URL: %v", err)
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
	for e := v.list(); e.next(); {
		hv := e.val()
		if !hv.require().object() {
			continue
		}
		hs = append(hs, decode.Header{Name: hv.key("name").require().str(), Value: hv.key("value").str()})
	}
	return hs
}

// harRequest reads a HAR request; u is its parsed URL. Its time is the
// entry's start, set when the entry is done.
func harRequest(rv val, u *url.URL) *decode.Request {
	r := &decode.Request{
		Method:  rv.key("method").str(),
		Target:  requestTarget(u, rv.key("url").str()),
		Proto:   rv.key("httpVersion").str(),
		Headers: harHeaders(rv.key("headers")),
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
// "_encoding" on postData) says base64. The body is the connection's to
// keep, so it is copied out of the loader's buffers.
func harText(v val) []byte {
	t := v.key("text")
	if !t.ok {
		return nil
	}
	if v.key("encoding").peek() == "base64" || v.key("_encoding").peek() == "base64" {
		return clone(t.base64())
	}
	return clone(t.text())
}

// clone copies b, keeping nil and empty apart.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// harResponse reads a HAR response, and whether it accepted a WebSocket
// upgrade; status 0 means none was received (Chrome writes that for a
// request that failed) and gives nil. Its time is set when the entry is
// done.
func harResponse(rv val) (*decode.Response, bool) {
	if !rv.object() {
		return nil, false
	}
	status := int(rv.key("status").integer(0, 0, 999))
	if status == 0 {
		return nil, false
	}
	r := &decode.Response{
		Proto:   rv.key("httpVersion").str(),
		Status:  status,
		Reason:  rv.key("statusText").str(),
		Headers: harHeaders(rv.key("headers")),
	}
	if cv := rv.key("content"); cv.object() {
		r.Body = harText(cv)
	}
	r.BodySize = harSize(rv.key("bodySize"), len(r.Body))
	upgrade := false
	if status == 101 {
		for _, h := range r.Headers {
			if strings.EqualFold(h.Name, "Upgrade") && strings.Contains(strings.ToLower(h.Value), "websocket") {
				upgrade = true
			}
		}
	}
	return r, upgrade
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
func (e *harEntry) harServer() string {
	u := e.u
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https", "wss":
			port = "443"
		default:
			port = "80"
		}
	}
	host := strings.Trim(e.serverIP, "[]")
	if net.ParseIP(host) == nil {
		host = u.Hostname()
	}
	return net.JoinHostPort(host, port)
}

// harWstap reads wstap's own member of an entry. Its state and problems
// count only on a WebSocket entry, and problems are held until the
// entry's messages are read (they point at them), unless they already are.
func (l *loader) harWstap(e *harEntry) error {
	ok, _, err := l.open('{')
	if err != nil || !ok {
		return err
	}
	e.wstap = true
	return l.members(func(k string) (err error) {
		switch k {
		case "problems":
			err = l.harProblems(e)
		case "id", "client", "server", "state":
			var it *item
			if it, err = l.readItem(); err != nil {
				return err
			}
			s := it.root().str()
			switch k {
			case "id":
				e.id = s
			case "client":
				e.client = s
			case "server":
				e.server = s
			case "state":
				e.state, e.stateErr, it.err = s, it.check(), nil
			}
			err = it.check()
		default:
			err = l.skip()
		}
		return err
	})
}

// harProblems reads _wstap.problems.
func (l *loader) harProblems(e *harEntry) error {
	tok, start, err := l.t.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		if tok != nil && e.problemsErr == nil {
			e.problemsErr = l.errorAt(start, fmt.Errorf("expected an array, found %s", tokenKind(tok)))
		}
		if tok == json.Delim('{') {
			return l.skipRest()
		}
		return nil
	}
	for i := 0; l.t.more(); i++ {
		l.push(pathEl{idx: i})
		it, err := l.readItem()
		if err != nil {
			return err
		}
		var p decode.Problem
		if v := it.root(); v.require().object() {
			p = jsonProblem(v)
		}
		switch err := it.check(); {
		case err != nil && e.conn != nil:
			return err // a WebSocket entry: wrong now
		case err != nil:
			if e.problemsErr == nil {
				e.problemsErr = err
			}
		case e.conn != nil && e.messagesRead:
			if err := l.harProblem(e.conn, p); err != nil {
				return err
			}
		case len(e.problems) < maxHeldProblems:
			e.problems = append(e.problems, p)
		default:
			return l.errorAt(it.off, fmt.Errorf("more than %d problems before the entry's _webSocketMessages; wstap writes them after", maxHeldProblems))
		}
		l.pop()
	}
	return l.t.end()
}

// harProblem emits a problem of _wstap. Frames are rebuilt one per
// message, so a problem keeps its message and points at that message's
// frame; stream offsets are not in a HAR.
func (l *loader) harProblem(hc *harConn, p decode.Problem) error {
	p.Frame, p.Offset = -1, -1
	if p.MessageIndex >= hc.c.MessageCount {
		p.MessageIndex = -1
	}
	if p.MessageIndex >= 0 {
		p.Frame = p.MessageIndex
	}
	l.problem = p
	return l.sendProblem(&hc.conn, &l.problem)
}

// harMessages reads _webSocketMessages, emitting each message as it is
// read; the entry is committed to its connection at the first.
func (l *loader) harMessages(h *harState, e *harEntry) error {
	ok, _, err := l.open('[')
	if err != nil || !ok {
		return err
	}
	e.messages = true
	for i := 0; l.t.more(); i++ {
		l.push(pathEl{idx: i})
		it, err := l.readItem()
		if err != nil {
			return err
		}
		if v := it.root(); v.require().object() {
			err = l.harMessage(h, e, v)
		}
		if err == nil {
			err = it.check()
		}
		if err != nil {
			return err
		}
		l.pop()
	}
	e.messagesRead = true
	return l.t.end()
}

// harMessageTime converts a _webSocketMessages time, in epoch seconds or
// (from 1e11 on) epoch milliseconds, to a time with microseconds.
func harMessageTime(v val) time.Time {
	f := v.float(0)
	if v.it.err != nil {
		return time.Time{}
	}
	if math.IsNaN(f) || math.Abs(f) >= 1e15 {
		v.fail("time %v is out of range for epoch seconds or milliseconds", f)
		return time.Time{}
	}
	if math.Abs(f) >= 1e11 {
		return time.UnixMicro(int64(math.Round(f * 1e3))).UTC()
	}
	return time.UnixMicro(int64(math.Round(f * 1e6))).UTC()
}

// harMessage emits one _webSocketMessages item: a frame and its message,
// or a problem.
func (l *loader) harMessage(h *harState, e *harEntry, mv val) error {
	typ := mv.key("type").require().peek()
	t := harMessageTime(mv.key("time").require())
	var from decode.Side
	switch typ {
	case "send":
		from = decode.Client
	case "receive":
		from = decode.Server
	case "error":
		text := mv.key("data").str()
		if err := mv.it.check(); err != nil {
			return err
		}
		hc, err := l.harCommit(h, e, true)
		if err != nil {
			return err
		}
		touch(hc.c, t)
		l.problem = decode.Problem{
			Severity: decode.Error, Kind: KindRecordedError, From: decode.Client, Time: t,
			Message: "the recording tool logged an error on this connection: " + text,
			Frame:   -1, MessageIndex: -1, Offset: -1,
		}
		return l.sendProblem(&hc.conn, &l.problem)
	default:
		mv.key("type").fail(`expected "send", "receive" or "error", found %q`, typ)
		return mv.it.check()
	}
	op := decode.Opcode(mv.key("opcode").require().integer(0, 0, 15))
	dv := mv.key("data").require()
	var payload []byte
	if op == decode.OpText && mv.key("_encoding").peek() != "base64" {
		payload = dv.text()
	} else {
		payload = dv.base64()
	}
	truncated := mv.key("_truncated").boolean()
	if err := mv.it.check(); err != nil {
		return err
	}
	hc, err := l.harCommit(h, e, true)
	if err != nil {
		return err
	}
	c := hc.c
	touch(c, t)
	if !hc.started {
		hc.started, hc.first = true, t
		if c.Response != nil && t.Before(c.Response.Time) {
			// Tools differ in what their timings cover (Chrome counts the
			// whole connection as wait); the 101 came before the first
			// message.
			c.Response.Time = t
		}
	}
	hdr := decode.AppendFrameHeader(hc.hdr[:0], decode.FrameHeader{Fin: true, Opcode: op, Length: uint64(len(payload))})
	fi, mi := c.FrameCount, c.MessageCount
	l.frame = decode.Frame{
		From: from, Time: t, Offset: -1, Fin: true, Opcode: op,
		Length: uint64(len(payload)), HeaderLen: len(hdr), Message: mi,
	}
	if err := l.sendFrame(&hc.conn, &l.frame); err != nil {
		return err
	}
	l.indexes = append(l.indexes[:0], fi)
	m := &l.message
	*m = decode.Message{
		From: from, Time: t, LastTime: t, Opcode: op, Frames: l.indexes,
		WireSize: int64(len(hdr) + len(payload)), Size: int64(len(payload)), Payload: payload,
		Truncated: truncated,
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
	return l.sendMessage(&hc.conn, m)
}

// harCommit decides, at the first message of a WebSocket entry (early) or
// at its end, which connection the entry is: the one its id names (from
// _wstap or, early in a file wstap wrote, from "connection") or a new one;
// and opens it with what the entry said so far.
func (l *loader) harCommit(h *harState, e *harEntry, early bool) (*harConn, error) {
	if e.conn != nil {
		return e.conn, nil
	}
	key := ""
	switch {
	case e.wstap:
		key = e.id
	case early && h.byWstap:
		key = e.connection
	}
	hc, err := l.harConnFor(h, key)
	if err != nil {
		return nil, err
	}
	e.conn = hc
	e.prevServer = hc.c.Server
	if e.wstap {
		hc.c.Client, hc.c.Server = e.client, e.server
	}
	e.applyWebSocket(hc)
	return hc, l.opened(&hc.conn)
}

// harConnFor returns the connection waiting under key, or a new one
// (waiting under key unless it is "").
func (l *loader) harConnFor(h *harState, key string) (*harConn, error) {
	if hc := h.waiting[key]; key != "" && hc != nil {
		return hc, nil
	}
	id := key
	if id == "" {
		id = h.ids.make()
	} else {
		h.ids.take(id)
	}
	hc := &harConn{conn: conn{c: &decode.Connection{ID: id, Source: "har", State: decode.StateNotWebSocket}}}
	if key == "" {
		return hc, nil
	}
	hc.key = key
	h.waiting[key] = hc
	h.order = append(h.order, hc)
	if len(h.waiting) > maxWaitingConnections {
		for _, old := range h.order {
			if !old.ended {
				if err := l.harEnd(h, old); err != nil {
					return nil, err
				}
				break
			}
		}
	}
	return hc, nil
}

// harEnd ends a connection: no more entries for it.
func (l *loader) harEnd(h *harState, hc *harConn) error {
	if hc.ended {
		return nil
	}
	hc.ended = true
	if hc.key != "" && h.waiting[hc.key] == hc {
		delete(h.waiting, hc.key)
		// Drop the ended from the order once they are most of it, so
		// that it holds about as many as wait, whichever end.
		if len(h.order) > 2*len(h.waiting)+64 {
			h.order = slices.DeleteFunc(h.order, func(c *harConn) bool { return c.ended })
		}
	}
	return l.sendClosed(&hc.conn)
}

// applyWebSocket sets on the connection what a WebSocket entry says,
// from what has been read of it. It runs at the commit and again at the
// end of the entry, when everything is known.
func (e *harEntry) applyWebSocket(hc *harConn) {
	c := hc.c
	if e.req == nil {
		return
	}
	raw := e.rawURL
	switch strings.ToLower(e.u.Scheme) {
	case "http":
		raw = "ws" + raw[len("http"):]
	case "https":
		raw = "wss" + raw[len("https"):]
	}
	c.URL = raw
	c.TLS = strings.HasPrefix(strings.ToLower(raw), "wss:")
	started, answered, _ := e.times()
	c.Request = e.req
	c.Request.Time = started
	c.Response = e.resp
	if c.Response != nil {
		c.Response.Time = answered
		if hc.started && hc.first.Before(answered) {
			c.Response.Time = hc.first
		}
	}
	server := e.prevServer
	if e.wstap {
		server = e.server
	}
	c.Server = orDefault(server, e.harServer())
	touch(c, started)
	touch(c, answered)
	if e.duration > 0 && !started.IsZero() {
		touch(c, started.Add(time.Duration(e.duration*float64(time.Millisecond))))
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
}

// harWebSocketEnd finishes a WebSocket entry: what came after its messages
// goes on the connection, and the connection ends.
func (l *loader) harWebSocketEnd(h *harState, e *harEntry) error {
	hc, err := l.harCommit(h, e, false)
	if err != nil {
		return err
	}
	c := hc.c
	if e.wstap {
		c.Client = e.client
	}
	e.applyWebSocket(hc)
	for _, err := range [...]error{e.timingsErrIfStarted(), e.durationErr} {
		if err != nil {
			return err
		}
	}
	if e.wstap {
		if e.stateErr != nil {
			return e.stateErr
		}
		if s, ok := parseState(e.state); ok {
			c.State = s
		}
		if e.problemsErr != nil {
			return e.problemsErr
		}
		for _, p := range e.problems {
			if err := l.harProblem(hc, p); err != nil {
				return err
			}
		}
	}
	return l.harEnd(h, hc)
}

func (e *harEntry) timingsErrIfStarted() error {
	_, _, err := e.times()
	return err
}

// harExchange adds a plain HTTP entry to its connection: the one its id
// names, which then waits for more, or one of its own, which ends here.
func (l *loader) harExchange(h *harState, e *harEntry) error {
	if e.req == nil {
		return nil // the request was wrong, and said so
	}
	key := ""
	if e.wstap {
		key = e.id
	}
	hc, err := l.harConnFor(h, key)
	if err != nil {
		return err
	}
	c := hc.c
	if e.wstap {
		c.Client, c.Server = e.client, e.server
	}
	started, answered, err := e.times()
	if err != nil {
		return err
	}
	x := &l.exchange
	*x = decode.Exchange{Request: e.req, Response: e.resp}
	x.Request.Time = started
	if x.Response == nil {
		x.Response = &decode.Response{}
	} else {
		x.Response.Time = answered
	}
	c.Server = orDefault(c.Server, e.harServer())
	touch(c, started)
	touch(c, answered)
	if err := l.sendExchange(&hc.conn, x); err != nil {
		return err
	}
	if key == "" {
		return l.harEnd(h, hc)
	}
	return nil
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
