package session

import "sync/atomic"

// connChunk is how many connections one chunk of the table holds.
const connChunk = 1024

// connTable is the store's list of connections, by ConnID. Readers find
// a connection in a published table without the store's lock; every
// reader of every sink took that lock for every frame and message it
// read. It is made of chunks of connChunk slots, so that a store that
// lets connections go keeps nothing of them: a slot is emptied when its
// connection is let go, and a full chunk whose connections all were is
// dropped. A proxy left running holds the connections it still keeps and
// 8 bytes for every 1024 it saw, where a record of each (800 bytes)
// stayed for ever.
//
// A published table is never changed in place: the slice of chunks only
// grows past what was published, and a chunk is dropped in a copy. The
// slots are atomic, filled and emptied under the store's lock.
type connTable struct {
	chunks []*connSlots
	n      int // connections registered
}

// connSlots is one chunk of the table.
type connSlots struct {
	slots [connChunk]atomic.Pointer[storedConn]
	// live counts its slots filled and not emptied; guarded by the
	// store's lock.
	live int
}

// get returns connection id, or nil when it was let go; id is in the
// table.
func (t *connTable) get(id ConnID) *storedConn {
	ch := t.chunks[id/connChunk]
	if ch == nil {
		return nil
	}
	return ch.slots[id%connChunk].Load()
}

// has says whether id is in the table.
func (t *connTable) has(id ConnID) bool { return id >= 0 && int(id) < t.n }

// add puts sc in the table and returns its id; the caller holds the
// store's lock.
func (t *connTable) add(sc *storedConn) ConnID {
	id := ConnID(t.n)
	if t.n%connChunk == 0 {
		t.chunks = append(t.chunks, &connSlots{})
	}
	ch := t.chunks[id/connChunk]
	ch.slots[id%connChunk].Store(sc)
	ch.live++
	t.n++
	return id
}

// remove empties the slot of id, dropping its chunk when it is full and
// every slot of it was emptied; it reports whether the table changed
// beyond the slot (and must be published again). The caller holds the
// store's lock.
func (t *connTable) remove(id ConnID) bool {
	i := int(id / connChunk)
	ch := t.chunks[i]
	if ch == nil || ch.slots[id%connChunk].Swap(nil) == nil {
		return false
	}
	ch.live--
	if ch.live > 0 || (i+1)*connChunk > t.n {
		return false
	}
	chunks := append([]*connSlots(nil), t.chunks...)
	chunks[i] = nil
	t.chunks = chunks
	return true
}

// each calls f with every connection in the table that was not let go,
// in order; the caller holds the store's lock, or t is a published one.
func (t *connTable) each(f func(ConnID, *storedConn)) {
	for i, ch := range t.chunks {
		if ch == nil {
			continue
		}
		for j := range ch.slots {
			id := ConnID(i*connChunk + j)
			if int(id) >= t.n {
				return
			}
			if sc := ch.slots[j].Load(); sc != nil {
				f(id, sc)
			}
		}
	}
}
