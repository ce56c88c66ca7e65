package filter

import (
	"slices"
	"strings"

	"github.com/wstap/wstap/decode"
)

// The fixture: three connections and a dozen messages that between them
// have every property a term tests, each message named.

var (
	chatConn = &decode.Connection{ID: "1", URL: "ws://example.com:8080/chat?room=1", Server: "93.184.216.34:8080"}
	apiConn  = &decode.Connection{ID: "2", URL: "wss://API.Other.org/v2/stream", Server: "[2001:db8::1]:443", ProblemCount: 2}
	// A connection whose handshake was not captured: no URL.
	midConn = &decode.Connection{ID: "3", Server: "10.0.0.5:9000", SuppressedProblems: 1}
)

type named struct {
	name string
	c    *decode.Connection
	m    *decode.Message
}

func fixture() []named {
	msg := func(from decode.Side, op decode.Opcode, payload string, set func(m *decode.Message)) *decode.Message {
		m := &decode.Message{From: from, Opcode: op, Payload: []byte(payload), Frames: []int{0},
			Size: int64(len(payload)), TextValid: op == decode.OpText}
		if set != nil {
			set(m)
		}
		if m.WireSize == 0 {
			m.WireSize = m.Size + 6
		}
		return m
	}
	c, s := decode.Client, decode.Server
	return []named{
		{"hello", chatConn, msg(c, decode.OpText, "Hello, World", nil)},
		{"reply", chatConn, msg(s, decode.OpText, `{"msg":"hello back","user":"Zoë"}`, func(m *decode.Message) {
			m.Compressed, m.Frames = true, []int{1, 2}
		})},
		{"bin", chatConn, msg(c, decode.OpBinary, "\x00\xffAB", nil)},
		{"ping", chatConn, msg(c, decode.OpPing, "p", nil)},
		{"pong", chatConn, msg(s, decode.OpPong, "p", nil)},
		{"close", apiConn, msg(c, decode.OpClose, "\x03\xe8bye", func(m *decode.Message) { m.TextValid = true })},
		{"badclose", apiConn, msg(s, decode.OpClose, "\x03\xe8\xff", nil)},
		{"badtext", apiConn, msg(s, decode.OpText, "\xff\xfe", func(m *decode.Message) { m.TextValid = false })},
		{"cut", apiConn, msg(c, decode.OpText, "xyz", func(m *decode.Message) {
			m.Truncated, m.TextValid, m.Size = true, false, 2_000_000
		})},
		{"raw", midConn, msg(s, decode.OpText, "\x8a\x01\x02", func(m *decode.Message) {
			m.Compressed, m.Raw, m.TextValid = true, true, false
		})},
		{"reserved", midConn, msg(c, 3, "x", nil)},
		{"big", midConn, msg(c, decode.OpBinary, strings.Repeat("0123456789", 1500), func(m *decode.Message) {
			m.Frames, m.WireSize = []int{3, 4, 5}, 15010
		})},
	}
}

// selected returns the names of the fixture's messages f matches, in the
// fixture's order, space-separated.
func selected(f *Filter, msgs []named) string {
	var names []string
	for _, x := range msgs {
		if f.Match(x.c, x.m) {
			names = append(names, x.name)
		}
	}
	return strings.Join(names, " ")
}

// except returns the fixture's names without the given ones.
func except(names ...string) string {
	var out []string
	for _, x := range fixture() {
		if !slices.Contains(names, x.name) {
			out = append(out, x.name)
		}
	}
	return strings.Join(out, " ")
}

const (
	all         = "hello reply bin ping pong close badclose badtext cut raw reserved big"
	fromClient  = "hello bin ping close cut reserved big"
	fromServer  = "reply pong badclose badtext raw"
	inChat      = "hello reply bin ping pong"
	inAPI       = "close badclose badtext cut"
	withProblem = "close badclose badtext cut raw reserved big"
)
