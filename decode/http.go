package decode

import (
	"fmt"
	"strconv"
	"strings"
)

// maxHeadSize bounds an HTTP head (start line and headers). Servers commonly
// refuse more than 8 to 16 KiB; a debugger is more patient but must not
// buffer an unbounded stream that only looks like HTTP.
const maxHeadSize = 64 << 10

// headLines splits an HTTP head into lines without their CR LF, dropping the
// final blank line.
func headLines(head []byte) []string {
	s := strings.TrimRight(string(head), "\r\n")
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// parseHeaders parses header lines in order. obs-fold continuation lines
// (RFC 9112 5.2) are joined to the previous value.
func parseHeaders(lines []string) ([]Header, error) {
	hs := make([]Header, 0, len(lines))
	for i, l := range lines {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(hs) > 0 {
			hs[len(hs)-1].Value += " " + strings.TrimSpace(l)
			continue
		}
		colon := strings.IndexByte(l, ':')
		if colon <= 0 {
			return hs, fmt.Errorf("header line %d has no name: %q", i+2, clip(l, 60))
		}
		hs = append(hs, Header{Name: l[:colon], Value: strings.TrimSpace(l[colon+1:])})
	}
	return hs, nil
}

// parseRequestHead parses "GET /target HTTP/1.1" and the headers after it.
func parseRequestHead(head []byte) (*Request, error) {
	ls := headLines(head)
	parts := strings.SplitN(ls[0], " ", 3)
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/") {
		return nil, fmt.Errorf("request line is not METHOD TARGET HTTP/x.y: %q", clip(ls[0], 80))
	}
	hs, err := parseHeaders(ls[1:])
	r := &Request{Method: parts[0], Target: parts[1], Proto: parts[2], Headers: hs}
	return r, err
}

// parseResponseHead parses "HTTP/1.1 101 Switching Protocols" and the
// headers after it.
func parseResponseHead(head []byte) (*Response, error) {
	ls := headLines(head)
	parts := strings.SplitN(ls[0], " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/") {
		return nil, fmt.Errorf("status line is not HTTP/x.y CODE REASON: %q", clip(ls[0], 80))
	}
	code, err := strconv.Atoi(parts[1])
	if err != nil || code < 100 || code > 999 {
		return nil, fmt.Errorf("status line has no 3-digit status: %q", clip(ls[0], 80))
	}
	r := &Response{Proto: parts[0], Status: code, Headers: nil}
	if len(parts) == 3 {
		r.Reason = parts[2]
	}
	r.Headers, err = parseHeaders(ls[1:])
	return r, err
}

// looksLikeRequest reports whether b can be the start of an HTTP request
// line: an upper-case token followed by a space. It needs only a few bytes,
// so the decoder can tell HTTP from frames early.
func looksLikeRequest(b []byte) bool {
	// Only the first 16 bytes count, as in feedHead, so that the answer
	// does not depend on how much of the stream has arrived.
	b = b[:min(len(b), 16)]
	for i, c := range b {
		if c == ' ' {
			return i > 0
		}
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true // undecided yet counts as "may be"
}

// looksLikeResponse reports whether b can be the start of "HTTP/".
func looksLikeResponse(b []byte) bool {
	const p = "HTTP/"
	n := min(len(b), len(p))
	return string(b[:n]) == p[:n]
}

// hasToken reports whether the comma-separated list v contains tok,
// compared case-insensitively (RFC 9110 5.6.1, 7.8: Upgrade and Connection
// are token lists and tokens are case-insensitive).
func hasToken(v, tok string) bool {
	for _, t := range strings.Split(v, ",") {
		if equalFoldASCII(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

// headerTokens joins every instance of a list header, since a list may be
// split across several header lines (RFC 9110 5.3).
func headerTokens(hs []Header, name string) string {
	var parts []string
	for _, h := range hs {
		if equalFoldASCII(h.Name, name) {
			parts = append(parts, h.Value)
		}
	}
	return strings.Join(parts, ", ")
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// bodyLength says how a plain HTTP message body is delimited
// (RFC 9112 6.3).
type bodyLength struct {
	chunked bool
	length  int64 // when not chunked; -1 = until the connection closes
}

func requestBodyLength(r *Request) bodyLength {
	if te, ok := Get(r.Headers, "Transfer-Encoding"); ok && hasToken(te, "chunked") {
		return bodyLength{chunked: true}
	}
	if cl, ok := Get(r.Headers, "Content-Length"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n >= 0 {
			return bodyLength{length: n}
		}
	}
	return bodyLength{length: 0}
}

func responseBodyLength(r *Response, method string) bodyLength {
	if method == "HEAD" || (r.Status >= 100 && r.Status < 200) || r.Status == 204 || r.Status == 304 {
		return bodyLength{length: 0}
	}
	if te, ok := Get(r.Headers, "Transfer-Encoding"); ok && hasToken(te, "chunked") {
		return bodyLength{chunked: true}
	}
	if cl, ok := Get(r.Headers, "Content-Length"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n >= 0 {
			return bodyLength{length: n}
		}
	}
	return bodyLength{length: -1}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
