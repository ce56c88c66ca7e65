package view

import (
	"encoding/base64"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
)

// copyLimit is the most a copy puts on the clipboard: OSC 52 carries it
// base64-encoded through the terminal, and terminals and multiplexers
// refuse or cut sequences much longer (xterm and tmux take about a
// megabyte).
const copyLimit = 512 << 10

// Copy returns what a copy of the selected item puts on the clipboard:
// its payload as text when it is text, in base64 otherwise (a clipboard
// holds text); and a description of it for the status line.
func (b *Browser) Copy() ([]byte, string, error) {
	item := b.Item()
	if b.conn < 0 || item < 0 {
		return nil, "", fmt.Errorf("select a message first")
	}
	var p []byte
	var size int64
	text := false
	what := "message " + fmt.Sprint(item)
	if b.frames {
		f, err := b.r.FramePrefix(b.conn, item, copyLimit+1)
		if err != nil {
			return nil, "", err
		}
		p, size, what = f.Payload, int64(f.Length), "frame "+fmt.Sprint(item)
		text = f.Opcode == decode.OpText && utf8.Valid(p)
	} else {
		m, err := b.r.MessagePrefix(b.conn, item, copyLimit+1)
		if err != nil {
			return nil, "", err
		}
		p, size = m.Payload, m.Size
		text = (m.Opcode == decode.OpText || m.Opcode.IsControl()) && !m.Raw && utf8.Valid(p)
	}
	cut := ""
	if len(p) > copyLimit {
		p = p[:copyLimit]
		if text {
			// Do not cut a character in two.
			for len(p) > 0 && !utf8.Valid(p) {
				p = p[:len(p)-1]
			}
		}
		cut = fmt.Sprintf(" (the first %s of %s; export for all of it)", Count(int64(len(p))), Count(size))
	}
	out := slices.Clone(p)
	how := "as text"
	if !text {
		out = []byte(base64.StdEncoding.EncodeToString(p))
		how = "in base64"
	}
	return out, fmt.Sprintf("copied the payload of %s %s%s", what, how, cut), nil
}

// NextProblem selects the next message (or frame) with a problem after
// the selected one, going on into the next connections with problems and
// around.
func (b *Browser) NextProblem() {
	n := b.rows.len(b.stored)
	if n == 0 {
		return
	}
	cur := max(b.Conns.Selected(), 0)
	item := b.Item()
	for k := 0; k <= n; k++ {
		r := (cur + k) % n
		id := b.rows.at(r)
		info, err := b.store.Info(id)
		if err != nil || info.ProblemCount == 0 {
			continue
		}
		var px problemIndex
		if id == b.conn {
			px = b.probs
		} else {
			px.build(b.store, b.r, id, info.ProblemCount)
		}
		list := px.ordered
		if b.frames {
			list = px.orderedFrames
		}
		shown := b.timelineOf(id, &info)
		for _, i := range list {
			if k == 0 && i <= item || !shown.Has(i) {
				continue
			}
			if k == n && i >= item {
				break
			}
			if r != b.Conns.Selected() {
				b.SelectConn(r)
			}
			if pos, ok := b.timeline.Find(i); ok {
				b.Time.Select(pos)
			}
			b.focus = AreaTimeline
			sev, _ := px.message(i)
			if b.frames {
				sev, _ = px.frame(i)
			}
			b.SetStatus(fmt.Sprintf("problem at %s %d of connection %s", map[bool]string{false: "message", true: "frame"}[b.frames], i, info.ID), severityStyle(sev))
			return
		}
		if k > 0 && k < n && len(list) == 0 {
			// Problems of the connection as a whole: show it.
			b.SelectConn(r)
			b.det.tab = TabProblems
			b.focus = AreaConnections
			b.SetStatus("connection "+info.ID+" has problems", StyleWarning)
			return
		}
	}
	b.SetStatus("no other problem", StyleNormal)
}
