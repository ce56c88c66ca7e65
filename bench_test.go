package main

import (
	"io"
	"os"
	"testing"
)

// BenchmarkRead runs "wstap read" in-process on the capture named by
// WSTAP_BENCH_CAPTURE with each output, for profiling (go test -bench
// Read -cpuprofile); scripts/bench-read.sh is the benchmark of record.
func BenchmarkRead(b *testing.B) {
	path := os.Getenv("WSTAP_BENCH_CAPTURE")
	if path == "" {
		b.Skip("set WSTAP_BENCH_CAPTURE to a capture file")
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, out := range [][]string{{"--json", "/dev/null"}, {"--har", "/dev/null"}, {"--ndjson", "/dev/null"}, {"--dump"}} {
		b.Run(out[0], func(b *testing.B) {
			b.SetBytes(st.Size())
			for b.Loop() {
				if code := run(append(append([]string{"read"}, out...), path), nil, io.Discard, io.Discard); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
}
