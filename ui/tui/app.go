package tui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/internal/outfile"
	"github.com/wstap/wstap/session"
	"github.com/wstap/wstap/ui/filter"
	"github.com/wstap/wstap/ui/view"
)

// redrawEvery is the least time between two redraws the traffic causes:
// twenty a second reads as live, and a proxy relaying ten thousand
// messages a second costs twenty redraws, not ten thousand. Keys redraw
// at once.
const redrawEvery = 50 * time.Millisecond

// wakeKey and wakeMods make the event that wakes the UI goroutine to run
// what was posted to it: a key no keyboard sends (F64 with every
// modifier), posted with the screen's non-blocking PostEvent, so that a
// goroutine that posts never waits for the UI, even one that stopped.
const (
	wakeKey  = tcell.KeyF64
	wakeMods = tcell.ModShift | tcell.ModCtrl | tcell.ModAlt | tcell.ModMeta
)

// Options configure the UI.
type Options struct {
	// Title says what is shown: "read capture.pcapng", "proxy on
	// 127.0.0.1:8080".
	Title string
	// Live says that traffic arrives while the UI runs (proxy, capture,
	// demo): the lists follow the newest rows from the start.
	Live bool
	// Export are the options of exports made from the UI, and Protect
	// the files they must never replace (the inputs).
	Export  export.Options
	Protect []outfile.Input
	// Screen is where to draw; nil is the terminal. Tests give a
	// simulation screen.
	Screen tcell.Screen
}

// App is the terminal UI of one session.
type App struct {
	app    *tview.Application
	screen tcell.Screen
	b      *view.Browser
	th     *theme
	keys   *keyTable
	opts   Options
	store  *session.Store
	input  *tview.InputField
	root   *rootView

	mail mailbox

	prompt    promptKind
	promptErr *promptError
	help      bool
	helpTop   int
	helpLines []view.Line
	zoom      bool

	// loading is set until the source says it is done (SourceDone).
	loading bool
	// notice is the last thing the command said (Notify).
	notice string

	// quitByUser is set when the user quit (q, ctrl+c), as opposed to a
	// signal or the end of the source.
	quitByUser bool
	stopOnce   sync.Once
	stopped    chan struct{}

	// areas are where the three areas were drawn, for the mouse.
	areas [3]rect
	tabs  []tabRect
	// draws counts the redraws, for tests and the benchmark.
	draws int
}

type rect struct{ x, y, w, h int }

func (r rect) has(x, y int) bool { return x >= r.x && x < r.x+r.w && y >= r.y && y < r.y+r.h }

type tabRect struct {
	x0, x1 int
	tab    view.Tab
}

// promptKind is what the prompt at the bottom asks for.
type promptKind int

const (
	promptNone promptKind = iota
	promptFilter
	promptSearch
	promptExportView
	promptExportAll
)

// promptError is an error shown under the prompt: for a filter, with the
// position it is about.
type promptError struct {
	msg      string
	pos, end int // -1 when it has no position
}

// New makes the UI of store. It does not touch the terminal until Run.
func New(store *session.Store, opts Options) (*App, error) {
	a := &App{th: newTheme(), keys: newKeyTable(), opts: opts, store: store, loading: true, stopped: make(chan struct{})}
	screen := opts.Screen
	if screen == nil {
		var err error
		if screen, err = tcell.NewScreen(); err != nil {
			return nil, fmt.Errorf("opening the terminal: %w", err)
		}
	}
	a.screen = screen
	a.mail.screen, a.mail.signal = screen, make(chan struct{}, 1)
	a.b = view.New(store, view.Options{Live: opts.Live, Post: a.mail.post, Export: opts.Export, Protect: opts.Protect})
	a.helpLines = a.keys.helpLines(filter.Help())
	a.input = tview.NewInputField()
	a.input.SetFieldStyle(tcell.StyleDefault.Underline(true))
	a.input.SetLabelStyle(tcell.StyleDefault.Bold(true))
	a.input.SetChangedFunc(a.promptChanged)
	a.input.SetDoneFunc(a.promptDone)
	// SetScreen initializes the screen (the terminal goes into raw mode
	// and the alternate screen); the mouse is enabled after, on it.
	a.app = tview.NewApplication().SetScreen(screen).EnableMouse(true)
	a.root = &rootView{Box: tview.NewBox(), a: a}
	a.app.SetRoot(a.root, true)
	a.app.SetInputCapture(a.key)
	a.app.SetMouseCapture(a.mouse)
	return a, nil
}

// Browser returns the UI's state, for tests.
func (a *App) Browser() *view.Browser { return a.b }

// Run shows the UI until the user quits or ctx is done (a signal), and
// restores the terminal. It reports whether the user quit.
func (a *App) Run(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.pump(ctx)
	go func() {
		<-ctx.Done()
		a.stop()
	}()
	err := a.app.Run()
	a.stop()
	return a.quitByUser, err
}

// stop ends Run; the screen is restored. Safe from any goroutine.
func (a *App) stop() {
	a.stopOnce.Do(func() {
		close(a.stopped)
		a.app.Stop()
	})
}

// Close ends the UI and restores the terminal at once, from any
// goroutine: for a command that is about to crash, so that the crash is
// printed on a usable terminal.
func (a *App) Close() { a.stop() }

// quit is the user's quit.
func (a *App) quit() {
	a.quitByUser = true
	a.b.CancelWork()
	go a.stop() // Stop waits for the event loop, which runs this
}

// Notify shows msg in the status line (what the command has to say while
// the UI covers the terminal). Safe from any goroutine.
func (a *App) Notify(msg string) {
	a.mail.post(func() {
		a.notice = msg
		a.b.SetStatus(msg, view.StyleNormal)
	})
}

// SourceDone says that the source finished (the file was read): msg, if
// not "", says how. Safe from any goroutine.
func (a *App) SourceDone(msg string) {
	a.mail.post(func() {
		a.loading = false
		a.b.RecountTotals()
		a.b.Refresh()
		if msg != "" {
			a.b.SetStatus(msg, view.StyleNormal)
		}
	})
}

// Post runs f on the UI goroutine and redraws. Safe from any goroutine;
// it does not wait.
func (a *App) Post(f func()) { a.mail.post(f) }

// pump wakes the UI goroutine when the store changed or work was posted,
// at most every redrawEvery. The channel of the next change is taken
// before the refresh is queued, so that a change made after the refresh
// read the store wakes the pump again, and none is left unshown.
func (a *App) pump(ctx context.Context) {
	refresh := func() { a.b.Refresh() }
	changed := a.store.Changed()
	// What was recorded between New and now.
	a.mail.queue(refresh, true)
	a.mail.wake()
	// recount makes the totals of the title bar count again a while after
	// the traffic stopped: they are counted at most twice a second, and
	// the last change must not leave them behind.
	var recount <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			changed = a.store.Changed()
			a.mail.queue(refresh, true)
			if recount == nil {
				recount = time.After(2 * view.TotalsEvery)
			}
		case <-recount:
			recount = nil
			a.mail.queue(func() {
				a.b.RecountTotals()
				a.b.Refresh()
			}, false)
		case <-a.mail.signal:
		}
		a.mail.wake()
		select {
		case <-ctx.Done():
			return
		case <-time.After(redrawEvery):
		}
	}
}

// mailbox holds what other goroutines posted for the UI goroutine, until
// a wake event makes it run them.
type mailbox struct {
	screen tcell.Screen
	mu     sync.Mutex
	tasks  []func()
	// refreshQueued is set while a refresh of the store waits in tasks:
	// one is enough however many changes came.
	refreshQueued bool
	// signal tells the pump that tasks wait.
	signal chan struct{}
}

// post queues f and tells the pump.
func (m *mailbox) post(f func()) {
	m.queue(f, false)
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

// queue adds f to the tasks; a refresh is queued once.
func (m *mailbox) queue(f func(), refresh bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if refresh {
		if m.refreshQueued {
			return
		}
		m.refreshQueued = true
	}
	m.tasks = append(m.tasks, f)
}

// wake posts the wake event. PostEvent does not block; when the event
// queue is full, the keys in it will run the tasks.
func (m *mailbox) wake() {
	_ = m.screen.PostEvent(tcell.NewEventKey(wakeKey, 0, wakeMods))
}

// run runs the queued tasks, on the UI goroutine.
func (m *mailbox) run() {
	m.mu.Lock()
	tasks := m.tasks
	m.tasks, m.refreshQueued = nil, false
	m.mu.Unlock()
	for _, f := range tasks {
		f()
	}
}

// key handles a key (and the wake event), before tview does: everything
// goes through the key table, or to the prompt when it is open.
func (a *App) key(ev *tcell.EventKey) *tcell.EventKey {
	a.mail.run()
	if ev.Key() == wakeKey && ev.Modifiers() == wakeMods {
		return nil // redraw
	}
	if a.help {
		a.helpKey(ev)
		return nil
	}
	if a.prompt != promptNone {
		a.input.InputHandler()(ev, func(tview.Primitive) {})
		return nil
	}
	if b := a.keys.lookup(ev); b != nil {
		b.run(a)
	}
	return nil
}

// helpKey scrolls the help screen; Esc, q and ? close it.
func (a *App) helpKey(ev *tcell.EventKey) {
	switch {
	case ev.Key() == tcell.KeyUp || ev.Key() == tcell.KeyRune && ev.Rune() == 'k':
		a.helpTop--
	case ev.Key() == tcell.KeyDown || ev.Key() == tcell.KeyRune && ev.Rune() == 'j':
		a.helpTop++
	case ev.Key() == tcell.KeyPgUp:
		a.helpTop -= 10
	case ev.Key() == tcell.KeyPgDn || ev.Key() == tcell.KeyRune && ev.Rune() == ' ':
		a.helpTop += 10
	case ev.Key() == tcell.KeyCtrlC:
		a.quit()
	default:
		a.help = false
	}
	a.helpTop = max(0, min(a.helpTop, len(a.helpLines)-1))
}

// openPrompt opens the prompt at the bottom.
func (a *App) openPrompt(k promptKind) {
	a.prompt, a.promptErr = k, nil
	label, text := "", ""
	switch k {
	case promptFilter:
		label, text = "filter: ", a.b.Filter()
		a.input.SetPlaceholder("e.g. client text size>1k, host:example.com, problem, /regex/; empty: no filter")
	case promptSearch:
		label, text = "search: ", a.b.SearchExpr()
		a.input.SetPlaceholder("a filter expression: the next message it selects is shown (n, N: next, previous)")
	case promptExportView:
		label = "export the view to: "
		a.input.SetPlaceholder("FILE.har, FILE.json or FILE.ndjson")
	case promptExportAll:
		label = "export the whole session to: "
		a.input.SetPlaceholder("FILE.har, FILE.json or FILE.ndjson")
	}
	a.input.SetLabel(label)
	a.input.SetText(text)
	a.input.Focus(nil)
	a.promptChanged(text)
}

// promptChanged checks a filter or search as it is typed, so that what
// is wrong shows in place before Enter.
func (a *App) promptChanged(text string) {
	a.promptErr = nil
	if a.prompt != promptFilter && a.prompt != promptSearch {
		return
	}
	if _, err := filter.Parse(text); err != nil {
		a.promptErr = errorOf(err)
	}
}

func errorOf(err error) *promptError {
	var fe *filter.Error
	if errors.As(err, &fe) {
		return &promptError{msg: fe.Error(), pos: fe.Pos, end: fe.End}
	}
	return &promptError{msg: err.Error(), pos: -1}
}

// promptDone is Enter or Esc in the prompt.
func (a *App) promptDone(k tcell.Key) {
	if k == tcell.KeyEscape {
		a.closePrompt()
		return
	}
	if k != tcell.KeyEnter {
		return
	}
	text := a.input.GetText()
	var err error
	switch a.prompt {
	case promptFilter:
		err = a.b.SetFilter(text)
	case promptSearch:
		err = a.b.Search(text, false)
	case promptExportView:
		err = a.b.Export(text, false)
	case promptExportAll:
		err = a.b.Export(text, true)
	}
	if err != nil {
		a.promptErr = errorOf(err)
		return
	}
	a.closePrompt()
}

func (a *App) closePrompt() {
	a.prompt, a.promptErr = promptNone, nil
	a.input.Blur()
}

// copyPayload puts the selected payload on the clipboard with OSC 52.
func (a *App) copyPayload() {
	data, msg, err := a.b.Copy()
	if err != nil {
		a.b.SetStatus(err.Error(), view.StyleWarning)
		return
	}
	a.screen.SetClipboard(data)
	a.b.SetStatus(msg, view.StyleOK)
}

// mouse selects rows and tabs with the mouse, and scrolls with the wheel.
// Events it does not use are passed on as they are: tview tells a click
// from the press and release it sees, and a nil event would end that.
func (a *App) mouse(ev *tcell.EventMouse, action tview.MouseAction) (*tcell.EventMouse, tview.MouseAction) {
	if ev == nil || a.help || a.prompt != promptNone {
		return ev, action
	}
	switch action {
	case tview.MouseScrollUp, tview.MouseScrollDown, tview.MouseLeftClick:
	default:
		return ev, action
	}
	a.mail.run()
	x, y := ev.Position()
	for i, r := range a.areas {
		if !r.has(x, y) {
			continue
		}
		area := view.Area(i)
		switch action {
		case tview.MouseScrollUp:
			a.b.ScrollList(area, -mouseScroll)
		case tview.MouseScrollDown:
			a.b.ScrollList(area, mouseScroll)
		default:
			a.b.SetFocus(area)
			row := y - r.y - 2 // under the area's bar and the column header
			switch area {
			case view.AreaConnections:
				if row >= 0 && a.b.Conns.Top()+row < a.b.Conns.Len() {
					a.b.SelectConn(a.b.Conns.Top() + row)
				}
			case view.AreaTimeline:
				if row >= 0 && a.b.Time.Top()+row < a.b.Time.Len() {
					a.b.SelectItem(a.b.Time.Top() + row)
				}
			default:
				if y == r.y {
					for _, t := range a.tabs {
						if x >= t.x0 && x < t.x1 {
							a.b.SetTab(t.tab)
						}
					}
				}
			}
		}
		return nil, action
	}
	return ev, action
}

// mouseScroll is how many rows a notch of the wheel scrolls, as most
// terminal programs do.
const mouseScroll = 3
