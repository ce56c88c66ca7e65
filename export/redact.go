package export

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/wstap/wstap/decode"
)

// Redacted replaces every value that redaction removes. A fixed marker,
// rather than an empty string or a dropped header, keeps the shape of the
// handshake visible: a reader of the bug report still sees that a cookie
// was sent, just not which one.
const Redacted = "REDACTED"

// Redaction says what to hide when a session is exported for sharing. The
// zero value hides nothing: exports are byte-faithful unless asked.
type Redaction struct {
	// Defaults hides the values of the credential headers (Authorization,
	// Proxy-Authorization, Cookie, Set-Cookie) and of token-like query
	// parameters (see tokenLikeQuery).
	Defaults bool
	// Headers are more header names whose values are hidden, compared
	// case-insensitively. Naming Sec-WebSocket-Protocol also hides the
	// negotiated subprotocol, which some APIs use to carry a bearer token.
	Headers []string
	// Query are more query parameter names whose values are hidden, in
	// URLs, request targets and the HAR queryString, compared
	// case-insensitively.
	Query []string
}

// defaultRedactedHeaders carry credentials by definition (RFC 9110 11.6.2,
// 11.7.2; RFC 6265 4).
var defaultRedactedHeaders = [...]string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// Enabled reports whether anything is hidden.
func (r Redaction) Enabled() bool {
	return r.Defaults || len(r.Headers) > 0 || len(r.Query) > 0
}

// header reports whether the value of header name is hidden.
func (r Redaction) header(name string) bool {
	if r.Defaults {
		for _, h := range defaultRedactedHeaders {
			if strings.EqualFold(h, name) {
				return true
			}
		}
	}
	for _, h := range r.Headers {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// query reports whether the value of query parameter name is hidden.
func (r Redaction) query(name string) bool {
	for _, q := range r.Query {
		if strings.EqualFold(q, name) {
			return true
		}
	}
	return r.Defaults && tokenLikeQuery(name)
}

// tokenLikeQuery reports whether a query parameter name looks like it
// carries a credential: names that contain token, secret, passw, apikey,
// api_key, api-key, auth, session, signature or credential, and the short
// names key, sig, code, jwt and sid. Browsers cannot set headers on a
// WebSocket handshake, so APIs pass tokens in the query string instead
// (access_token, api_key, X-Amz-Signature, ...).
func tokenLikeQuery(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "key", "sig", "code", "jwt", "sid":
		return true
	}
	for _, part := range [...]string{"token", "secret", "passw", "apikey", "api_key", "api-key", "auth", "session", "signature", "credential"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// headers returns hs with hidden values replaced. It returns hs itself when
// nothing in it is hidden, so that the common case copies nothing.
func (r Redaction) headers(hs []decode.Header) []decode.Header {
	if !r.Enabled() {
		return hs
	}
	var out []decode.Header
	for i, h := range hs {
		if !r.header(h.Name) {
			continue
		}
		if out == nil {
			out = append([]decode.Header(nil), hs...)
		}
		out[i].Value = Redacted
	}
	if out == nil {
		return hs
	}
	return out
}

// rawQuery hides the values of hidden parameters in a raw query string,
// keeping everything else byte for byte: the order, the encoding, and
// parameters without a value.
func (r Redaction) rawQuery(q string) string {
	if !r.Enabled() || q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	changed := false
	for i, p := range parts {
		name, _, has := strings.Cut(p, "=")
		if !has {
			continue
		}
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		if r.query(name) {
			parts[i] = p[:strings.IndexByte(p, '=')+1] + Redacted
			changed = true
		}
	}
	if !changed {
		return q
	}
	return strings.Join(parts, "&")
}

// target hides query parameter values in a request target or URL. The
// fragment, which is never sent, is left alone.
func (r Redaction) target(t string) string {
	if !r.Enabled() {
		return t
	}
	i := strings.IndexByte(t, '?')
	if i < 0 {
		return t
	}
	rest := t[i+1:]
	frag := ""
	if j := strings.IndexByte(rest, '#'); j >= 0 {
		rest, frag = rest[:j], rest[j:]
	}
	return t[:i+1] + r.rawQuery(rest) + frag
}

// subprotocol hides the negotiated subprotocol when its header is hidden.
func (r Redaction) subprotocol(p string) string {
	if p != "" && r.header("Sec-WebSocket-Protocol") {
		return Redacted
	}
	return p
}

// redactProblem hides, in a problem's text, the values of the headers of
// c's handshake that r hides: a few handshake problems quote them (a bad
// Sec-WebSocket-Key, a subprotocol that was not offered), and a redacted
// dump must not give away in a problem what it hides in the header line.
func redactProblem(c *decode.Connection, msg string, r Redaction) string {
	if !r.Enabled() || c == nil {
		return msg
	}
	var heads [2][]decode.Header
	if c.Request != nil {
		heads[0] = c.Request.Headers
	}
	if c.Response != nil {
		heads[1] = c.Response.Headers
	}
	for _, hs := range heads {
		for _, h := range hs {
			if r.header(h.Name) {
				msg = hideValue(msg, h.Value)
			}
		}
	}
	if sp := c.Subprotocol; sp != "" && r.subprotocol(sp) != sp {
		msg = hideValue(msg, sp)
	}
	return msg
}

// hideValue replaces v in msg, and the forms problem texts quote it in:
// each comma-separated item of a list header, cut to the first 20 or 40
// bytes, escaped as %q escapes it.
func hideValue(msg, v string) string {
	var forms []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		for _, n := range [...]int{20, 40, len(item)} {
			if n > len(item) {
				continue
			}
			s := item[:n]
			q := strconv.Quote(s)
			forms = append(forms, s, q[1:len(q)-1])
		}
	}
	if v = strings.TrimSpace(v); v != "" {
		forms = append(forms, v)
	}
	// Longest first: a cut form replaced first would leave the rest of
	// the whole value in the text.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, f := range forms {
		// Very short values would hide ordinary words along with them.
		if len(f) >= 3 {
			msg = strings.ReplaceAll(msg, f, Redacted)
		}
	}
	return msg
}
