package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks, each with a type,
// a total length repeated at its end, and a body. A Section Header Block
// starts each section and gives its byte order; Interface Description
// Blocks give each interface's link type and timestamp resolution; packets
// come in Enhanced, Simple or (obsolete) Packet Blocks. Other blocks are
// skipped.
const (
	blockSHB = 0x0a0d0d0a
	blockIDB = 0x00000001
	blockPB  = 0x00000002 // obsolete Packet Block
	blockSPB = 0x00000003
	blockEPB = 0x00000006

	byteOrderMagic = 0x1a2b3c4d

	optEndOfOpt  = 0
	optTSResol   = 9
	optTSOffset  = 14
	maxNgOptions = 64 << 10
)

type pcapngState struct {
	order  binary.ByteOrder
	ifaces []ngInterface
	// last is the time of the last packet, given to Simple Packet Blocks,
	// which carry none.
	last time.Time
}

type ngInterface struct {
	linkType LinkType
	snaplen  uint32
	// unitsPerSec is the timestamp resolution; pow10 says whether it is a
	// power of ten (if_tsresol high bit clear) and exp its exponent.
	pow10  bool
	exp    uint8
	offset int64 // if_tsoffset, seconds
}

func (r *Reader) openPcapng() error {
	return r.readSHB()
}

// readSHB reads a Section Header Block at the read position. The byte order
// magic decides how every later field of the section is read.
func (r *Reader) readSHB() error {
	start := r.off
	h, err := r.take(12)
	if len(h) < 12 {
		return r.stop(r.cutError("a pcapng section header", start, len(h), 12, err))
	}
	s := &r.pcapng
	switch {
	case binary.LittleEndian.Uint32(h[8:12]) == byteOrderMagic:
		s.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:12]) == byteOrderMagic:
		s.order = binary.BigEndian
	default:
		return r.stop(r.damaged("a pcapng section header", start, "byte order magic %x is neither order of %x", h[8:12], byteOrderMagic))
	}
	blen := s.order.Uint32(h[4:8])
	if blen < 28 || blen > maxRecord {
		return r.stop(r.damaged("a pcapng section header", start, "block length %d", blen))
	}
	b, err := r.take(int(blen))
	if len(b) < int(blen) {
		return r.stop(r.cutError("a pcapng section header", start, len(b), int(blen), err))
	}
	if major := s.order.Uint16(b[12:14]); major != 1 {
		return r.stop(r.damaged("a pcapng section header", start, "version %d.%d, only 1.x exists", major, s.order.Uint16(b[14:16])))
	}
	s.ifaces = s.ifaces[:0]
	return nil
}

func (r *Reader) nextPcapng(rec *Record) error {
	s := &r.pcapng
	for {
		if r.consume > 0 {
			r.discard(r.consume)
			r.consume = 0
		}
		start := r.off
		h, err := r.take(8)
		if len(h) < 8 {
			if len(h) == 0 && (err == nil || err == io.ErrUnexpectedEOF) {
				return r.stop(io.EOF)
			}
			return r.stop(r.cutError("a pcapng block", start, len(h), 8, err))
		}
		typ := s.order.Uint32(h[0:4])
		if binary.LittleEndian.Uint32(h[0:4]) == blockSHB {
			r.consume = 0
			if err := r.readSHB(); err != nil {
				return err
			}
			continue
		}
		blen := s.order.Uint32(h[4:8])
		what := fmt.Sprintf("block type 0x%x", typ)
		if typ == blockEPB || typ == blockSPB || typ == blockPB {
			what = fmt.Sprintf("record %d", r.records+1)
		}
		if blen < 12 || blen > maxRecord {
			return r.stop(r.damaged(what, start, "block length %d", blen))
		}
		b, err := r.take(int(blen))
		if len(b) < int(blen) {
			cut := r.cutError(what, start, len(b), int(blen), err)
			if typ == blockEPB && len(b) >= 28 {
				// Deliver what there is of the last packet, like a packet
				// the snap length cut.
				r.consume = 0
				if perr := r.ngPacket(rec, b, len(b), start); perr != nil {
					return r.stop(cut)
				}
				r.pending = cut
				return nil
			}
			return r.stop(cut)
		}
		switch typ {
		case blockIDB:
			if err := r.readIDB(b, start); err != nil {
				return r.stop(err)
			}
		case blockEPB, blockPB:
			if blen < 32 {
				return r.stop(r.damaged(what, start, "block length %d is too short for a packet block", blen))
			}
			if err := r.ngPacket(rec, b, int(blen)-4, start); err != nil {
				return r.stop(err)
			}
			return nil
		case blockSPB:
			if blen < 16 {
				return r.stop(r.damaged(what, start, "block length %d is too short for a simple packet block", blen))
			}
			if len(s.ifaces) == 0 {
				return r.stop(r.damaged(what, start, "a packet before any interface description"))
			}
			orig := s.order.Uint32(b[8:12])
			capLen := min(orig, blen-16)
			if sl := s.ifaces[0].snaplen; sl != 0 {
				capLen = min(capLen, sl)
			}
			r.records++
			*rec = Record{Time: s.last, LinkType: s.ifaces[0].linkType, Data: b[12 : 12+capLen], OrigLen: int(orig), Number: r.records}
			return nil
		}
	}
}

// ngPacket fills rec from an Enhanced Packet Block or an obsolete Packet
// Block. end is where the block's body ends in b (b may be cut short).
func (r *Reader) ngPacket(rec *Record, b []byte, end int, start int64) error {
	s := &r.pcapng
	typ := s.order.Uint32(b[0:4])
	number := r.records + 1
	what := fmt.Sprintf("record %d", number)
	var iface int
	if typ == blockPB {
		iface = int(s.order.Uint16(b[8:10]))
	} else {
		iface = int(s.order.Uint32(b[8:12]))
	}
	if iface >= len(s.ifaces) {
		return r.damaged(what, start, "interface %d is not described (the section has %d)", iface, len(s.ifaces))
	}
	ts := uint64(s.order.Uint32(b[12:16]))<<32 | uint64(s.order.Uint32(b[16:20]))
	capLen := int(s.order.Uint32(b[20:24]))
	orig := int(s.order.Uint32(b[24:28]))
	blen := int(s.order.Uint32(b[4:8]))
	if capLen > blen-32 {
		return r.damaged(what, start, "%d captured bytes do not fit in a %d-byte block", capLen, blen)
	}
	if orig < capLen {
		orig = capLen
	}
	data := b[28:min(28+capLen, end)]
	r.records++
	t := s.ifaces[iface].time(ts)
	s.last = t
	*rec = Record{Time: t, LinkType: s.ifaces[iface].linkType, Data: data, OrigLen: orig, Number: r.records}
	return nil
}

// readIDB reads an Interface Description Block: link type, snap length and
// the timestamp options.
func (r *Reader) readIDB(b []byte, start int64) error {
	s := &r.pcapng
	if len(b) < 20 {
		return r.damaged("an interface description", start, "block length %d is too short", len(b))
	}
	in := ngInterface{
		linkType: LinkType(s.order.Uint16(b[8:10])),
		snaplen:  s.order.Uint32(b[12:16]),
		pow10:    true,
		exp:      6,
	}
	opts := b[16 : len(b)-4]
	for len(opts) >= 4 {
		code := s.order.Uint16(opts[0:2])
		n := int(s.order.Uint16(opts[2:4]))
		if code == optEndOfOpt || 4+n > len(opts) {
			break
		}
		v := opts[4 : 4+n]
		switch {
		case code == optTSResol && n >= 1:
			in.pow10 = v[0]&0x80 == 0
			in.exp = v[0] & 0x7f
		case code == optTSOffset && n >= 8:
			in.offset = int64(s.order.Uint64(v))
		}
		opts = opts[4+(n+3)&^3:]
	}
	if (in.pow10 && in.exp > 19) || (!in.pow10 && in.exp > 63) {
		return r.damaged("an interface description", start, "timestamp resolution exponent %d is out of range", in.exp)
	}
	s.ifaces = append(s.ifaces, in)
	return nil
}

// time converts a timestamp in the interface's units to a time.
func (in *ngInterface) time(ts uint64) time.Time {
	var sec, nsec uint64
	if in.pow10 {
		unit := uint64(1)
		for range in.exp {
			unit *= 10
		}
		sec, nsec = ts/unit, ts%unit
		switch {
		case in.exp <= 9:
			for range 9 - in.exp {
				nsec *= 10
			}
		default:
			for range in.exp - 9 {
				nsec /= 10
			}
		}
	} else {
		sec = ts >> in.exp
		rem := ts & (1<<in.exp - 1)
		// rem * 1e9 / 2^exp, without overflowing 64 bits.
		hi, lo := bits.Mul64(rem, 1e9)
		nsec = lo>>in.exp | hi<<(64-in.exp)
		if in.exp == 0 {
			nsec = 0
		}
	}
	return time.Unix(int64(sec)+in.offset, int64(nsec)).UTC()
}
