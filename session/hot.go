package session

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/wstap/wstap/decode"
)

// A stream sink (the dump, NDJSON) that follows the store rebuilds each
// event from the store's records (see eventReplay): the message's record
// and payload are read back from where decoding left them, long out of
// the CPU's caches, and copied twice more on the way to the sink. When
// the events come from a Sequencer's lanes (a capture file read with
// several decoding goroutines), a sink that can render an event apart
// from itself has its output rendered on the lane, from the decoder's
// event while it is in the cache, and the lines are handed to the sink in
// the log's order: on a capture of 600,000 short messages the dump took
// 1.79 s instead of 1.99, the NDJSON stream 1.93 s instead of 2.07 (and
// both far less once nothing else needs the store's records: see
// Sequencer.unkept). Events from elsewhere (the proxy, a live capture,
// an import) are still rebuilt from the store.

// RenderingSink is an EventSink whose output for an event can be rendered
// on another goroutine: by renderers that each see every event of some
// connections, in order, and render them as the sink would.
type RenderingSink interface {
	EventSink
	// NewRenderer returns a renderer, used by one goroutine.
	NewRenderer() Renderer
	// WriteRendered writes what a renderer rendered.
	WriteRendered(b []byte) error
}

// Renderer appends the sink's output for e to b, and returns it.
type Renderer interface {
	Render(b []byte, e decode.Event) []byte
}

// Bounds of the rendering on lanes.
const (
	// maxHot is how many sinks are rendered on lanes: the dump and the
	// NDJSON stream. More are rebuilt from the store.
	maxHot = 2
	// hotQueueBytes is how much rendered output may wait for a sink. A
	// file's decoding waits for the sink beyond it (as Pace holds it
	// back for ended connections): the rendered lines live in memory,
	// not in the spill file as the log does.
	hotQueueBytes = 8 << 20
	// hotEntryBytes is what an entry of the queue costs beside its bytes,
	// counted against hotQueueBytes: a million empty renderings must not
	// grow it either.
	hotEntryBytes = int(unsafe.Sizeof(hotEntry{}))
	// renderChunk is the memory a lane renders into, a chunk at a time;
	// a chunk with less than renderRoom left is given up for a new one
	// (a line that outgrows the room gets memory of its own).
	renderChunk = 64 << 10
	renderRoom  = 2 << 10
)

// hotQueue carries one sink's rendered output for the log's items, from
// the Sequencer's commit to the sink's follower: an entry for every item
// the lanes rendered, by the item's place in the log, with what it
// rendered to (perhaps nothing).
type hotQueue struct {
	mu      sync.Mutex
	room    *sync.Cond
	entries []hotEntry // entries[head:] wait, in the order of pos
	head    int
	size    int
	// dead is set when the follower stopped: nothing waits for room any
	// more, and what is pushed is dropped.
	dead bool
}

type hotEntry struct {
	pos int
	p   rendered
}

func newHotQueue() *hotQueue {
	h := &hotQueue{}
	h.room = sync.NewCond(&h.mu)
	return h
}

// waitRoom returns once the queue has room for more, or its follower
// stopped.
func (h *hotQueue) waitRoom() {
	h.mu.Lock()
	for h.size >= hotQueueBytes && !h.dead {
		h.room.Wait()
	}
	h.mu.Unlock()
}

// push adds the renderings for sink i of the log's items from pos on.
func (h *hotQueue) push(pos int, rendered []renderings, i int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dead {
		return
	}
	if h.head > 0 && h.head >= len(h.entries)/2 {
		// Those taken go, for the room they held, each entry moved at
		// most once per doubling.
		n := copy(h.entries, h.entries[h.head:])
		clear(h.entries[n:])
		h.entries, h.head = h.entries[:n], 0
	}
	for k := range rendered {
		p := rendered[k][i]
		h.entries = append(h.entries, hotEntry{pos + k, p})
		h.size += len(p.b) + hotEntryBytes
	}
}

// take returns item pos's rendering and whether it has one; the entries
// before pos are none of the follower's (it never skips an item).
func (h *hotQueue) take(pos int) (rendered, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.head == len(h.entries) || h.entries[h.head].pos != pos {
		return rendered{}, false
	}
	e := h.entries[h.head]
	h.entries[h.head] = hotEntry{}
	h.head++
	h.size -= len(e.p.b) + hotEntryBytes
	if h.size < hotQueueBytes {
		h.room.Broadcast()
	}
	return e.p, true
}

// stop marks the queue's follower stopped and lets go of what waits.
func (h *hotQueue) stop() {
	h.mu.Lock()
	h.dead = true
	clear(h.entries)
	h.entries, h.head, h.size = nil, 0, 0
	h.room.Broadcast()
	h.mu.Unlock()
}

// hotSink is a rendering sink that follows the store, and its queue.
type hotSink struct {
	sink  RenderingSink
	queue *hotQueue
}

// laneRenderer is one sink's renderer on a lane, and the chunk it renders
// into.
type laneRenderer struct {
	r     Renderer
	chunk *renderedChunk
	// free are chunks whose bytes were all written, to render into
	// again: new ones were a tenth of the NDJSON stream's CPU, most of it
	// zeroing them.
	free chan *renderedChunk
}

// renderedChunk is memory a lane renders into. refs counts the pieces of
// it not yet written, and one more while the lane renders into it: who
// takes it to zero gives it back to the lane.
type renderedChunk struct {
	b    []byte
	refs atomic.Int32
	free chan *renderedChunk
}

// rendered is what an event rendered to: b, in chunk (nil when it
// outgrew the chunk and has memory of its own).
type rendered struct {
	b     []byte
	chunk *renderedChunk
}

// written says that the sink wrote p: its bytes are not used again.
func (p rendered) written() {
	if c := p.chunk; c != nil {
		c.release()
	}
}

func (c *renderedChunk) release() {
	if c.refs.Add(-1) == 0 {
		c.b = c.b[:0]
		select {
		case c.free <- c:
		default:
		}
	}
}

// laneFreeChunks is how many written chunks a lane keeps for rendering
// again: what the hot queue holds, and more.
const laneFreeChunks = 2 * hotQueueBytes / renderChunk

func newLaneRenderer(r Renderer) laneRenderer {
	return laneRenderer{r: r, free: make(chan *renderedChunk, laneFreeChunks)}
}

// render renders e.
func (lr *laneRenderer) render(e decode.Event) rendered {
	c := lr.chunk
	if c == nil || cap(c.b)-len(c.b) < renderRoom {
		if c != nil {
			c.release() // the lane's own reference
		}
		select {
		case c = <-lr.free:
		default:
			c = &renderedChunk{b: make([]byte, 0, renderChunk), free: lr.free}
		}
		c.refs.Store(1)
		lr.chunk = c
	}
	at := len(c.b)
	room := c.b[at:at:cap(c.b)]
	out := lr.r.Render(room, e)
	if len(out) == 0 {
		return rendered{}
	}
	if cap(out) == cap(room) && unsafe.SliceData(out) == unsafe.SliceData(room) {
		// Rendered in place.
		c.b = c.b[:at+len(out)]
		c.refs.Add(1)
		return rendered{c.b[at : at+len(out) : at+len(out)], c}
	}
	return rendered{b: out} // it outgrew the chunk: memory of its own
}

// hotSinks returns the rendering sinks following the store that a new
// Sequencer's lanes render for, and whether they are all the sinks
// following a store that lets connections go (see Sequencer.unkept).
func (s *Store) hotSinks() (hot []hotSink, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hot = append(hot, s.hot[:min(len(s.hot), maxHot)]...)
	return hot, s.letGo && len(hot) == s.followers
}
