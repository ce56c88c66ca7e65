package main

import (
	"context"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/wstap/wstap/session"
	"github.com/wstap/wstap/ui/tui"
)

// TestPanicClosesUI: a command body that panics while the terminal UI
// covers the terminal closes the UI (the screen is finalized) before the
// panic goes on, so that the crash is printed on a usable terminal.
func TestPanicClosesUI(t *testing.T) {
	st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sim := &finiScreen{SimulationScreen: tcell.NewSimulationScreen("UTF-8"), fini: make(chan struct{})}
	app, err := tui.New(st, tui.Options{Title: "test", Screen: sim})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		app.Run(context.Background())
	}()
	j := &job{ui: &uiRun{app: app}}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("the panic did not go on: recovered %v", r)
			}
		}()
		runBody(j, func(*job) error {
			time.Sleep(50 * time.Millisecond) // the UI is up
			panic("boom")
		})
	}()
	select {
	case <-sim.fini:
	case <-time.After(5 * time.Second):
		t.Fatal("the screen was not finalized before the panic went on")
	}
	<-ran
}

// finiScreen records that the screen was finalized (the terminal
// restored).
type finiScreen struct {
	tcell.SimulationScreen
	fini chan struct{}
}

func (s *finiScreen) Fini() {
	select {
	case <-s.fini:
	default:
		close(s.fini)
	}
	s.SimulationScreen.Fini()
}
