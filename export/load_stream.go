package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/wstap/wstap/decode"
)

// loader reads one file for LoadEvents.
type loader struct {
	ctx   context.Context
	name  string
	emit  func(decode.Event) error
	hooks loadHooks
	w     *window
	t     *tokens

	// path is where the walk is: what an error names.
	path []pathEl

	// it is the item being read, and mem the members of its objects.
	it  item
	mem []member
	// unq and b64 hold unescaped strings and decoded base64 until the
	// next of their kind: payloads are handed out from them.
	unq, b64 []byte

	// The structures events point to, reused from one event to the next.
	frame    decode.Frame
	message  decode.Message
	problem  decode.Problem
	exchange decode.Exchange
	indexes  []int
}

func (l *loader) push(el pathEl) { l.path = append(l.path, el) }
func (l *loader) pop()           { l.path = l.path[:len(l.path)-1] }

// errorAt makes an error at input offset off, at the current path.
func (l *loader) errorAt(off int64, err error) *LoadError {
	return l.errorAtPath(off, l.path, err)
}

func (l *loader) errorAtPath(off int64, path []pathEl, err error) *LoadError {
	line, col := l.w.lineCol(off)
	return &LoadError{Name: l.name, Line: line, Column: col, Path: pathString(path), Err: err}
}

func pathString(path []pathEl) string {
	var b strings.Builder
	appendPath(&b, path)
	return b.String()
}

// place locates off now, for an error that may be reported later, when
// the window has moved on.
func (l *loader) place(off int64, path []pathEl) *LoadError {
	return l.errorAtPath(off, path, nil)
}

// failAt returns a copy of place with its error set.
func failAt(place *LoadError, format string, args ...any) *LoadError {
	e := *place
	e.Err = fmt.Errorf(format, args...)
	return &e
}

// tooLarge is the error for a value, starting at off, longer than the
// window lets the decoder hold. It names the member that is too long
// when the part already read shows it.
func (l *loader) tooLarge(off int64) error {
	b := l.w.bytesFrom(off)
	path := l.path
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		var at int
		path, at = longMember(b, path)
		off += int64(at)
	}
	if skipWS(b, 0) == len(b) {
		return l.errorAtPath(off, path, fmt.Errorf("more than %d MiB of white space", l.w.limit>>20))
	}
	return l.errorAtPath(off, path, fmt.Errorf("a value longer than %d MiB, the most this reader holds at once (a message payload is kept up to 64 MiB, 86 MiB in base64)", l.w.limit>>20))
}

// longMember follows the unfinished value b (an object or array) down to
// the member or element that does not end within b: the long one. It
// returns its path and its offset in b.
func longMember(b []byte, path []pathEl) ([]pathEl, int) {
	path = path[:len(path):len(path)]
	at := 0
	for at < len(b) && (b[at] == '{' || b[at] == '[') {
		obj := b[at] == '{'
		i := skipWS(b, at+1)
		inside := false
		for n := 0; i < len(b) && !inside; n++ {
			el := pathEl{idx: n}
			if obj {
				k, ok := valueEndOK(b, i)
				if b[i] != '"' || !ok {
					return path, at // a long name: the object is as close as it gets
				}
				el = pathEl{key: unquoteString(b[i+1 : k-1])}
				i = skipWS(b, skipWS(b, k)+1) // past the colon
			}
			end, ok := valueEndOK(b, i)
			if !ok {
				path, at, inside = append(path, el), i, true
				continue
			}
			i = skipWS(b, end)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
			}
		}
		if !inside {
			return path, at
		}
	}
	return path, at
}

// skip reads a value the loader does not use. It is read whole, so a
// member nobody uses is bounded like any other value.
func (l *loader) skip() error {
	_, _, err := l.t.value()
	return err
}

// skipRest reads the rest of the object or array whose opening token was
// just read.
func (l *loader) skipRest() error {
	obj := l.t.st[len(l.t.st)-1] == stObjStart
	for l.t.more() {
		if obj {
			if _, err := l.key(); err != nil {
				return err
			}
		}
		if err := l.skip(); err != nil {
			return err
		}
	}
	return l.t.end()
}

// readItem reads a whole value and starts an item on it.
func (l *loader) readItem() (*item, error) {
	b, off, err := l.t.value()
	if err != nil {
		return nil, err
	}
	return l.newItem(b, off), nil
}

// check reports the first failure of an item.
func (it *item) check() error {
	if it.err != nil {
		return it.err
	}
	return nil
}

// open reads the first token of a value the loader walks: '{' or '['
// (want), or null, which stands for absent (ok false). Anything else is
// the error an item would give.
func (l *loader) open(want json.Delim) (ok bool, start int64, err error) {
	tok, start, err := l.t.token()
	if err != nil {
		return false, 0, err
	}
	switch tok {
	case want:
		return true, start, nil
	case nil:
		return false, start, nil
	}
	expected := "an object"
	if want == '[' {
		expected = "an array"
	}
	return false, start, l.errorAt(start, fmt.Errorf("expected %s, found %s", expected, tokenKind(tok)))
}

// tokenKind names the kind of a token for an error, as kindOf does.
func tokenKind(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(tok)
	}
	return "null"
}

// members reads the members of the object being read through its end,
// calling member with each one's name while the path names it. An error
// returns at once, with the path at the member that failed.
func (l *loader) members(member func(k string) error) error {
	for l.t.more() {
		k, err := l.key()
		if err != nil {
			return err
		}
		l.push(pathEl{key: k})
		if err := member(k); err != nil {
			return err
		}
		l.pop()
	}
	return l.t.end()
}

// key reads the name of the next member.
func (l *loader) key() (string, error) {
	tok, _, err := l.t.token()
	if err != nil {
		return "", err
	}
	k, _ := tok.(string)
	return k, nil
}

// ctxErr reports that ctx is done.
func (l *loader) ctxErr() error {
	if err := l.ctx.Err(); err != nil {
		return fmt.Errorf("%s: loading stopped: %w", l.name, err)
	}
	return nil
}

// format is the kind of export the document turned out to be.
type format uint8

const (
	undecided format = iota
	formatHAR
	formatJSON
)

// document reads the whole input. The first of "log" and "connections"
// decides what it is (Load gave "log" precedence when a file had both;
// streaming cannot look ahead). The checks of the top-level "format" and
// "version" wait until it is known to be a JSON export.
func (l *loader) document() error {
	t := l.t
	_, rootStart, err := t.token() // Sniff saw the '{'
	if err != nil {
		return err
	}
	root := l.place(rootStart, nil)
	kind := undecided
	var deferred []*LoadError // format and version, read before connections
	ndjson := false
	if err := l.members(func(k string) error {
		switch {
		case k == "log" && kind == undecided:
			ok, start, err := l.open('{')
			if err != nil {
				return err
			}
			if ok {
				kind = formatHAR
				if err := l.loadHAR(start); err != nil {
					return err
				}
			}
		case k == "connections" && kind == undecided:
			ok, _, err := l.open('[')
			if err != nil {
				return err
			}
			if ok {
				kind = formatJSON
				for _, e := range deferred {
					if e != nil {
						return e
					}
				}
				if err := l.loadJSON(); err != nil {
					return err
				}
			}
		case (k == "format" || k == "version") && kind != formatHAR:
			e, err := l.headerCheck(k)
			if err != nil {
				return err
			}
			if kind == formatJSON && e != nil {
				return e
			}
			deferred = append(deferred, e)
		case k == "event":
			it, err := l.readItem()
			if err != nil {
				return err
			}
			ndjson = it.root().ok
		default:
			if err := l.skip(); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := l.trailing(ndjson); err != nil {
		return err
	}
	if kind == undecided {
		return failAt(root, `neither a HAR (no "log" member) nor a wstap JSON export (no "connections" member)`)
	}
	return nil
}

// headerCheck reads the top-level "format" or "version" of a JSON export
// and returns what is wrong with it, if anything.
func (l *loader) headerCheck(k string) (*LoadError, error) {
	it, err := l.readItem()
	if err != nil {
		return nil, err
	}
	v := it.root()
	switch {
	case !v.ok:
	case k == "format":
		if s := v.str(); s != JSONFormat {
			v.fail("format is %q; this reader knows %q", s, JSONFormat)
		}
	default:
		if n := v.integer(0, 0, math.MaxInt32); n > JSONVersion {
			v.fail("version %d is newer than this reader (%d)", n, JSONVersion)
		}
	}
	return it.err, nil
}

// trailing checks that nothing but white space follows the document.
func (l *loader) trailing(ndjson bool) error {
	w := l.w
	off := l.t.dec.InputOffset()
	w.dec = nil // no value is being read: the rest is not bounded as one
	for {
		b := w.bytesFrom(off)
		if i := skipWS(b, 0); i < len(b) {
			off += int64(i)
			if ndjson {
				return l.errorAtPath(off, nil, errors.New("this is an NDJSON event stream (--ndjson), which is not read back; read a --json or --har export instead"))
			}
			return l.errorAtPath(off, nil, errors.New("more data after the end of the JSON document"))
		}
		off += int64(len(b))
		w.release(off)
		more, err := w.readMore()
		if err != nil {
			return l.t.fail(err)
		}
		if !more {
			return nil
		}
	}
}

// conn is a connection being loaded, and what its events so far were.
// Its counts are those of the decoder: how many of each were emitted, so
// that during an event the count is its Index plus one.
type conn struct {
	c                  *decode.Connection
	opened, handshaken bool
}

func (l *loader) send(e decode.Event) error {
	if err := l.emit(e); err != nil {
		return err
	}
	return l.ctxErr()
}

// opened emits EventOpened once.
func (l *loader) opened(c *conn) error {
	if c.opened {
		return nil
	}
	c.opened = true
	return l.send(decode.Event{Kind: decode.EventOpened, Conn: c.c})
}

// handshake emits EventHandshake once the request or response is known.
func (l *loader) handshake(c *conn) error {
	if err := l.opened(c); err != nil || c.handshaken || c.c.Request == nil && c.c.Response == nil {
		return err
	}
	c.handshaken = true
	return l.send(decode.Event{Kind: decode.EventHandshake, Conn: c.c})
}

// body reports whether a frame, message or problem was emitted: from then
// on a handshake read late is emitted when it is read.
func (c *conn) body() bool {
	return c.c.FrameCount+c.c.MessageCount+c.c.ProblemCount > 0
}

func (l *loader) sendExchange(c *conn, x *decode.Exchange) error {
	if err := l.opened(c); err != nil {
		return err
	}
	i := c.c.ExchangeCount
	c.c.ExchangeCount++
	return l.send(decode.Event{Kind: decode.EventExchange, Conn: c.c, Index: i, Exchange: x})
}

func (l *loader) sendFrame(c *conn, f *decode.Frame) error {
	if err := l.handshake(c); err != nil {
		return err
	}
	i := c.c.FrameCount
	c.c.FrameCount++
	return l.send(decode.Event{Kind: decode.EventFrame, Conn: c.c, Index: i, Frame: f})
}

func (l *loader) sendMessage(c *conn, m *decode.Message) error {
	if err := l.handshake(c); err != nil {
		return err
	}
	i := c.c.MessageCount
	c.c.MessageCount++
	return l.send(decode.Event{Kind: decode.EventMessage, Conn: c.c, Index: i, Message: m})
}

func (l *loader) sendProblem(c *conn, p *decode.Problem) error {
	if err := l.handshake(c); err != nil {
		return err
	}
	i := c.c.ProblemCount
	c.c.ProblemCount++
	return l.send(decode.Event{Kind: decode.EventProblem, Conn: c.c, Index: i, Problem: p})
}

func (l *loader) sendClosed(c *conn) error {
	if err := l.handshake(c); err != nil {
		return err
	}
	return l.send(decode.Event{Kind: decode.EventClosed, Conn: c.c})
}
