package tui

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
	"github.com/wstap/wstap/ui/view"
)

// rootView draws the whole screen: the title bar, the three areas (or
// the one zoomed), the status bar or the prompt, and the help over all.
// The layout is computed at each draw from the screen's size, so that a
// resize needs nothing more than a redraw.
type rootView struct {
	*tview.Box
	a *App
}

// Layout bounds. minListRows keeps a list usable at 80x24 (a title, a
// header and at least two rows); connShare is the part of the height the
// connection list gets, the rest going to the timeline and the details in
// halves.
const (
	minListRows = 4
	maxConnRows = 14
	connShare   = 4
)

func (r *rootView) Draw(s tcell.Screen) {
	a := r.a
	a.draws++
	x, y, w, h := r.GetRect()
	if w <= 0 || h <= 0 {
		return
	}
	b := a.b
	if a.help {
		r.drawHelp(s, x, y, w, h)
		return
	}
	r.drawTitle(s, x, y, w)
	bottom := 1
	if a.promptErr != nil {
		bottom = 2
	}
	mid := h - 1 - bottom
	top := y + 1
	a.areas = [3]rect{}
	if a.zoom {
		r.drawArea(s, b.Focus(), rect{x, top, w, mid})
	} else {
		conns := max(min(mid/connShare+1, maxConnRows), minListRows)
		rest := mid - conns
		timeline := rest - rest/2
		details := rest / 2
		r.drawArea(s, view.AreaConnections, rect{x, top, w, conns})
		r.drawArea(s, view.AreaTimeline, rect{x, top + conns, w, timeline})
		r.drawArea(s, view.AreaDetails, rect{x, top + conns + timeline, w, details})
	}
	r.drawBottom(s, x, y+h-bottom, w)
}

// drawArea draws one area in rc.
func (r *rootView) drawArea(s tcell.Screen, area view.Area, rc rect) {
	if rc.h <= 0 {
		return
	}
	r.a.areas[area] = rc
	switch area {
	case view.AreaConnections:
		r.drawConns(s, rc)
	case view.AreaTimeline:
		r.drawTimeline(s, rc)
	default:
		r.drawDetails(s, rc)
	}
}

// drawBar draws an area's title bar: left-aligned text, and right-aligned
// text (a marker) that wins the space when both do not fit.
func (r *rootView) drawBar(s tcell.Screen, rc rect, focused bool, left, right string, rightStyle tcell.Style) {
	st := r.a.th.bar
	if focused {
		st = r.a.th.barFocus
	}
	fillRow(s, rc.x, rc.y, rc.w, st)
	rw := utf8.RuneCountInString(right)
	drawText(s, rc.x, rc.y, max(rc.w-rw-1, 0), left, st)
	if right != "" && rw < rc.w {
		drawText(s, rc.x+rc.w-rw, rc.y, rw, right, rightStyle)
	}
}

// listState writes what a list's bar says on its right: following, or
// how many new rows are below.
func listState(l *view.List, paused bool) (string, bool) {
	switch {
	case paused:
		return " PAUSED ", true
	case l.Unseen() > 0:
		return " " + view.Count(int64(l.Unseen())) + " new ↓ (f follows) ", true
	case l.Following():
		return " following ", false
	}
	return "", false
}

func (r *rootView) drawList(s tcell.Screen, rc rect, area view.Area, title string, l *view.List, hdr func(int) view.Line, row func(int, int) view.Line) {
	a := r.a
	focused := a.b.Focus() == area
	state, loud := listState(l, a.b.Paused())
	st := a.th.bar
	if loud {
		st = a.th.bar.Foreground(tcell.ColorYellow).Bold(true)
	}
	r.drawBar(s, rc, focused, title, state, st)
	if rc.h < 2 {
		return
	}
	drawLine(s, a.th, rc.x, rc.y+1, rc.w, hdr(rc.w), noOverlay)
	rows := rc.h - 2
	l.SetHeight(rows)
	top := l.Top()
	for i := range rows {
		y := rc.y + 2 + i
		n := top + i
		if n >= l.Len() {
			fillRow(s, rc.x, y, rc.w, tcell.StyleDefault)
			continue
		}
		over := noOverlay
		if n == l.Selected() {
			over = a.th.selectedBlur
			if focused {
				over = a.th.selected
			}
		}
		drawLine(s, a.th, rc.x, y, rc.w, row(n, rc.w), over)
	}
}

func (r *rootView) drawConns(s tcell.Screen, rc rect) {
	b := r.a.b
	title := " Connections " + view.Count(int64(b.Conns.Len()))
	if f := b.Filter(); f != "" {
		title += " · filter: " + f
	}
	if b.Cleared() {
		title += " · cleared (u shows all)"
	}
	r.drawList(s, rc, view.AreaConnections, title, &b.Conns, b.ConnHeader, b.ConnRow)
}

func (r *rootView) drawTimeline(s tcell.Screen, rc rect) {
	b := r.a.b
	what := "messages"
	if b.Frames() {
		what = "frames"
	}
	title := " Timeline"
	if b.Conn() >= 0 {
		info := b.Info()
		title += " of " + info.ID
		if info.URL != "" {
			title += " " + info.URL
		}
	}
	title += " · " + view.Count(int64(b.Time.Len())) + " " + what
	if b.Filter() != "" {
		title += " (filtered)"
	}
	r.drawList(s, rc, view.AreaTimeline, title, &b.Time, b.TimeHeader, b.TimeRow)
}

func (r *rootView) drawDetails(s tcell.Screen, rc rect) {
	a := r.a
	b := a.b
	focused := b.Focus() == view.AreaDetails
	st := a.th.bar
	if focused {
		st = a.th.barFocus
	}
	fillRow(s, rc.x, rc.y, rc.w, st)
	x := rc.x
	a.tabs = a.tabs[:0]
	for i, label := range b.Tabs() {
		text := " " + label + " "
		ts := st
		if view.Tab(i) == b.Tab() {
			ts = st.Reverse(false).Bold(true).Underline(true)
		}
		x0 := x
		x = drawText(s, x, rc.y, rc.x+rc.w-x, text, ts)
		a.tabs = append(a.tabs, tabRect{x0, x, view.Tab(i)})
	}
	lines := b.Details(rc.w, rc.h-1)
	n, top := b.DetailLines()
	if n > rc.h-1 {
		pos := " " + strconv.Itoa(top+1) + "-" + strconv.Itoa(min(top+rc.h-1, n)) + "/" + strconv.Itoa(n) + " "
		if pw := utf8.RuneCountInString(pos); x+pw < rc.x+rc.w {
			drawText(s, rc.x+rc.w-pw, rc.y, pw, pos, st)
		}
	}
	for i := range rc.h - 1 {
		var l view.Line
		if i < len(lines) {
			l = lines[i]
		}
		drawLine(s, a.th, rc.x, rc.y+1+i, rc.w, l, noOverlay)
	}
}

// drawTitle draws the top bar: what is shown, its totals, and the state
// of the session.
func (r *rootView) drawTitle(s tcell.Screen, x, y, w int) {
	a := r.a
	t := a.b.Totals()
	parts := []string{"wstap " + a.opts.Title,
		view.Count(t.Connections) + " conns",
		view.Count(t.Messages) + " msgs"}
	if t.Problems > 0 {
		parts = append(parts, view.Count(t.Problems)+" problems")
	}
	if a.loading {
		if a.opts.Live {
			parts = append(parts, "live")
		} else {
			parts = append(parts, "reading…")
		}
	}
	r.drawBar(s, rect{x, y, w, 1}, true, " "+strings.Join(parts, " · "), "", a.th.bar)
}

// drawBottom draws the prompt (and its error), or the status bar: what
// runs, the last message, and the main keys.
func (r *rootView) drawBottom(s tcell.Screen, x, y, w int) {
	a := r.a
	if a.prompt != promptNone {
		a.input.SetRect(x, y, w, 1)
		a.input.Draw(s)
		if e := a.promptErr; e != nil {
			r.drawPromptError(s, x, y+1, w, e)
		}
		return
	}
	msg, st := a.b.Status()
	if work := a.b.Work(); work != "" {
		msg, st = work, view.StyleAccent
	}
	hints := a.keys.hints()
	fillRow(s, x, y, w, tcell.StyleDefault)
	end := drawText(s, x, y, w, msg, a.th.style(st))
	if hw := utf8.RuneCountInString(hints); end+2+hw <= x+w {
		drawText(s, x+w-hw, y, hw, hints, a.th.style(view.StyleDim))
	}
}

// drawPromptError draws what is wrong with the prompt's text under it: a
// caret under the place it is about, then the message.
func (r *rootView) drawPromptError(s tcell.Screen, x, y, w int, e *promptError) {
	a := r.a
	fillRow(s, x, y, w, tcell.StyleDefault)
	errSt := a.th.style(view.StyleError)
	if e.pos < 0 {
		drawText(s, x, y, w, e.msg, errSt)
		return
	}
	text := a.input.GetText()
	pos := min(e.pos, len(text))
	end := min(max(e.end, pos+1), len(text)+1)
	col := utf8.RuneCountInString(a.input.GetLabel()) + utf8.RuneCountInString(text[:pos])
	n := max(utf8.RuneCountInString(text[pos:min(end, len(text))]), 1)
	caret := strings.Repeat(" ", col) + strings.Repeat("^", n) + " "
	cx := drawText(s, x, y, w, caret, errSt)
	drawText(s, cx, y, x+w-cx, e.msg, errSt)
}

// drawHelp draws the help screen from the key table.
func (r *rootView) drawHelp(s tcell.Screen, x, y, w, h int) {
	a := r.a
	r.drawBar(s, rect{x, y, w, 1}, true, " wstap help · ↑↓ PgUp PgDn scroll · any other key closes", "", a.th.bar)
	lines := a.helpLines
	top := min(a.helpTop, max(len(lines)-(h-1), 0))
	a.helpTop = top
	for i := range h - 1 {
		var l view.Line
		if top+i < len(lines) {
			l = lines[top+i]
		}
		drawLine(s, a.th, x, y+1+i, w, l, noOverlay)
	}
}
