// Package view is the terminal UI without a screen: what the three areas
// (connections, the timeline of the selected connection, the details of
// the selected item) show, which row is selected and which is in view,
// whether a list follows its newest row, what a filter selected, and the
// exports, searches and filters that run off the UI goroutine. Package
// tui draws it and sends it the keys; this package never imports a
// terminal library, so that everything it decides is tested without one.
//
// A Browser reads the session store by range: a list knows how many rows
// it has and which one is selected, and each redraw reads the records of
// the rows in view, nothing more. It holds ids and indexes into the store,
// never pointers into what the store is still changing. A Browser is used
// from one goroutine (the UI's); the work it starts on goroutines of its
// own (a filter over a million messages, a search, an export) hands its
// results back through the post function it was given, which runs them on
// that goroutine.
package view
