package export

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
)

// renderSamples are frames and messages of the shapes a long capture is
// made of: a masked client text frame, an unmasked server binary one, a
// compressed message, a close.
func renderSamples() ([]decode.Frame, []decode.Message) {
	t0 := time.Date(2026, 11, 21, 5, 0, 0, 3256000, time.UTC)
	text := []byte(`{"type":"ticker","product_id":"LTC-GBP","price":"13904.13","best_bid":"13877.47"}`)
	bin := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	frames := []decode.Frame{
		{From: decode.Client, Time: t0, Offset: 163, Fin: true, Opcode: decode.OpText, Masked: true, MaskKey: [4]byte{0x31, 0xd2, 0xeb, 0xe5}, Length: uint64(len(text)), HeaderLen: 6, Message: 1, Payload: text},
		{From: decode.Server, Time: t0.Add(time.Millisecond), Offset: 1234567, Fin: true, Opcode: decode.OpBinary, Length: uint64(len(bin)), HeaderLen: 2, Message: 2, Payload: bin},
		{From: decode.Server, Time: t0.Add(2 * time.Second), Offset: 99, Fin: false, Rsv: 4, Opcode: decode.OpText, Length: 12, HeaderLen: 2, Message: -1, Payload: bin[:12]},
		{From: decode.Client, Offset: 0, Fin: true, Opcode: decode.OpClose, Masked: true, Length: 0, HeaderLen: 6, Message: 3},
	}
	messages := []decode.Message{
		{From: decode.Client, Time: t0, LastTime: t0, Opcode: decode.OpText, Frames: []int{0}, WireSize: int64(len(text) + 6), Size: int64(len(text)), TextValid: true, Payload: text},
		{From: decode.Server, Time: t0, LastTime: t0.Add(time.Second), Opcode: decode.OpBinary, Frames: []int{1, 2, 3}, WireSize: 26, Size: 20, Payload: bin},
		{From: decode.Server, Time: t0, LastTime: t0, Opcode: decode.OpText, Compressed: true, Frames: []int{4}, WireSize: 14, Size: 40, TextValid: true, Payload: text[:40]},
		{From: decode.Server, Time: t0, LastTime: t0, Opcode: decode.OpText, Compressed: true, Raw: true, Truncated: true, Frames: []int{5}, WireSize: 14, Size: 12, Payload: bin[:12]},
		{From: decode.Client, Opcode: decode.OpClose, Frames: []int{6}, WireSize: 8, Size: 2, Close: &decode.Close{HasCode: true, Code: 1000, Reason: "bye \"now\""}, Payload: []byte{3, 232}},
		{From: decode.Client, Opcode: decode.OpClose, Frames: []int{7}, WireSize: 6, Size: 0, Close: &decode.Close{}, TextValid: true},
		{From: decode.Client, Opcode: decode.OpText, Frames: []int{8}, WireSize: 8, Size: 2, Payload: []byte{0xff, 'a'}},
	}
	return frames, messages
}

// renderString returns what write writes with a jw of its own.
func renderString(t testing.TB, write func(e *jw)) string {
	t.Helper()
	var out strings.Builder
	e := newJW(&out)
	write(e)
	if err := e.flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestRenderSameAsMembers checks the fused frame and message writers
// against the member-by-member ones, also for a message object that
// already has members (an NDJSON event) and one of many fragments.
func TestRenderSameAsMembers(t *testing.T) {
	frames, messages := renderSamples()
	many := messages[1]
	many.Frames = make([]int, 30000) // its list goes over spillSize
	for i := range many.Frames {
		many.Frames[i] = 1<<20 + i
	}
	messages = append(messages, many)
	render := func(write func(e *jw)) string { return renderString(t, write) }
	for i := range frames {
		for _, payload := range []bool{false, true} {
			got := render(func(e *jw) { writeFrameJSON(e, &frames[i], payload) })
			want := render(func(e *jw) { referenceFrameJSON(e, &frames[i], payload) })
			if got != want {
				t.Errorf("frame %d, payload %v:\n got %s\nwant %s", i, payload, got, want)
			}
		}
	}
	for i := range messages {
		for _, before := range []bool{false, true} {
			write := func(fields func(*obj, *decode.Message)) func(e *jw) {
				return func(e *jw) {
					o := o1(e)
					if before {
						o.int("index", 7)
					}
					fields(&o, &messages[i])
					o.end()
				}
			}
			got, want := render(write(messageFields)), render(write(referenceMessageFields))
			if got != want {
				t.Errorf("message %d, members before %v:\n got %.300s\nwant %.300s", i, before, got, want)
			}
		}
	}
}

// FuzzRenderSameAsMembers: for any frame and message, the fused writers
// write what the member-by-member ones write.
func FuzzRenderSameAsMembers(f *testing.F) {
	f.Add(uint8(1), uint8(0x81), int64(163), uint64(136), 6, 3, int64(1779339600003256000), []byte("hello"), uint16(1000), "bye", uint8(0))
	f.Add(uint8(0), uint8(0x42), int64(-1), uint64(1<<63), 14, -1, int64(0), []byte{0xff, 0, '"', '\\'}, uint16(0), "\u2028\x00", uint8(0xff))
	f.Fuzz(func(t *testing.T, from, bits uint8, offset int64, length uint64, headerLen, message int, nanos int64, payload []byte, code uint16, reason string, flags uint8) {
		at := time.Unix(0, nanos).UTC()
		if flags&1 != 0 {
			at = time.Time{}
		}
		fr := decode.Frame{From: decode.Side(from & 1), Time: at, Offset: offset, Fin: bits&0x80 != 0, Rsv: bits >> 4 & 7,
			Opcode: decode.Opcode(bits & 0xf), Masked: flags&2 != 0, MaskKey: [4]byte{bits, from, byte(code), byte(code >> 8)},
			Length: length, HeaderLen: headerLen, Message: message, Payload: payload}
		m := decode.Message{From: fr.From, Time: at, LastTime: at.Add(time.Duration(offset & 0xffff)), Opcode: fr.Opcode,
			Compressed: flags&4 != 0, Frames: []int{message, headerLen}[:1+int(flags>>3&1)], WireSize: offset, Size: int64(length >> 1),
			Truncated: flags&16 != 0, Raw: flags&32 != 0, TextValid: flags&64 != 0, Payload: payload}
		if flags&128 != 0 {
			m.Close = &decode.Close{HasCode: code != 0, Code: code, Reason: reason}
		}
		render := func(write func(e *jw)) string { return renderString(t, write) }
		for _, withPayload := range []bool{false, true} {
			got := render(func(e *jw) { writeFrameJSON(e, &fr, withPayload) })
			want := render(func(e *jw) { referenceFrameJSON(e, &fr, withPayload) })
			if got != want {
				t.Fatalf("frame:\n got %s\nwant %s", got, want)
			}
		}
		got := render(func(e *jw) { o := o1(e); messageFields(&o, &m); o.end() })
		want := render(func(e *jw) { o := o1(e); referenceMessageFields(&o, &m); o.end() })
		if got != want {
			t.Fatalf("message:\n got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkRenderFrame(b *testing.B) {
	frames, _ := renderSamples()
	e := newJW(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		for i := range frames[:2] {
			writeFrameJSON(e, &frames[i], false)
		}
	}
}

func BenchmarkRenderMessage(b *testing.B) {
	_, messages := renderSamples()
	e := newJW(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		for i := range messages[:2] {
			writeMessageJSON(e, &messages[i])
		}
	}
}

// referenceFrameJSON is writeFrameJSON as written through obj, member by
// member: the fused writer must write the same bytes.
func referenceFrameJSON(e *jw, f *decode.Frame, payload bool) {
	o := o1(e)
	o.str("from", sideName(f.From))
	o.timeIf("time", f.Time)
	o.int("offset", f.Offset)
	o.bool("fin", f.Fin)
	o.int("rsv", int64(f.Rsv))
	o.int("opcode", int64(f.Opcode))
	o.bool("masked", f.Masked)
	if f.Masked {
		o.key("mask_key").hex(f.MaskKey[:])
	}
	o.key("length").uint(f.Length)
	o.int("header_length", int64(f.HeaderLen))
	o.int("message", int64(f.Message))
	if payload && (len(f.Payload) > 0 || f.Message >= 0) {
		o.key("payload_base64").base64(f.Payload)
	}
	o.end()
}

// referenceMessageFields writes the members of a message object.
func referenceMessageFields(o *obj, m *decode.Message) {
	o.str("from", sideName(m.From))
	o.timeIf("time", m.Time)
	o.timeIf("last_time", m.LastTime)
	o.int("opcode", int64(m.Opcode))
	o.bool("compressed", m.Compressed)
	fr := o.key("frames")
	fr.raw("[")
	for i, f := range m.Frames {
		if i > 0 {
			fr.raw(", ")
		}
		fr.int(int64(f))
	}
	fr.raw("]")
	o.int("wire_size", m.WireSize)
	o.int("size", m.Size)
	if m.Truncated {
		o.bool("truncated", true)
	}
	if m.Raw {
		o.bool("raw", true)
	}
	if m.Opcode == decode.OpText || m.Opcode == decode.OpClose {
		o.bool("text_valid", m.TextValid)
	}
	if c := m.Close; c != nil {
		cl := o.key("close").object("")
		if c.HasCode {
			cl.int("code", int64(c.Code))
			cl.str("reason", c.Reason)
		}
		cl.end()
	}
	if isText(m) {
		o.key("text").strBytes(m.Payload)
	} else {
		o.key("data_base64").base64(m.Payload)
	}
}
