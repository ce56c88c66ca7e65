package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Classic pcap (draft-ietf-opsawg-pcap): a 24-byte file header, then
// records of a 16-byte header and the captured bytes. The magic number
// gives the byte order of the writer and the timestamp resolution.
const (
	pcapMagicMicro    = 0xa1b2c3d4
	pcapMagicNano     = 0xa1b23c4d
	pcapMagicModified = 0xa1b2cd34 // Alexey Kuznetzov's patched libpcap: 8 more bytes per record
)

type pcapState struct {
	order    binary.ByteOrder
	nano     bool
	hdrLen   int
	linkType LinkType
	snaplen  uint32
}

func isPcapMagic(b []byte) bool {
	for _, m := range []uint32{binary.LittleEndian.Uint32(b), binary.BigEndian.Uint32(b)} {
		switch m {
		case pcapMagicMicro, pcapMagicNano, pcapMagicModified:
			return true
		}
	}
	return false
}

func (r *Reader) openPcap() error {
	h, err := r.take(24)
	if len(h) < 24 {
		return r.cutError("the pcap file header", 0, len(h), 24, err)
	}
	s := &r.pcap
	s.order = binary.LittleEndian
	magic := binary.LittleEndian.Uint32(h)
	switch magic {
	case pcapMagicMicro, pcapMagicNano, pcapMagicModified:
	default:
		s.order = binary.BigEndian
		magic = binary.BigEndian.Uint32(h)
	}
	s.nano = magic == pcapMagicNano
	s.hdrLen = 16
	if magic == pcapMagicModified {
		s.hdrLen = 24
	}
	if major := s.order.Uint16(h[4:6]); major != 2 {
		return r.damaged("the pcap file header", 0, "version %d.%d, only 2.x exists", major, s.order.Uint16(h[6:8]))
	}
	s.snaplen = s.order.Uint32(h[16:20])
	// The upper bits carry the FCS length; the link type is the low 16.
	s.linkType = LinkType(s.order.Uint32(h[20:24]) & 0xffff)
	return nil
}

// LinkType returns the link type of a pcap file (pcapng files have one per
// interface, given with each record).
func (r *Reader) LinkType() LinkType { return r.pcap.linkType }

func (r *Reader) nextPcap(rec *Record) error {
	s := &r.pcap
	start := r.off
	number := r.records + 1
	h, err := r.take(s.hdrLen)
	if len(h) < s.hdrLen {
		if len(h) == 0 && (err == nil || err == io.ErrUnexpectedEOF) {
			return r.stop(io.EOF)
		}
		return r.stop(r.cutError(fmt.Sprintf("record %d", number), start, len(h), s.hdrLen, err))
	}
	sec := s.order.Uint32(h[0:4])
	frac := s.order.Uint32(h[4:8])
	capLen := s.order.Uint32(h[8:12])
	origLen := s.order.Uint32(h[12:16])
	if capLen > maxRecord {
		return r.stop(r.damaged(fmt.Sprintf("record %d", number), start, "it claims %d captured bytes (snap length %d)", capLen, s.snaplen))
	}
	if origLen < capLen {
		origLen = capLen
	}
	nsec := int64(frac)
	if !s.nano {
		nsec *= 1000
	}
	rec.Time = time.Unix(int64(sec), nsec).UTC()
	rec.LinkType = s.linkType
	rec.OrigLen = int(origLen)
	rec.Number = number
	r.consume = 0
	r.discard(s.hdrLen)
	data, err := r.take(int(capLen))
	r.records++
	rec.Data = data
	if len(data) < int(capLen) {
		// Deliver what there is of the last record, as a packet the snap
		// length cut; the next call reports the cut.
		r.consume = 0
		r.pending = r.cutError(fmt.Sprintf("record %d", number), start, s.hdrLen+len(data), s.hdrLen+int(capLen), err)
		rec.OrigLen = int(origLen)
	}
	return nil
}
