//go:build !race

package export_test

// raceEnabled is set when the race detector is on (load_race_test.go).
const raceEnabled = false
