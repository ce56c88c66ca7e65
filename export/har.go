package export

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// HARWriter writes HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/)
// in the shape Chrome DevTools writes and imports for WebSockets: one entry
// per connection with "_resourceType": "websocket", the handshake as request
// and response, and "_webSocketMessages" holding every message, control
// messages included. Plain HTTP exchanges seen on a connection become
// ordinary entries before it.
//
// What a HAR has no field for is written honestly: blocked, dns, connect and
// ssl timings are -1 (not measured), headersSize is -1 (the head is parsed,
// not kept byte for byte), "send" and "receive" are 0 and "wait" is the time
// from the request to the response head, and serverIPAddress is the bare
// server IP or absent. A text message whose payload is not UTF-8 (or could
// not be inflated) is written base64 with "_encoding": "base64", where
// Chrome would have written text; "_truncated" marks a payload not kept
// whole. wstap's own details (connection id, addresses, state, problems)
// are under "_wstap", which other tools ignore.
//
// It streams like JSONWriter and is not safe for concurrent use.
type HARWriter struct {
	e    *jw
	opts Options
	n    int
	done bool
	src  storeReader
}

// NewHARWriter starts a HAR on w.
func NewHARWriter(w io.Writer, opts Options) *HARWriter {
	h := &HARWriter{e: newJW(w), opts: opts}
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	h.e.raw("{\n  \"log\": {\n    \"version\": \"1.2\",\n    \"creator\": {\"name\": \"wstap\", \"version\": ")
	h.e.str(version)
	h.e.raw("},\n    \"pages\": [],\n    \"entries\": [")
	return h
}

// Write appends the entries of one connection, read from src piece by
// piece, and flushes them.
func (h *HARWriter) Write(src session.ConnSource) error {
	if h.done {
		return errors.New("HAR export: write after close")
	}
	c := src.Meta()
	for i := range c.ExchangeCount {
		x, err := src.Exchange(i)
		if err != nil {
			return fmt.Errorf("reading connection %s for the HAR export: %w", c.ID, err)
		}
		h.entry()
		writeExchangeEntry(h.e, c, i, x, h.opts.Redact)
	}
	if isWebSocketEntry(c) {
		h.entry()
		if err := writeWebSocketEntry(h.e, src, h.opts.Redact); err != nil {
			return fmt.Errorf("reading connection %s for the HAR export: %w", c.ID, err)
		}
	}
	if err := h.e.flush(); err != nil {
		return fmt.Errorf("writing connection %s as HAR: %w", c.ID, err)
	}
	return nil
}

// WriteConn writes connection id of the store (see JSONWriter.WriteConn).
func (h *HARWriter) WriteConn(s *session.Store, id session.ConnID) error {
	src, err := h.src.source(s, id)
	if err != nil {
		return err
	}
	return h.Write(src)
}

// Flush is a no-op: Write flushes each connection.
func (h *HARWriter) Flush() error { return nil }

func (h *HARWriter) entry() {
	if h.n > 0 {
		h.e.raw(",")
	}
	h.n++
	h.e.raw("\n      ")
}

// Close writes the end of the document and flushes. It does not close the
// underlying writer.
func (h *HARWriter) Close() error {
	if h.done {
		return h.e.err
	}
	h.done = true
	if h.n > 0 {
		h.e.raw("\n    ")
	}
	h.e.raw("]\n  }\n}\n")
	if err := h.e.flush(); err != nil {
		return fmt.Errorf("finishing the HAR export: %w", err)
	}
	return nil
}

// isWebSocketEntry reports whether c gets a WebSocket entry: anything but
// a connection that only carried plain HTTP.
func isWebSocketEntry(c *decode.Connection) bool {
	return c.Request != nil || c.Response != nil || c.MessageCount > 0 ||
		(c.State != decode.StateNotWebSocket && c.ExchangeCount == 0)
}

const entryIndent = "        "

// writeWebSocketEntry writes the entry of the connection itself. It
// returns the first error reading src.
func writeWebSocketEntry(e *jw, src session.ConnSource, r Redaction) error {
	c := src.Meta()
	var err error
	req := c.Request
	if req == nil {
		req = &decode.Request{}
	}
	started := firstTime(req.Time, c.Opened, c.LastSeen)
	var wait time.Duration
	if c.Response != nil && !req.Time.IsZero() && !c.Response.Time.IsZero() {
		wait = max(0, c.Response.Time.Sub(req.Time))
	}
	rawURL := c.URL
	if rawURL == "" {
		scheme := "ws"
		if c.TLS {
			scheme = "wss"
		}
		rawURL = scheme + "://" + hostOr(c.Server, "unknown") + orSlash(req.Target)
	}

	o := e.object(entryIndent)
	writeEntryHead(e, &o, c, started, wait, req, rawURL, c.Response, r)
	o.str("_resourceType", "websocket")
	// _wstap comes before the messages, so that a reader that streams
	// (LoadEvents) knows the connection's addresses and state before its
	// first message.
	o.key("_wstap")
	w := e.object(entryIndent + "  ")
	wstapFields(&w, c)
	w.str("subprotocol", r.subprotocol(c.Subprotocol))
	w.str("extensions", c.Extensions)
	w.key("problems")
	writeList(e, entryIndent+"  ", c.ProblemCount, func(i int) {
		p, perr := src.Problem(i)
		err = cmp.Or(err, perr)
		writeProblemJSON(e, c, &p, r)
	})
	w.end()
	o.key("_webSocketMessages")
	err = cmp.Or(err, writeLongList(e, entryIndent, c.MessageCount, src, messageItems(writeHARMessage)))
	o.end()
	return err
}

// writeEntryHead writes the members every HAR entry has, WebSocket or
// plain: start, time, request, response, cache, timings, server address
// and connection.
func writeEntryHead(e *jw, o *obj, c *decode.Connection, started time.Time, wait time.Duration, req *decode.Request, rawURL string, resp *decode.Response, r Redaction) {
	o.key("startedDateTime").time(started)
	o.key("time").millis(wait)
	o.key("request")
	writeHARRequest(e, req, rawURL, r)
	o.key("response")
	writeHARResponse(e, resp, r)
	o.key("cache").raw("{}")
	o.key("timings")
	writeTimings(e, wait)
	if ip := serverIP(c.Server); ip != "" {
		o.str("serverIPAddress", ip)
	}
	o.str("connection", c.ID)
}

// writeExchangeEntry writes plain exchange i of c, x, as an ordinary entry.
func writeExchangeEntry(e *jw, c *decode.Connection, i int, x decode.Exchange, r Redaction) {
	req := x.Request
	if req == nil {
		req = &decode.Request{}
	}
	var wait time.Duration
	if x.Response != nil && !req.Time.IsZero() && !x.Response.Time.IsZero() {
		wait = max(0, x.Response.Time.Sub(req.Time))
	}
	var respTime time.Time
	if x.Response != nil {
		respTime = x.Response.Time
	}
	o := e.object(entryIndent)
	writeEntryHead(e, &o, c, firstTime(req.Time, respTime, c.Opened), wait, req, httpURL(c, req), x.Response, r)
	o.key("_wstap")
	w := e.object("")
	wstapFields(&w, c)
	w.int("exchange", int64(i))
	w.end()
	o.end()
}

// wstapFields writes what identifies the connection in "_wstap".
func wstapFields(w *obj, c *decode.Connection) {
	w.str("id", c.ID)
	w.str("client", c.Client)
	w.str("server", c.Server)
	w.str("source", c.Source)
	w.str("protocol", c.Protocol.String())
	w.str("state", c.State.String())
}

// firstTime returns the first of ts that is known, or the Unix epoch: HAR
// requires a start time, and a connection loaded without any has none.
func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Unix(0, 0)
}

func hostOr(addr, def string) string {
	if addr == "" {
		return def
	}
	return addr
}

func orSlash(target string) string {
	if strings.HasPrefix(target, "/") {
		return target
	}
	return "/" + target
}

// httpURL rebuilds the URL of a plain request: absolute-form targets as
// they are (RFC 9112 3.2.2), otherwise from Host and the target.
func httpURL(c *decode.Connection, req *decode.Request) string {
	if strings.Contains(req.Target, "://") {
		return req.Target
	}
	scheme := "http"
	if c.TLS {
		scheme = "https"
	}
	host, _ := decode.Get(req.Headers, "Host")
	if host == "" {
		host = hostOr(c.Server, "unknown")
	}
	return scheme + "://" + host + orSlash(req.Target)
}

// serverIP returns the bare IP of a host:port address for serverIPAddress,
// which the HAR schema requires to be an IPv4 or IPv6 address: no port, no
// brackets, no zone. It returns "" when the host is a name.
func serverIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i]
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return ""
	}
	return ip.String()
}

func writeTimings(e *jw, wait time.Duration) {
	o := e.object("")
	o.int("blocked", -1)
	o.int("dns", -1)
	o.int("connect", -1)
	o.int("ssl", -1)
	o.int("send", 0)
	o.key("wait").millis(wait)
	o.int("receive", 0)
	o.end()
}

// writeHARRequest writes a HAR request for req at url.
func writeHARRequest(e *jw, req *decode.Request, rawURL string, r Redaction) {
	in := entryIndent + "  "
	o := e.object(in)
	method := req.Method
	if method == "" {
		method = "GET"
	}
	o.str("method", method)
	rawURL = r.target(rawURL)
	o.str("url", rawURL)
	o.str("httpVersion", orDefault(req.Proto, "HTTP/1.1"))
	hs := r.headers(req.Headers)
	o.key("cookies")
	writeCookies(e, requestCookies(hs, r))
	o.key("headers")
	writeHARHeaders(e, hs, in)
	o.key("queryString")
	qs := queryPairs(rawURL)
	writeList(e, "", len(qs), func(i int) {
		q := o1(e)
		q.str("name", qs[i][0])
		q.str("value", qs[i][1])
		q.end()
	})
	o.int("headersSize", -1)
	o.int("bodySize", req.BodySize)
	if len(req.Body) > 0 {
		p := o.key("postData").object("")
		ct, _ := decode.Get(req.Headers, "Content-Type")
		p.str("mimeType", ct)
		bodyText(&p, req.Body)
		p.end()
	}
	o.end()
}

// bodyText writes a body as "text", base64 with "encoding" when it is not
// UTF-8 (HAR 1.2 content.encoding).
func bodyText(o *obj, body []byte) {
	if utf8.Valid(body) {
		o.key("text").strBytes(body)
		return
	}
	o.key("text").base64(body)
	o.str("encoding", "base64")
}

// writeHARResponse writes a HAR response; resp nil (no answer captured) is
// status 0, as Chrome writes for a request that got none.
func writeHARResponse(e *jw, resp *decode.Response, r Redaction) {
	in := entryIndent + "  "
	o := e.object(in)
	if resp == nil {
		resp = &decode.Response{}
	}
	o.int("status", int64(resp.Status))
	o.str("statusText", resp.Reason)
	proto := resp.Proto
	if resp.Status != 0 {
		proto = orDefault(proto, "HTTP/1.1")
	}
	o.str("httpVersion", proto)
	hs := r.headers(resp.Headers)
	o.key("cookies")
	writeCookies(e, responseCookies(hs, r))
	o.key("headers")
	writeHARHeaders(e, hs, in)
	c := o.key("content").object("")
	c.int("size", max(resp.BodySize, int64(len(resp.Body))))
	mime, _ := decode.Get(resp.Headers, "Content-Type")
	if mime == "" || resp.Status == 101 {
		mime = "x-unknown"
	}
	c.str("mimeType", mime)
	if len(resp.Body) > 0 {
		bodyText(&c, resp.Body)
	}
	c.end()
	loc, _ := decode.Get(hs, "Location")
	o.str("redirectURL", loc)
	o.int("headersSize", -1)
	o.int("bodySize", resp.BodySize)
	o.end()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeHARHeaders writes headers in wire order. HAR has no place for bytes
// that are not UTF-8; they become U+FFFD here (the JSON export keeps them).
func writeHARHeaders(e *jw, hs []decode.Header, in string) {
	writeList(e, in, len(hs), func(i int) {
		h := o1(e)
		h.str("name", hs[i].Name)
		h.str("value", hs[i].Value)
		h.end()
	})
}

// harCookie is a cookie of a HAR request or response.
type harCookie struct {
	name, value, path, domain string
	expires                   time.Time
	httpOnly, secure          bool
}

func writeCookies(e *jw, cs []harCookie) {
	writeList(e, "", len(cs), func(i int) {
		c := &cs[i]
		o := o1(e)
		o.str("name", c.name)
		o.str("value", c.value)
		if c.path != "" {
			o.str("path", c.path)
		}
		if c.domain != "" {
			o.str("domain", c.domain)
		}
		if !c.expires.IsZero() {
			o.str("expires", c.expires.UTC().Format(time.RFC3339))
		}
		if c.httpOnly {
			o.bool("httpOnly", true)
		}
		if c.secure {
			o.bool("secure", true)
		}
		o.end()
	})
}

// requestCookies lists the cookies of the Cookie headers (RFC 6265 5.4). A
// redacted header lists none, so no value slips out through the list.
func requestCookies(hs []decode.Header, r Redaction) []harCookie {
	if r.header("Cookie") {
		return nil
	}
	var cs []harCookie
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Cookie") {
			continue
		}
		for _, part := range strings.Split(h.Value, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && name != "" {
				cs = append(cs, harCookie{name: name, value: value})
			}
		}
	}
	return cs
}

// responseCookies lists the cookies of the Set-Cookie headers
// (RFC 6265 4.1), or none when that header is redacted.
func responseCookies(hs []decode.Header, r Redaction) []harCookie {
	if r.header("Set-Cookie") {
		return nil
	}
	var cs []harCookie
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Set-Cookie") {
			continue
		}
		if c, err := http.ParseSetCookie(h.Value); err == nil {
			cs = append(cs, harCookie{name: c.Name, value: c.Value, path: c.Path, domain: c.Domain,
				expires: c.Expires, httpOnly: c.HttpOnly, secure: c.Secure})
			continue
		}
		first, _, _ := strings.Cut(h.Value, ";")
		if name, value, ok := strings.Cut(strings.TrimSpace(first), "="); ok && name != "" {
			cs = append(cs, harCookie{name: name, value: value})
		}
	}
	return cs
}

// queryPairs returns the query parameters of a URL in order, decoded; a
// parameter that does not decode is listed as it is written.
func queryPairs(rawURL string) [][2]string {
	_, q, ok := strings.Cut(rawURL, "?")
	if !ok {
		return nil
	}
	q, _, _ = strings.Cut(q, "#")
	var out [][2]string
	for _, p := range strings.Split(q, "&") {
		if p == "" {
			continue
		}
		name, value, _ := strings.Cut(p, "=")
		out = append(out, [2]string{unescapeQuery(name), unescapeQuery(value)})
	}
	return out
}

func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// writeHARMessage writes one _webSocketMessages item as Chrome does: type
// send (client to server) or receive, time in epoch seconds with
// microseconds, opcode, and data: text for a text message, base64
// otherwise.
func writeHARMessage(e *jw, m *decode.Message) {
	o := o1(e)
	if m.From == decode.Client {
		o.str("type", "send")
	} else {
		o.str("type", "receive")
	}
	o.key("time").epochSeconds(firstTime(m.Time))
	o.int("opcode", int64(m.Opcode))
	switch {
	case isText(m):
		o.key("data").strBytes(m.Payload)
	case m.Opcode == decode.OpText:
		o.key("data").base64(m.Payload)
		o.str("_encoding", "base64")
	default:
		o.key("data").base64(m.Payload)
	}
	if m.Truncated {
		o.bool("_truncated", true)
	}
	o.end()
}
