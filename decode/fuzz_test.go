package decode

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
)

// Fuzz targets for the decoder. Their seed corpora are in
// testdata/fuzz/<FuzzName>/ (see testdata/README.md for where the seeds come
// from) and in the f.Add calls; plain `go test` runs every seed. To fuzz:
//
//	go test ./decode -run '^$' -fuzz FuzzConnection -fuzztime 3m
//
// Every target checks properties that hold for any input, however broken:
// the decoder must not panic, must not keep more than its limits allow,
// and must give the same result however the bytes are chunked.

// fzOpts are the limits the fuzz targets decode with: small enough that
// inputs of a few kilobytes reach them.
var fzOpts = Options{MaxMessageSize: 1 << 16, MaxInflateSize: 1 << 20}

// fzT0 is the capture time of the first step of a script.
var fzT0 = time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)

// fzMagic starts every step of a connection script. The format is the one
// of Zeek's fuzzing buffers (src/fuzzers/FuzzBuffer.cc), so that Zeek's
// WebSocket corpus is a valid set of scripts as it is.
const fzMagic = "\x01PKT"

// fzStep is one step of a connection script: bytes sent by one side, or a
// gap of that many bytes missing from the capture.
type fzStep struct {
	side Side
	gap  bool
	data []byte
	t    time.Time
}

// fzParseScript splits a connection script into steps. A script is a
// sequence of "\x01PKT", a control byte and data up to the next "\x01PKT".
// Bit 0 of the control byte is the side (1: client, as Zeek's is_orig),
// bit 7 turns the step into a gap of len(data) bytes. Bytes before the
// first marker are sent by the client. Step i is captured at fzT0 + i ms.
func fzParseScript(b []byte) []fzStep {
	var steps []fzStep
	magic := []byte(fzMagic)
	if i := bytes.Index(b, magic); i != 0 {
		pre := b
		if i > 0 {
			pre = b[:i]
		}
		steps = append(steps, fzStep{side: Client, data: pre})
		if i < 0 {
			b = nil
		} else {
			b = b[i:]
		}
	}
	for len(b) > len(magic) {
		ctl := b[len(magic)]
		rest := b[len(magic)+1:]
		data := rest
		b = nil
		if j := bytes.Index(rest, magic); j >= 0 {
			data, b = rest[:j], rest[j:]
		}
		side := Server
		if ctl&1 != 0 {
			side = Client
		}
		steps = append(steps, fzStep{side: side, gap: ctl&0x80 != 0, data: data})
	}
	for i := range steps {
		steps[i].t = fzT0.Add(time.Duration(i) * time.Millisecond)
	}
	return steps
}

// fzScript builds a script from steps: the inverse of fzParseScript.
func fzScript(steps ...fzStep) []byte {
	var b []byte
	for _, s := range steps {
		ctl := byte(0)
		if s.side == Client {
			ctl |= 1
		}
		if s.gap {
			ctl |= 0x80
		}
		b = append(b, fzMagic...)
		b = append(b, ctl)
		b = append(b, s.data...)
	}
	return b
}

func fzClient(b []byte) fzStep { return fzStep{side: Client, data: b} }
func fzServer(b []byte) fzStep { return fzStep{side: Server, data: b} }

// fzDecode runs the steps through a decoder. cut returns how many of the n
// bytes left of a step go into the next Feed (1 to n). With scribble set,
// every chunk is fed from a buffer that is overwritten right after the
// call, which shows a decoder that keeps a reference to the caller's bytes
// instead of copying them (Feed allows b to be reused).
//
// It returns the decoder and what it emitted, recorded.
func fzDecode(steps []fzStep, opts Options, listen Listener, cut func(n int) int, scribble bool) (*Decoder, *recorded) {
	rec, record := newRecorded(&Connection{ID: "fuzz", Client: "127.0.0.1:50000", Server: "127.0.0.1:8080"}, listen)
	d := NewDecoder(rec.Connection, opts, record)
	var buf []byte
	end := fzT0
	for _, s := range steps {
		end = s.t
		if s.gap {
			d.Gap(s.side, s.t, int64(len(s.data)))
			continue
		}
		for p := s.data; len(p) > 0; {
			n := max(1, min(cut(len(p)), len(p)))
			chunk := p[:n]
			if scribble {
				buf = append(buf[:0], chunk...)
				chunk = buf
			}
			d.Feed(s.side, s.t, chunk)
			if scribble {
				for i := range buf {
					buf[i] = 0xEE
				}
			}
			p = p[n:]
		}
	}
	d.End(end.Add(time.Millisecond))
	return d, rec
}

func fzWhole(n int) int { return n }
func fzByte(int) int    { return 1 }

// fzRandomCut returns a cut function that makes chunks of random sizes,
// mostly small, from a seed.
func fzRandomCut(seed uint64) func(int) int {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(n int) int {
		switch rng.IntN(4) {
		case 0:
			return 1
		case 1:
			return 1 + rng.IntN(16)
		case 2:
			return 1 + rng.IntN(1500)
		}
		return n
	}
}

// fzIndexes checks that every event's Index is the next one of its kind.
type fzIndexes struct {
	next     [4]int // frames, messages, problems, exchanges
	badIndex string
}

func (r *fzIndexes) listen(e Event) {
	k := -1
	switch e.Kind {
	case EventFrame:
		k = 0
	case EventMessage:
		k = 1
	case EventProblem:
		k = 2
	case EventExchange:
		k = 3
	}
	if k < 0 {
		return
	}
	if e.Index != r.next[k] && r.badIndex == "" {
		r.badIndex = fmt.Sprintf("%s event index %d, want %d", e.Kind, e.Index, r.next[k])
	}
	r.next[k]++
}

// FuzzConnection decodes a whole connection script (see fzParseScript) and
// checks that:
//   - the decoder does not panic;
//   - feeding each step whole, one byte at a time, or in random chunks
//     from a buffer reused after each call gives the same connection:
//     frames, messages, problems, handshake, counts and payloads;
//   - every event's index is the next of its kind;
//   - the result is consistent (fzCheckConnection) and what is kept stays
//     within Options.MaxMessageSize (fzCheckRetained).
func FuzzConnection(f *testing.F) {
	for _, s := range fzSeedScripts() {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, script []byte, seed uint64) {
		steps := fzParseScript(script)
		var idx fzIndexes
		whole, c := fzDecode(steps, fzOpts, idx.listen, fzWhole, false)
		if idx.badIndex != "" {
			t.Fatal(idx.badIndex)
		}
		fzCheckConnection(t, c, steps)
		fzCheckRetained(t, whole)

		_, bytewise := fzDecode(steps, fzOpts, nil, fzByte, false)
		if diff := fzDiff(c, bytewise); diff != "" {
			t.Fatalf("whole steps and 1-byte chunks decode differently: %s", diff)
		}
		random, rc := fzDecode(steps, fzOpts, nil, fzRandomCut(seed), true)
		if diff := fzDiff(c, rc); diff != "" {
			t.Fatalf("whole steps and random chunks (seed %d, buffer reused) decode differently: %s", seed, diff)
		}
		fzCheckRetained(t, random)
	})
}

// FuzzHandshake feeds an arbitrary request and response, then frames from
// each side, and checks that the decoder does not panic, that the result
// is consistent, that one byte at a time gives the same, and that memory
// stays bounded: in streaming mode the bytes allocated grow with the input,
// never with a length the input claims (Content-Length, chunk sizes, frame
// lengths, header counts).
func FuzzHandshake(f *testing.F) {
	for _, s := range fzSeedHandshakes() {
		f.Add(s.req, s.resp, s.client, s.server)
	}
	f.Fuzz(func(t *testing.T, req, resp, client, server []byte) {
		steps := []fzStep{fzClient(req), fzServer(resp), fzClient(client), fzServer(server)}
		for i := range steps {
			steps[i].t = fzT0.Add(time.Duration(i) * time.Millisecond)
		}
		whole, c := fzDecode(steps, fzOpts, nil, fzWhole, false)
		fzCheckConnection(t, c, steps)
		fzCheckRetained(t, whole)
		if _, bc := fzDecode(steps, fzOpts, nil, fzByte, true); fzDiff(c, bc) != "" {
			t.Fatalf("whole and 1-byte chunks decode differently: %s", fzDiff(c, bc))
		}

		// Decoding without recording: what the decoder itself allocates.
		opts := fzOpts
		input := len(req) + len(resp) + len(client) + len(server)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		frames := 0
		d := NewDecoder(&Connection{}, opts, func(e Event) {
			if e.Kind == EventFrame {
				frames++
			}
		})
		for _, s := range steps {
			d.Feed(s.side, s.t, s.data)
		}
		d.End(fzT0.Add(time.Second))
		runtime.ReadMemStats(&after)
		if frames != len(c.Frames) {
			t.Fatalf("decoding again emitted %d frames, the recording has %d", frames, len(c.Frames))
		}
		if got, budget := after.TotalAlloc-before.TotalAlloc, fzAllocBudget(input); got > budget {
			t.Fatalf("decoding %d input bytes in streaming mode allocated %d bytes, over the budget of %d", input, got, budget)
		}
		fzCheckRetained(t, d)
	})
}

// fzAllocBudget is what decoding n input bytes in streaming mode may
// allocate: a fixed part for the two directions' inflaters (flate state and
// window) and their buffers, and a part proportional to the input for HTTP
// heads, which are parsed into strings and header lists, and for problems.
// The worst seen while fuzzing was about 220 KB for a few dozen bytes.
func fzAllocBudget(n int) uint64 {
	return 2<<20 + 256*uint64(n)
}

// FuzzFrameHeader checks the frame header parser (RFC 6455 5.2) on its
// own: it parses any bytes without panicking, reports the size
// FrameHeaderSize gives, refuses (and leaves h alone) when the header is
// not complete, and AppendFrameHeader is its inverse for minimal headers.
// The second half builds a header from fields and parses it back.
func FuzzFrameHeader(f *testing.F) {
	for _, h := range fzSeedHeaders() {
		f.Add(h, byte(0x81), true, uint32(0x37fa213d), uint64(5))
	}
	f.Fuzz(func(t *testing.T, wire []byte, b0 byte, masked bool, key uint32, length uint64) {
		var h FrameHeader
		sentinel := FrameHeader{Opcode: 0xF, Length: 0xdead, Size: -1}
		h = sentinel
		ok := ParseFrameHeader(wire, &h)
		need := 2
		if len(wire) >= 2 {
			need = FrameHeaderSize(wire[0], wire[1])
		}
		if ok != (len(wire) >= need) {
			t.Fatalf("ParseFrameHeader(% x) = %t with %d bytes; the header needs %d", wire, ok, len(wire), need)
		}
		if !ok {
			if h != sentinel {
				t.Fatalf("ParseFrameHeader(% x) failed but changed the header to %+v", wire, h)
			}
		} else {
			if h.Size != need || h.Size < 2 || h.Size > MaxFrameHeaderSize {
				t.Fatalf("header % x: Size %d, want %d", wire, h.Size, need)
			}
			if !h.Masked && h.MaskKey != ([4]byte{}) {
				t.Fatalf("header % x is unmasked but has key % x", wire, h.MaskKey)
			}
			v := h.Check()
			out := AppendFrameHeader(nil, h)
			if v&(ViolationNonMinimalLength|ViolationLengthTopBit) == 0 {
				if !bytes.Equal(out, wire[:h.Size]) {
					t.Fatalf("header % x parsed to %+v, which appends as % x", wire[:h.Size], h, out)
				}
			} else if len(out) >= h.Size && v&ViolationLengthTopBit == 0 {
				t.Fatalf("header % x has a non-minimal length %d, but the minimal form % x is not shorter", wire[:h.Size], h.Length, out)
			}
			var back FrameHeader
			if !ParseFrameHeader(out, &back) || back.Length != h.Length || back.Opcode != h.Opcode ||
				back.Fin != h.Fin || back.Rsv != h.Rsv || back.Masked != h.Masked || back.MaskKey != h.MaskKey {
				t.Fatalf("header %+v appends as % x, which parses back as %+v", h, out, back)
			}
			if back.Check()&ViolationNonMinimalLength != 0 {
				t.Fatalf("AppendFrameHeader wrote a non-minimal length: % x", out)
			}
		}

		// From fields: any header AppendFrameHeader writes parses back to
		// the same fields, with the minimal length form.
		in := FrameHeader{Fin: b0&0x80 != 0, Rsv: (b0 >> 4) & 7, Opcode: Opcode(b0 & 0xf), Masked: masked, Length: length}
		if masked {
			in.MaskKey = [4]byte{byte(key >> 24), byte(key >> 16), byte(key >> 8), byte(key)}
		}
		enc := AppendFrameHeader(nil, in)
		var got FrameHeader
		if !ParseFrameHeader(enc, &got) {
			t.Fatalf("AppendFrameHeader(%+v) = % x does not parse", in, enc)
		}
		if got.Size != len(enc) {
			t.Fatalf("AppendFrameHeader(%+v) wrote %d bytes; they parse as a %d-byte header", in, len(enc), got.Size)
		}
		wantLen7 := uint8(length)
		switch {
		case length > 0xffff:
			wantLen7 = 127
		case length > 125:
			wantLen7 = 126
		}
		in.Len7, in.Size = wantLen7, len(enc)
		if got != in {
			t.Fatalf("AppendFrameHeader(%+v) = % x parses back as %+v", in, enc, got)
		}
		if v := got.Check(); v&ViolationNonMinimalLength != 0 || (v&ViolationLengthTopBit != 0) != (length>>63 != 0) {
			t.Fatalf("AppendFrameHeader(%+v) = % x checks as %05b", in, enc, v)
		}
	})
}

// FuzzMask checks Mask and maskCopy (whichever implementation the
// architecture uses) against the RFC 6455 5.3 algorithm byte by byte, at
// any length, key position and buffer alignment, and checks that neither
// writes outside its destination.
func FuzzMask(f *testing.F) {
	for _, n := range []int{0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 125, 127, 128, 129, 255, 1000, 4099} {
		f.Add(benchRandom(n, uint64(n)), uint32(0x37fa213d), uint8(n%4), uint8(n%32))
	}
	f.Fuzz(func(t *testing.T, data []byte, key uint32, pos, align uint8) {
		k := [4]byte{byte(key), byte(key >> 8), byte(key >> 16), byte(key >> 24)}
		p := int(pos)
		want := fzMaskRef(data, k, p)

		const guard = 0xA5
		off := int(align % 64)
		space := make([]byte, off+len(data)+64)
		for i := range space {
			space[i] = guard
		}
		dst := space[off : off+len(data)]
		if end := maskCopy(dst, data, k, p); end != p+len(data) {
			t.Fatalf("maskCopy returned %d, want %d", end, p+len(data))
		}
		if !bytes.Equal(dst, want) {
			t.Fatalf("maskCopy of %d bytes, key % x, pos %d, offset %d: got % x, want % x", len(data), k, p, off, dst, want)
		}
		for i, c := range space {
			if (i < off || i >= off+len(data)) && c != guard {
				t.Fatalf("maskCopy of %d bytes at offset %d wrote byte %d outside dst", len(data), off, i)
			}
		}

		in := space[off : off+len(data)]
		copy(in, data)
		if end := Mask(k, p, in); end != p+len(data) {
			t.Fatalf("Mask returned %d, want %d", end, p+len(data))
		}
		if !bytes.Equal(in, want) {
			t.Fatalf("Mask in place of %d bytes, key % x, pos %d, offset %d: got % x, want % x", len(data), k, p, off, in, want)
		}
		if generic := make([]byte, len(data)); maskGeneric(generic, data, k, p) != p+len(data) || !bytes.Equal(generic, want) {
			t.Fatalf("maskGeneric of %d bytes, key % x, pos %d: got % x, want % x", len(data), k, p, generic, want)
		}
	})
}

// fzMaskRef is RFC 6455 5.3 as written: octet i XOR key octet (i MOD 4),
// counting i from the payload's start at pos.
func fzMaskRef(b []byte, key [4]byte, pos int) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ key[(pos+i)%4]
	}
	return out
}

// fzCheckConnection checks what must hold for any decoded connection:
// counts match what is kept, indexes point where they say, every frame
// belongs to the message that lists it, payloads are within the limit,
// offsets grow, and every input byte is counted.
func fzCheckConnection(t *testing.T, c *recorded, steps []fzStep) {
	t.Helper()
	limit := fzOpts.MaxMessageSize
	if len(c.Frames) != c.FrameCount || len(c.Messages) != c.MessageCount || len(c.Problems) != c.ProblemCount {
		t.Fatalf("kept %d frames, %d messages, %d problems; counted %d, %d, %d",
			len(c.Frames), len(c.Messages), len(c.Problems), c.FrameCount, c.MessageCount, c.ProblemCount)
	}
	var total int64
	for _, s := range steps {
		total += int64(len(s.data))
	}
	if c.Bytes[Client]+c.Bytes[Server] != total {
		t.Fatalf("counted %d+%d bytes; the script has %d", c.Bytes[Client], c.Bytes[Server], total)
	}
	switch c.State {
	case StateClosed, StateRejected, StateNotWebSocket:
	default:
		t.Fatalf("after End the state is %s", c.State)
	}
	lastOffset := [2]int64{-1, -1}
	for i, fr := range c.Frames {
		if fr.HeaderLen < 1 || fr.HeaderLen > MaxFrameHeaderSize {
			t.Fatalf("frame %d has a %d-byte header", i, fr.HeaderLen)
		}
		if int64(len(fr.Payload)) > limit || uint64(len(fr.Payload)) > fr.Length {
			t.Fatalf("frame %d keeps %d payload bytes; its length is %d and the limit %d", i, len(fr.Payload), fr.Length, limit)
		}
		if fr.Offset <= lastOffset[fr.From] {
			t.Fatalf("%s frame %d at offset %d follows one at offset %d", fr.From, i, fr.Offset, lastOffset[fr.From])
		}
		lastOffset[fr.From] = fr.Offset
		if fr.Message >= c.MessageCount || fr.Message < -1 {
			t.Fatalf("frame %d belongs to message %d of %d", i, fr.Message, c.MessageCount)
		}
		if fr.Message >= 0 && !slices.Contains(c.Messages[fr.Message].Frames, i) {
			t.Fatalf("frame %d says it belongs to message %d, whose frames are %v", i, fr.Message, c.Messages[fr.Message].Frames)
		}
	}
	for i, m := range c.Messages {
		if len(m.Frames) == 0 {
			t.Fatalf("message %d has no frames", i)
		}
		if int64(len(m.Payload)) > limit {
			t.Fatalf("message %d keeps %d bytes; the limit is %d", i, len(m.Payload), limit)
		}
		if m.Size < int64(len(m.Payload)) {
			t.Fatalf("message %d has size %d but keeps %d bytes", i, m.Size, len(m.Payload))
		}
		if !m.Truncated && !m.Raw && int64(len(m.Payload)) != m.Size {
			t.Fatalf("message %d is complete but keeps %d of its %d bytes", i, len(m.Payload), m.Size)
		}
		for j, fi := range m.Frames {
			if fi < 0 || fi >= c.FrameCount || (j > 0 && fi <= m.Frames[j-1]) {
				t.Fatalf("message %d lists frames %v of %d", i, m.Frames, c.FrameCount)
			}
			if fr := c.Frames[fi]; fr.Message != i || fr.From != m.From {
				t.Fatalf("message %d (%s) lists frame %d, which is a %s frame of message %d", i, m.From, fi, fr.From, fr.Message)
			}
		}
	}
	for i, p := range c.Problems {
		if p.Frame < -1 || p.Frame >= c.FrameCount || p.MessageIndex < -1 || p.MessageIndex >= c.MessageCount {
			t.Fatalf("problem %d (%s: %s) points at frame %d of %d, message %d of %d",
				i, p.Kind, p.Message, p.Frame, c.FrameCount, p.MessageIndex, c.MessageCount)
		}
		if p.Message == "" || p.Kind == "" {
			t.Fatalf("problem %d has kind %q and message %q", i, p.Kind, p.Message)
		}
	}
	bodies := []*[]byte{}
	if c.Request != nil {
		bodies = append(bodies, &c.Request.Body)
	}
	if c.Response != nil {
		bodies = append(bodies, &c.Response.Body)
	}
	for _, ex := range c.Exchanges {
		if ex.Request != nil {
			bodies = append(bodies, &ex.Request.Body)
		}
		if ex.Response != nil {
			bodies = append(bodies, &ex.Response.Body)
		}
	}
	for _, b := range bodies {
		if int64(len(*b)) > limit {
			t.Fatalf("an HTTP body keeps %d bytes; the limit is %d", len(*b), limit)
		}
	}
}

// fzCheckRetained checks that the buffers the decoder keeps between calls
// are bounded by its limits, whatever lengths the input claimed: a frame
// that announces 2^40 bytes must not make it reserve them.
func fzCheckRetained(t *testing.T, d *Decoder) {
	t.Helper()
	limit := int(d.opts.MaxMessageSize)
	for _, dir := range d.dirs {
		for name, n := range map[string]int{
			"message buffer": cap(dir.msg.buf), "control buffer": cap(dir.ctrl),
			"inflate buffer": cap(dir.inflated), "hixie buffer": cap(dir.hixie.buf),
		} {
			if n > 2*limit+4096 {
				t.Fatalf("the %s %s has capacity %d with a retain limit of %d", dir.side, name, n, limit)
			}
		}
		if n := len(dir.http.head); n > maxHeadSize {
			t.Fatalf("the %s HTTP head buffer holds %d bytes, over %d", dir.side, n, maxHeadSize)
		}
	}
}

// fzDiff describes the first difference between two decodings of the same
// bytes, or returns "" when they are the same. Payloads are compared by
// content (nil equals empty).
func fzDiff(a, b *recorded) string {
	if d := fzDiffShell(a, b); d != "" {
		return d
	}
	for i := range a.Frames {
		if d := fzDiffFrame(a.Frames[i], b.Frames[i], false); d != "" {
			return fmt.Sprintf("frame %d: %s", i, d)
		}
	}
	return fzDiffRecords(a, b)
}

// fzDiffShell compares everything but the frames, messages, problems and
// exchanges themselves (their counts included).
func fzDiffShell(a, b *recorded) string {
	if len(a.Frames) != len(b.Frames) || len(a.Messages) != len(b.Messages) || len(a.Problems) != len(b.Problems) {
		return fmt.Sprintf("%d/%d/%d vs %d/%d/%d frames/messages/problems (%s vs %s)",
			len(a.Frames), len(a.Messages), len(a.Problems), len(b.Frames), len(b.Messages), len(b.Problems),
			fzKinds(a.Problems), fzKinds(b.Problems))
	}
	if d := fzDiffHead(a.Request, b.Request); d != "" {
		return "request: " + d
	}
	if d := fzDiffHead(a.Response, b.Response); d != "" {
		return "response: " + d
	}
	sa, sb := *a.Connection, *b.Connection
	for _, s := range []*Connection{&sa, &sb} {
		s.Request, s.Response = nil, nil
	}
	if !reflect.DeepEqual(sa, sb) {
		return fmt.Sprintf("connection %+v vs %+v", sa, sb)
	}
	return ""
}

func fzKinds(ps []Problem) string {
	var ks []string
	for _, p := range ps {
		ks = append(ks, string(p.Kind))
	}
	return fmt.Sprint(ks)
}

// fzDiffHead compares two requests or two responses, nil equal to empty.
func fzDiffHead[T Request | Response](a, b *T) string {
	if (a == nil) != (b == nil) {
		return fmt.Sprintf("%v vs %v", a != nil, b != nil)
	}
	if a == nil {
		return ""
	}
	na, nb := fzNormHead(*a), fzNormHead(*b)
	if !reflect.DeepEqual(na, nb) {
		return fmt.Sprintf("%+v vs %+v", na, nb)
	}
	return ""
}

// fzNormHead returns h with empty slices set to nil.
func fzNormHead[T Request | Response](h T) T {
	switch v := any(&h).(type) {
	case *Request:
		if len(v.Body) == 0 {
			v.Body = nil
		}
		if len(v.Headers) == 0 {
			v.Headers = nil
		}
	case *Response:
		if len(v.Body) == 0 {
			v.Body = nil
		}
		if len(v.Headers) == 0 {
			v.Headers = nil
		}
	}
	return h
}

func fzDiffExchange(a, b Exchange) string {
	if d := fzDiffHead(a.Request, b.Request); d != "" {
		return "request: " + d
	}
	return fzDiffHead(a.Response, b.Response)
}

// fzDiffFrame compares two frames; without the Message field when
// ignoreMessage is set (a streaming frame event is emitted before its
// message is complete).
func fzDiffFrame(a, b Frame, ignoreMessage bool) string {
	if !bytes.Equal(a.Payload, b.Payload) {
		return fmt.Sprintf("payload %q vs %q", fzClip(a.Payload), fzClip(b.Payload))
	}
	a.Payload, b.Payload = nil, nil
	if ignoreMessage {
		a.Message, b.Message = 0, 0
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%+v vs %+v", a, b)
	}
	return ""
}

func fzDiffMessage(a, b Message) string {
	if !bytes.Equal(a.Payload, b.Payload) {
		return fmt.Sprintf("payload %q vs %q", fzClip(a.Payload), fzClip(b.Payload))
	}
	if !slices.Equal(a.Frames, b.Frames) {
		return fmt.Sprintf("frames %v vs %v", a.Frames, b.Frames)
	}
	a.Payload, b.Payload, a.Frames, b.Frames = nil, nil, nil, nil
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%+v vs %+v", a, b)
	}
	return ""
}

func fzClip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// Hand-made seeds. The examples of RFC 6455 5.7 and RFC 7692 7.2.3 are
// byte for byte from the RFCs; fzMasked masks a server's example as a
// client would send it.

// fzRFC6455Hello and the others are the frames of RFC 6455 5.7.
var (
	fzRFC6455Hello       = []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}
	fzRFC6455MaskedHello = []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	fzRFC6455Fragmented  = []byte{0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}
	fzRFC6455Ping        = []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}
	fzRFC6455MaskedPong  = []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
)

// fzRFC6455Binary returns the 256-byte and 64 KiB binary frames of
// RFC 6455 5.7 (their payload is not given; it is a byte pattern here).
func fzRFC6455Binary(n int) []byte {
	h := FrameHeader{Fin: true, Opcode: OpBinary, Length: uint64(n)}
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i)
	}
	return benchAppendFrame(nil, h, p)
}

// fzRFC7692 are the compressed "Hello" frames of RFC 7692 7.2.3.1 to
// 7.2.3.5 as a server sends them; the second of the pair reuses the first
// one's window (7.2.3.2).
var fzRFC7692 = [][]byte{
	{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},
	{0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00},
	{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00},
	{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00},
	{0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00},
	{0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00},
}

// fzMasked re-encodes unmasked frames as a client sends them, masked with
// the key of RFC 6455 5.7. Bytes that do not parse as whole frames are
// kept as they are.
func fzMasked(frames []byte) []byte {
	var out []byte
	for len(frames) > 0 {
		var h FrameHeader
		if !ParseFrameHeader(frames, &h) || uint64(len(frames)-h.Size) < h.Length {
			return append(out, frames...)
		}
		p := frames[h.Size : h.Size+int(h.Length)]
		h.Masked, h.MaskKey = true, [4]byte{0x37, 0xfa, 0x21, 0x3d}
		out = benchAppendFrame(out, h, p)
		frames = frames[h.Size+int(h.Length):]
	}
	return out
}

// fzHixie76Request and fzHixie76Response are the handshake example of
// draft-ietf-hybi-thewebsocketprotocol-00 (hixie-76) section 1.3, with
// key3 and the challenge answer after the heads.
const (
	fzHixie76Request = "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\n" +
		"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\n^n:ds[4U"
	fzHixie76Response = "HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Origin: http://example.com\r\nSec-WebSocket-Location: ws://example.com/demo\r\n" +
		"Sec-WebSocket-Protocol: sample\r\n\r\n8jKS'y:G*Co,Wxa-"
	fzHixie75Request = "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: example.com\r\n" +
		"Origin: http://example.com\r\nWebSocket-Protocol: sample\r\n\r\n"
	fzHixie75Response = "HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
		"WebSocket-Origin: http://example.com\r\nWebSocket-Location: ws://example.com/demo\r\n" +
		"WebSocket-Protocol: sample\r\n\r\n"
)

// fzHixieFrames are hixie frames: text between 0x00 and 0xFF, a
// length-prefixed binary frame (type 0x80, length 5), and the closing
// handshake 0xFF 0x00.
var fzHixieFrames = []byte("\x00Hello\xff\x00\xe2\x82\xac\xff\x80\x05abcde\xff\x00")

// fzDeflateHandshake is an Upgrade offering permessage-deflate with
// parameters, and an answer that accepts it with limits (RFC 7692 7.1).
func fzDeflateHandshake() (req, resp []byte) {
	req = []byte("GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate\r\n\r\n")
	resp = []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\r\n")
	return req, resp
}

// fzSeedScripts are the hand-made FuzzConnection seeds; the corpus files
// add Zeek's frame streams.
func fzSeedScripts() [][]byte {
	req, resp := benchHandshake(false)
	dreq, dresp := benchHandshake(true)
	preq, presp := fzDeflateHandshake()
	closeFrame := func(code uint16, reason string) []byte {
		p := append([]byte{byte(code >> 8), byte(code)}, reason...)
		return benchAppendFrame(nil, FrameHeader{Fin: true, Opcode: OpClose, Length: uint64(len(p))}, p)
	}
	rfc := bytes.Join([][]byte{fzRFC6455Hello, fzRFC6455Fragmented, fzRFC6455Ping, fzRFC6455Binary(256)}, nil)
	seeds := [][]byte{
		// RFC 6455 5.7, both directions, after the handshake of 1.3.
		fzScript(fzClient(req), fzServer(resp), fzClient(fzRFC6455MaskedHello), fzServer(rfc),
			fzClient(fzRFC6455MaskedPong), fzClient(fzMasked(closeFrame(1000, "bye"))), fzServer(closeFrame(1000, "bye"))),
		fzScript(fzClient(req), fzServer(resp), fzServer(fzRFC6455Binary(65536))),
		// The same frames without a handshake: roles from masking.
		fzScript(fzClient(fzRFC6455MaskedHello), fzServer(rfc), fzClient(fzRFC6455MaskedPong)),
		// Gaps: inside a payload, and across a frame boundary.
		fzScript(fzClient(req), fzServer(resp), fzServer(fzRFC6455Binary(256)[:100]), fzStep{side: Server, gap: true, data: make([]byte, 160)},
			fzServer(fzRFC6455Hello), fzStep{side: Server, gap: true, data: make([]byte, 3)}, fzServer(rfc)),
		// permessage-deflate (RFC 7692 7.2.3), from both sides.
		fzScript(fzClient(dreq), fzServer(dresp), fzServer(bytes.Join(fzRFC7692, nil)), fzClient(fzMasked(bytes.Join(fzRFC7692, nil)))),
		fzScript(fzClient(preq), fzServer(presp), fzServer(fzRFC7692[0]), fzServer(fzRFC7692[2]), fzClient(fzMasked(fzRFC7692[1]))),
		// hixie-76 and hixie-75.
		fzScript(fzClient([]byte(fzHixie76Request)), fzServer([]byte(fzHixie76Response)), fzClient(fzHixieFrames), fzServer(fzHixieFrames)),
		fzScript(fzClient([]byte(fzHixie75Request)), fzServer([]byte(fzHixie75Response)), fzServer(fzHixieFrames), fzClient(fzHixieFrames)),
		// Frames sent before the 101 arrives, then the 101.
		fzScript(fzClient(append(append([]byte(nil), req...), fzRFC6455MaskedHello...)), fzServer(append(append([]byte(nil), resp...), fzRFC6455Hello...))),
		// A refused Upgrade with a body, then plain HTTP.
		fzScript(fzClient(req), fzServer([]byte("HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\nWWW-Authenticate: Basic\r\n\r\nno!\r\n")),
			fzClient([]byte("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")), fzServer([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))),
	}
	return seeds
}

// fzHandshakeSeed is one FuzzHandshake seed.
type fzHandshakeSeed struct{ req, resp, client, server []byte }

func fzSeedHandshakes() []fzHandshakeSeed {
	req, resp := benchHandshake(false)
	dreq, dresp := benchHandshake(true)
	preq, presp := fzDeflateHandshake()
	return []fzHandshakeSeed{
		{req, resp, fzRFC6455MaskedHello, bytes.Join([][]byte{fzRFC6455Hello, fzRFC6455Fragmented, fzRFC6455Ping}, nil)},
		{dreq, dresp, fzMasked(bytes.Join(fzRFC7692, nil)), bytes.Join(fzRFC7692, nil)},
		{preq, presp, fzMasked(fzRFC7692[0]), fzRFC7692[2]},
		{[]byte(fzHixie76Request), []byte(fzHixie76Response), fzHixieFrames, fzHixieFrames},
		{[]byte(fzHixie75Request), []byte(fzHixie75Response), fzHixieFrames, fzHixieFrames},
		{req, []byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"), nil, nil},
		{nil, resp, nil, fzRFC6455Hello},
		{[]byte("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), req, resp},
	}
}

// fzSeedHeaders are frame headers of every length form, masked and not,
// and some that break a rule.
func fzSeedHeaders() [][]byte {
	return [][]byte{
		fzRFC6455Hello[:2], fzRFC6455MaskedHello[:6], fzRFC6455Binary(256)[:4], fzRFC6455Binary(65536)[:10],
		{0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4},    // non-minimal 16-bit length
		{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, // top bit of the 64-bit length
		{0x0b, 0x7e, 0x01, 0x00},                // reserved opcode, fragmented control frame
		{0xf1},                                  // incomplete
	}
}

// fzDiffRecords compares the messages, problems and exchanges of two
// decodings whose shells and frames were already compared.
func fzDiffRecords(a, b *recorded) string {
	for i := range a.Messages {
		if d := fzDiffMessage(a.Messages[i], b.Messages[i]); d != "" {
			return fmt.Sprintf("message %d: %s", i, d)
		}
	}
	for i := range a.Problems {
		if a.Problems[i] != b.Problems[i] {
			return fmt.Sprintf("problem %d: %+v vs %+v", i, a.Problems[i], b.Problems[i])
		}
	}
	if len(a.Exchanges) != len(b.Exchanges) {
		return fmt.Sprintf("%d vs %d exchanges", len(a.Exchanges), len(b.Exchanges))
	}
	for i := range a.Exchanges {
		if d := fzDiffExchange(a.Exchanges[i], b.Exchanges[i]); d != "" {
			return fmt.Sprintf("exchange %d: %s", i, d)
		}
	}
	return ""
}
