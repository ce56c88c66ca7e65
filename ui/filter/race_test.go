//go:build race

package filter

// raceEnabled is set when the race detector is on. Allocation counts
// mean nothing then: sync.Pool drops some of what is put in it under the
// detector, and regexp keeps its matching machines in one.
const raceEnabled = true
