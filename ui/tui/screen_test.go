package tui

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/internal/livetest"
	"github.com/wstap/wstap/internal/teststore"
	"github.com/wstap/wstap/session"
)

// row returns the screen row that contains text, or "".
func row(screen, text string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, text) {
			return l
		}
	}
	return ""
}

// TestScreenSample: a sample at 80x24 shows its connections, the
// timeline of the first and the details of a message; keys move through
// them and switch to raw frames.
func TestScreenSample(t *testing.T) {
	u := startUI(t, teststore.Load(t, teststore.Sample("violations")), Options{Title: "read violations.pcap"}, 80, 24)
	u.waitText("Connections 2", "ws://127.0.0.1:9107/clean", "ws://127.0.0.1:9107/violations", "all good here")
	if lines := u.lines(); len(lines) != 24 || len([]rune(lines[0])) > 80 {
		t.Fatalf("not 80x24: %d lines", len(lines))
	}
	// Down to the second connection: its timeline shows.
	u.typeText("j")
	u.waitText("Timeline of 2", "hello, a valid frame")
	// Into the timeline, down to message 2 (binary).
	u.key(tcell.KeyEnter)
	u.typeText("jj")
	u.waitText("message 2", "00000000  00 01 02 03 fe ff")
	// Raw frames: the same item, its header fields.
	u.typeText("v")
	u.waitText("2 frames", "frame 2", "FIN", "mask 84cb3708")
	// Frames of the message tab, then the handshake.
	u.typeText("3")
	u.waitText("GET /violations HTTP/1.1", "Sec-WebSocket-Key: NiIsfWyoC0+tSrrUMzRPnw==")
	// Next problem: message 6, marked.
	u.typeText("v!")
	u.waitText("problem at message 6 of connection 2")
	u.typeText("1")
	u.waitText(`not UTF-8: \xc3( \xff`)
	s := u.text()
	if r := row(s, "not UTF-8: �"); !strings.HasPrefix(r, "!") {
		t.Errorf("the row of message 6 has no problem marker: %q\n%s", r, s)
	}
	if r := row(s, " 2 closed"); !strings.HasPrefix(r, "!") {
		t.Errorf("connection 2 has no problem marker: %q", r)
	}
}

// TestScreenFilter: the filter bar says what is wrong in place, with a
// caret under it, and applies a good filter to both lists.
func TestScreenFilter(t *testing.T) {
	u := startUI(t, teststore.Load(t, teststore.Sample("violations"), teststore.Sample("gorilla-basic")), Options{}, 100, 30)
	u.waitText("Connections 3")
	u.typeText("/size>abc")
	u.waitText("filter: size>abc", "^^^ at 5: size takes a number of bytes")
	s := u.text()
	caret := row(s, "^^^")
	input := row(s, "filter: size>abc")
	if strings.Index(caret, "^") != strings.Index(input, "abc") {
		t.Errorf("the caret is not under abc:\n%s\n%s", input, caret)
	}
	// Enter refuses it: the prompt stays.
	u.key(tcell.KeyEnter)
	u.waitText("filter: size>abc")
	for range len("size>abc") {
		u.key(tcell.KeyBackspace2)
	}
	u.typeText("ping")
	u.key(tcell.KeyEnter)
	u.waitText("filter ping:", "Connections 1 · filter: ping", "(filtered)")
	s = u.text()
	if strings.Contains(s, "/violations") || !strings.Contains(s, "ws://") {
		t.Errorf("the filter left the wrong connections:\n%s", s)
	}
	if row(s, "S→C text") != "" || row(s, "C→S ping") == "" {
		t.Errorf("the timeline is not filtered:\n%s", s)
	}
	// Esc in the prompt leaves the filter as it is; an empty filter
	// removes it.
	u.typeText("/")
	u.key(tcell.KeyEscape)
	u.waitText("Connections 1 · filter: ping")
	u.typeText("/")
	u.key(tcell.KeyCtrlU)
	u.key(tcell.KeyEnter)
	u.waitText("Connections 3", "filter removed")
}

// TestScreenFollow: a live connection's messages arrive while the UI
// shows them: the newest stays in view; after moving up it stays put and
// a marker counts the new ones; f follows again.
func TestScreenFollow(t *testing.T) {
	s, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tap := session.NewTap(s, session.TapOptions{})
	l := livetest.Open(tap)
	u := startUI(t, s, Options{Title: "proxy", Live: true}, 80, 24)
	u.typeText("\t") // keys to the timeline
	for i := range 40 {
		l.Send(decode.Client, "tick "+pad(i))
	}
	u.waitText("tick 039", "following")
	if strings.Contains(u.text(), "tick 000") {
		t.Error("the first message is still in view after 40 arrived in a small timeline")
	}
	u.key(tcell.KeyUp)
	u.sync()
	for i := 40; i < 45; i++ {
		l.Send(decode.Server, "tick "+pad(i))
	}
	u.waitText("5 new ↓")
	if strings.Contains(u.text(), "tick 044") {
		t.Errorf("not following, yet the newest is in view:\n%s", u.text())
	}
	u.typeText("f")
	u.waitText("tick 044", "following")
	// Redraws are coalesced: a burst of a thousand messages is far fewer
	// redraws.
	var before int
	u.app.Post(func() { before = u.app.draws })
	u.sync()
	for i := range 1000 {
		l.Send(decode.Client, "burst "+pad(i))
	}
	u.waitText("burst 999")
	time.Sleep(3 * redrawEvery)
	var after int
	u.app.Post(func() { after = u.app.draws })
	u.sync()
	if after-before > 100 {
		t.Errorf("%d redraws for a burst of 1000 messages", after-before)
	}
	// The totals of the title bar catch up after the traffic stopped.
	u.waitText("1 conns · 1,045 msgs")
}

// pad writes i in three digits.
func pad(i int) string {
	s := []byte("000")
	for k := 2; k >= 0 && i > 0; k-- {
		s[k] = byte('0' + i%10)
		i /= 10
	}
	return string(s)
}

// TestScreenHelp: ? shows the key table; any key closes it.
func TestScreenHelp(t *testing.T) {
	u := startUI(t, teststore.Load(t, teststore.Sample("violations")), Options{}, 100, 60)
	u.waitText("Connections 2")
	u.typeText("?")
	u.waitText("wstap — keys", "next problem", "copy the payload to the clipboard (OSC 52)", "Filter: terms side by side must all match")
	u.key(tcell.KeyEscape)
	u.waitText("Connections 2")
}

// TestScreenResizeAndMouse: the layout follows the screen's size, and a
// click selects a connection.
func TestScreenResizeAndMouse(t *testing.T) {
	u := startUI(t, teststore.Load(t, teststore.Sample("violations")), Options{}, 80, 24)
	u.waitText("Connections 2")
	u.sim.SetSize(140, 40)
	u.sim.PostEvent(tcell.NewEventResize(140, 40))
	u.waitFor("a wide screen", func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if len([]rune(l)) > 100 {
				return true
			}
		}
		return false
	})
	if !strings.Contains(u.text(), "client") {
		t.Errorf("no client column at 140 columns:\n%s", u.text())
	}
	// Click the second connection: its row is the fourth line (title,
	// area bar, column header, first row).
	var y int
	for i, l := range u.lines() {
		if strings.Contains(l, "/violations") {
			y = i
			break
		}
	}
	u.sim.InjectMouse(10, y, tcell.Button1, tcell.ModNone)
	u.sim.InjectMouse(10, y, tcell.ButtonNone, tcell.ModNone)
	u.waitText("Timeline of 2")
}

// TestScreenCopy: y puts the selected payload on the clipboard.
func TestScreenCopy(t *testing.T) {
	u := startUI(t, teststore.Load(t, teststore.Sample("violations")), Options{}, 100, 30)
	u.waitText("Connections 2")
	u.typeText("\ty")
	u.waitText("copied the payload of message 0 as text")
	var clip []byte
	u.app.Post(func() { clip = u.sim.GetClipboardData() })
	u.sync()
	if string(clip) != "all good here" {
		t.Errorf("clipboard %q", clip)
	}
}

// TestQuit: q ends Run, and says that the user quit.
func TestQuit(t *testing.T) {
	u := startUI(t, teststore.Load(t, teststore.Sample("violations")), Options{}, 80, 24)
	u.waitText("Connections 2")
	u.typeText("q")
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
		t.Fatal("q did not end the UI")
	}
	if !u.quit || u.err != nil {
		t.Errorf("quit %v, err %v", u.quit, u.err)
	}
}

// TestKeyTable: every key is bound once, and every binding is on the
// help screen.
func TestKeyTable(t *testing.T) {
	kt := newKeyTable()
	seen := map[key]string{}
	for _, b := range kt.list {
		if b.run == nil || b.help == "" || b.names == "" {
			t.Errorf("incomplete binding %+v", b)
		}
		for _, k := range b.keys {
			if other, ok := seen[k]; ok {
				t.Errorf("key %v is bound to %q and %q", k, other, b.help)
			}
			seen[k] = b.help
		}
	}
	var help []string
	for _, l := range kt.helpLines("") {
		help = append(help, l.Text())
	}
	text := strings.Join(help, "\n")
	for _, b := range kt.list {
		if !strings.Contains(text, b.names) || !strings.Contains(text, b.help) {
			t.Errorf("%q is not on the help screen", b.names)
		}
	}
}

// TestScreenSustainedLoad sends 10,000 messages a second, in batches of
// 100 every 10 ms, while the UI follows them: redraws stay at about
// 1/redrawEvery a second whatever the rate, and keys are handled while
// the traffic goes on (moving up stops following and the marker counts
// what arrives). The traffic stops only once the marker was seen.
func TestScreenSustainedLoad(t *testing.T) {
	s, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tap := session.NewTap(s, session.TapOptions{})
	l := livetest.Open(tap)
	u := startUI(t, s, Options{Title: "proxy", Live: true}, 120, 40)
	u.typeText("\t")
	l.Send(decode.Client, "first")
	u.waitText("first", "following")

	var before int
	u.app.Post(func() { before = u.app.draws })
	u.sync()
	stop := make(chan struct{})
	sent := make(chan int)
	start := time.Now()
	go func() {
		n := 0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sent <- n
				return
			case <-tick.C:
			}
			for range 100 {
				l.Send(decode.Server, "load "+strconv.Itoa(n))
				n++
			}
		}
	}()
	// Under load, a key: up stops following, the marker counts.
	time.Sleep(300 * time.Millisecond)
	u.key(tcell.KeyUp)
	u.waitFor("the new-messages marker under load", func(screen string) bool {
		return strings.Contains(screen, "new ↓")
	})
	time.Sleep(700 * time.Millisecond)
	close(stop)
	n := <-sent
	elapsed := time.Since(start)
	var after int
	u.app.Post(func() { after = u.app.draws })
	u.sync()
	// The redraws the traffic caused, plus a few for the key and the
	// marker.
	if limit := int(elapsed/redrawEvery) + 10; after-before > limit {
		t.Errorf("%d redraws in %v for %d messages, want at most %d", after-before, elapsed.Round(time.Millisecond), n, limit)
	}
	if n < 5000 {
		t.Errorf("only %d messages sent in %v", n, elapsed.Round(time.Millisecond))
	}
	t.Logf("%d messages in %v (%.0f a second), %d redraws", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), after-before)
	u.typeText("f")
	u.waitText("load "+strconv.Itoa(n-1), "following")
}
