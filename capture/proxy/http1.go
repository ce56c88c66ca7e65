package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// The proxy reads HTTP/1.1 heads only to decide where a request goes
// (forward mode), to rewrite what must be rewritten (the request line of
// an absolute-form request, the Host of --rewrite-host), and to know where
// a message ends so that the next request of a kept-alive connection can
// be read (RFC 9112). What it relays is the bytes it read, changed only
// there.

// errHeadTooLarge is returned for a head over the limit.
var errHeadTooLarge = errors.New("the head is over the size limit")

// readHead reads an HTTP head, through its blank line, of at most max
// bytes. It returns io.EOF when the stream ends before any byte.
func readHead(br *bufio.Reader, max int) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if len(head) > max {
			return head, errHeadTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(head) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return head, err
		}
		if len(line) <= 2 && (string(line) == "\r\n" || string(line) == "\n") {
			if len(head) == len(line) {
				head = head[:0] // blank lines before a request (RFC 9112 2.2)
				continue
			}
			return head, nil
		}
	}
}

// header is one header field as it was sent.
type header struct{ name, value string }

// head is a parsed request or response head; raw is it as read.
type head struct {
	raw     []byte
	line    string
	headers []header
	// request
	method, target, proto string
	// response
	status int
}

// parseHead parses raw: the start line (split into method, target and
// version, or version and status) and the header fields in order.
func parseHead(raw []byte, request bool) (*head, error) {
	lines := strings.Split(strings.TrimRight(string(raw), "\r\n"), "\n")
	h := &head{raw: raw, line: strings.TrimSuffix(lines[0], "\r")}
	parts := strings.SplitN(h.line, " ", 3)
	if request {
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") {
			return nil, fmt.Errorf("request line %q is not METHOD TARGET HTTP/1.x", clip(h.line))
		}
		h.method, h.target, h.proto = parts[0], parts[1], parts[2]
	} else {
		if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") {
			return nil, fmt.Errorf("status line %q is not HTTP/1.x STATUS", clip(h.line))
		}
		status, err := strconv.Atoi(parts[1])
		if err != nil || status < 100 || status > 999 {
			return nil, fmt.Errorf("status line %q has no status code", clip(h.line))
		}
		h.proto, h.status = parts[0], status
	}
	for _, l := range lines[1:] {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("header line %q has no name", clip(l))
		}
		h.headers = append(h.headers, header{name, strings.TrimSpace(value)})
	}
	return h, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// get returns the values of the fields called name, joined with commas.
func (h *head) get(name string) string {
	var vs []string
	for _, f := range h.headers {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value)
		}
	}
	return strings.Join(vs, ", ")
}

// hasToken reports whether the comma-separated field name holds token.
func (h *head) hasToken(name, token string) bool {
	for _, t := range strings.Split(h.get(name), ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// upgrade reports whether a request asks for a WebSocket Upgrade.
func (h *head) upgrade() bool {
	return h.hasToken("Connection", "upgrade") && h.get("Upgrade") != ""
}

// keepAlive reports whether the connection stays open after this message
// (RFC 9112 9.3).
func (h *head) keepAlive() bool {
	if h.hasToken("Connection", "close") {
		return false
	}
	return h.proto != "HTTP/1.0" || h.hasToken("Connection", "keep-alive")
}

// bodyLength says how a message's body is delimited (RFC 9112 6.3):
// chunked, a length, or (n < 0) until the connection closes.
func (h *head) bodyLength(method string) (chunked bool, n int64) {
	if h.status != 0 && (method == "HEAD" || h.status < 200 || h.status == 204 || h.status == 304) {
		return false, 0
	}
	if h.hasToken("Transfer-Encoding", "chunked") {
		return true, 0
	}
	if cl := h.get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(strings.Split(cl, ",")[0]), 10, 64); err == nil && n >= 0 {
			return false, n
		}
	}
	if h.status == 0 {
		return false, 0 // a request without a length has no body
	}
	return false, -1
}

// rewrite returns the head with its start line replaced by line (when not
// "") and the fields named in drop removed, the rest byte for byte.
func (h *head) rewrite(line string, drop ...string) []byte {
	lines := bytes.SplitAfter(h.raw, []byte("\n"))
	var out []byte
	if line != "" {
		out = append(out, line...)
		out = append(out, "\r\n"...)
	} else {
		out = append(out, lines[0]...)
	}
	for _, l := range lines[1:] {
		name, _, ok := bytes.Cut(l, []byte(":"))
		skip := false
		for _, d := range drop {
			if ok && strings.EqualFold(strings.TrimSpace(string(name)), d) {
				skip = true
			}
		}
		if !skip {
			out = append(out, l...)
		}
	}
	return out
}

// replace returns the head with the value of field name replaced (each
// occurrence), the rest byte for byte.
func (h *head) replace(name, value string) []byte {
	lines := bytes.SplitAfter(h.raw, []byte("\n"))
	out := append([]byte(nil), lines[0]...)
	for _, l := range lines[1:] {
		n, _, ok := bytes.Cut(l, []byte(":"))
		if ok && strings.EqualFold(strings.TrimSpace(string(n)), name) {
			out = append(out, n...)
			out = append(out, ": "...)
			out = append(out, value...)
			out = append(out, "\r\n"...)
			continue
		}
		out = append(out, l...)
	}
	return out
}

// absolute parses an absolute-form request target (RFC 9112 3.2.2): the
// URL a client asks a forward proxy for.
func absolute(target string) (*url.URL, bool) {
	if !strings.Contains(target, "://") {
		return nil, false
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, false
	}
	return u, true
}

// copyBody relays one message body from src to dst exactly as it came,
// delimited as chunked or n bytes (until the end of src when n < 0).
func copyBody(dst io.Writer, src *bufio.Reader, chunked bool, n int64) error {
	switch {
	case chunked:
		return copyChunked(dst, src)
	case n < 0:
		_, err := io.Copy(dst, src)
		return err
	default:
		_, err := io.CopyN(dst, src, n)
		return err
	}
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4 << 10

// copyChunked relays a chunked body (RFC 9112 7.1): chunk by chunk, the
// size lines, data and trailers as they came.
func copyChunked(dst io.Writer, src *bufio.Reader) error {
	for {
		line, err := readLine(src, maxChunkLine)
		if err != nil {
			return fmt.Errorf("reading a chunk size: %w", err)
		}
		if _, err := dst.Write(line); err != nil {
			return err
		}
		size := strings.TrimSpace(strings.SplitN(string(line), ";", 2)[0])
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("chunk size %q is not a hexadecimal number", clip(size))
		}
		if n == 0 {
			// Trailer fields, then the blank line.
			for {
				line, err := readLine(src, maxChunkLine)
				if err != nil {
					return fmt.Errorf("reading the trailer: %w", err)
				}
				if _, err := dst.Write(line); err != nil {
					return err
				}
				if strings.TrimSpace(string(line)) == "" {
					return nil
				}
			}
		}
		// The data and its CRLF.
		if _, err := io.CopyN(dst, src, n); err != nil {
			return err
		}
		crlf, err := readLine(src, maxChunkLine)
		if err != nil {
			return fmt.Errorf("reading the end of a chunk: %w", err)
		}
		if _, err := dst.Write(crlf); err != nil {
			return err
		}
	}
}

// readLine reads one line, with its end, of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > max {
			return line, errHeadTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return line, err
	}
}

// awaitHead waits, consuming nothing, until br holds the whole head of a
// request, so that a client is held to the handshake deadline for it
// before anything is dialled for it: one that sends half a request and
// trickles the rest costs one descriptor, and only until the deadline.
// Bytes that do not start like an HTTP request (another protocol in a
// tunnel) are not waited on, and neither is a head longer than the
// buffer: the relay passes them on as they come.
func awaitHead(br *bufio.Reader) error {
	for {
		b, _ := br.Peek(br.Buffered())
		switch {
		case len(b) > 0 && !httpStart(b[0]),
			bytes.Contains(b, []byte("\r\n\r\n")) || bytes.Contains(b, []byte("\n\n")),
			len(b) == br.Size():
			return nil
		}
		// More is needed: wait for at least one more byte.
		if _, err := br.Peek(len(b) + 1); err != nil {
			return err
		}
	}
}

// httpStart reports whether c may begin an HTTP/1 request: a method's
// first letter, or the blank line a client may send before one.
func httpStart(c byte) bool {
	return c >= 'A' && c <= 'Z' || c == '\r' || c == '\n'
}
