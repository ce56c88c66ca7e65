package tui

import (
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/wstap/wstap/ui/view"
)

// key is a key as tcell reports it: a special key, or a rune.
type key struct {
	code tcell.Key
	r    rune
}

func runeKey(r rune) key         { return key{tcell.KeyRune, r} }
func specialKey(k tcell.Key) key { return key{code: k} }

// binding is one row of the key table: the keys, how the help writes
// them, what they do, and where they are listed.
type binding struct {
	keys  []key
	names string
	help  string
	group string
	// hint is the short name in the status bar's list of keys; "" keeps
	// the binding out of it.
	hint string
	run  func(a *App)
}

// The groups of the help screen, in order.
const (
	groupMove   = "Move"
	groupView   = "View"
	groupFind   = "Filter and search"
	groupAct    = "Act"
	groupGlobal = "General"
)

// bindings is the key table: the one place that says which key does
// what. Dispatch looks keys up in it, and the help screen and the status
// bar are written from it.
func bindings() []binding {
	return []binding{
		{keys: []key{specialKey(tcell.KeyUp), runeKey('k')}, names: "↑ k", help: "previous row (stops following)", group: groupMove,
			run: func(a *App) { a.b.Move(-1) }},
		{keys: []key{specialKey(tcell.KeyDown), runeKey('j')}, names: "↓ j", help: "next row", group: groupMove,
			run: func(a *App) { a.b.Move(1) }},
		{keys: []key{specialKey(tcell.KeyPgUp), specialKey(tcell.KeyCtrlB)}, names: "PgUp ctrl+b", help: "previous page", group: groupMove,
			run: func(a *App) { a.b.Page(-1) }},
		{keys: []key{specialKey(tcell.KeyPgDn), specialKey(tcell.KeyCtrlF)}, names: "PgDn ctrl+f", help: "next page", group: groupMove,
			run: func(a *App) { a.b.Page(1) }},
		{keys: []key{specialKey(tcell.KeyHome), runeKey('g')}, names: "Home g", help: "first row", group: groupMove,
			run: func(a *App) { a.b.Home() }},
		{keys: []key{specialKey(tcell.KeyEnd), runeKey('G')}, names: "End G", help: "last row, and follow it", group: groupMove,
			run: func(a *App) { a.b.End() }},
		{keys: []key{specialKey(tcell.KeyTab)}, names: "Tab", help: "next area: connections, timeline, details", group: groupMove,
			run: func(a *App) { a.b.FocusNext(1) }},
		{keys: []key{specialKey(tcell.KeyBacktab)}, names: "shift+Tab", help: "previous area", group: groupMove,
			run: func(a *App) { a.b.FocusNext(-1) }},
		{keys: []key{specialKey(tcell.KeyEnter)}, names: "Enter", help: "open: a connection's timeline, a message's details", group: groupMove,
			run: func(a *App) { a.b.Open() }},
		{keys: []key{specialKey(tcell.KeyEsc)}, names: "Esc", help: "cancel what runs (filter, search, export), else back one area", group: groupMove,
			run: func(a *App) {
				if !a.b.CancelWork() {
					a.b.Back()
				}
			}},
		{keys: []key{runeKey('f')}, names: "f", help: "follow the newest message (and, from the connections, the newest connection)", group: groupView, hint: "follow",
			run: func(a *App) { a.b.Follow() }},
		{keys: []key{runeKey('v')}, names: "v", help: "messages or raw frames in the timeline", group: groupView, hint: "frames",
			run: func(a *App) { a.b.ToggleFrames() }},
		{keys: []key{runeKey('1')}, names: "1", help: "details: payload", group: groupView,
			run: func(a *App) { a.b.SetTab(view.TabPayload) }},
		{keys: []key{runeKey('2')}, names: "2", help: "details: frames of the message", group: groupView,
			run: func(a *App) { a.b.SetTab(view.TabFrames) }},
		{keys: []key{runeKey('3')}, names: "3", help: "details: handshake (headers in wire order)", group: groupView,
			run: func(a *App) { a.b.SetTab(view.TabHandshake) }},
		{keys: []key{runeKey('4')}, names: "4", help: "details: problems", group: groupView,
			run: func(a *App) { a.b.SetTab(view.TabProblems) }},
		{keys: []key{specialKey(tcell.KeyRight), runeKey('l')}, names: "→ l", help: "next details tab", group: groupView,
			run: func(a *App) { a.b.NextTab(1) }},
		{keys: []key{specialKey(tcell.KeyLeft), runeKey('h')}, names: "← h", help: "previous details tab", group: groupView,
			run: func(a *App) { a.b.NextTab(-1) }},
		{keys: []key{runeKey('x')}, names: "x", help: "payload as hex dump, or as text and JSON", group: groupView,
			run: func(a *App) { a.b.ToggleHex() }},
		{keys: []key{runeKey('z')}, names: "z", help: "zoom: the area with the keys takes the whole screen", group: groupView,
			run: func(a *App) { a.zoom = !a.zoom }},
		{keys: []key{runeKey('p'), runeKey(' ')}, names: "p Space", help: "pause or resume live updates (everything is still recorded)", group: groupView, hint: "pause",
			run: func(a *App) { a.b.TogglePause() }},
		{keys: []key{runeKey('c')}, names: "c", help: "clear the view: show only what arrives from now on", group: groupView,
			run: func(a *App) { a.b.Clear() }},
		{keys: []key{runeKey('u')}, names: "u", help: "undo clear: show everything again", group: groupView,
			run: func(a *App) { a.b.Unclear() }},
		{keys: []key{runeKey('/')}, names: "/", help: "filter connections and messages (empty: no filter)", group: groupFind, hint: "filter",
			run: func(a *App) { a.openPrompt(promptFilter) }},
		{keys: []key{runeKey('s')}, names: "s", help: "search, without filtering: select the next match", group: groupFind, hint: "search",
			run: func(a *App) { a.openPrompt(promptSearch) }},
		{keys: []key{runeKey('n')}, names: "n", help: "next match of the search", group: groupFind,
			run: func(a *App) { a.b.SearchNext(false) }},
		{keys: []key{runeKey('N')}, names: "N", help: "previous match of the search", group: groupFind,
			run: func(a *App) { a.b.SearchNext(true) }},
		{keys: []key{runeKey('!')}, names: "!", help: "next problem", group: groupFind, hint: "problem",
			run: func(a *App) { a.b.NextProblem() }},
		{keys: []key{runeKey('e')}, names: "e", help: "export the view (what the filter and a clear leave) as HAR, JSON or NDJSON", group: groupAct, hint: "export",
			run: func(a *App) { a.openPrompt(promptExportView) }},
		{keys: []key{runeKey('E')}, names: "E", help: "export the whole session", group: groupAct,
			run: func(a *App) { a.openPrompt(promptExportAll) }},
		{keys: []key{runeKey('y')}, names: "y", help: "copy the payload to the clipboard (OSC 52)", group: groupAct, hint: "copy",
			run: func(a *App) { a.copyPayload() }},
		{keys: []key{runeKey('?'), specialKey(tcell.KeyF1)}, names: "? F1", help: "this help", group: groupGlobal, hint: "help",
			run: func(a *App) { a.help, a.helpTop = true, 0 }},
		{keys: []key{runeKey('q'), specialKey(tcell.KeyCtrlC)}, names: "q ctrl+c", help: "quit", group: groupGlobal, hint: "quit",
			run: func(a *App) { a.quit() }},
	}
}

// keyTable is the key table with its index by key.
type keyTable struct {
	list  []binding
	index map[key]int
}

func newKeyTable() *keyTable {
	t := &keyTable{list: bindings(), index: map[key]int{}}
	for i, b := range t.list {
		for _, k := range b.keys {
			t.index[k] = i
		}
	}
	return t
}

// lookup returns the binding of ev, or nil.
func (t *keyTable) lookup(ev *tcell.EventKey) *binding {
	k := key{code: ev.Key()}
	if k.code == tcell.KeyRune {
		k.r = ev.Rune()
	}
	if i, ok := t.index[k]; ok {
		return &t.list[i]
	}
	return nil
}

// hints writes the status bar's list of keys: "/ filter  s search ...".
func (t *keyTable) hints() string {
	var parts []string
	for _, b := range t.list {
		if b.hint != "" {
			parts = append(parts, strings.Fields(b.names)[0]+" "+b.hint)
		}
	}
	return strings.Join(parts, "  ")
}

// helpLines writes the help screen: the key table by group, then the
// filter language's cheat sheet.
func (t *keyTable) helpLines(filterHelp string) []view.Line {
	var out []view.Line
	out = append(out, view.Line{{Text: "wstap — keys", Style: view.StyleHeader}}, nil)
	width := 0
	for _, b := range t.list {
		width = max(width, len([]rune(b.names)))
	}
	for _, g := range []string{groupMove, groupView, groupFind, groupAct, groupGlobal} {
		out = append(out, view.Line{{Text: g, Style: view.StyleHeader}})
		for _, b := range t.list {
			if b.group != g {
				continue
			}
			pad := strings.Repeat(" ", width-len([]rune(b.names))+2)
			out = append(out, view.Line{{Text: "  " + b.names + pad, Style: view.StyleKey}, {Text: b.help, Style: view.StyleNormal}})
		}
		out = append(out, nil)
	}
	out = append(out, view.Line{{Text: "Mouse: click a row to select it, a tab to show it; the wheel scrolls.", Style: view.StyleDim}}, nil)
	for _, l := range strings.Split(strings.TrimRight(filterHelp, "\n"), "\n") {
		st := view.StyleNormal
		if !strings.HasPrefix(l, " ") {
			st = view.StyleHeader
		}
		out = append(out, view.Line{{Text: l, Style: st}})
	}
	return out
}
