// Copyright 2009 The Go Authors. All rights reserved.
// Copyright 2019 Klaus Post. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package inflate

import (
	"io"
	"math/bits"
)

// huffmanBlock decodes a Huffman-coded block (RFC 1951 3.2.3, 3.2.5):
// literals and (length, distance) pairs with the codes f.hl and f.hd (or
// the fixed distance code when f.hd is nil), until the end-of-block
// symbol. It returns to be read when the history's buffer is full, and
// goes on where it stopped.
//
// Reading a symbol is written out twice, for the literal/length code and
// for the distance code, instead of calling a function: a function with a
// loop is not inlined, and this loop runs once per symbol of the block
// with the bit buffer kept in registers (as in the code it comes from,
// klauspost's generated inflate_gen.go).
func (f *Reader) huffmanBlock() {
	const (
		stateInit = iota // Zero value must be stateInit
		stateDict
	)
	in, pos := f.in, f.pos

	// The bit buffer and the input position live in locals, which stay in
	// registers where the fields would not, and go back to f on return.
	// Bits are added 8 bytes at a time with load8, inlined here, and
	// with refillBits in the input's last 8 bytes.
	fnb, fb, dict := f.nb, f.b, &f.dict

	switch f.stepState {
	case stateInit:
		goto readLiteral
	case stateDict:
		goto copyHistory
	}

readLiteral:
	// Read literal and/or (length, distance) according to RFC section 3.2.3.
	{
		var v int
		{
			// The next literal/length symbol. An empty code, or a
			// degenerate one of a single symbol, has chunks of 0 for the
			// sequences it does not define: the n == 0 check below.
			n := uint(f.hl.maxRead)
			for {
				if fnb < n {
					var ok bool
					if pos+8 <= len(in) {
						fb, fnb, pos = load8(fb, fnb, in, pos)
					} else if fb, fnb, pos, ok = refillBits(fb, fnb, in, pos, n); !ok {
						f.b, f.nb, f.pos = fb, fnb, pos
						f.err = io.ErrUnexpectedEOF
						return
					}
				}
				chunk := f.hl.chunks[fb&(huffmanNumChunks-1)]
				n = uint(chunk & huffmanCountMask)
				if n > huffmanChunkBits {
					chunk = f.hl.links[chunk>>huffmanValueShift][uint32(fb>>huffmanChunkBits)&f.hl.linkMask]
					n = uint(chunk & huffmanCountMask)
				}
				if n <= fnb {
					if n == 0 {
						f.b, f.nb, f.pos = fb, fnb, pos
						f.err = CorruptInputError(pos)
						return
					}
					fb = fb >> (n & 63)
					fnb = fnb - n
					v = int(chunk >> huffmanValueShift)
					break
				}
			}
		}

		var length int
		switch {
		case v < 256:
			dict.writeByte(byte(v))
			if dict.availWrite() == 0 {
				f.toRead = dict.readFlush()
				f.step = huffmanBlock
				f.stepState = stateInit
				f.b, f.nb, f.pos = fb, fnb, pos
				return
			}
			goto readLiteral
		case v == 256:
			f.b, f.nb, f.pos = fb, fnb, pos
			f.finishBlock()
			return
		// otherwise, reference to older data
		case v < 265:
			length = v - (257 - 3)
		case v < maxNumLit:
			val := decCodeToLen[(v - 257)]
			length = int(val.length) + 3
			n := uint(val.extra)
			if fnb < n {
				var ok bool
				if pos+8 <= len(in) {
					fb, fnb, pos = load8(fb, fnb, in, pos)
				} else if fb, fnb, pos, ok = refillBits(fb, fnb, in, pos, n); !ok {
					f.b, f.nb, f.pos = fb, fnb, pos
					f.err = io.ErrUnexpectedEOF
					return
				}
			}
			length += int(uint32(fb) & bitMask32[n])
			fb >>= n & 63
			fnb -= n
		default:
			f.err = CorruptInputError(pos)
			f.b, f.nb, f.pos = fb, fnb, pos
			return
		}

		var dist uint32
		if f.hd == nil {
			if fnb < 5 {
				var ok bool
				if pos+8 <= len(in) {
					fb, fnb, pos = load8(fb, fnb, in, pos)
				} else if fb, fnb, pos, ok = refillBits(fb, fnb, in, pos, 5); !ok {
					f.b, f.nb, f.pos = fb, fnb, pos
					f.err = io.ErrUnexpectedEOF
					return
				}
			}
			dist = uint32(bits.Reverse8(uint8(fb & 0x1F << 3)))
			fb >>= 5
			fnb -= 5
		} else {
			// The next distance symbol (see the literal/length one).
			n := uint(f.hd.maxRead)
			for {
				if fnb < n {
					var ok bool
					if pos+8 <= len(in) {
						fb, fnb, pos = load8(fb, fnb, in, pos)
					} else if fb, fnb, pos, ok = refillBits(fb, fnb, in, pos, n); !ok {
						f.b, f.nb, f.pos = fb, fnb, pos
						f.err = io.ErrUnexpectedEOF
						return
					}
				}
				chunk := f.hd.chunks[fb&(huffmanNumChunks-1)]
				n = uint(chunk & huffmanCountMask)
				if n > huffmanChunkBits {
					chunk = f.hd.links[chunk>>huffmanValueShift][uint32(fb>>huffmanChunkBits)&f.hd.linkMask]
					n = uint(chunk & huffmanCountMask)
				}
				if n <= fnb {
					if n == 0 {
						f.b, f.nb, f.pos = fb, fnb, pos
						f.err = CorruptInputError(pos)
						return
					}
					fb = fb >> (n & 63)
					fnb = fnb - n
					dist = uint32(chunk >> huffmanValueShift)
					break
				}
			}
		}

		switch {
		case dist < 4:
			dist++
		case dist < maxNumDist:
			nb := uint(dist-2) >> 1
			// have 1 bit in bottom of dist, need nb more.
			extra := (dist & 1) << (nb & 31)
			if fnb < nb {
				var ok bool
				if pos+8 <= len(in) {
					fb, fnb, pos = load8(fb, fnb, in, pos)
				} else if fb, fnb, pos, ok = refillBits(fb, fnb, in, pos, nb); !ok {
					f.b, f.nb, f.pos = fb, fnb, pos
					f.err = io.ErrUnexpectedEOF
					return
				}
			}
			extra |= uint32(fb) & bitMask32[nb]
			fb >>= nb & 63
			fnb -= nb
			dist = 1<<((nb+1)&31) + 1 + extra
			// slower: dist = bitMask32[nb+1] + 2 + extra
		default:
			f.b, f.nb, f.pos = fb, fnb, pos
			f.err = CorruptInputError(pos)
			return
		}

		// No check on length; encoding can be prescient.
		if dist > uint32(dict.histSize()) {
			f.b, f.nb, f.pos = fb, fnb, pos
			f.err = CorruptInputError(pos)
			return
		}

		f.copyLen, f.copyDist = length, int(dist)
		goto copyHistory
	}

copyHistory:
	// Perform a backwards copy according to RFC section 3.2.3.
	{
		cnt := dict.tryWriteCopy(f.copyDist, f.copyLen)
		if cnt == 0 {
			cnt = dict.writeCopy(f.copyDist, f.copyLen)
		}
		f.copyLen -= cnt

		if dict.availWrite() == 0 || f.copyLen > 0 {
			f.toRead = dict.readFlush()
			f.step = huffmanBlock // We need to continue this work
			f.stepState = stateDict
			f.b, f.nb, f.pos = fb, fnb, pos
			return
		}
		goto readLiteral
	}
	// Not reached
}

// Decode a single Huffman block from f.
// hl and hd are the Huffman states for the lit/length values
// and the distance values, respectively. If hd == nil, using the

// lengthExtra is a length code's base length minus 3 and its extra bits
// (RFC 1951 3.2.5).
type lengthExtra struct {
	length, extra uint8
}

// decCodeToLen maps length codes 257-285 (minus 257) to lengthExtra.
var decCodeToLen = [32]lengthExtra{{length: 0x0, extra: 0x0}, {length: 0x1, extra: 0x0}, {length: 0x2, extra: 0x0}, {length: 0x3, extra: 0x0}, {length: 0x4, extra: 0x0}, {length: 0x5, extra: 0x0}, {length: 0x6, extra: 0x0}, {length: 0x7, extra: 0x0}, {length: 0x8, extra: 0x1}, {length: 0xa, extra: 0x1}, {length: 0xc, extra: 0x1}, {length: 0xe, extra: 0x1}, {length: 0x10, extra: 0x2}, {length: 0x14, extra: 0x2}, {length: 0x18, extra: 0x2}, {length: 0x1c, extra: 0x2}, {length: 0x20, extra: 0x3}, {length: 0x28, extra: 0x3}, {length: 0x30, extra: 0x3}, {length: 0x38, extra: 0x3}, {length: 0x40, extra: 0x4}, {length: 0x50, extra: 0x4}, {length: 0x60, extra: 0x4}, {length: 0x70, extra: 0x4}, {length: 0x80, extra: 0x5}, {length: 0xa0, extra: 0x5}, {length: 0xc0, extra: 0x5}, {length: 0xe0, extra: 0x5}, {length: 0xff, extra: 0x0}, {length: 0x0, extra: 0x0}, {length: 0x0, extra: 0x0}, {length: 0x0, extra: 0x0}}

// bitMask32[n] has the low n bits set.
var bitMask32 = [32]uint32{
	0, 1, 3, 7, 0xF, 0x1F, 0x3F, 0x7F, 0xFF,
	0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF, 0xFFFF,
	0x1ffff, 0x3ffff, 0x7FFFF, 0xfFFFF, 0x1fFFFF, 0x3fFFFF, 0x7fFFFF, 0xffFFFF,
	0x1ffFFFF, 0x3ffFFFF, 0x7ffFFFF, 0xfffFFFF, 0x1fffFFFF, 0x3fffFFFF, 0x7fffFFFF,
} // up to 32 bits
