// Copyright 2009 The Go Authors. All rights reserved.
// Copyright 2019 Klaus Post. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package inflate decodes DEFLATE (RFC 1951) the way permessage-deflate
// (RFC 7692) delivers it: one message at a time, each continuing the
// stream of the messages before it when the sender keeps its context.
//
// It is the inflater of github.com/klauspost/compress/flate (itself
// derived from Go's compress/flate), cut down to input held in memory and
// changed in two ways:
//
//   - Start begins the next message on the history the reader already
//     has. A reader of the flate package ends with an error it keeps when
//     its input runs out, so a receiver of separate messages must reset it
//     with the last 32 KiB of output as a dictionary for every message:
//     for messages of a few hundred bytes that copy cost twice the
//     inflating itself (BENCHMARKS.md, "Inflate").
//   - The Huffman tables of a dynamic block are kept and reused when the
//     next block's code lengths are the same: a sender that compresses
//     messages of the same shape one by one writes the same header again
//     and again, and building the tables was the largest part of
//     inflating a small message.
package inflate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
)

const (
	maxCodeLen = 16 // the longest Huffman code (RFC 1951 3.2.7)
	// maxNumLit and maxNumDist come from RFC 1951 3.2.7, with the proviso
	// in 3.2.5 that distance codes 30 and 31 never occur.
	maxNumLit  = 286
	maxNumDist = 30
	numCodes   = 19 // symbols of the code length code
	// endBlockMarker is the literal/length symbol that ends a block.
	endBlockMarker = 256
)

// CorruptInputError reports corrupt input at the given offset of the
// message's input.
type CorruptInputError int64

func (e CorruptInputError) Error() string {
	return "flate: corrupt input before offset " + strconv.FormatInt(int64(e), 10)
}

// errInternal reports a broken invariant of this package.
var errInternal = errors.New("flate: internal error: unexpected length code")

type step uint8

const (
	copyData step = iota + 1
	nextBlock
	huffmanBlock
)

// Reader inflates messages held in memory. Its zero value is not ready:
// call Reset first, then Start for each message.
type Reader struct {
	// in is the message's input; pos is the next byte of it to take
	// into the bit buffer.
	in  []byte
	pos int

	// hc decodes the code lengths of a dynamic block; h1 and h2 are its
	// literal/length and distance codes, kept for the next block.
	hc, h1, h2 huffmanDecoder
	// lens holds the code lengths of the last dynamic block: h1 and h2 were
	// built from lens[:nlit] and lens[nlit:nlit+ndist] (tablesOK).
	lens        [maxNumLit + maxNumDist]uint8
	nlit, ndist int
	tablesOK    bool
	built       int // how many times h1 and h2 were built
	// next receives the code lengths of the block being read.
	next [maxNumLit + maxNumDist]uint8
	// codebits are the code length code's lengths of the block being
	// read; hc was built from hcLens (hcOK).
	codebits, hcLens [numCodes]uint8
	hcOK             bool

	// Output history, and the buffer output is read from.
	dict dictDecoder

	// The next step of decoding and its state.
	step      step
	stepState int
	err       error
	toRead    []byte
	hl, hd    *huffmanDecoder
	copyLen   int
	copyDist  int

	// Input bits, nb of them, in the low bits of b. Bits above them may
	// hold the next input bytes too (see refill).
	b     uint64
	nb    uint
	final bool
}

// Reset forgets the history: the next message starts a new stream. window
// is the LZ77 window in bytes the sender may refer back (at most 32 KiB,
// RFC 1951 3.2.5; less when negotiated, RFC 7692 7.1.2): a distance
// reaching further back than that, or before the stream's start, is
// corrupt input.
func (f *Reader) Reset(window int) {
	f.dict.init(window)
}

// Start begins inflating src, which must end the stream or a block of it
// (a permessage-deflate message with its 00 00 ff ff put back and a final
// empty block after it). The history of earlier messages since Reset stays
// and later data may refer back into it (RFC 7692 7.2.3.3). src must not
// change until Read returned an error.
func (f *Reader) Start(src []byte) {
	f.in, f.pos = src, 0
	f.step = nextBlock
	f.stepState = 0
	f.err = nil
	f.toRead = nil
	f.b, f.nb = 0, 0
	f.final = false
}

// Read reads inflated bytes of the current message. It returns io.EOF at
// the end of the final block; after any other error the history is not
// whole, and the reader must be Reset before the next message.
func (f *Reader) Read(b []byte) (int, error) {
	for {
		if len(f.toRead) > 0 {
			n := copy(b, f.toRead)
			f.toRead = f.toRead[n:]
			if len(f.toRead) == 0 {
				return n, f.err
			}
			return n, nil
		}
		if f.err != nil {
			return 0, f.err
		}
		f.doStep()
		if f.err != nil && len(f.toRead) == 0 {
			f.toRead = f.dict.readFlush() // what was decoded before the error
		}
	}
}

func (f *Reader) doStep() {
	switch f.step {
	case copyData:
		f.copyData()
	case nextBlock:
		f.nextBlock()
	case huffmanBlock:
		f.huffmanBlock()
	default:
		f.err = errInternal
	}
}

func (f *Reader) nextBlock() {
	if f.err = f.refill(1 + 2); f.err != nil {
		return
	}
	f.final = f.b&1 == 1
	f.b >>= 1
	typ := f.b & 3
	f.b >>= 2
	f.nb -= 1 + 2
	switch typ {
	case 0:
		f.dataBlock()
	case 1:
		// Compressed with the fixed Huffman codes (RFC 1951 3.2.6).
		f.hl = &fixedHuffman
		f.hd = nil
		f.huffmanBlock()
	case 2:
		// Compressed with dynamic Huffman codes (RFC 1951 3.2.7).
		if f.err = f.readHuffman(); f.err != nil {
			break
		}
		f.hl = &f.h1
		f.hd = &f.h2
		f.huffmanBlock()
	default:
		// 3 is reserved.
		f.err = CorruptInputError(f.pos)
	}
}

// codeOrder is the order in which the code length code's lengths are sent
// (RFC 1951 3.2.7).
var codeOrder = [...]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// readHuffman reads the header of a dynamic block (RFC 1951 3.2.7) and
// makes h1 and h2 ready for it.
func (f *Reader) readHuffman() error {
	// HLIT[5], HDIST[5], HCLEN[4].
	if err := f.refill(5 + 5 + 4); err != nil {
		return err
	}
	nlit := int(f.b&0x1F) + 257
	if nlit > maxNumLit {
		return CorruptInputError(f.pos)
	}
	f.b >>= 5
	ndist := int(f.b&0x1F) + 1
	if ndist > maxNumDist {
		return CorruptInputError(f.pos)
	}
	f.b >>= 5
	nclen := int(f.b&0xF) + 4 // at most 19
	f.b >>= 4
	f.nb -= 5 + 5 + 4

	// (HCLEN+4)*3 bits: code lengths in the order of codeOrder.
	for i := range nclen {
		if err := f.refill(3); err != nil {
			return err
		}
		f.codebits[codeOrder[i]] = uint8(f.b & 0x7)
		f.b >>= 3
		f.nb -= 3
	}
	for i := nclen; i < len(codeOrder); i++ {
		f.codebits[codeOrder[i]] = 0
	}
	if !f.hcOK || f.codebits != f.hcLens {
		f.hcOK = false
		count := countLengths(f.codebits[:])
		if !f.hc.init(f.codebits[:], &count) {
			return CorruptInputError(f.pos)
		}
		f.hcLens, f.hcOK = f.codebits, true
	}

	// HLIT + 257 code lengths, HDIST + 1 code lengths, using the code
	// length code, whose codes are at most 7 bits: a symbol and its extra
	// bits take at most 14. The bit buffer lives in locals meanwhile.
	lens := &f.next
	// How many codes of each length each code has, for init.
	var litCount, distCount [maxCodeLen]int
	b, nb, in, pos := f.b, f.nb, f.in, f.pos
	for i, n := 0, nlit+ndist; i < n; {
		if nb < 14 {
			// Short at the input's end is not an error yet: the symbol
			// may be shorter (checked below).
			b, nb, pos, _ = refillBits(b, nb, in, pos, 14)
		}
		chunk := f.hc.chunks[b&(huffmanNumChunks-1)]
		cl := uint(chunk & huffmanCountMask)
		if cl == 0 {
			return CorruptInputError(pos)
		}
		if cl > nb {
			return io.ErrUnexpectedEOF
		}
		b >>= cl
		nb -= cl
		x := int(chunk >> huffmanValueShift)
		if x < 16 {
			lens[i] = uint8(x)
			if i < nlit {
				litCount[x]++
			} else {
				distCount[x]++
			}
			i++
			continue
		}
		// Repeat the previous length, or zero.
		var rep int
		var extra uint
		var v uint8
		switch x {
		default:
			return errInternal
		case 16:
			rep = 3
			extra = 2
			if i == 0 {
				return CorruptInputError(pos)
			}
			v = lens[i-1]
		case 17:
			rep = 3
			extra = 3
		case 18:
			rep = 11
			extra = 7
		}
		if extra > nb {
			return io.ErrUnexpectedEOF
		}
		rep += int(b & (1<<extra - 1))
		b >>= extra
		nb -= extra
		if i+rep > n {
			return CorruptInputError(pos)
		}
		lit := max(0, min(i+rep, nlit)-i)
		litCount[v&(maxCodeLen-1)] += lit
		distCount[v&(maxCodeLen-1)] += rep - lit
		for range rep {
			lens[i] = v
			i++
		}
	}
	f.b, f.nb, f.pos = b, nb, pos

	n := nlit + ndist
	if !f.tablesOK || nlit != f.nlit || ndist != f.ndist || !bytes.Equal(lens[:n], f.lens[:n]) {
		f.tablesOK = false
		if !f.h1.init(lens[:nlit], &litCount) || !f.h2.init(lens[nlit:n], &distCount) {
			return CorruptInputError(f.pos)
		}
		copy(f.lens[:n], lens[:n])
		f.nlit, f.ndist, f.tablesOK = nlit, ndist, true
		f.built++
	}

	// Every block ends with the end-of-block symbol, so reading that many
	// bits never reads past the stream's end; a block that is not the
	// last is followed by at least a fixed block's 3 + 7 bits.
	f.h1.maxRead = max(f.h1.minLen, int(lens[endBlockMarker]))
	if !f.final {
		f.h1.maxRead += 10
	}
	return nil
}

// dataBlock copies a stored block (RFC 1951 3.2.4) to the output.
func (f *Reader) dataBlock() {
	// Skip to the byte boundary, and give back the whole bytes the bit
	// buffer holds: the block's header and data are read as bytes.
	f.nb -= f.nb & 7
	f.pos -= int(f.nb >> 3)
	f.nb, f.b = 0, 0

	// LEN, then its ones' complement NLEN.
	if len(f.in)-f.pos < 4 {
		f.pos = len(f.in)
		f.err = io.ErrUnexpectedEOF
		return
	}
	h := f.in[f.pos : f.pos+4]
	f.pos += 4
	n := uint16(h[0]) | uint16(h[1])<<8
	nn := uint16(h[2]) | uint16(h[3])<<8
	if nn != ^n {
		f.err = CorruptInputError(f.pos)
		return
	}
	if n == 0 {
		// An empty stored block is a sync flush: what was decoded is
		// returned now.
		f.toRead = f.dict.readFlush()
		f.finishBlock()
		return
	}
	f.copyLen = int(n)
	f.copyData()
}

// copyData copies f.copyLen bytes of a stored block into the history,
// pausing to be read when the history's buffer is full.
func (f *Reader) copyData() {
	buf := f.dict.writeSlice()
	if len(buf) > f.copyLen {
		buf = buf[:f.copyLen]
	}
	cnt := copy(buf, f.in[f.pos:])
	f.pos += cnt
	f.copyLen -= cnt
	f.dict.writeMark(cnt)
	if cnt < len(buf) {
		f.err = io.ErrUnexpectedEOF
		return
	}
	if f.dict.availWrite() == 0 || f.copyLen > 0 {
		f.toRead = f.dict.readFlush()
		f.step = copyData
		return
	}
	f.finishBlock()
}

func (f *Reader) finishBlock() {
	if f.final {
		if f.dict.availRead() > 0 {
			f.toRead = f.dict.readFlush()
		}
		f.err = io.EOF
	}
	f.step = nextBlock
}

// refill adds input to the bit buffer until it holds at least n bits (n
// at most 56), or reports that the input ended first.
func (f *Reader) refill(n uint) error {
	if f.nb >= n {
		return nil
	}
	var ok bool
	if f.b, f.nb, f.pos, ok = refillBits(f.b, f.nb, f.in, f.pos, n); !ok {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// load8 loads the 8 bytes of in at pos into the bit buffer b of nb bits
// (nb under 56), as libdeflate refills: it counts the whole bytes that
// fit, and the bits past them are the next input bytes, which the next
// load puts in the same places again. The caller makes sure 8 bytes are
// left. It is inlined where the buffer is kept in locals (the block
// loop), which refillBits is not.
func load8(b uint64, nb uint, in []byte, pos int) (uint64, uint, int) {
	return b | binary.LittleEndian.Uint64(in[pos:])<<(nb&63), nb | 56, pos + int(63-nb)>>3
}

// refillBits adds bytes of in from pos on to the bit buffer b of nb bits
// until it holds at least n bits (n at most 56), and reports whether the
// input had them: 8 at once where 8 are left (load8), one at a time in
// the last 8.
func refillBits(b uint64, nb uint, in []byte, pos int, n uint) (uint64, uint, int, bool) {
	if pos+8 <= len(in) {
		b, nb, pos = load8(b, nb, in, pos)
		return b, nb, pos, true
	}
	for nb < n {
		if pos >= len(in) {
			return b, nb, pos, false
		}
		b |= uint64(in[pos]) << (nb & 63)
		pos++
		nb += 8
	}
	return b, nb, pos, true
}
