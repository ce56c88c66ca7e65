package decode

import (
	"math/rand"
	"reflect"
	"sort"
	"testing"
)

// TestPoolInvariance: decoders that share a Pool, and so take over the
// inflaters of earlier connections (other window sizes, other context
// takeover, a context lost), decode every script exactly as decoders of
// their own do, in any order.
func TestPoolInvariance(t *testing.T) {
	scripts := chunkScripts()
	names := make([]string, 0, len(scripts))
	for name := range scripts {
		names = append(names, name)
	}
	sort.Strings(names)
	want := map[string]result{}
	for _, name := range names {
		want[name] = decodeScript(scripts[name], scriptOptions(name), whole, true)
	}
	pool := NewPool()
	reused := 0
	for seed := int64(0); seed < 5; seed++ {
		order := append([]string(nil), names...)
		rand.New(rand.NewSource(seed)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, name := range order {
			opts := scriptOptions(name)
			opts.Pool = pool
			got := decodeScript(scripts[name], opts, randomSplits(rand.New(rand.NewSource(seed))), true)
			if d := diffConn(want[name].conn, got.conn); d != "" {
				t.Fatalf("%q with a shared pool (order %d) differs: %s", name, seed, d)
			}
			if !reflect.DeepEqual(want[name].events, got.events) {
				t.Fatalf("%q with a shared pool (order %d): events differ", name, seed)
			}
		}
		if in, ok := pool.inflaters.Get().(*inflater); ok {
			reused++
			pool.inflaters.Put(in)
		}
	}
	if reused == 0 {
		t.Fatal("no decoder handed an inflater back to the pool")
	}
}
