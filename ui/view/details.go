package view

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// details is the state of the details area: its tab, whether payloads
// are shown in hex, the rendered lines of the selected item and how far
// they are scrolled. The lines are rendered when the item, the tab or the
// width changes, never per redraw.
type details struct {
	tab    Tab
	hex    bool
	key    detailKey
	lines  []Line
	top    int
	height int
}

// detailKey is what the rendered lines depend on.
type detailKey struct {
	conn              session.ConnID
	frames            bool
	item              int
	tab               Tab
	hex               bool
	width             int
	problems          int
	exchanges         int
	state             decode.State
	request, response bool
	ended             bool
}

func (d *details) reset() {
	d.lines, d.top, d.key = nil, 0, detailKey{conn: -2}
}

func (d *details) scroll(n int) {
	d.top = clamp(d.top+n, 0, max(len(d.lines)-d.height, 0))
}

// Tab returns the tab the details area shows.
func (b *Browser) Tab() Tab { return b.det.tab }

// SetTab shows tab t in the details area.
func (b *Browser) SetTab(t Tab) {
	if t >= 0 && t < tabCount {
		b.det.tab = t
	}
}

// NextTab shows the next (d = 1) or previous (d = -1) tab.
func (b *Browser) NextTab(d int) {
	b.det.tab = Tab((int(b.det.tab) + d + int(tabCount)) % int(tabCount))
}

// ToggleHex switches payloads between their rendering (JSON, text) and a
// hex dump.
func (b *Browser) ToggleHex() {
	b.det.hex = !b.det.hex
	if b.det.hex {
		b.SetStatus("payloads in hex", StyleNormal)
	} else {
		b.SetStatus("payloads as text or JSON", StyleNormal)
	}
}

// Tabs returns the labels of the details tabs, the problems tab with the
// count of the selected item's problems.
func (b *Browser) Tabs() []string {
	labels := make([]string, tabCount)
	for t := range tabCount {
		labels[t] = strconv.Itoa(int(t)+1) + " " + t.String()
	}
	if b.conn >= 0 && b.info.ProblemCount > 0 {
		labels[TabProblems] += " (" + strconv.Itoa(b.info.ProblemCount) + ")"
	}
	return labels
}

// Details returns the lines of the details area in view, for an area of
// width columns and height rows.
func (b *Browser) Details(width, height int) []Line {
	d := &b.det
	d.height = max(height, 1)
	key := detailKey{conn: b.conn, frames: b.frames, item: b.Item(), tab: d.tab, hex: d.hex, width: width,
		problems: b.info.ProblemCount, exchanges: b.info.ExchangeCount, state: b.info.State,
		request: b.info.Request != nil, response: b.info.Response != nil, ended: b.info.Ended}
	if key != d.key {
		if key.conn != d.key.conn || key.item != d.key.item || key.frames != d.key.frames || key.tab != d.key.tab {
			d.top = 0
		}
		d.key = key
		d.lines = b.renderDetails(width)
	}
	d.scroll(0)
	return d.lines[d.top:min(d.top+d.height, len(d.lines))]
}

// DetailLines returns how many lines the details have, and the first in
// view.
func (b *Browser) DetailLines() (n, top int) { return len(b.det.lines), b.det.top }

func (b *Browser) renderDetails(width int) []Line {
	if b.conn < 0 {
		if b.stored == 0 {
			return []Line{{{"No connection yet.", StyleDim}}}
		}
		return []Line{{{"No connection selected.", StyleDim}}}
	}
	item := b.Item()
	var out []Line
	switch b.det.tab {
	case TabHandshake:
		out = b.handshakeLines(width)
	case TabProblems:
		out = wrapLines(b.problemLines(item), width)
	case TabFrames:
		if item < 0 {
			out = []Line{{{"Select a message to see its frames.", StyleDim}}}
		} else {
			out = b.frameLines(item)
		}
	default:
		switch {
		case item < 0:
			out = b.summaryLines()
		case b.frames:
			out = b.framePayloadLines(item, width)
		default:
			out = b.messagePayloadLines(item, width)
		}
	}
	if len(out) == 0 {
		out = []Line{{{"(nothing)", StyleDim}}}
	}
	return out
}

// clock writes a capture time with microseconds, in UTC.
func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000Z")
}

// summaryLines describe the selected connection when no item is selected.
func (b *Browser) summaryLines() []Line {
	c := &b.info
	kv := func(k, v string) Line { return Line{{fmt.Sprintf("%-12s", k), StyleKey}, {v, StyleNormal}} }
	out := []Line{
		kv("connection", c.ID+" ("+StateName(c.State, c.Ended)+", "+c.Protocol.String()+", from "+c.Source+")"),
		kv("client", c.Client),
		kv("server", c.Server),
	}
	if c.URL != "" {
		out = append(out, kv("url", c.URL))
	}
	if c.Subprotocol != "" {
		out = append(out, kv("subprotocol", c.Subprotocol))
	}
	if c.Extensions != "" {
		out = append(out, kv("extensions", c.Extensions))
	}
	out = append(out,
		kv("opened", clock(c.Opened)),
		kv("last seen", clock(c.LastSeen)+"  ("+Offset(c.LastSeen, c.Opened)+")"),
		kv("messages", Count(int64(c.MessageCount))+" in "+Count(int64(c.FrameCount))+" frames"),
		kv("bytes", Count(c.Bytes[decode.Client])+" sent by the client, "+Count(c.Bytes[decode.Server])+" by the server"),
	)
	if c.Close != nil {
		out = append(out, kv("close", c.Close.From.String()+": "+CloseText(c.Close)))
	}
	if c.CloseReply != nil {
		out = append(out, kv("close reply", c.CloseReply.From.String()+": "+CloseText(c.CloseReply)))
	}
	if c.ProblemCount > 0 {
		out = append(out, Line{{fmt.Sprintf("%-12s", "problems"), StyleKey}, {Count(int64(c.ProblemCount)) + " (tab 4)", StyleError}})
	}
	return out
}

// messagePayloadLines are the payload tab of a message: what it is, then
// its payload rendered.
func (b *Browser) messagePayloadLines(i, width int) []Line {
	m, err := b.r.MessagePrefix(b.conn, i, maxRenderBytes)
	if err != nil {
		return []Line{{{err.Error(), StyleError}}}
	}
	dir, dst := sideText(m.From)
	head := Line{{"message " + strconv.Itoa(i) + "  ", StyleHeader}, {dir, dst}, {" " + m.Opcode.String(), typeStyle(m.Opcode)}}
	facts := []string{Count(m.Size) + " bytes"}
	if m.Compressed {
		facts = append(facts, "compressed, "+Count(m.WireSize)+" on the wire")
	} else {
		facts = append(facts, Count(m.WireSize)+" on the wire")
	}
	if len(m.Frames) > 1 {
		facts = append(facts, strconv.Itoa(len(m.Frames))+" frames")
	}
	facts = append(facts, Offset(m.Time, b.info.Opened))
	head = head.add("  "+strings.Join(facts, " · "), StyleDim)
	out := []Line{head, {{clock(m.Time), StyleDim}}}
	if sev, ok := b.probs.message(i); ok {
		out = append(out, Line{marker(sev), {" problems with this message: tab 4", severityStyle(sev)}})
	}
	if m.Raw {
		out = append(out, Line{{"could not be inflated: the compressed bytes are shown", StyleWarning}})
	}
	if m.Truncated {
		out = append(out, Line{{"truncated: the payload was not kept whole", StyleWarning}})
	}
	if m.Opcode == decode.OpText && !m.TextValid && !m.Truncated && !m.Raw {
		out = append(out, Line{{"not valid UTF-8: the bad bytes are marked", StyleInvalid}})
	}
	if m.Opcode == decode.OpClose && m.Close != nil {
		out = append(out, Line{{"close ", StyleKey}, {CloseText(m.Close), StyleControl}})
	}
	out = append(out, nil)
	p := m.Payload
	text := m.Opcode == decode.OpText && !m.Raw
	if m.Opcode == decode.OpClose && len(p) >= 2 {
		p, text = p[2:], true
	}
	out = append(out, renderPayload(p, text, b.det.hex || m.Raw, width)...)
	if int64(len(m.Payload)) < m.Size {
		out = append(out, nil, Line{{fmt.Sprintf("(the first %s of %s bytes; y copies it, e exports it)", Count(int64(len(m.Payload))), Count(m.Size)), StyleDim}})
	}
	return out
}

func severityStyle(s decode.Severity) Style {
	if s == decode.Error {
		return StyleError
	}
	return StyleWarning
}

// framePayloadLines are the payload tab of a raw frame.
func (b *Browser) framePayloadLines(i, width int) []Line {
	f, err := b.r.FramePrefix(b.conn, i, maxRenderBytes)
	if err != nil {
		return []Line{{{err.Error(), StyleError}}}
	}
	dir, dst := sideText(f.From)
	head := Line{{"frame " + strconv.Itoa(i) + "  ", StyleHeader}, {dir, dst}, {" " + f.Opcode.String(), typeStyle(f.Opcode)}}
	head = head.add("  "+frameFacts(f), StyleDim)
	out := []Line{head, {{clock(f.Time), StyleDim}}}
	if sev, ok := b.probs.frame(i); ok {
		out = append(out, Line{marker(sev), {" problems with this frame: tab 4", severityStyle(sev)}})
	}
	compressed := false
	if f.Message >= 0 {
		if m, err := b.r.MessageHead(b.conn, f.Message); err == nil {
			compressed = m.Compressed
			out = append(out, Line{{"part of message " + strconv.Itoa(f.Message), StyleDim}})
		}
		// The reader's frame was overwritten by MessageHead? No: frames
		// and messages have buffers of their own.
	}
	if compressed {
		out = append(out, Line{{"compressed bytes as on the wire (the message has them inflated)", StyleDim}})
	}
	out = append(out, nil)
	out = append(out, renderPayload(f.Payload, f.Opcode == decode.OpText && !compressed, b.det.hex || compressed, width)...)
	if uint64(len(f.Payload)) < f.Length {
		out = append(out, nil, Line{{fmt.Sprintf("(%s of %s bytes kept)", Count(int64(len(f.Payload))), Count(int64(f.Length))), StyleDim}})
	}
	return out
}

// frameFacts writes a frame's header fields on one line.
func frameFacts(f *decode.Frame) string {
	facts := []string{}
	if f.Fin {
		facts = append(facts, "FIN")
	} else {
		facts = append(facts, "not FIN")
	}
	if f.Rsv != 0 {
		facts = append(facts, "RSV "+rsvText(f.Rsv))
	}
	if f.Masked {
		facts = append(facts, "mask "+hexString(f.MaskKey[:]))
	} else {
		facts = append(facts, "unmasked")
	}
	facts = append(facts, "length "+Count(int64(f.Length)), "header "+strconv.Itoa(f.HeaderLen), "offset "+Count(f.Offset))
	return strings.Join(facts, " · ")
}

// frameLines are the frames tab: the frames of the selected message, or
// of the selected frame's message.
func (b *Browser) frameLines(item int) []Line {
	msg := item
	if b.frames {
		f, err := b.r.FramePrefix(b.conn, item, 0)
		if err != nil {
			return []Line{{{err.Error(), StyleError}}}
		}
		if f.Message < 0 {
			return []Line{{{"frame " + strconv.Itoa(item) + ": ", StyleHeader}, {frameFacts(f), StyleNormal}}, {{"(its message is not complete)", StyleDim}}}
		}
		msg = f.Message
	}
	m, err := b.r.MessageHead(b.conn, msg)
	if err != nil {
		return []Line{{{err.Error(), StyleError}}}
	}
	list := append([]int(nil), m.Frames...)
	out := []Line{{{"message " + strconv.Itoa(msg) + ": " + strconv.Itoa(len(list)) + " frames", StyleHeader}}}
	for _, fi := range list {
		f, err := b.r.FramePrefix(b.conn, fi, 0)
		if err != nil {
			out = append(out, Line{{err.Error(), StyleError}})
			continue
		}
		l := Line{}
		if sev, ok := b.probs.frame(fi); ok {
			l = append(l, marker(sev))
		} else {
			l = l.add(" ", StyleNormal)
		}
		dir, dst := sideText(f.From)
		st := StyleNormal
		if b.frames && fi == item {
			st = StyleAccent
		}
		l = l.add(fmt.Sprintf(" frame %-6d ", fi), st).add(dir, dst).add(fmt.Sprintf(" %-6s ", f.Opcode), typeStyle(f.Opcode))
		l = l.add(frameFacts(f), StyleNormal).add("  "+Offset(f.Time, b.info.Opened), StyleDim)
		out = append(out, l)
	}
	return out
}

// handshakeLines are the handshake tab: the Upgrade request and its
// answer with their headers in wire order, what was negotiated, the
// close, and the plain HTTP exchanges of the connection.
func (b *Browser) handshakeLines(width int) []Line {
	c := &b.info
	var out []Line
	headers := func(hs []decode.Header) {
		for _, h := range hs {
			out = append(out, Line{{h.Name, StyleKey}, {": ", StylePunct}, {h.Value, StyleNormal}})
		}
	}
	if q := c.Request; q != nil {
		out = append(out, Line{{q.Method + " " + q.Target + " " + q.Proto, StyleHeader}, {"  " + clock(q.Time), StyleDim}})
		headers(q.Headers)
	} else {
		out = append(out, Line{{"The Upgrade request was not captured.", StyleDim}})
	}
	out = append(out, nil)
	if p := c.Response; p != nil {
		st := StyleOK
		if p.Status != 101 {
			st = StyleError
		}
		out = append(out, Line{{p.Proto + " ", StyleHeader}, {strconv.Itoa(p.Status) + " " + p.Reason, st}, {"  " + clock(p.Time), StyleDim}})
		headers(p.Headers)
	} else {
		out = append(out, Line{{"No answer to the Upgrade was captured.", StyleDim}})
	}
	out = append(out, nil)
	kv := func(k, v string) {
		if v != "" {
			out = append(out, Line{{fmt.Sprintf("%-12s", k), StyleKey}, {v, StyleNormal}})
		}
	}
	kv("url", c.URL)
	kv("protocol", c.Protocol.String())
	kv("subprotocol", c.Subprotocol)
	kv("extensions", c.Extensions)
	if d := c.Deflate; d != nil {
		kv("deflate", fmt.Sprintf("server_no_context_takeover=%v client_no_context_takeover=%v server_max_window_bits=%d client_max_window_bits=%d",
			d.ServerNoContextTakeover, d.ClientNoContextTakeover, d.ServerMaxWindowBits, d.ClientMaxWindowBits))
	}
	if c.Close != nil {
		kv("close", c.Close.From.String()+": "+CloseText(c.Close))
	}
	if c.CloseReply != nil {
		kv("close reply", c.CloseReply.From.String()+": "+CloseText(c.CloseReply))
	}
	for i := range c.ExchangeCount {
		x, err := b.store.Exchange(b.conn, i)
		if err != nil {
			out = append(out, Line{{err.Error(), StyleError}})
			break
		}
		out = append(out, nil, Line{{"plain HTTP exchange " + strconv.Itoa(i+1), StyleHeader}})
		if x.Request != nil {
			out = append(out, Line{{x.Request.Method + " " + x.Request.Target + " " + x.Request.Proto, StyleNormal}})
			headers(x.Request.Headers)
		}
		if x.Response != nil {
			out = append(out, Line{{x.Response.Proto + " " + strconv.Itoa(x.Response.Status) + " " + x.Response.Reason, StyleNormal}})
			headers(x.Response.Headers)
			if len(x.Response.Body) > 0 {
				body := x.Response.Body[:min(len(x.Response.Body), maxRenderBytes)]
				out = append(out, nil)
				out = append(out, renderPayload(body, false, b.det.hex, width)...)
			}
		}
	}
	return wrapLines(out, width)
}

// problemLines are the problems tab: those of the selected item first,
// then every problem of the connection.
func (b *Browser) problemLines(item int) []Line {
	if b.info.ProblemCount == 0 {
		return []Line{{{"No problems in this connection.", StyleOK}}}
	}
	line := func(p *decode.Problem) Line {
		st := severityStyle(p.Severity)
		where := []string{}
		if p.MessageIndex >= 0 {
			where = append(where, "message "+strconv.Itoa(p.MessageIndex))
		}
		if p.Frame >= 0 {
			where = append(where, "frame "+strconv.Itoa(p.Frame))
		}
		if p.Offset >= 0 {
			where = append(where, "offset "+Count(p.Offset))
		}
		l := Line{{fmt.Sprintf("%-7s ", p.Severity), st}, {string(p.Kind), StyleKey}}
		if len(where) > 0 {
			l = l.add(" ("+strings.Join(where, ", ")+")", StyleDim)
		}
		return l.add(": "+p.Message, StyleNormal)
	}
	var out []Line
	if item >= 0 {
		var frameList []int
		if !b.frames {
			if m, err := b.r.MessageHead(b.conn, item); err == nil {
				frameList = append(frameList, m.Frames...)
			}
		}
		mine := b.probs.of(item, b.frames, frameList)
		what := "message"
		if b.frames {
			what = "frame"
		}
		if len(mine) > 0 {
			out = append(out, Line{{fmt.Sprintf("This %s (%d)", what, len(mine)), StyleHeader}})
			for i := range mine {
				out = append(out, line(&mine[i]))
			}
			out = append(out, nil)
		}
	}
	out = append(out, Line{{fmt.Sprintf("All problems of connection %s (%d)", b.info.ID, len(b.probs.list)), StyleHeader}})
	for i := range b.probs.list {
		out = append(out, line(&b.probs.list[i]))
	}
	if b.info.SuppressedProblems > 0 {
		out = append(out, Line{{fmt.Sprintf("and %s more of kinds already reported", Count(int64(b.info.SuppressedProblems))), StyleDim}})
	}
	return out
}
