package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// ErrNoPacket is returned by a live Source when no packet arrived within its
// poll interval, so that the caller can let time pass and check whether to
// stop.
var ErrNoPacket = errors.New("no packet within the poll interval")

// RunOptions are the optional parts of Run.
type RunOptions struct {
	// Tee, if set, receives every record the filter keeps (all of them
	// without a filter), for writing the raw packets out.
	Tee func(*Record) error
	// Progress, if set, is called every few thousand records and whenever
	// a live source is quiet.
	Progress func()
	// Pace, if set, is called every few records and may hold the reading
	// of a file back until the outputs catch up (session.Store.Pace); it
	// calls handOver before it waits, so that what the outputs wait for
	// is not left in a batch the workers were not given. A live source
	// has none: packets do not wait.
	Pace func(ctx context.Context, handOver func())
}

// progressEvery is how many records pass between Progress calls.
const progressEvery = 4096

// Run reads src into t until src ends or ctx is done. It returns nil at the
// clean end of the input or when ctx is done, and otherwise the error that
// stopped it; in every case t holds all that was read, and the caller
// closes it.
func Run(ctx context.Context, src Source, t *Tracker, opts RunOptions) error {
	var rec Record
	for n := 0; ; n++ {
		if n%64 == 0 {
			if opts.Pace != nil {
				opts.Pace(ctx, t.HandOver)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		if opts.Progress != nil && n%progressEvery == 0 && n > 0 {
			opts.Progress()
		}
		err := src.Next(&rec)
		if errors.Is(err, ErrNoPacket) {
			t.Advance(time.Now().UTC())
			if opts.Progress != nil {
				opts.Progress()
			}
			n = -1 // check ctx now
			continue
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		kept := t.Record(&rec)
		if kept && opts.Tee != nil {
			if err := opts.Tee(&rec); err != nil {
				return err
			}
		}
	}
}

// PcapngWriter writes records to a pcapng file, one interface per link type.
type PcapngWriter struct {
	w      *pcapgo.NgWriter
	ifaces map[LinkType]int
	name   string
}

// NewPcapngWriter starts a pcapng file on w for packets of the interface
// called name.
func NewPcapngWriter(w io.Writer, name string, link LinkType) (*PcapngWriter, error) {
	if link > 0xff {
		return nil, errLinkType(link)
	}
	intf := pcapgo.DefaultNgInterface
	intf.Name = name
	intf.LinkType = layers.LinkType(link)
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "wstap"
	nw, err := pcapgo.NewNgWriterInterface(w, intf, opts)
	if err != nil {
		return nil, fmt.Errorf("writing pcapng header: %w", err)
	}
	return &PcapngWriter{w: nw, ifaces: map[LinkType]int{link: 0}, name: name}, nil
}

// Write writes one record.
func (p *PcapngWriter) Write(rec *Record) error {
	id, ok := p.ifaces[rec.LinkType]
	if !ok {
		if rec.LinkType > 0xff {
			return errLinkType(rec.LinkType)
		}
		intf := pcapgo.DefaultNgInterface
		intf.Name = p.name
		intf.LinkType = layers.LinkType(rec.LinkType)
		var err error
		if id, err = p.w.AddInterface(intf); err != nil {
			return fmt.Errorf("writing pcapng interface: %w", err)
		}
		p.ifaces[rec.LinkType] = id
	}
	ci := gopacket.CaptureInfo{Timestamp: rec.Time, CaptureLength: len(rec.Data), Length: max(rec.OrigLen, len(rec.Data)), InterfaceIndex: id}
	if err := p.w.WritePacket(ci, rec.Data); err != nil {
		return fmt.Errorf("writing packet %d: %w", rec.Number, err)
	}
	return nil
}

// errLinkType: gopacket's pcapng writer takes the link type as a byte.
// Live capture gives Ethernet and Linux cooked (SLL), which fit.
func errLinkType(l LinkType) error {
	return fmt.Errorf("writing pcapng: link type %d (%s) is not supported by the writer", uint32(l), l)
}

// Flush writes out what is buffered.
func (p *PcapngWriter) Flush() error { return p.w.Flush() }
