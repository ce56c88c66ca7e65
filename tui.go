package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/ui/tui"
)

// uiRun is the terminal UI of a command run: it opens when the command
// has no output flag and stdout is a terminal, shows the store as the
// command fills it, and ends the run when the user quits. While it covers
// the terminal, what the command says on stderr is shown in its status
// line and kept, to be printed once the terminal is restored.
type uiRun struct {
	app  *tui.App
	done chan struct{}
	// stopJob ends the command when the user quits, as a signal would.
	stopJob context.CancelFunc

	mu   sync.Mutex
	held []string
	// covering is set while the UI covers the terminal.
	covering bool
	quit     bool
	err      error
}

// startUI opens the UI on the run's store. It fails when there is no
// terminal to open (the caller then prints the dump instead).
func (j *job) startUI(outs *outputs, opts export.Options) error {
	title := j.uiTitle
	if title == "" {
		title = strings.TrimPrefix(j.name, "wstap ")
	}
	app, err := tui.New(outs.store, tui.Options{
		Title: title,
		// Everything but read shows traffic as it happens.
		Live:    j.name != "wstap read",
		Export:  opts,
		Protect: j.protect,
	})
	if err != nil {
		return err
	}
	u := &uiRun{app: app, done: make(chan struct{}), stopJob: j.stop, covering: true}
	j.mu.Lock()
	j.ui = u
	j.mu.Unlock()
	go func() {
		defer close(u.done)
		quit, err := app.Run(j.ctx)
		u.mu.Lock()
		u.covering, u.quit, u.err = false, quit, err
		u.mu.Unlock()
		if quit {
			u.stopJob()
		}
	}()
	return nil
}

// hold keeps a line said while the UI covers the terminal and shows it
// in the status line; it reports false when the UI no longer covers it.
func (u *uiRun) hold(line string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.covering {
		return false
	}
	u.held = append(u.held, line)
	u.app.Notify(strings.TrimSpace(line))
	return true
}

// userQuit reports whether the user quit the UI.
func (u *uiRun) userQuit() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.quit
}

// finishUI tells the UI that the command's source is done, waits for the
// user to quit (or a signal), then prints what was said meanwhile.
func (j *job) finishUI() {
	u := j.ui
	if u == nil {
		return
	}
	msg := "done"
	if j.name == "wstap read" {
		msg = "everything is read"
	}
	u.app.SourceDone(msg)
	<-u.done
	u.mu.Lock()
	held, err := u.held, u.err
	u.held = nil
	u.mu.Unlock()
	for _, l := range held {
		fmt.Fprint(j.stderr, l)
	}
	if err != nil {
		j.errorf("the terminal UI: %v", err)
	}
	if u.userQuit() {
		// Quitting the UI is how a run with the UI ends, not an
		// interruption.
		j.mu.Lock()
		if j.status == exitInterrupted {
			j.status = exitOK
		}
		j.mu.Unlock()
	}
}
