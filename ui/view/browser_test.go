package view

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/internal/livetest"
	"github.com/wstap/wstap/internal/outfile"
	"github.com/wstap/wstap/internal/teststore"
	"github.com/wstap/wstap/session"
	"github.com/wstap/wstap/ui/filter"
)

// rowsText returns the text of every row of a list.
func rowsText(n int, row func(int, int) Line) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = strings.TrimRight(row(i, 120).Text(), " ")
	}
	return out
}

// connByID selects the connection whose id is id.
func connByID(t *testing.T, b *Browser, id string) {
	t.Helper()
	for r := range b.Conns.Len() {
		info, err := b.store.Info(b.ConnAt(r))
		if err == nil && info.ID == id {
			b.SelectConn(r)
			return
		}
	}
	t.Fatalf("no connection %s", id)
}

// TestBrowseSample: the rows of the connection list and the timeline say
// what the sample holds, problems are marked where they are, and the
// details render the payload.
func TestBrowseSample(t *testing.T) {
	b, _ := newBrowser(t, teststore.Load(t, teststore.Sample("violations")), Options{})
	if b.Conns.Len() != 2 {
		t.Fatalf("%d connections, want 2", b.Conns.Len())
	}
	conns := rowsText(2, b.ConnRow)
	if !strings.Contains(conns[0], "ws://127.0.0.1:9107/clean") || strings.HasPrefix(conns[0], "!") {
		t.Errorf("connection 1 row: %q", conns[0])
	}
	if !strings.HasPrefix(conns[1], "!") || !strings.Contains(conns[1], "/violations") || !strings.Contains(conns[1], "14") {
		t.Errorf("connection 2 row (a problem marker, 14 messages): %q", conns[1])
	}
	connByID(t, b, "2")
	rows := rowsText(b.Time.Len(), b.TimeRow)
	if len(rows) != 14 {
		t.Fatalf("%d timeline rows, want 14:\n%s", len(rows), strings.Join(rows, "\n"))
	}
	for i, want := range map[int][]string{
		0: {"C→S", "text", "hello, a valid frame"},
		1: {"S→C", "text"},
		2: {"binary", "00 01 02 03 fe ff"},
		6: {"!", "not UTF-8: \ufffd"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[i], w) {
				t.Errorf("row %d %q: no %q", i, rows[i], w)
			}
		}
	}
	if strings.HasPrefix(rows[0], "!") || !strings.HasPrefix(rows[6], "!") || !strings.HasPrefix(rows[7], "!") {
		t.Errorf("problem markers on the wrong rows:\n%s", strings.Join(rows, "\n"))
	}
	// The details of message 6: its bad bytes marked.
	b.Time.Select(6)
	text := linesText(b.Details(100, 40))
	if !strings.Contains(text, `not UTF-8: \xc3( \xff`) || !strings.Contains(text, "problems with this message") {
		t.Errorf("details of message 6:\n%s", text)
	}
	var invalid int
	for _, l := range b.Details(100, 40) {
		for _, sp := range l {
			if sp.Style == StyleInvalid && strings.HasPrefix(sp.Text, `\x`) {
				invalid++
			}
		}
	}
	if invalid != 2 {
		t.Errorf("%d bytes marked invalid, want 2", invalid)
	}
	b.SetTab(TabProblems)
	if text := linesText(b.Details(100, 40)); !strings.Contains(text, "This message (1)") || !strings.Contains(text, "invalid-utf8") || !strings.Contains(text, "unmasked-client-frame") {
		t.Errorf("problems tab:\n%s", text)
	}
	b.SetTab(TabHandshake)
	if text := linesText(b.Details(100, 40)); !strings.Contains(text, "GET /violations HTTP/1.1") || !strings.Contains(text, "101 Switching Protocols") {
		t.Errorf("handshake tab:\n%s", text)
	}
}

func linesText(ls []Line) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.Text())
	}
	return strings.Join(s, "\n")
}

// TestToggleFrames: the raw frame view is one switch away and keeps the
// item: a message's first frame, and back to the frame's message.
func TestToggleFrames(t *testing.T) {
	b, _ := newBrowser(t, teststore.Load(t, teststore.Sample("gorilla-fragments")), Options{})
	b.SelectConn(0)
	info := b.Info()
	if info.FrameCount <= info.MessageCount {
		t.Fatalf("the sample has %d frames for %d messages; want fragments", info.FrameCount, info.MessageCount)
	}
	// A fragmented message.
	msg := -1
	for i := range info.MessageCount {
		m, err := b.r.MessageHead(b.conn, i)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Frames) > 2 {
			msg = i
			break
		}
	}
	if msg < 0 {
		t.Fatal("no fragmented message")
	}
	m, _ := b.r.MessageHead(b.conn, msg)
	first := m.Frames[0]
	b.Time.Select(msg)
	if row := b.TimeRow(msg, 100).Text(); !strings.Contains(row, "f ") && !strings.Contains(row, " f") && !strings.Contains(row, "zf") {
		t.Errorf("fragmented message %d has no fragment marker: %q", msg, row)
	}
	b.ToggleFrames()
	if !b.Frames() || b.Time.Len() != info.FrameCount || b.Item() != first {
		t.Fatalf("frames: %v, %d rows, item %d; want true, %d, %d", b.Frames(), b.Time.Len(), b.Item(), info.FrameCount, first)
	}
	if row := b.TimeRow(b.Time.Selected(), 100).Text(); strings.Contains(row, "FIN") {
		t.Errorf("the first fragment is marked FIN: %q", row)
	}
	b.Move(1)
	b.ToggleFrames()
	if b.Frames() || b.Item() != msg {
		t.Fatalf("back to messages: frames %v item %d, want message %d", b.Frames(), b.Item(), msg)
	}
}

// TestFilter: a filter selects connections and messages off the UI
// goroutine, the timeline shows only those, a bad expression is refused
// with its position and leaves the filter in force, and removing it
// shows everything again.
func TestFilter(t *testing.T) {
	b, q := newBrowser(t, teststore.Load(t, teststore.Sample("violations"), teststore.Sample("gorilla-basic")), Options{})
	all := b.Conns.Len()
	if err := b.SetFilter("binary and server"); err != nil {
		t.Fatal(err)
	}
	q.settle(t, b)
	if b.Conns.Len() == 0 || b.Conns.Len() >= all {
		t.Fatalf("%d of %d connections under the filter", b.Conns.Len(), all)
	}
	f, _ := filter.Parse("binary and server")
	for r := range b.Conns.Len() {
		b.SelectConn(r)
		if b.Time.Len() == 0 {
			t.Errorf("connection %s is listed without a message", b.Info().ID)
		}
		for i := range b.Time.Len() {
			m, err := b.r.Message(b.conn, b.ItemAt(i))
			if err != nil {
				t.Fatal(err)
			}
			if !f.Match(&b.info.Connection, m) {
				t.Errorf("connection %s message %d is shown and does not match", b.info.ID, b.ItemAt(i))
			}
		}
	}
	err := b.SetFilter("size>abc")
	var fe *filter.Error
	if !errors.As(err, &fe) || fe.Pos != 5 {
		t.Fatalf("a bad filter: %v, want a *filter.Error at 5", err)
	}
	if b.Filter() != "binary and server" {
		t.Errorf("a bad filter replaced the one in force: %q", b.Filter())
	}
	if err := b.SetFilter(""); err != nil {
		t.Fatal(err)
	}
	if b.Conns.Len() != all || b.Filter() != "" {
		t.Errorf("no filter: %d connections, want %d", b.Conns.Len(), all)
	}
	// A filter no message matches empties the lists.
	if err := b.SetFilter(`"no such text anywhere"`); err != nil {
		t.Fatal(err)
	}
	q.settle(t, b)
	if b.Conns.Len() != 0 || b.Time.Len() != 0 {
		t.Errorf("nothing matches: %d connections, %d rows", b.Conns.Len(), b.Time.Len())
	}
}

// TestSearch: n and N select the next and previous match without
// filtering, going on into the next connection and around.
func TestSearch(t *testing.T) {
	b, q := newBrowser(t, teststore.Load(t, teststore.Sample("violations")), Options{})
	b.SelectConn(0)
	if err := b.Search("binary", false); err != nil {
		t.Fatal(err)
	}
	q.settle(t, b)
	first := b.Item()
	m, _ := b.r.MessageHead(b.conn, first)
	if first < 0 || m.Opcode != decode.OpBinary {
		t.Fatalf("search binary selected message %d (%v)", first, m.Opcode)
	}
	conn := b.Conn()
	b.SearchNext(false)
	q.settle(t, b)
	if b.Conn() != conn || b.Item() <= first {
		t.Fatalf("next: connection %d message %d, after %d", b.Conn(), b.Item(), first)
	}
	second := b.Item()
	b.SearchNext(true)
	q.settle(t, b)
	if b.Item() != first {
		t.Fatalf("previous: message %d, want %d", b.Item(), first)
	}
	// Around: from the second match, forward comes back to the first.
	b.SearchNext(false)
	q.settle(t, b)
	b.SearchNext(false)
	q.settle(t, b)
	if b.Item() != first || b.Conn() != conn {
		t.Fatalf("around: message %d, want %d (second was %d)", b.Item(), first, second)
	}
	if b.Conns.Len() != 2 {
		t.Errorf("search filtered: %d connections", b.Conns.Len())
	}
}

// TestNextProblem: ! goes from problem to problem, across connections.
func TestNextProblem(t *testing.T) {
	b, _ := newBrowser(t, teststore.Load(t, teststore.Sample("violations")), Options{})
	connByID(t, b, "1")
	b.NextProblem()
	if b.Info().ID != "2" || b.Item() != 6 {
		t.Fatalf("first problem: connection %s message %d, want 2 and 6", b.Info().ID, b.Item())
	}
	b.NextProblem()
	if b.Item() != 7 {
		t.Fatalf("next problem: message %d, want 7", b.Item())
	}
	b.ToggleFrames()
	b.NextProblem()
	if b.Item() != 8 {
		t.Fatalf("next problem in the frames: frame %d, want 8", b.Item())
	}
}

// TestExport: the whole session and the filtered view, written from the
// UI, read back: the view has the filtered messages only, with frames
// and problems renumbered consistently; the inputs are never written
// over.
func TestExport(t *testing.T) {
	in := teststore.Sample("violations")
	st, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, q := newBrowser(t, teststore.Load(t, in), Options{Protect: []outfile.Input{{Name: in, Info: st}}})
	if err := b.Export(in, true); err == nil || !strings.Contains(err.Error(), "input") {
		t.Errorf("export over the input: %v", err)
	}
	if err := b.Export(filepath.Join(dir, "x.txt"), true); err == nil {
		t.Errorf("export to .txt: no error")
	}
	all := filepath.Join(dir, "all.json")
	if err := b.Export(all, true); err != nil {
		t.Fatal(err)
	}
	q.settle(t, b)
	convs := loadBack(t, all)
	if len(convs) != 2 || len(convs[0].Messages)+len(convs[1].Messages) != 18 {
		t.Fatalf("whole session: %d connections", len(convs))
	}
	if err := b.SetFilter("binary or invalid"); err != nil {
		t.Fatal(err)
	}
	q.settle(t, b)
	for _, name := range []string{"view.json", "view.har", "view.ndjson"} {
		path := filepath.Join(dir, name)
		if err := b.Export(path, false); err != nil {
			t.Fatal(err)
		}
		q.settle(t, b)
		if msg, _ := b.Status(); !strings.Contains(msg, "exported the view") {
			t.Fatalf("%s: status %q", name, msg)
		}
		if name == "view.ndjson" {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			messages := strings.Count(string(data), `"event": "message"`) + strings.Count(string(data), `"event":"message"`)
			if messages != 4 {
				t.Errorf("NDJSON of the view: %d message events, want 4:\n%s", messages, data)
			}
			continue
		}
		convs := loadBack(t, path)
		if len(convs) != 1 || len(convs[0].Messages) != 4 {
			t.Fatalf("%s: %d connections, want 1 with 4 messages", name, len(convs))
		}
		c := convs[0]
		if name == "view.json" {
			for i, m := range c.Messages {
				for _, fi := range m.Frames {
					if fi < 0 || fi >= len(c.Frames) || c.Frames[fi].Message != i {
						t.Errorf("message %d lists frame %d, which is not its own", i, fi)
					}
				}
			}
			if len(c.Problems) != 2 {
				t.Errorf("%d problems in the view, want the 2 about its messages", len(c.Problems))
			}
			for _, p := range c.Problems {
				if p.MessageIndex < 0 || p.MessageIndex >= len(c.Messages) {
					t.Errorf("a problem points at message %d of %d", p.MessageIndex, len(c.Messages))
				}
			}
		}
	}
	// The JSON file is valid JSON with the contract's fields.
	var doc struct {
		Connections []struct {
			ID       string            `json:"id"`
			Messages []json.RawMessage `json:"messages"`
		} `json:"connections"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "view.json"))
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Connections) != 1 || doc.Connections[0].ID != "2" {
		t.Errorf("view.json: %v %+v", err, doc)
	}
}

func loadBack(t *testing.T, path string) []*session.Conversation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	convs, err := export.Load(path, f)
	if err != nil {
		t.Fatalf("reading back %s: %v", path, err)
	}
	return convs
}

// TestClear: clear hides what was there, keeps open connections with only
// what arrives after; u shows everything again; the store keeps it all.
func TestClear(t *testing.T) {
	s := teststore.New(t)
	tap := session.NewTap(s, session.TapOptions{})
	old := livetest.Open(tap)
	old.Send(decode.Client, "before")
	old.End()
	open := livetest.Open(tap)
	open.Send(decode.Client, "before too")
	b, _ := newBrowser(t, s, Options{Live: true})
	if b.Conns.Len() != 2 {
		t.Fatalf("%d connections", b.Conns.Len())
	}
	b.Clear()
	if b.Conns.Len() != 1 || b.Time.Len() != 0 {
		t.Fatalf("cleared: %d connections, %d messages; want the open one, empty", b.Conns.Len(), b.Time.Len())
	}
	open.Send(decode.Server, "after")
	b.Refresh()
	if b.Time.Len() != 1 || !strings.Contains(b.TimeRow(0, 80).Text(), "after") {
		t.Fatalf("after the clear: %d rows", b.Time.Len())
	}
	b.Unclear()
	if b.Conns.Len() != 2 {
		t.Fatalf("unclear: %d connections", b.Conns.Len())
	}
	if tot := s.Totals(); tot.Messages != 3 {
		t.Errorf("the store has %d messages, want 3", tot.Messages)
	}
}

// TestFollowLive: while following, the newest message is selected as
// messages arrive; moving up stops it, and the new ones are counted; f
// follows again.
func TestFollowLive(t *testing.T) {
	s := teststore.New(t)
	tap := session.NewTap(s, session.TapOptions{})
	l := livetest.Open(tap)
	b, _ := newBrowser(t, s, Options{Live: true})
	b.SetFocus(AreaTimeline)
	for i := range 30 {
		l.Send(decode.Client, "message "+Count(int64(i)))
		b.Refresh()
		if b.Item() != i {
			t.Fatalf("following: message %d selected after %d arrived", b.Item(), i+1)
		}
	}
	b.Move(-1)
	for i := 30; i < 35; i++ {
		l.Send(decode.Server, "more")
		b.Refresh()
	}
	if b.Item() != 28 || b.Time.Unseen() != 5 {
		t.Fatalf("after moving up: message %d, %d new; want 28 and 5", b.Item(), b.Time.Unseen())
	}
	b.Follow()
	if b.Item() != 34 || b.Time.Unseen() != 0 {
		t.Fatalf("f: message %d, %d new", b.Item(), b.Time.Unseen())
	}
	// Paused, the lists stay; resumed, they catch up.
	b.TogglePause()
	l.Send(decode.Client, "while paused")
	b.Refresh()
	if b.Time.Len() != 35 {
		t.Fatalf("paused: %d rows, want 35", b.Time.Len())
	}
	b.TogglePause()
	if b.Time.Len() != 36 || b.Item() != 35 {
		t.Fatalf("resumed: %d rows, message %d", b.Time.Len(), b.Item())
	}
}
