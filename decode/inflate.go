package decode

import (
	"errors"
	"io"

	"github.com/wstap/wstap/decode/internal/inflate"
)

// deflateTail completes a permessage-deflate message for an inflater. The
// sender removed the 00 00 ff ff of its final sync flush (RFC 7692 7.2.1),
// so it is appended again (7.2.2), followed by an empty final stored block
// so that the inflater ends with io.EOF instead of waiting for more.
var deflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflater is the receiving side of permessage-deflate for one direction.
// With context takeover the LZ77 window of earlier messages is part of the
// next message's context (RFC 7692 7.2.3.3): the flate reader keeps its
// history from message to message, and is reset for each message only
// without takeover, or when the context was lost.
type inflater struct {
	takeover   bool
	windowSize int
	// lost is set when the context could not be kept (a message failed or
	// was cut off): later messages that reach back into it cannot inflate.
	lost bool
	// fresh is set when the reader's history must be reset before the
	// next message.
	fresh bool

	fr inflate.Reader
	// input is the message followed by deflateTail. The reader has it as
	// a whole, which it reads without an interface call per byte; copying
	// the compressed bytes once costs far less than that saves.
	input []byte
	// scratch receives output past the retain limit. It lives here because
	// a local array handed to the flate reader escapes: one allocation per
	// message otherwise.
	scratch [4096]byte
}

// maxInflateScratch is the largest inflate buffer a retaining decoder
// reuses from message to message; a message that needs more keeps it.
const maxInflateScratch = 16 << 10

// maxKeptInput bounds the input buffer an inflater keeps between messages:
// a rare large message should not hold its copy for the connection's life.
const maxKeptInput = 64 << 10

func newInflater(takeover bool, windowBits int) *inflater {
	in := &inflater{}
	in.setup(takeover, windowBits)
	return in
}

// setup makes in ready for a direction with these parameters, with a
// fresh context.
func (in *inflater) setup(takeover bool, windowBits int) {
	if windowBits < 8 || windowBits > 15 {
		windowBits = 15
	}
	if windowBits == 8 {
		// zlib, which most senders use, compresses with a 512-byte window
		// when asked for 256 bytes (RFC 7692 7.1.2.1 allows 8, and zlib's
		// manual says it uses 9 instead): what it sends refers up to 512
		// bytes back.
		windowBits = 9
	}
	in.takeover, in.windowSize, in.lost = takeover, 1<<windowBits, false
	in.reset()
}

// inflateResult is what one message inflated to.
type inflateResult struct {
	size      int64 // bytes inflated
	truncated bool  // retained less than size
	limited   bool  // stopped at the expansion limit
	err       error
}

// inflate decompresses one message. Output up to retain bytes is appended
// to dst; the rest is only counted (and kept in the window). It stops
// after maxSize bytes of output, which guards against decompression bombs:
// a few kilobytes of deflate can claim gigabytes.
func (in *inflater) inflate(compressed []byte, dst []byte, retain, maxSize int64, text *utf8Stream) ([]byte, inflateResult) {
	var res inflateResult
	in.input = append(append(in.input[:0], compressed...), deflateTail[:]...)
	if in.fresh || !in.takeover {
		in.fr.Reset(in.windowSize)
		in.fresh = false
	}
	in.fr.Start(in.input)
	if cap(in.input) > maxKeptInput {
		in.input = nil // the reader holds it until the next message
	}

	scratch := &in.scratch
	for {
		var buf []byte
		intoDst := int64(len(dst)) < retain
		if intoDst {
			if len(dst) == cap(dst) {
				// Four times the input is a common size for text;
				// most messages fit in 4 KiB, and the buffer is reused
				// for the next ones. Past maxInflateScratch it doubles.
				dst = growFor(dst, min(max(4*len(compressed), 4<<10), maxInflateScratch), retain)
			}
			buf = dst[len(dst):min(cap(dst), len(dst)+int(retain-int64(len(dst))))]
		} else {
			buf = scratch[:]
		}
		if res.size+int64(len(buf)) > maxSize {
			buf = buf[:maxSize-res.size]
		}
		if len(buf) == 0 {
			// Is there more? Read one byte to tell a message of exactly
			// maxSize from a bomb.
			n, err := in.fr.Read(scratch[:1])
			if n > 0 {
				res.limited = true
			} else if err != nil && err != io.EOF {
				res.err = err
			}
			break
		}
		n, err := in.fr.Read(buf)
		if n > 0 {
			out := buf[:n]
			if text != nil {
				text.write(out)
			}
			if intoDst {
				dst = dst[:len(dst)+n]
			} else {
				res.truncated = true
			}
			res.size += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = err
			break
		}
	}
	if res.err != nil || res.limited {
		in.lost = true
		in.reset()
	}
	if errors.Is(res.err, io.ErrUnexpectedEOF) {
		res.err = errors.New("compressed data ends early")
	}
	return dst, res
}

// reset starts a fresh context: no_context_takeover, or a lost one.
func (in *inflater) reset() {
	in.fresh = true
}

// maxReusedBuffer is the largest payload buffer a direction keeps from one
// message for the next: most messages fit, and a rare large one does not
// pin its size for the life of the connection.
const maxReusedBuffer = 256 << 10

// reuse returns b emptied for the next message, or nil when it grew past
// maxReusedBuffer.
func reuse(b []byte) []byte {
	if cap(b) > maxReusedBuffer {
		return nil
	}
	return b[:0]
}

// growFor grows b for at least hint more bytes, never past limit in total
// capacity unless b already holds that much.
func growFor(b []byte, hint int, limit int64) []byte {
	want := max(2*cap(b), len(b)+max(hint, 512))
	if int64(want) > limit {
		want = int(limit)
	}
	if want <= cap(b) {
		want = cap(b) + 512
	}
	nb := make([]byte, len(b), want)
	copy(nb, b)
	return nb
}
