package session

import (
	"container/list"
	"fmt"
	"sync"
)

// Records are kept in blocks of blockRecords. The block being filled is in
// memory; a full one is written to the spill file and read back through
// the store's block cache when asked for. That keeps memory flat however
// many records a connection gets: a socket that carries two million
// messages holds two blocks in memory, not two million records.
const (
	blockRecords = 1024
	// firstBlockRecords is the room a log starts with: most connections
	// are short, and 200 of them open at once should not cost 200 full
	// blocks.
	firstBlockRecords = 16
	// blockCacheBytes bounds the blocks read back from the spill file and
	// kept for the next reads: a view pages through a connection, and an
	// export reads it from start to end.
	blockCacheBytes = 4 << 20
)

// recordLog is a list of fixed-size records of one kind (a connection's
// frames, its messages, or frame lists).
type recordLog struct {
	id   int // the log's key in the block cache
	size int // bytes per record
	// stream is where full blocks go in the spill file: the owner's, so
	// that a connection's records lie near its payloads.
	stream *spillStream
	n      int // records appended
	// spilled are the spill offsets of the full blocks (payLost when the
	// spill file failed; the block then stays in kept).
	spilled []int64
	kept    map[int][]byte
	// tail holds the records of the block being filled.
	tail []byte
	// sealed is set while the last, partly filled block is in the spill
	// file (see seal).
	sealed bool
}

// blockCache keeps blocks read back from the spill file, least recently
// used first out.
type blockCache struct {
	mu    sync.Mutex
	max   int
	bytes int
	items map[blockKey]*list.Element
	lru   list.List
}

type blockKey struct{ log, block int }

type cachedBlock struct {
	key  blockKey
	data []byte
}

func newBlockCache(max int) *blockCache {
	return &blockCache{max: max, items: map[blockKey]*list.Element{}}
}

func (c *blockCache) get(k blockKey) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*cachedBlock).data
	}
	return nil
}

func (c *blockCache) put(k blockKey, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok { // another reader put it meanwhile
		c.lru.MoveToFront(el)
		return
	}
	c.items[k] = c.lru.PushFront(&cachedBlock{key: k, data: data})
	c.bytes += len(data)
	for c.bytes > c.max && c.lru.Len() > 1 {
		el := c.lru.Back()
		old := el.Value.(*cachedBlock)
		c.lru.Remove(el)
		delete(c.items, old.key)
		c.bytes -= len(old.data)
	}
}

// append adds a record, written by put into the bytes it gets. A sealed
// log is not appended to: its connection ended, and the store records
// nothing more of it (see storedConn.frozen).
func (l *recordLog) append(sp *spill, put func(b []byte)) {
	if len(l.tail)+l.size > cap(l.tail) {
		if cap(l.tail) < blockRecords*l.size {
			// Grow the first block until it is a whole one.
			grown := make([]byte, len(l.tail), min(blockRecords, max(firstBlockRecords, 2*cap(l.tail)/l.size))*l.size)
			copy(grown, l.tail)
			l.tail = grown
		}
	}
	l.tail = l.tail[:len(l.tail)+l.size]
	put(l.tail[len(l.tail)-l.size:])
	l.n++
	if len(l.tail) == blockRecords*l.size {
		l.spillTail(sp)
	}
}

// spillTail writes the full block being filled to the spill file. When
// the spill file has failed, the block stays in memory: what was decoded
// is not lost, it only costs memory.
func (l *recordLog) spillTail(sp *spill) {
	off, err := sp.append(l.stream, l.tail)
	if err != nil {
		if l.kept == nil {
			l.kept = map[int][]byte{}
		}
		l.kept[len(l.spilled)] = l.tail
		l.spilled = append(l.spilled, payLost)
		l.tail = make([]byte, 0, blockRecords*l.size)
		return
	}
	l.spilled = append(l.spilled, off)
	l.tail = l.tail[:0]
}

// seal spills a partly filled last block of a log that will not grow any
// more (its connection ended), so that an ended connection holds no
// block in memory. The records stay readable.
func (l *recordLog) seal(sp *spill) {
	if len(l.tail) == 0 {
		l.tail = nil
		return
	}
	// The block is written whole-sized in spirit: the records it has are
	// at its start; readers never look past n.
	off, err := sp.append(l.stream, l.tail)
	if err != nil {
		return // it stays in memory
	}
	l.spilled = append(l.spilled, off)
	l.tail = nil
	l.sealed = true
}

// blockMemo is the block of records a reader read back last from one
// log, so that reading a connection's records in order asks the shared
// cache (and takes its lock) once a block, not once a record: an export
// rendering a long connection on several goroutines spent a third of its
// time on that lock. Only for a connection that ended, whose blocks no
// longer change (see Reader.open).
type blockMemo struct {
	key  blockKey
	data []byte
	// own is the memo's own buffer, which blocks not in the shared cache
	// are read into (by a reader going through one connection in order):
	// a long connection's export read thousands of blocks of 48 KiB into
	// fresh memory, each zeroed first and then collected. shared is set
	// for an interleaved reader, which goes from connection to
	// connection, comes back to a block after reading others', and
	// reads blocks through the cache to find them there.
	own    []byte
	shared bool
}

// forFrames, forMessages and forLists return the memo of one log, nil
// without memos.
func (m *blockMemos) forFrames() *blockMemo {
	if m == nil {
		return nil
	}
	return &m.frames
}

func (m *blockMemos) forMessages() *blockMemo {
	if m == nil {
		return nil
	}
	return &m.messages
}

func (m *blockMemos) forLists() *blockMemo {
	if m == nil {
		return nil
	}
	return &m.lists
}

// record returns the bytes of record i (valid until the next call that
// touches the store), through memo when it is not nil.
func (l *recordLog) record(sp *spill, cache *blockCache, i int, memo *blockMemo) ([]byte, error) {
	if i < 0 || i >= l.n {
		return nil, fmt.Errorf("record %d of %d", i, l.n)
	}
	blk, at := i/blockRecords, (i%blockRecords)*l.size
	if blk == len(l.spilled) {
		return l.tail[at : at+l.size], nil
	}
	if b, ok := l.kept[blk]; ok {
		return b[at : at+l.size], nil
	}
	key := blockKey{l.id, blk}
	if memo != nil && memo.data != nil && memo.key == key {
		return memo.data[at : at+l.size], nil
	}
	data := cache.get(key)
	if data == nil {
		n := blockRecords * l.size
		if blk == len(l.spilled)-1 && l.sealed {
			n = (l.n % blockRecords) * l.size // a sealed last block
		}
		var err error
		if memo != nil && !memo.shared {
			// A reader going through a connection that ended in
			// order: the block is its alone (another reader takes
			// other runs of records), and is not put in the cache.
			if data, err = sp.readWhole(memo.own[:0], l.spilled[blk], n); err != nil {
				return nil, fmt.Errorf("reading back block %d of records: %w", blk, err)
			}
			memo.own = data
			memo.key, memo.data = key, data
			return data[at : at+l.size], nil
		}
		if data, err = sp.readWhole(make([]byte, 0, n), l.spilled[blk], n); err != nil {
			return nil, fmt.Errorf("reading back block %d of records: %w", blk, err)
		}
		cache.put(key, data)
	}
	if memo != nil {
		memo.key, memo.data = key, data
	}
	return data[at : at+l.size], nil
}

// recordsFrom returns the bytes of the records from i to the end of i's
// block, or to the last record (valid until the next call that touches
// the store): a log read in order is read a block at a time.
func (l *recordLog) recordsFrom(sp *spill, cache *blockCache, i int) ([]byte, error) {
	b, err := l.record(sp, cache, i, nil)
	if err != nil {
		return nil, err
	}
	// b is a record of a block's bytes, which run on to the block's end
	// (or, in the block being filled, to its last record).
	end := min(blockRecords-i%blockRecords, l.n-i) * l.size
	return b[:end:end], nil
}

// update rewrites record i with put, wherever the record is: in the block
// being filled, in a block kept in memory, or in the spill file.
func (l *recordLog) update(sp *spill, cache *blockCache, i int, put func(b []byte)) error {
	b, err := l.record(sp, cache, i, nil)
	if err != nil {
		return err
	}
	put(b)
	blk := i / blockRecords
	if blk == len(l.spilled) || l.kept[blk] != nil {
		return nil // in memory: changed in place
	}
	// In the cache (just read): write the record back where it lives.
	return sp.overwrite(l.spilled[blk]+int64((i%blockRecords)*l.size), b)
}
