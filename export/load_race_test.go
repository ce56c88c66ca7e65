//go:build race

package export_test

// raceEnabled is set when the race detector is on: the tests that read
// hundreds of megabytes then read less, since every access is watched.
const raceEnabled = true
