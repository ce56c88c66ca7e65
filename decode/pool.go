package decode

import "sync"

// Pool keeps the inflaters of decoders that ended for the decoders that
// come next: an inflater holds its flate reader's history (32 KiB), its
// Huffman tables and its input buffer, which a capture of thousands of
// short compressed connections allocated and cleared for each direction
// of each (a quarter of what reading it allocated; 4% of its time).
// Message buffers are not pooled: lending the large buffers of earlier
// connections to small ones measured slower, and took more memory. Give
// the same Pool to every decoder of a run (Options.Pool); it is safe for
// concurrent use. A decoder hands its inflaters back when it ends, after
// its last event.
type Pool struct {
	inflaters sync.Pool // of *inflater
}

// NewPool makes an empty pool.
func NewPool() *Pool { return &Pool{} }

// inflater returns an inflater for a direction with these parameters,
// one a decoder handed back when there is one.
func (p *Pool) inflater(takeover bool, windowBits int) *inflater {
	if p == nil {
		return newInflater(takeover, windowBits)
	}
	in, ok := p.inflaters.Get().(*inflater)
	if !ok {
		return newInflater(takeover, windowBits)
	}
	// Its flate reader's buffers stay; its context goes.
	in.setup(takeover, windowBits)
	return in
}

// release takes the inflaters of decoder d, which ended.
func (p *Pool) release(d *Decoder) {
	if p == nil {
		return
	}
	for s := range d.dirs {
		if in := d.dirs[s].infl; in != nil {
			p.inflaters.Put(in)
			d.dirs[s].infl = nil
		}
	}
}
