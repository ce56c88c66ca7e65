package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Record is one captured packet as a file or an interface delivered it.
type Record struct {
	Time     time.Time
	LinkType LinkType
	// Data is the captured bytes of the frame, valid until the next call
	// that reads a record.
	Data []byte
	// OrigLen is the frame's length on the wire; Data is shorter when the
	// capture's snap length cut it.
	OrigLen int
	// Number is the record's position in the capture, counted from 1 as
	// Wireshark numbers packets.
	Number int64
}

// Source delivers captured packets one at a time. Next returns io.EOF at the
// clean end of the input.
type Source interface {
	Next(rec *Record) error
}

// ErrTruncated is wrapped by the error a Reader returns when its input ends
// in the middle of a record or block: everything before it was delivered.
var ErrTruncated = errors.New("the capture ends in the middle of a record")

// ErrDamaged is wrapped by the error a Reader returns when a record's own
// fields make no sense (a length past any real snap length, an unknown
// interface): nothing after it can be located, so reading stops there.
var ErrDamaged = errors.New("damaged capture")

// ErrNotCapture is returned by Open for input that is neither pcap nor
// pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

const (
	// readBuffer is the read-ahead: records that fit in it (every record
	// of a real snap length) are handed out without a copy.
	readBuffer = 256 << 10
	// maxRecord bounds the size of one record or block. Real snap lengths
	// are at most 256 KiB; a larger claim is a damaged file, and believing
	// it would mean allocating whatever a corrupt length says.
	maxRecord = 64 << 20
)

// Format names the kind of file that was opened.
type Format string

const (
	FormatPcap   Format = "pcap"
	FormatPcapng Format = "pcapng"
)

// Reader reads a pcap or pcapng capture, gzip-compressed or not, detected
// by content.
type Reader struct {
	name   string
	format Format
	gzip   bool
	br     *bufio.Reader
	// off is the position of the next unread byte in the (decompressed)
	// stream; consume is what the last record still holds in the buffer.
	off     int64
	consume int
	records int64
	scratch []byte
	// pending is an error to return on the next call, after the partial
	// record it concerns was delivered; err, once set, is returned by
	// every later call.
	pending error
	err     error

	pcap   pcapState
	pcapng pcapngState
}

// Open looks at the start of r and returns a Reader when it holds a pcap or
// pcapng capture (gzip-compressed or not). Otherwise it returns nil, the
// error ErrNotCapture and, in rest, a reader of the whole content
// (decompressed when it was gzip), for loaders of other formats. name is
// used in error messages.
func Open(name string, r io.Reader) (rd *Reader, rest io.Reader, err error) {
	br := bufio.NewReaderSize(r, readBuffer)
	magic, err := br.Peek(4)
	if err != nil && len(magic) < 2 {
		if err == io.EOF {
			return nil, br, fmt.Errorf("%s: empty input: %w", name, ErrNotCapture)
		}
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	rd = &Reader{name: name, br: br}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: opening gzip stream: %w", name, err)
		}
		rd.gzip = true
		rd.br = bufio.NewReaderSize(gz, readBuffer)
		magic, err = rd.br.Peek(4)
		if len(magic) < 4 {
			if err == nil || err == io.EOF {
				return nil, rd.br, fmt.Errorf("%s: %w", name, ErrNotCapture)
			}
			return nil, nil, fmt.Errorf("%s: reading gzip stream: %w", name, err)
		}
	}
	if len(magic) < 4 {
		return nil, rd.br, fmt.Errorf("%s: %w", name, ErrNotCapture)
	}
	switch {
	case isPcapMagic(magic):
		rd.format = FormatPcap
		err = rd.openPcap()
	case binary.LittleEndian.Uint32(magic) == blockSHB:
		rd.format = FormatPcapng
		err = rd.openPcapng()
	default:
		return nil, rd.br, fmt.Errorf("%s: %w", name, ErrNotCapture)
	}
	if err != nil {
		return nil, nil, err
	}
	return rd, nil, nil
}

// Format says whether the capture is pcap or pcapng.
func (r *Reader) Format() Format { return r.format }

// Compressed reports whether the capture was gzip-compressed.
func (r *Reader) Compressed() bool { return r.gzip }

// Records is the number of records delivered so far.
func (r *Reader) Records() int64 { return r.records }

// Next reads the next record into rec.
func (r *Reader) Next(rec *Record) error {
	if r.err != nil {
		return r.err
	}
	if r.pending != nil {
		return r.stop(r.pending)
	}
	if r.consume > 0 {
		r.discard(r.consume)
		r.consume = 0
	}
	if r.format == FormatPcap {
		return r.nextPcap(rec)
	}
	return r.nextPcapng(rec)
}

// stop makes err the answer to every later call.
func (r *Reader) stop(err error) error {
	r.err = err
	return err
}

func (r *Reader) discard(n int) {
	d, _ := r.br.Discard(n)
	r.off += int64(d)
}

// take returns the n bytes at the read position without consuming them
// when they fit in the buffer, or reads them into scratch. A short result
// comes with the error that cut it (io.ErrUnexpectedEOF for a clean end of
// the input).
func (r *Reader) take(n int) ([]byte, error) {
	if n <= r.br.Size() {
		b, err := r.br.Peek(n)
		if len(b) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return b, err
		}
		r.consume = n
		return b, nil
	}
	r.consume = 0
	if cap(r.scratch) < n {
		r.scratch = make([]byte, n)
	}
	b := r.scratch[:n]
	got, err := io.ReadFull(r.br, b)
	r.off += int64(got)
	return b[:got], err
}

// cutError describes input that ends inside a record: what was being read,
// where, and how much of it is there.
func (r *Reader) cutError(what string, start int64, got, want int, cause error) error {
	reason := ""
	if cause != nil && cause != io.ErrUnexpectedEOF && cause != io.EOF {
		reason = " (" + cause.Error() + ")"
	}
	return fmt.Errorf("%s: %w: %s at byte offset %d has %d of its %d bytes%s; everything before it was read",
		r.name, ErrTruncated, what, start, got, want, reason)
}

// damaged describes a record whose own fields make no sense: reading stops
// there because nothing after it can be located.
func (r *Reader) damaged(what string, start int64, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s at byte offset %d: %s; reading stopped there",
		r.name, ErrDamaged, what, start, fmt.Sprintf(format, args...))
}
