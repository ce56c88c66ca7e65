package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// wstap's memory is bounded by design (the store keeps an index in RAM and
// the payloads in a file, every buffer has a named bound), and the
// garbage collector is told so: most of the heap is long-lived (the
// index), so at Go's defaults the peak holds as much garbage again, and
// freed memory goes back to the system late.
const (
	// gcPercent is the collector's target (GOGC): the heap may grow to
	// 1.5 times what is live, instead of twice.
	gcPercent = 50
	// softMemoryLimit is the memory wstap aims to stay under (GOMEMLIMIT):
	// what the store and the buffers need with room to spare. Near it the
	// collector runs sooner and returns freed memory at once.
	softMemoryLimit = 120 << 20
	// memoryCheck is how often the limit is compared with the live heap.
	memoryCheck = time.Second
	// memoryHeadroom is, with a quarter of the live heap, what the limit
	// keeps above the live heap once the live heap outgrew it: room
	// enough that the collector runs once per that much allocated, not
	// without pause.
	memoryHeadroom = 16 << 20
)

// limitMemory applies gcPercent and softMemoryLimit unless the
// environment sets GOGC or GOMEMLIMIT. A session whose index outgrows the
// limit (tens of thousands of connections, each with its handshake)
// would make the collector run without pause near it, so the limit
// follows the live heap up, keeping a quarter of it and memoryHeadroom
// above it. Measured on the
// benchmarks (BENCHMARKS.md): peak RSS of read --json on the short
// capture 139 -> 108 MiB, of the proxy with 500 connections 145-170 ->
// 126 MiB, for about 5% more CPU.
func limitMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(softMemoryLimit)
	debug.SetMemoryLimit(limit)
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for range time.Tick(memoryCheck) {
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			live := int64(sample[0].Value.Uint64())
			if want := live + live/4 + memoryHeadroom; want > limit {
				limit = want
				debug.SetMemoryLimit(limit)
			}
		}
	}()
}
