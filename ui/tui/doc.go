// Package tui is wstap's terminal UI: the connections, the timeline of
// the selected connection and the details of the selected item, drawn
// with tview and tcell from a view.Browser, which holds everything the
// UI decides. One key table (keys.go) dispatches the keys and writes the
// help screen, so that the two cannot disagree.
//
// Drawing happens on the UI goroutine only. The store changes on the
// goroutines that decode; a pump waits for those changes and wakes the
// UI goroutine at most twenty times a second, so that a proxy relaying
// ten thousand messages a second costs twenty redraws, each of which
// reads from the store the rows in view and nothing more.
package tui
