package decode

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"
)

// This file holds what the decoder's tests share: builders for frames and
// handshakes written independently of the code under test, a script of
// capture steps, and a feeder that gives a script to a Decoder in chunks.

// t0 is the capture time of a script's first step.
var t0 = time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)

// stepTime is the capture time of step i of a script. Every chunk of a
// step is fed with its step's time, so that how a step is split does not
// change the times the decoder records (a frame's time is the time of the
// chunk holding its first header byte).
func stepTime(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }

// step is one thing a capture saw: bytes one side sent, or a gap of n
// missing bytes.
type step struct {
	side Side
	b    []byte
	gap  int64
	note *Problem
}

// script is a conversation as a capture saw it, in capture order. pos
// tracks each side's stream position so that tests can state the offsets
// they expect.
type script struct {
	steps []step
	pos   [2]int64
}

// send appends the bytes side sent as one step and returns the stream
// position of their first byte.
func (s *script) send(side Side, parts ...[]byte) int64 {
	at := s.pos[side]
	b := bytes.Join(parts, nil)
	s.steps = append(s.steps, step{side: side, b: b})
	s.pos[side] += int64(len(b))
	return at
}

func (s *script) client(parts ...[]byte) int64 { return s.send(Client, parts...) }
func (s *script) server(parts ...[]byte) int64 { return s.send(Server, parts...) }

// gap appends n missing bytes of side and returns their stream position.
func (s *script) gap(side Side, n int64) int64 {
	at := s.pos[side]
	s.steps = append(s.steps, step{side: side, gap: n})
	s.pos[side] += n
	return at
}

// note appends a problem the source reports (Decoder.Note) from side.
func (s *script) note(side Side, kind Kind, msg string) {
	s.steps = append(s.steps, step{side: side, note: &Problem{
		Severity: Warning, Kind: kind, From: side, Message: msg, Frame: -1, MessageIndex: -1, Offset: -1}})
}

// splitter cuts the bytes of one step into the chunks fed to the decoder.
type splitter func(b []byte) [][]byte

func whole(b []byte) [][]byte { return [][]byte{b} }

func bytewise(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// randomSplits cuts at random points, with lengths from 1 byte to a few
// hundred so that both header and payload boundaries get cut.
func randomSplits(r *rand.Rand) splitter {
	return func(b []byte) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			var n int
			switch r.Intn(3) {
			case 0:
				n = 1 + r.Intn(3)
			case 1:
				n = 1 + r.Intn(20)
			default:
				n = 1 + r.Intn(400)
			}
			n = min(n, len(b))
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
}

// result is what a decoder made of a script.
type result struct {
	conn *recorded
	// events lists each event as "kind index", in the order emitted.
	events []string
}

// decodeScript feeds s to a new Decoder, every step cut by split, and ends
// the connection when end is set. Each chunk is copied into a buffer that
// is overwritten right after Feed returns, which proves the decoder keeps
// nothing of the caller's slice (Feed's contract).
func decodeScript(s *script, opts Options, split splitter, end bool) result {
	var res result
	c := &Connection{ID: "1", Client: "127.0.0.1:50000", Server: "127.0.0.1:8080"}
	rec, listen := newRecorded(c, func(e Event) {
		res.events = append(res.events, fmt.Sprintf("%s %d", e.Kind, e.Index))
	})
	d := NewDecoder(c, opts, listen)
	var buf []byte
	for i, st := range s.steps {
		t := stepTime(i)
		if st.gap > 0 {
			d.Gap(st.side, t, st.gap)
			continue
		}
		if st.note != nil {
			p := *st.note
			p.Time = t
			d.Note(p)
			continue
		}
		for _, chunk := range split(st.b) {
			buf = append(buf[:0], chunk...)
			d.Feed(st.side, t, buf)
			for j := range buf {
				buf[j] = 0xEE
			}
		}
	}
	if end {
		d.End(stepTime(len(s.steps)))
	}
	res.conn = rec
	return res
}

// decodeWhole decodes s fed one step per chunk and ended.
func decodeWhole(s *script, opts Options) *recorded {
	return decodeScript(s, opts, whole, true).conn
}

// testKey is the masking key of the RFC 6455 5.7 examples.
var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// wsFrame describes a frame to build. A nil key sends it unmasked.
type wsFrame struct {
	op      Opcode
	payload []byte
	more    bool // FIN clear
	rsv     uint8
	key     *[4]byte
}

// bytes encodes f with the minimal length form (RFC 6455 5.2), masking the
// payload with the naive reference.
func (f wsFrame) bytes() []byte {
	b0 := f.rsv<<4 | byte(f.op)
	if !f.more {
		b0 |= 0x80
	}
	var b1 byte
	if f.key != nil {
		b1 = 0x80
	}
	n := len(f.payload)
	out := []byte{b0}
	switch {
	case n <= 125:
		out = append(out, b1|byte(n))
	case n <= 0xffff:
		out = append(out, b1|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, b1|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if f.key == nil {
		return append(out, f.payload...)
	}
	out = append(out, f.key[:]...)
	return append(out, maskNaive(f.payload, *f.key, 0)...)
}

// cf is a final client frame, masked with testKey.
func cf(op Opcode, payload string) []byte {
	return wsFrame{op: op, payload: []byte(payload), key: &testKey}.bytes()
}

// sf is a final server frame, unmasked.
func sf(op Opcode, payload string) []byte {
	return wsFrame{op: op, payload: []byte(payload)}.bytes()
}

// closePayload is a Close frame body: a 2-byte code and a reason.
func closePayload(code uint16, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, code)) + reason
}

// hdrs is a header list in wire order.
type hdrs []Header

// set replaces the first header called name, or appends it.
func (h hdrs) set(name, value string) hdrs {
	out := append(hdrs(nil), h...)
	for i := range out {
		if strings.EqualFold(out[i].Name, name) {
			out[i].Value = value
			return out
		}
	}
	return append(out, Header{Name: name, Value: value})
}

// del drops every header called name.
func (h hdrs) del(name string) hdrs {
	var out hdrs
	for _, x := range h {
		if !strings.EqualFold(x.Name, name) {
			out = append(out, x)
		}
	}
	return out
}

// head writes an HTTP head: the start line, the headers and the blank line.
func head(start string, h hdrs) []byte {
	var b strings.Builder
	b.WriteString(start + "\r\n")
	for _, x := range h {
		b.WriteString(x.Name + ": " + x.Value + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// The key and accept value of the example in RFC 6455 4.2.2 (and 1.3).
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// upgradeHeaders is a valid RFC 6455 opening request's header list.
func upgradeHeaders() hdrs {
	return hdrs{
		{"Host", "127.0.0.1:8080"},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", rfcKey},
		{"Sec-WebSocket-Version", "13"},
	}
}

// acceptHeaders is a valid 101 answer's header list for upgradeHeaders.
func acceptHeaders() hdrs {
	return hdrs{
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Accept", rfcAccept},
	}
}

func upgradeRequest(h hdrs) []byte { return head("GET /chat HTTP/1.1", h) }
func switching(h hdrs) []byte      { return head("HTTP/1.1 101 Switching Protocols", h) }

// handshake adds a valid RFC 6455 handshake to s.
func (s *script) handshake() {
	s.client(upgradeRequest(upgradeHeaders()))
	s.server(switching(acceptHeaders()))
}

// deflateHandshake adds a handshake that negotiates permessage-deflate
// with the given response parameters ("" for none).
func (s *script) deflateHandshake(params string) {
	ext := "permessage-deflate"
	if params != "" {
		ext += "; " + params
	}
	s.client(upgradeRequest(upgradeHeaders().set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")))
	s.server(switching(acceptHeaders().set("Sec-WebSocket-Extensions", ext)))
}

// deflater compresses messages as a permessage-deflate sender does
// (RFC 7692 7.2.1), with the standard library's compressor so that the
// decoder's inflater is checked against an independent implementation.
type deflater struct {
	w        *flate.Writer
	out      bytes.Buffer
	takeover bool
}

func newDeflater(takeover bool) *deflater {
	d := &deflater{takeover: takeover}
	w, err := flate.NewWriter(&d.out, flate.BestCompression)
	if err != nil {
		panic(err) // only for an invalid level
	}
	d.w = w
	return d
}

// compress returns the payload of one compressed message: the deflate
// data up to a sync flush, without its final 00 00 ff ff.
func (d *deflater) compress(p []byte) []byte {
	d.out.Reset()
	d.w.Write(p)
	d.w.Flush()
	b := bytes.Clone(d.out.Bytes())
	if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
		panic("sync flush did not end in 00 00 ff ff")
	}
	if !d.takeover {
		d.out.Reset()
		d.w.Reset(&d.out)
	}
	return b[:len(b)-4]
}

// problemsOf returns the problems of kind k.
func problemsOf(c *recorded, k Kind) []Problem {
	var out []Problem
	for _, p := range c.Problems {
		if p.Kind == k {
			out = append(out, p)
		}
	}
	return out
}

// listProblems formats problems for failure messages.
func listProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %s %s frame=%d msg=%d off=%d: %s", p.Severity, p.Kind, p.Frame, p.MessageIndex, p.Offset, p.Message)
	}
	return b.String()
}

// diffConn describes the first difference between two connections, or ""
// when they are deeply equal.
func diffConn(a, b *recorded) string {
	if reflect.DeepEqual(a, b) {
		return ""
	}
	if len(a.Frames) != len(b.Frames) {
		return fmt.Sprintf("%d frames vs %d", len(a.Frames), len(b.Frames))
	}
	for i := range a.Frames {
		if !reflect.DeepEqual(a.Frames[i], b.Frames[i]) {
			return fmt.Sprintf("frame %d:\n %+v\nvs\n %+v", i, a.Frames[i], b.Frames[i])
		}
	}
	if len(a.Messages) != len(b.Messages) {
		return fmt.Sprintf("%d messages vs %d", len(a.Messages), len(b.Messages))
	}
	for i := range a.Messages {
		if !reflect.DeepEqual(a.Messages[i], b.Messages[i]) {
			return fmt.Sprintf("message %d:\n %+v\nvs\n %+v", i, a.Messages[i], b.Messages[i])
		}
	}
	if !reflect.DeepEqual(a.Problems, b.Problems) {
		return "problems:" + listProblems(a.Problems) + "\nvs" + listProblems(b.Problems)
	}
	if !reflect.DeepEqual(a.Exchanges, b.Exchanges) {
		return fmt.Sprintf("exchanges:\n %+v\nvs\n %+v", a.Exchanges, b.Exchanges)
	}
	return fmt.Sprintf("connection:\n %+v\nvs\n %+v", *a.Connection, *b.Connection)
}

// mustOneProblem fails unless c has exactly one problem of kind k, and
// returns it.
func mustOneProblem(t *testing.T, c *recorded, k Kind) Problem {
	t.Helper()
	ps := problemsOf(c, k)
	if len(ps) != 1 {
		t.Fatalf("want exactly one %s problem, got %d; all problems:%s", k, len(ps), listProblems(c.Problems))
	}
	return ps[0]
}

// bytesOf repeats a byte pattern to n bytes.
func bytesOf(n int, pattern string) []byte {
	return bytes.Repeat([]byte(pattern), n/len(pattern)+1)[:n]
}

// The hixie-76 handshake example of draft-ietf-hybi-thewebsocketprotocol-00
// (sections 1.3 and 5): the two keys, the 8-byte key3 the client sends as
// the request body, and the 16-byte answer the server sends after its head.
const (
	hixieKey1   = "4 @1  46546xW%0l 1 5"
	hixieKey2   = "12998 5 Y3 1  .P00"
	hixieKey3   = "^n:ds[4U"
	hixieAnswer = "8jKS'y:G*Co,Wxa-"
)

// hixie76Request is the request of the draft's example, key3 included.
func hixie76Request() []byte {
	return append(head("GET /demo HTTP/1.1", hdrs{
		{"Host", "example.com"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key2", hixieKey2},
		{"Sec-WebSocket-Protocol", "sample"},
		{"Upgrade", "WebSocket"},
		{"Sec-WebSocket-Key1", hixieKey1},
		{"Origin", "http://example.com"},
	}), hixieKey3...)
}

// hixie76Response is the answer of the draft's example with the given
// 16-byte challenge answer.
func hixie76Response(answer string) []byte {
	return append(head("HTTP/1.1 101 WebSocket Protocol Handshake", hdrs{
		{"Upgrade", "WebSocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Origin", "http://example.com"},
		{"Sec-WebSocket-Location", "ws://example.com/demo"},
		{"Sec-WebSocket-Protocol", "sample"},
	}), answer...)
}

// hixieText is a hixie text frame: 0x00, UTF-8 text, 0xFF.
func hixieText(s string) []byte {
	return append(append([]byte{0x00}, s...), 0xFF)
}
