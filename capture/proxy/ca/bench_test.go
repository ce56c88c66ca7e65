package ca

import (
	"fmt"
	"testing"
)

// BenchmarkLeafNew is the cost of a leaf for a host not seen before: a
// serial number, an ECDSA P-256 signature and parsing the result.
func BenchmarkLeafNew(b *testing.B) {
	ca := mustLoad(b, newDir(b))
	i := 0
	for b.Loop() {
		if _, err := ca.Leaf(fmt.Sprintf("h%d.example.com", i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLeafCached is the cost of a leaf from the cache, the common
// case of every handshake after the first with a host.
func BenchmarkLeafCached(b *testing.B) {
	ca := mustLoad(b, newDir(b))
	if _, err := ca.Leaf("example.com"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ca.Leaf("example.com"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLeafCachedParallel is the cached case from every CPU at once,
// where the cache's one lock is shared.
func BenchmarkLeafCachedParallel(b *testing.B) {
	ca := mustLoad(b, newDir(b))
	hosts := make([]string, 64)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d.example.com", i)
		if _, err := ca.Leaf(hosts[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := ca.Leaf(hosts[i%len(hosts)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
