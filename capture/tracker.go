package capture

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/reassembly"
	"github.com/wstap/wstap/session"
)

// Options configure a Tracker.
type Options struct {
	// Tap receives every TCP connection, which it decodes and shows when
	// it carries WebSocket or HTTP traffic. Connections are numbered in
	// the order of their first packet by the tap's NextID, so that an id
	// matches tshark's tcp.stream + 1 in simple captures.
	Tap *session.Tap
	// Source is written into every connection: "pcap" or "live".
	Source string
	// Warn, if set, receives warnings about what the capture lost or what
	// could not be decoded, one complete sentence each.
	Warn func(string)
	// Filter, if set, keeps only the packets it matches.
	Filter *Filter
	// ReorderWait is how long, in capture time, bytes missing from a TCP
	// stream are waited for (a retransmission, a reordered segment) before
	// they count as lost. Default 10 s.
	ReorderWait time.Duration
	// IdleTimeout ends a connection that saw no packet for this long in
	// capture time. Default 10 minutes: long enough for WebSocket
	// connections that ping rarely.
	IdleTimeout time.Duration
	// Workers, when above 0, decodes connections on that many goroutines
	// while the caller's reads and reassembles. The store's log and list
	// of connections are still those of decoding inline
	// (session.Sequencer): what the outputs write is the same every run.
	Workers int
}

// Stats count what a Tracker saw.
type Stats struct {
	Records    int64 // records handed to the tracker
	TCP        int64 // TCP segments among them (after the filter)
	Filtered   int64 // records the filter left out
	Skipped    int64 // records that could not be decoded down to TCP
	Fragments  int64 // IP fragments (not reassembled)
	CutPackets int64 // segments whose payload the snap length cut
	CutBytes   int64 // payload bytes lost to the snap length
	TLS        int64 // connections that carried TLS, which is not decoded
	// Connections counts the connections shown; Messages the messages
	// decoded in them (across the tap: a tap fed by several sources
	// counts them all).
	Connections int64
	Messages    int64
}

const (
	defaultReorderWait = 10 * time.Second
	defaultIdleTimeout = 10 * time.Minute
	// flushEvery is how often, in capture time, waiting data is flushed
	// and idle connections are ended.
	flushEvery = time.Second
	// Bounds on the out-of-order data the assembler holds (pages of 1900
	// bytes): past them it gives up waiting and the missing bytes become
	// a gap, so that memory does not grow with a lossy capture.
	maxPagesPerConn = 2048
	maxPagesTotal   = 16384
	// maxWarnings is how many warnings of one kind are given one by one
	// before they are only counted.
	maxWarnings = 5
	// maxMissing bounds the payload bytes a cut segment may claim: more is
	// a corrupt length field, not a snap length.
	maxMissing = 1 << 20
)

// Tracker follows the TCP connections of a capture and decodes each one.
// Feed it records in capture order with Record, then call Close. A Tracker
// is not safe for concurrent use.
type Tracker struct {
	opts Options
	pool *reassembly.StreamPool
	asm  *reassembly.Assembler

	// The packet being assembled: Record decodes each record into pkt
	// (a Packet of its own would escape to the heap through the filter:
	// one allocation per packet), gopacket's TCP layer (reused), the
	// context the assembler passes around, and what the streams need of
	// the packet besides: the payload bytes the capture cut and its
	// record number.
	pkt     Packet
	tcp     layers.TCP
	ctx     assemblerContext
	missing int
	num     int64
	pad     []byte

	now       time.Time
	lastFlush time.Time
	created   int64
	// finished are the streams that ended during the current call, ended
	// and handed out in creation order so that output does not depend on
	// the assembler's map order.
	finished []*stream
	// holding are the streams with events held for the other direction
	// (see order.go); recent the connections that ended lately (gate.go).
	holding []*stream
	recent  map[flowKey]closedConn

	stats  Stats
	work   *workers
	closed bool

	warnings map[string]int
	links    map[LinkType]bool
}

// assemblerContext carries a packet's capture info through the assembler.
type assemblerContext struct{ ci gopacket.CaptureInfo }

func (c *assemblerContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

// NewTracker returns a Tracker with opts.
func NewTracker(opts Options) *Tracker {
	if opts.ReorderWait <= 0 {
		opts.ReorderWait = defaultReorderWait
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = defaultIdleTimeout
	}
	if opts.Source == "" {
		opts.Source = "pcap"
	}
	t := &Tracker{opts: opts, warnings: make(map[string]int), links: make(map[LinkType]bool), recent: make(map[flowKey]closedConn)}
	t.pool = reassembly.NewStreamPool(streamFactory{t})
	t.asm = reassembly.NewAssembler(t.pool)
	t.asm.MaxBufferedPagesPerConnection = maxPagesPerConn
	t.asm.MaxBufferedPagesTotal = maxPagesTotal
	if opts.Workers > 0 {
		t.work = newWorkers(t, opts.Workers)
	}
	return t
}

// Stats returns what the tracker saw so far.
func (t *Tracker) Stats() Stats {
	st := t.stats
	ts := t.opts.Tap.Stats()
	st.Connections, st.Messages = ts.Connections, ts.Messages
	return st
}

// Record takes the next captured record. It reports whether the filter
// kept it (every record is kept without a filter).
func (t *Tracker) Record(rec *Record) bool {
	t.stats.Records++
	p := &t.pkt
	*p = Packet{}
	why := decodePacket(rec.LinkType, rec.Data, rec.OrigLen, p)
	if why == skipNone && p.Missing > maxMissing {
		why = skipMalformed
	}
	if why != skipNone {
		t.skipped(why, rec)
		t.advance(rec.Time)
		return t.opts.Filter == nil
	}
	if t.opts.Filter != nil && !t.opts.Filter.Match(p) {
		t.stats.Filtered++
		t.advance(rec.Time)
		return false
	}
	t.Packet(p, rec.Time, rec.Number)
	return true
}

// Packet takes a decoded TCP segment captured at ts; number is its record
// number, for warnings.
func (t *Tracker) Packet(p *Packet, ts time.Time, number int64) {
	t.stats.TCP++
	t.advance(ts)
	if len(p.Payload) == 0 && p.Missing == 0 && p.Flags&(flagSYN|flagFIN|flagRST) == 0 {
		// A bare acknowledgement carries nothing to reassemble (what it
		// acknowledges is read from the data segments), and it is half
		// of a capture's packets.
		return
	}
	// gopacket's TCP layer is filled by its own decoder, which also sets the
	// ports the assembler keys connections by; a malformed option list
	// makes it complain after every field we use is set.
	_ = t.tcp.DecodeFromBytes(p.TCP, gopacket.NilDecodeFeedback)
	t.tcp.Payload = p.Payload
	if p.Missing > 0 {
		// The bytes the snap length cut still occupy their sequence numbers,
		// so that the stream goes on after them; the stream turns them
		// into a gap for the decoder.
		n := len(p.Payload) + p.Missing
		if cap(t.pad) < n {
			t.pad = make([]byte, n)
		}
		t.pad = t.pad[:n]
		clear(t.pad[copy(t.pad, p.Payload):])
		t.tcp.Payload = t.pad
		t.stats.CutPackets++
		t.stats.CutBytes += int64(p.Missing)
	}
	var flow gopacket.Flow
	if p.Src.Is4() {
		s, d := p.Src.As4(), p.Dst.As4()
		flow = gopacket.NewFlow(layers.EndpointIPv4, s[:], d[:])
	} else {
		s, d := p.Src.As16(), p.Dst.As16()
		flow = gopacket.NewFlow(layers.EndpointIPv6, s[:], d[:])
	}
	t.ctx.ci = gopacket.CaptureInfo{Timestamp: ts}
	t.missing, t.num = p.Missing, number
	t.asm.AssembleWithContext(flow, &t.tcp, &t.ctx)
	t.drain()
}

// Advance tells the tracker that capture time reached now without a
// packet: live capture calls it on a quiet interface so that waiting data
// is flushed and idle connections end.
func (t *Tracker) Advance(now time.Time) {
	t.advance(now)
	t.drain()
	if t.work != nil {
		t.work.flush()
	}
}

// HandOver gives the decoding workers what the tracker queued for them
// and has not handed over yet (it hands work over in batches). A reader
// about to wait for the outputs calls it: what they wait for may be in a
// batch that is not full yet.
func (t *Tracker) HandOver() {
	if t.work != nil {
		t.work.flush()
	}
}

// advance moves capture time and flushes every flushEvery of it.
func (t *Tracker) advance(now time.Time) {
	if now.After(t.now) {
		t.now = now
	}
	if t.lastFlush.IsZero() {
		t.lastFlush = t.now
		return
	}
	if t.now.Sub(t.lastFlush) < flushEvery {
		return
	}
	t.lastFlush = t.now
	t.asm.FlushWithOptions(reassembly.FlushOptions{
		T:  t.now.Add(-t.opts.ReorderWait),
		TC: t.now.Add(-t.opts.IdleTimeout),
	})
	t.releaseHeld()
	t.forget()
	t.drain()
}

// Close ends the input: data still waiting is delivered, every open
// connection ends, and the summary warnings are given.
func (t *Tracker) Close() {
	if t.closed {
		return
	}
	t.closed = true
	t.asm.FlushAll()
	t.drain()
	if t.work != nil {
		t.work.close()
	}
	t.summary()
}

// drain ends the streams that finished, in creation order.
func (t *Tracker) drain() {
	if len(t.finished) == 0 {
		return
	}
	slices.SortFunc(t.finished, func(a, b *stream) int { return int(a.order - b.order) })
	for _, s := range t.finished {
		s.end()
	}
	clear(t.finished)
	t.finished = t.finished[:0]
}

// warn gives a warning of kind, one by one up to maxWarnings; the rest are
// counted and summarised by Close.
func (t *Tracker) warn(kind string, format string, args ...any) {
	t.warnings[kind]++
	if t.warnings[kind] > maxWarnings || t.opts.Warn == nil {
		return
	}
	t.opts.Warn(fmt.Sprintf(format, args...))
}

func (t *Tracker) skipped(why skip, rec *Record) {
	switch why {
	case skipNotTCP:
		return
	case skipFragment:
		t.stats.Fragments++
		return
	case skipLink:
		if !t.links[rec.LinkType] {
			t.links[rec.LinkType] = true
			if t.opts.Warn != nil {
				t.opts.Warn(fmt.Sprintf("record %d: %s is not a link type wstap decodes; its packets are skipped", rec.Number, rec.LinkType))
			}
		}
	case skipCut:
		t.warn("cut", "record %d: the snap length cut the packet inside its headers (%d of %d bytes captured); it is skipped", rec.Number, len(rec.Data), rec.OrigLen)
	case skipMalformed:
		t.warn("malformed", "record %d: the packet's IP or TCP header does not parse; it is skipped", rec.Number)
	}
	t.stats.Skipped++
}

// summary gives the warnings that were only counted.
func (t *Tracker) summary() {
	if t.opts.Warn == nil {
		return
	}
	more := func(kind, what string) {
		if n := t.warnings[kind] - maxWarnings; n > 0 {
			t.opts.Warn(fmt.Sprintf("%d more %s", n, what))
		}
	}
	more("cut", "packets were cut by the snap length inside their headers and skipped")
	more("malformed", "packets had IP or TCP headers that do not parse and were skipped")
	if t.stats.CutPackets > 0 {
		t.opts.Warn(fmt.Sprintf("%d TCP segments were cut by the snap length: %d payload bytes are missing and shown as gaps", t.stats.CutPackets, t.stats.CutBytes))
	}
	if t.stats.TLS > 0 {
		t.opts.Warn(fmt.Sprintf("%d connections carried TLS (wss:// or HTTPS): they are encrypted, so their content cannot be decoded from a capture", t.stats.TLS))
	}
	if t.stats.Fragments > 0 {
		t.opts.Warn(fmt.Sprintf("%d IP fragments were skipped: TCP carried in IP fragments is not reassembled", t.stats.Fragments))
	}
}

// streamFactory creates a stream for each new TCP connection the
// assembler sees.
type streamFactory struct{ t *Tracker }

func (f streamFactory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	return f.t.newStream(netFlow, tcpFlow, tcp)
}
