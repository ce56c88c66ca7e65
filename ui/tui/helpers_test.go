package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/wstap/wstap/session"
)

// ui is an App running on a simulation screen.
type ui struct {
	t      testing.TB
	app    *App
	sim    tcell.SimulationScreen
	cancel context.CancelFunc
	done   chan struct{}
	quit   bool
	err    error
}

// startUI runs the UI of store on a simulation screen of w x h.
func startUI(t testing.TB, store *session.Store, opts Options, w, h int) *ui {
	t.Helper()
	sim := tcell.NewSimulationScreen("UTF-8")
	opts.Screen = sim
	app, err := New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	sim.SetSize(w, h) // after New: it initializes the screen, at 80x25
	ctx, cancel := context.WithCancel(context.Background())
	u := &ui{t: t, app: app, sim: sim, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		u.quit, u.err = app.Run(ctx)
	}()
	t.Cleanup(u.stop)
	return u
}

// stop ends the UI and waits for Run to return.
func (u *ui) stop() {
	u.cancel()
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
		u.t.Error("the UI did not stop")
	}
}

// lines returns what the screen shows, a string per row, trailing blanks
// cut. The simulation screen's cells are read on the UI goroutine, which
// draws them.
func (u *ui) lines() []string {
	got := make(chan []string, 1)
	u.app.Post(func() { got <- u.read() })
	select {
	case l := <-got:
		return l
	case <-time.After(5 * time.Second):
		u.t.Fatal("the UI did not run a posted task")
		return nil
	}
}

// read reads the screen; on the UI goroutine.
func (u *ui) read() []string {
	cells, w, h := u.sim.GetContents()
	out := make([]string, h)
	for y := range h {
		var b strings.Builder
		for x := range w {
			c := cells[y*w+x]
			if len(c.Runes) == 0 {
				continue // the second column of a wide character
			}
			b.WriteString(string(c.Runes))
		}
		out[y] = strings.TrimRight(b.String(), " ")
	}
	return out
}

func (u *ui) text() string { return strings.Join(u.lines(), "\n") }

// waitFor waits until the screen satisfies ok, or fails the test with
// what the screen shows.
func (u *ui) waitFor(what string, ok func(screen string) bool) {
	u.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s := u.text(); ok(s) {
			return
		} else if time.Now().After(deadline) {
			u.t.Fatalf("waiting for %s; the screen:\n%s", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitText waits until the screen shows every one of texts.
func (u *ui) waitText(texts ...string) {
	u.t.Helper()
	u.waitFor(strings.Join(texts, ", "), func(s string) bool {
		for _, t := range texts {
			if !strings.Contains(s, t) {
				return false
			}
		}
		return true
	})
}

// key types a key; runes are typed one by one.
func (u *ui) key(k tcell.Key) { u.sim.InjectKey(k, 0, tcell.ModNone) }

func (u *ui) typeText(s string) {
	for _, r := range s {
		u.sim.InjectKey(tcell.KeyRune, r, tcell.ModNone)
	}
}

// sync waits until the UI has handled every event injected so far: it
// posts a task and waits for it to run.
func (u *ui) sync() {
	u.t.Helper()
	done := make(chan struct{})
	u.app.Post(func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		u.t.Fatal("the UI did not run a posted task")
	}
	// A redraw follows the task that woke the UI; one more round trip
	// makes sure it happened.
	done2 := make(chan struct{})
	u.app.Post(func() { close(done2) })
	<-done2
}
