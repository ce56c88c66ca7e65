package filter

import (
	"strings"

	"github.com/wstap/wstap/decode"
)

// Filter is a parsed filter expression. It is immutable, so one filter
// may match from several goroutines at once. The nil *Filter, like the
// filter of "", matches everything.
type Filter struct {
	root    *node // nil matches everything
	payload bool  // a term reads the payload
}

// kind is what a node tests.
type kind uint8

const (
	kindAnd     kind = iota // every kid
	kindOr                  // some kid
	kindNot                 // not kids[0]
	kindSide                // the message is from side
	kindOpcode              // the message's opcode is in ops
	kindFlag                // a message flag
	kindProblem             // the connection has problems
	kindNumber              // a number of the message compared
	kindText                // a text of the message or connection compared
	kindID                  // the connection's id
)

type flag uint8

const (
	flagCompressed flag = iota
	flagFragmented
	flagTruncated
	flagInvalid
	flagRaw
)

type numField uint8

const (
	numSize numField = iota
	numWire
	numFrames
)

type cmp uint8

const (
	cmpEq cmp = iota
	cmpNe
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type textTarget uint8

const (
	targetPayload textTarget = iota
	targetURL
	targetHost
)

// node is a term or a combination of terms.
type node struct {
	kind kind
	// kids are the operands of and, or and not, as written. order is the
	// same for and and or, cheapest first: a direction test that fails
	// spares the payload search.
	kids  []*node
	order []*node

	side   decode.Side // kindSide
	ops    uint16      // kindOpcode: bit n set for opcode n
	flag   flag        // kindFlag
	num    numField    // kindNumber
	cmp    cmp         // kindNumber
	n      int64       // kindNumber
	target textTarget  // kindText
	text   *text       // kindText
	id     string      // kindID
}

// cost orders the operands of and and or: connection and message header
// tests are cheap, a payload search is not.
func (n *node) cost() int {
	switch n.kind {
	case kindText:
		if n.target == targetPayload {
			return 2
		}
		return 1
	case kindAnd, kindOr, kindNot:
		c := 0
		for _, k := range n.kids {
			c = max(c, k.cost())
		}
		return c
	}
	return 0
}

// Match reports whether message m of connection c matches. It has the
// signature of session.Match, so f.Match can be given to a view. m needs
// its payload only when NeedsPayload says so. Match allocates nothing.
func (f *Filter) Match(c *decode.Connection, m *decode.Message) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(c, m)
}

func (n *node) match(c *decode.Connection, m *decode.Message) bool {
	switch n.kind {
	case kindAnd:
		for _, k := range n.order {
			if !k.match(c, m) {
				return false
			}
		}
		return true
	case kindOr:
		for _, k := range n.order {
			if k.match(c, m) {
				return true
			}
		}
		return false
	case kindNot:
		return !n.kids[0].match(c, m)
	case kindProblem, kindID:
		return n.matchConn(c)
	case kindText:
		if n.target != targetPayload {
			return n.matchConn(c)
		}
	}
	if m == nil {
		return false
	}
	switch n.kind {
	case kindSide:
		return m.From == n.side
	case kindOpcode:
		return m.Opcode < 16 && n.ops&(1<<m.Opcode) != 0
	case kindFlag:
		return matchFlag(n.flag, m)
	case kindNumber:
		var v int64
		switch n.num {
		case numSize:
			v = m.Size
		case numWire:
			v = m.WireSize
		case numFrames:
			v = int64(len(m.Frames))
		}
		return compare(v, n.cmp, n.n)
	case kindText:
		return n.text.matchBytes(m.Payload)
	}
	return false
}

func matchFlag(f flag, m *decode.Message) bool {
	switch f {
	case flagCompressed:
		return m.Compressed
	case flagFragmented:
		return len(m.Frames) > 1
	case flagTruncated:
		return m.Truncated
	case flagRaw:
		return m.Raw
	case flagInvalid:
		// TextValid is also false when the text could not be judged: cut
		// off, or still compressed. Those are not called invalid. A close
		// reason is judged when the payload has a code (2 bytes or more).
		if m.Truncated || m.Raw {
			return false
		}
		switch m.Opcode {
		case decode.OpText:
			return !m.TextValid
		case decode.OpClose:
			return m.Size >= 2 && !m.TextValid
		}
	}
	return false
}

func compare(v int64, c cmp, n int64) bool {
	switch c {
	case cmpEq:
		return v == n
	case cmpNe:
		return v != n
	case cmpLt:
		return v < n
	case cmpLe:
		return v <= n
	case cmpGt:
		return v > n
	case cmpGe:
		return v >= n
	}
	return false
}

// matchConn decides a connection term.
func (n *node) matchConn(c *decode.Connection) bool {
	if c == nil {
		return false
	}
	switch n.kind {
	case kindProblem:
		return c.ProblemCount > 0 || c.SuppressedProblems > 0
	case kindID:
		return c.ID == n.id
	case kindText:
		switch n.target {
		case targetURL:
			return n.text.matchString(c.URL)
		case targetHost:
			// The host the client asked for, or the address it reached:
			// a connection without a captured handshake has only that.
			if h := urlHost(c.URL); h != "" && n.text.matchString(h) {
				return true
			}
			return c.Server != "" && n.text.matchString(addrHost(c.Server))
		}
	}
	return false
}

// MatchConnection decides what it can from the connection alone: decided
// is true when the answer does not depend on the message (url:, host:,
// id:, problem, and combinations of them, or a term that decides an and
// or an or by itself), and ok is then that answer. A view can skip a
// connection that is decided false, and show one decided true even when
// it has no messages. The answer is for the connection as it is now: a
// live connection can still get problems, or its URL with a late
// handshake.
func (f *Filter) MatchConnection(c *decode.Connection) (decided, ok bool) {
	if f == nil || f.root == nil {
		return true, true
	}
	t := f.root.decide(c)
	return t != unknown, t == yes
}

// tri is a three-valued truth: a message term is unknown before the
// message is.
type tri uint8

const (
	no tri = iota
	yes
	unknown
)

func (n *node) decide(c *decode.Connection) tri {
	switch n.kind {
	case kindAnd:
		t := yes
		for _, k := range n.order {
			switch k.decide(c) {
			case no:
				return no
			case unknown:
				t = unknown
			}
		}
		return t
	case kindOr:
		t := no
		for _, k := range n.order {
			switch k.decide(c) {
			case yes:
				return yes
			case unknown:
				t = unknown
			}
		}
		return t
	case kindNot:
		switch n.kids[0].decide(c) {
		case yes:
			return no
		case no:
			return yes
		}
		return unknown
	case kindProblem, kindID:
	case kindText:
		if n.target == targetPayload {
			return unknown
		}
	default:
		return unknown
	}
	if n.matchConn(c) {
		return yes
	}
	return no
}

// NeedsPayload reports whether Match reads the message's payload: only a
// payload search does. A view reads payloads from the store only then.
func (f *Filter) NeedsPayload() bool { return f != nil && f.payload }

func (n *node) needsPayload() bool {
	if n.kind == kindText && n.target == targetPayload {
		return true
	}
	for _, k := range n.kids {
		if k.needsPayload() {
			return true
		}
	}
	return false
}

// urlHost returns the host of a ws:// URL, without port, user or
// brackets, without allocating.
func urlHost(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	return addrHost(u)
}

// addrHost returns the host of "host:port", "[v6]:port", "[v6]" or
// "host", as net.SplitHostPort would but without allocating, and
// leaving a bare IPv6 address as it is.
func addrHost(a string) string {
	if strings.HasPrefix(a, "[") {
		if i := strings.IndexByte(a, ']'); i > 0 {
			return a[1:i]
		}
		return a
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 && strings.IndexByte(a[:i], ':') < 0 {
		return a[:i]
	}
	return a
}
