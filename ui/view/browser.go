package view

import (
	"strconv"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/internal/outfile"
	"github.com/wstap/wstap/session"
)

// Area is one of the three areas of the screen.
type Area int

const (
	AreaConnections Area = iota
	AreaTimeline
	AreaDetails
	areaCount
)

func (a Area) String() string {
	return [...]string{"connections", "timeline", "details"}[a]
}

// Tab is one of the views of the details area.
type Tab int

const (
	TabPayload Tab = iota
	TabFrames
	TabHandshake
	TabProblems
	tabCount
)

func (t Tab) String() string {
	return [...]string{"payload", "frames", "handshake", "problems"}[t]
}

// Options configure a Browser.
type Options struct {
	// Live says that the session is live (a proxy, a live capture): the
	// lists follow their newest rows from the start.
	Live bool
	// Post runs f on the Browser's goroutine soon after, without waiting
	// for it: the work the Browser starts on goroutines of its own hands
	// its results back through it. It must not block.
	Post func(f func())
	// Export are the options of exports made from the UI (redaction).
	Export export.Options
	// Protect are the files an export must never replace: the inputs.
	Protect []outfile.Input
}

// TotalsEvery is how often the counts of the whole session are taken
// again: they cost a look at every connection, and a header that changes
// twice a second reads as live.
const TotalsEvery = 500 * time.Millisecond

// previewBytes is how much of a payload a timeline row reads for its
// preview: enough for the widest screens, whatever the message's size.
const previewBytes = 512

// Browser is the state of the UI: the three areas, what is selected and
// in view, the filter, and what runs in the background. Use it from one
// goroutine.
type Browser struct {
	store *session.Store
	r     *session.Reader
	opts  Options

	focus Area
	// Conns and Time are the positions in the connection list and the
	// timeline.
	Conns, Time List
	// rows are the rows of the connection list.
	rows connRows
	// stored is the number of connections in the store at the last
	// refresh: the list does not grow past it while paused.
	stored int

	// conn is the connection the timeline shows (-1: none), and info its
	// metadata as of the last refresh.
	conn session.ConnID
	info session.Info
	// frames says whether the timeline shows raw frames rather than
	// messages.
	frames bool
	// timeline is the indexes the timeline shows.
	timeline Index
	// positions are the items selected in connections left, to come back
	// to (messages; frames in frame mode), by connection.
	positions map[session.ConnID]position

	paused bool
	clear  *clearState

	flt    *filterState
	search *searchState
	work   *work

	probs     problemIndex
	connProbs map[session.ConnID]problemSummary

	det details

	totals   session.Totals
	totalsAt time.Time

	status      string
	statusStyle Style

	connWidths, timeWidths widthCache
}

// position is a remembered selection in a connection's timeline.
type position struct {
	frames bool
	index  int
	follow bool
}

// widthCache keeps the column widths of a list for the last width asked.
type widthCache struct {
	width, extra int
	widths       []int
}

// New returns a Browser of store.
func New(store *session.Store, opts Options) *Browser {
	if opts.Post == nil {
		opts.Post = func(f func()) { f() }
	}
	b := &Browser{
		store: store, r: store.NewReader(), opts: opts,
		Conns: NewList(opts.Live), Time: NewList(opts.Live),
		rows: allConns(), conn: -1,
		positions: map[session.ConnID]position{},
		connProbs: map[session.ConnID]problemSummary{},
	}
	b.probs.count = -1
	b.Refresh()
	return b
}

// Store returns the store the Browser shows.
func (b *Browser) Store() *session.Store { return b.store }

// Focus returns the area that has the keys.
func (b *Browser) Focus() Area { return b.focus }

// SetFocus gives the keys to area a.
func (b *Browser) SetFocus(a Area) { b.focus = a }

// FocusNext moves the keys to the next area (d = 1) or the previous one
// (d = -1).
func (b *Browser) FocusNext(d int) {
	b.focus = Area((int(b.focus) + d + int(areaCount)) % int(areaCount))
}

// Frames reports whether the timeline shows raw frames.
func (b *Browser) Frames() bool { return b.frames }

// Paused reports whether live updates are paused.
func (b *Browser) Paused() bool { return b.paused }

// Live reports whether the session is live.
func (b *Browser) Live() bool { return b.opts.Live }

// Conn returns the connection the timeline shows, or -1.
func (b *Browser) Conn() session.ConnID { return b.conn }

// Info returns the metadata of the connection the timeline shows, as of
// the last refresh.
func (b *Browser) Info() session.Info { return b.info }

// Status returns the last thing the Browser has to say, and its style.
func (b *Browser) Status() (string, Style) { return b.status, b.statusStyle }

// SetStatus sets the status line.
func (b *Browser) SetStatus(msg string, st Style) { b.status, b.statusStyle = msg, st }

// RecountTotals makes the next Totals count again (the source finished).
func (b *Browser) RecountTotals() { b.totalsAt = time.Time{} }

// Totals returns what the session holds, counted at most every
// TotalsEvery.
func (b *Browser) Totals() session.Totals {
	if now := time.Now(); now.Sub(b.totalsAt) >= TotalsEvery {
		b.totals, b.totalsAt = b.store.Totals(), now
	}
	return b.totals
}

// Refresh brings the lists up to date with the store: it is called when
// the store changed (at most a few times a second), and does nothing
// while paused.
func (b *Browser) Refresh() {
	if b.paused {
		return
	}
	b.refresh()
}

// refresh brings the lists up to date, paused or not (the user asked for
// something that changes them).
func (b *Browser) refresh() {
	b.stored = b.store.Len()
	b.syncConns()
	b.syncTimeline()
}

// syncConns sets the connection list's length and keeps the selection
// on the connection it was on, however the rows moved (a filter found a
// match in an older connection), then shows the selected connection.
func (b *Browser) syncConns() {
	n := b.rows.len(b.stored)
	if b.conn >= 0 && !b.Conns.Following() {
		if r := b.rows.rowOf(b.conn, b.stored); r >= 0 {
			b.Conns.n = n
			b.Conns.sel = r
			b.Conns.settle()
		}
	}
	b.Conns.SetLen(n)
	b.showConn()
}

// showConn makes the timeline show the selected connection, remembering
// where it was in the one it showed.
func (b *Browser) showConn() {
	id := session.ConnID(-1)
	if s := b.Conns.Selected(); s >= 0 {
		id = b.rows.at(s)
	}
	if id == b.conn {
		return
	}
	if b.conn >= 0 {
		if s := b.Time.Selected(); s >= 0 {
			b.positions[b.conn] = position{frames: b.frames, index: b.timeline.At(s), follow: b.Time.Following()}
		}
	}
	b.conn = id
	b.info = session.Info{}
	b.probs = problemIndex{count: -1}
	follow := b.Time.Following()
	b.Time.Reset()
	b.det.reset()
	pos, ok := b.positions[id]
	if ok {
		follow = pos.follow
	}
	b.Time.follow = follow
	b.syncTimeline()
	if ok && !follow && pos.frames == b.frames {
		if r, _ := b.timeline.Find(pos.index); r < b.timeline.Len() {
			b.Time.Select(r)
		}
	}
}

// syncTimeline re-reads the shown connection's metadata and sets the
// timeline's length.
func (b *Browser) syncTimeline() {
	if b.conn < 0 {
		b.timeline = Index{}
		b.Time.SetLen(0)
		return
	}
	info, err := b.store.Info(b.conn)
	if err != nil {
		return
	}
	b.info = info
	if b.probs.count != info.ProblemCount || b.probs.conn != b.conn {
		b.probs.build(b.store, b.r, b.conn, info.ProblemCount)
	}
	b.timeline = b.timelineOf(b.conn, &info)
	b.Time.SetLen(b.timeline.Len())
}

// timelineOf returns the indexes the timeline of connection id shows:
// every message or frame, or those the filter selected, from where a
// clear cut it.
func (b *Browser) timelineOf(id session.ConnID, info *session.Info) Index {
	from := b.clear.cutOf(id, b.frames)
	if b.flt != nil {
		cm := b.flt.conn(id)
		if b.frames {
			return listIndex(cm.frames, from)
		}
		return listIndex(cm.msgs, from)
	}
	if b.frames {
		return rangeIndex(from, info.FrameCount)
	}
	return rangeIndex(from, info.MessageCount)
}

// Item returns the message (or, in frame mode, frame) index the timeline
// has selected, or -1.
func (b *Browser) Item() int {
	s := b.Time.Selected()
	if s < 0 || s >= b.timeline.Len() {
		return -1
	}
	return b.timeline.At(s)
}

// ConnAt returns the connection in row i of the connection list.
func (b *Browser) ConnAt(i int) session.ConnID { return b.rows.at(i) }

// ItemAt returns the message or frame index in row i of the timeline.
func (b *Browser) ItemAt(i int) int { return b.timeline.At(i) }

// Move moves the selection of the focused list by d rows, or scrolls the
// details.
func (b *Browser) Move(d int) {
	switch b.focus {
	case AreaConnections:
		b.Conns.Move(d)
		b.showConn()
	case AreaTimeline:
		b.Time.Move(d)
	default:
		b.det.scroll(d)
	}
}

// Page moves by d pages.
func (b *Browser) Page(d int) {
	switch b.focus {
	case AreaConnections:
		b.Conns.Page(d)
		b.showConn()
	case AreaTimeline:
		b.Time.Page(d)
	default:
		b.det.scroll(d * max(b.det.height-1, 1))
	}
}

// Home goes to the first row.
func (b *Browser) Home() {
	switch b.focus {
	case AreaConnections:
		b.Conns.Home()
		b.showConn()
	case AreaTimeline:
		b.Time.Home()
	default:
		b.det.top = 0
	}
}

// End goes to the last row, and follows it.
func (b *Browser) End() {
	switch b.focus {
	case AreaConnections:
		b.Conns.End()
		b.showConn()
	case AreaTimeline:
		b.Time.End()
	default:
		b.det.scroll(1 << 30)
	}
}

// Follow makes the timeline (and, from the connection list, the list)
// follow the newest rows again.
func (b *Browser) Follow() {
	if b.paused {
		b.paused = false
		b.refresh()
	}
	if b.focus == AreaConnections {
		b.Conns.Follow(true)
		b.showConn()
	}
	b.Time.Follow(true)
	b.SetStatus("following the newest", StyleNormal)
}

// SelectConn selects row i of the connection list (a click).
func (b *Browser) SelectConn(i int) {
	b.Conns.Select(i)
	b.showConn()
}

// SelectItem selects row i of the timeline (a click).
func (b *Browser) SelectItem(i int) { b.Time.Select(i) }

// ScrollList scrolls area a by d rows (the mouse wheel).
func (b *Browser) ScrollList(a Area, d int) {
	switch a {
	case AreaConnections:
		b.Conns.Scroll(d)
		b.showConn()
	case AreaTimeline:
		b.Time.Scroll(d)
	default:
		b.det.scroll(d)
	}
}

// Open goes one area deeper: from a connection to its timeline, from a
// message to its details.
func (b *Browser) Open() {
	if b.focus < AreaDetails {
		b.focus++
	}
}

// Back goes one area up.
func (b *Browser) Back() {
	if b.focus > AreaConnections {
		b.focus--
	}
}

// ToggleFrames switches the timeline between messages and raw frames,
// keeping the selected item: a message's first frame, or a frame's
// message.
func (b *Browser) ToggleFrames() {
	item := b.Item()
	target := -1
	if item >= 0 && b.conn >= 0 {
		if b.frames {
			if f, err := b.r.FramePrefix(b.conn, item, 0); err == nil {
				target = f.Message
			}
		} else if m, err := b.r.MessageHead(b.conn, item); err == nil && len(m.Frames) > 0 {
			target = m.Frames[0]
		}
	}
	b.frames = !b.frames
	follow := b.Time.Following()
	b.Time.Reset()
	b.Time.follow = follow
	b.det.reset()
	b.syncTimeline()
	if target >= 0 && !follow {
		if r, _ := b.timeline.Find(target); r < b.timeline.Len() {
			b.Time.Select(r)
		}
	}
	if b.frames {
		b.SetStatus("raw frames", StyleNormal)
	} else {
		b.SetStatus("messages", StyleNormal)
	}
}

// TogglePause pauses or resumes live updates: while paused the lists do
// not grow (the store still records everything).
func (b *Browser) TogglePause() {
	b.paused = !b.paused
	if b.paused {
		b.SetStatus("paused: the lists stay as they are; p or space resumes", StyleAccent)
		return
	}
	b.refresh()
	b.SetStatus("resumed", StyleNormal)
}

// connCols are the columns of the connection list.
var connCols = [...]column{
	{title: "!", width: 1},
	{title: "id", width: 4, right: true},
	{title: "state", width: 7},
	{title: "client", width: 21, drop: 5},
	{title: "server", width: 21, drop: 2},
	{title: "url", width: 18, flex: true, want: 40},
	{title: "proto", width: 8, drop: 6},
	{title: "z", width: 1, drop: 4},
	{title: "msgs", width: 7, right: true},
	{title: "↑sent", width: 6, right: true, drop: 3},
	{title: "↓recv", width: 6, right: true, drop: 3},
	{title: "time", width: 9, right: true, drop: 7},
}

func (c *widthCache) get(cols []column, width, extra int) []int {
	if c.widths == nil || c.width != width || c.extra != extra {
		c.width, c.extra = width, extra
		c.widths = layout(cols, width)
	}
	return c.widths
}

// ConnHeader returns the header of the connection list for width columns.
func (b *Browser) ConnHeader(width int) Line {
	return header(connCols[:], b.connWidths.get(connCols[:], width, 0))
}

// ConnRow returns row i of the connection list.
func (b *Browser) ConnRow(i, width int) Line {
	id := b.rows.at(i)
	info, err := b.store.Info(id)
	if err != nil {
		return Line{{err.Error(), StyleError}}
	}
	var cells [len(connCols)]Span
	if info.ProblemCount > 0 {
		if summarize(b.connProbs, b.store, id, info.ProblemCount).anyError {
			cells[0] = Span{"!", StyleError}
		} else {
			cells[0] = Span{"!", StyleWarning}
		}
	}
	cells[1] = Span{info.ID, StyleNormal}
	state := StateName(info.State, info.Ended)
	st := StyleNormal
	switch state {
	case "open":
		st = StyleOK
	case "failed":
		st = StyleError
	case "closed", "http":
		st = StyleDim
	}
	cells[2] = Span{state, st}
	cells[3] = Span{info.Client, StyleClient}
	cells[4] = Span{info.Server, StyleServer}
	url := info.URL
	if url == "" && info.ExchangeCount > 0 {
		url = "(http: " + strconv.Itoa(info.ExchangeCount) + " exchanges)"
	}
	cells[5] = Span{url, StyleNormal}
	cells[6] = Span{info.Subprotocol, StyleNormal}
	if info.Deflate != nil {
		cells[7] = Span{"z", StyleNormal}
	}
	cells[8] = Span{Count(int64(info.MessageCount)), StyleNormal}
	cells[9] = Span{Size(info.Bytes[decode.Client]), StyleClient}
	cells[10] = Span{Size(info.Bytes[decode.Server]), StyleServer}
	if !info.LastSeen.IsZero() && !info.Opened.IsZero() {
		cells[11] = Span{Duration(info.LastSeen.Sub(info.Opened)), StyleDim}
	}
	return row(connCols[:], b.connWidths.get(connCols[:], width, 0), cells[:])
}

// The columns of the timeline, for messages and for frames. The index
// column is as wide as the largest index.
var (
	messageCols = [...]column{
		{title: "!", width: 1},
		{title: "#", width: 3, right: true},
		{title: "time", width: 9, right: true, drop: 2},
		{title: "dir", width: 3},
		{title: "type", width: 9},
		{title: "size", width: 6, right: true},
		{title: "payload", width: 10, flex: true, want: 30},
	}
	frameCols = [...]column{
		{title: "!", width: 1},
		{title: "#", width: 3, right: true},
		{title: "time", width: 9, right: true, drop: 2},
		{title: "dir", width: 3},
		{title: "opcode", width: 6},
		{title: "fin", width: 3},
		{title: "rsv", width: 3},
		{title: "mask", width: 8, drop: 3},
		{title: "length", width: 8, right: true},
		{title: "msg", width: 6, right: true, drop: 1},
		{title: "offset", width: 10, right: true, drop: 4},
	}
)

// timeCols returns the timeline's columns, the index column widened to
// the largest index.
func (b *Browser) timeCols() ([]column, int) {
	n := b.info.MessageCount
	cols := messageCols[:]
	if b.frames {
		n, cols = b.info.FrameCount, frameCols[:]
	}
	digits := max(len(strconv.Itoa(max(n-1, 0))), 3)
	if cols[1].width != digits {
		c := make([]column, len(cols))
		copy(c, cols)
		c[1].width = digits
		cols = c
	}
	return cols, digits
}

// TimeHeader returns the header of the timeline.
func (b *Browser) TimeHeader(width int) Line {
	cols, digits := b.timeCols()
	return header(cols, b.timeWidths.get(cols, width, digits*2+boolInt(b.frames)))
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// sideText and sideStyle draw a direction: C→S for what the client sent,
// S→C for what the server sent.
func sideText(s decode.Side) (string, Style) {
	if s == decode.Client {
		return "C→S", StyleClient
	}
	return "S→C", StyleServer
}

// TimeRow returns row i of the timeline.
func (b *Browser) TimeRow(i, width int) Line {
	cols, digits := b.timeCols()
	widths := b.timeWidths.get(cols, width, digits*2+boolInt(b.frames))
	idx := b.timeline.At(i)
	if b.frames {
		return b.frameRow(cols, widths, idx)
	}
	m, err := b.r.MessagePrefix(b.conn, idx, previewBytes)
	if err != nil {
		return Line{{err.Error(), StyleError}}
	}
	var cells [len(messageCols)]Span
	if sev, ok := b.probs.message(idx); ok {
		cells[0] = marker(sev)
	}
	cells[1] = Span{strconv.Itoa(idx), StyleDim}
	cells[2] = Span{Offset(m.Time, b.info.Opened), StyleDim}
	cells[3].Text, cells[3].Style = sideText(m.From)
	cells[4] = Span{typeText(m), typeStyle(m.Opcode)}
	cells[5] = Span{Size(m.Size), StyleNormal}
	if w := widths[len(widths)-1]; w > 0 {
		l := row(cols[:len(cols)-1], widths[:len(widths)-1], cells[:len(cells)-1])
		if len(l) > 0 {
			l = l.add(" ", StyleNormal)
		}
		return preview(l, m, w)
	}
	return row(cols, widths, cells[:])
}

// marker is the problem marker of a row.
func marker(sev decode.Severity) Span {
	if sev == decode.Error {
		return Span{"!", StyleError}
	}
	return Span{"!", StyleWarning}
}

// typeText is a message's type with its markers: z compressed, f joined
// from fragments, … truncated, x could not be inflated.
func typeText(m *decode.Message) string {
	s := m.Opcode.String()
	flags := ""
	if m.Compressed {
		flags += "z"
	}
	if m.Raw {
		flags += "x"
	}
	if len(m.Frames) > 1 {
		flags += "f"
	}
	if m.Truncated {
		flags += "…"
	}
	if flags != "" {
		s += " " + flags
	}
	return s
}

func typeStyle(op decode.Opcode) Style {
	if op.IsControl() {
		return StyleControl
	}
	return StyleNormal
}

// preview appends the one-line preview of a message's payload: its text,
// a close's code and reason, or the first bytes in hex.
func preview(l Line, m *decode.Message, width int) Line {
	p := m.Payload
	switch {
	case m.Opcode == decode.OpClose && m.Close != nil:
		return l.add(fit(CloseText(m.Close), width), StyleControl)
	case len(p) == 0 && m.Size == 0:
		return l.add("(empty)", StyleDim)
	case len(p) == 0:
		return l.add("(payload not kept)", StyleDim)
	case m.Raw:
		return hexPreview(l, p, width, StyleDim)
	case m.Opcode == decode.OpText || m.Opcode.IsControl() && printableText(p):
		return oneLine(l, p, width, StyleNormal)
	}
	return hexPreview(l, p, width, StyleDim)
}

// frameRow is a row of the frame view.
func (b *Browser) frameRow(cols []column, widths []int, idx int) Line {
	f, err := b.r.FramePrefix(b.conn, idx, 0)
	if err != nil {
		return Line{{err.Error(), StyleError}}
	}
	var cells [len(frameCols)]Span
	if sev, ok := b.probs.frame(idx); ok {
		cells[0] = marker(sev)
	}
	cells[1] = Span{strconv.Itoa(idx), StyleDim}
	cells[2] = Span{Offset(f.Time, b.info.Opened), StyleDim}
	cells[3].Text, cells[3].Style = sideText(f.From)
	cells[4] = Span{f.Opcode.String(), typeStyle(f.Opcode)}
	if f.Fin {
		cells[5] = Span{"FIN", StyleNormal}
	} else {
		cells[5] = Span{"…", StyleDim}
	}
	cells[6] = Span{rsvText(f.Rsv), StyleNormal}
	if f.Masked {
		cells[7] = Span{hexString(f.MaskKey[:]), StyleDim}
	} else {
		cells[7] = Span{"-", StyleDim}
	}
	cells[8] = Span{strconv.FormatUint(f.Length, 10), StyleNormal}
	if f.Message >= 0 {
		cells[9] = Span{strconv.Itoa(f.Message), StyleDim}
	}
	cells[10] = Span{strconv.FormatInt(f.Offset, 10), StyleDim}
	return row(cols, widths, cells[:])
}

// rsvText writes the RSV bits as 1 and · (RSV1 first).
func rsvText(rsv uint8) string {
	b := []rune("···")
	for i := range b {
		if rsv&(4>>i) != 0 {
			b[i] = '1'
		}
	}
	return string(b)
}

func hexString(p []byte) string {
	b := make([]byte, 0, 2*len(p))
	for _, c := range p {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}
