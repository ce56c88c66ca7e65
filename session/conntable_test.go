package session

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wstap/wstap/decode"
)

// TestConnTable: connections removed in any order leave empty slots, a
// full chunk whose slots are all empty is dropped (the chunk being filled
// never is), and a table published before a removal is never changed in
// place: its chunks stay, only the slot empties.
func TestConnTable(t *testing.T) {
	var tab connTable
	const n = 3*connChunk + 100
	conns := make([]*storedConn, n)
	for i := range conns {
		conns[i] = &storedConn{}
		if id := tab.add(conns[i]); id != ConnID(i) {
			t.Fatalf("the %dth connection added got id %d", i, id)
		}
	}
	before := tab
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	removed := map[ConnID]bool{}
	for k, i := range order {
		id := ConnID(i)
		changed := tab.remove(id)
		removed[id] = true
		if tab.remove(id) {
			t.Fatalf("removing %d twice changed the table", id)
		}
		chunk := i / connChunk
		full := (chunk+1)*connChunk <= n
		allGone := true
		for j := chunk * connChunk; j < min(n, (chunk+1)*connChunk); j++ {
			allGone = allGone && removed[ConnID(j)]
		}
		if changed != (full && allGone) {
			t.Fatalf("removal %d (id %d): table changed %v, chunk full %v and empty %v", k, id, changed, full, allGone)
		}
		if tab.get(id) != nil {
			t.Fatalf("connection %d still found after it was removed", id)
		}
		if k%500 == 0 {
			seen := 0
			tab.each(func(id ConnID, sc *storedConn) {
				if removed[id] || sc != conns[id] {
					t.Fatalf("each gave connection %d (removed %v)", id, removed[id])
				}
				seen++
			})
			if seen != n-len(removed) {
				t.Fatalf("each gave %d connections, want %d", seen, n-len(removed))
			}
		}
	}
	for i := range 3 {
		if tab.chunks[i] != nil {
			t.Errorf("full chunk %d kept after every connection of it was removed", i)
		}
		if before.chunks[i] == nil {
			t.Errorf("chunk %d of a table published before was changed in place", i)
		}
	}
	if tab.chunks[3] == nil || tab.chunks[3].live != 0 {
		t.Errorf("the chunk being filled: %v", tab.chunks[3])
	}
	if before.get(5) != nil || !before.has(n-1) || before.has(n) {
		t.Errorf("a table published before the removals: get %v, has %v %v", before.get(5), before.has(n-1), before.has(n))
	}
}

// TestStoreLetGoMany: a store that lets thousands of connections go keeps
// none of them in its table, drops the chunks they filled, and still
// counts every connection, message and problem in its totals.
func TestStoreLetGoMany(t *testing.T) {
	s := testStoreWith(t, StoreOptions{LetGo: true})
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	f := s.FollowConns(&connSink{})
	const n = 2*connChunk + 300
	for i := range n {
		c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test", Opened: t0})
		conversation(c, rand.New(rand.NewPCG(uint64(i), 7)), 4)
	}
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	var want Totals
	for _, c := range obs.conns {
		errors := 0
		for _, p := range c.Problems {
			if p.Severity == decode.Error {
				errors++
			}
		}
		want.add(1, len(c.Messages), len(c.Problems)+c.SuppressedProblems, errors)
	}
	if got := s.Totals(); got != want || want.Connections != n || want.Problems == 0 {
		t.Errorf("totals after letting %d connections go: %+v, want %+v", n, got, want)
	}
	s.conns.each(func(id ConnID, _ *storedConn) {
		t.Fatalf("connection %d is still in the table after it was let go", id)
	})
	if s.conns.chunks[0] != nil || s.conns.chunks[1] != nil || s.conns.chunks[2] == nil {
		t.Errorf("chunks kept: %v %v %v, want only the one being filled", s.conns.chunks[0] != nil, s.conns.chunks[1] != nil, s.conns.chunks[2] != nil)
	}
	if _, err := s.Info(ConnID(n - 1)); err == nil || !strings.Contains(err.Error(), "let go") {
		t.Errorf("the metadata of a connection let go: %v", err)
	}
}

// TestLetGoUnfollowedOnLanes: a store that lets go with no sink following
// it (a run that writes no output) lets a connection go as it ends, which
// on a lane may be before the connection has a place in the list: it
// leaves nothing in the table either way, and the totals count it.
func TestLetGoUnfollowedOnLanes(t *testing.T) {
	s := testStoreWith(t, StoreOptions{LetGo: true})
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	steps := []int64{2, 0, 3, 1}
	onLanes(tap, steps, func(k int, c *Conn) {
		conversation(c, rand.New(rand.NewPCG(uint64(k), 2)), 5) // ends, and is let go
	})
	if s.Len() != len(steps) {
		t.Fatalf("%d connections in the list, want %d", s.Len(), len(steps))
	}
	s.conns.each(func(id ConnID, _ *storedConn) {
		t.Errorf("connection %d is still in the table after it was let go", id)
	})
	messages := 0
	for _, c := range obs.conns {
		messages += len(c.Messages)
	}
	if tot := s.Totals(); tot.Connections != int64(len(steps)) || tot.Messages != int64(messages) {
		t.Errorf("totals %+v, want %d connections and %d messages", tot, len(steps), messages)
	}
}
