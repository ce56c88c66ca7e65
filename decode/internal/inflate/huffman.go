// Copyright 2009 The Go Authors. All rights reserved.
// Copyright 2019 Klaus Post. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package inflate

import "math/bits"

// The tables for decoding Huffman codes are those of zlib: a lookup table
// of a fixed bit width (huffmanChunkBits). A code shorter than that fills
// every entry whose low bits are the code; a longer one points to an
// overflow table (a link) as wide as the longest code minus the chunk
// width. A lookup works without all bits filled: the extra bits are zero,
// and since shorter codes come before longer ones in a DEFLATE code, the
// length found is a lower bound of the real one.
//
// chunk & huffmanCountMask is the code's length in bits; chunk >>
// huffmanValueShift is its symbol, or the index of its link table.
const (
	huffmanChunkBits  = 9
	huffmanNumChunks  = 1 << huffmanChunkBits
	huffmanCountMask  = 15
	huffmanValueShift = 4
)

type huffmanDecoder struct {
	maxRead  int // bits that can be read without reading past the stream
	minLen   int // the shortest code's length
	chunks   *[huffmanNumChunks]uint16
	links    [][]uint16 // overflow tables
	linkMask uint32     // the width of the overflow tables, as a mask
}

// countLengths counts the codes of each length.
func countLengths(lengths []uint8) (count [maxCodeLen]int) {
	for _, n := range lengths {
		count[n&(maxCodeLen-1)]++
	}
	return count
}

// init builds the tables for a code of these lengths (RFC 1951 3.2.2);
// count holds how many codes there are of each length (count[0] is not
// read). It reports false unless the code is complete; as zlib does, a
// code of a single symbol of length 1 is accepted, and an empty code too
// (it fails when used).
func (h *huffmanDecoder) init(lengths []uint8, count *[maxCodeLen]int) bool {
	if h.chunks == nil {
		h.chunks = new([huffmanNumChunks]uint16)
	}
	if h.maxRead != 0 {
		*h = huffmanDecoder{chunks: h.chunks, links: h.links}
	}

	// The shortest and the longest code.
	var minLen, maxLen int
	for n := 1; n < maxCodeLen; n++ {
		if count[n] != 0 {
			if minLen == 0 {
				minLen = n
			}
			maxLen = n
		}
	}
	if maxLen == 0 {
		// Empty: every lookup must fail, not find the last code's table.
		clear(h.chunks[:])
		return true
	}

	code := 0
	var nextcode [maxCodeLen]int
	for i := minLen; i <= maxLen; i++ {
		code <<= 1
		nextcode[i&(maxCodeLen-1)] = code
		code += count[i&(maxCodeLen-1)]
	}
	// Every bit sequence of maxLen bits must be taken, but for the
	// degenerate code of one symbol of one bit.
	if code != 1<<uint(maxLen) && !(code == 1 && maxLen == 1) {
		return false
	}
	h.maxRead = minLen
	h.minLen = minLen

	// The symbols by code length, and by symbol within a length: the
	// order of their codes (RFC 1951 3.2.2).
	var start [maxCodeLen + 1]int
	for n := 1; n < maxCodeLen; n++ {
		start[n+1] = start[n] + count[n]
	}
	var sorted [maxNumLit + maxNumDist]uint16
	if len(lengths) > len(sorted) {
		return false
	}
	next := start
	for i, n := range lengths {
		if n != 0 {
			sorted[next[n]] = uint16(i)
			next[n]++
		}
	}

	// The lookup table is filled as libdeflate does: with the codes of
	// length minLen in its first 2^minLen entries, then, for each next
	// length, those entries copied once more after themselves (a code
	// of n bits owns every entry whose low n bits are its reversed code)
	// and that length's codes written in the entries still free. Each
	// entry is written once by a code and the rest is copying; writing
	// 2^(9-n) entries for every code, one at a time, was most of
	// building a table.
	chunks := h.chunks[:]
	clear(chunks[:1<<minLen])
	short := min(maxLen, huffmanChunkBits)
	for n := minLen; n <= short; n++ {
		if n > minLen {
			copy(chunks[1<<(n-1):1<<n], chunks[:1<<(n-1)])
		}
		code := nextcode[n]
		for _, sym := range sorted[start[n]:start[n+1]] {
			reverse := bits.Reverse16(uint16(code)) >> (16 - n)
			chunks[reverse] = sym<<huffmanValueShift | uint16(n)
			code++
		}
	}
	for n := short + 1; n <= huffmanChunkBits; n++ {
		copy(chunks[1<<(n-1):1<<n], chunks[:1<<(n-1)])
	}
	if maxLen <= huffmanChunkBits {
		h.links = h.links[:0]
		return true
	}

	// Longer codes: the entry of their first 9 bits points to a table of
	// the remaining bits.
	numLinks := 1 << (uint(maxLen) - huffmanChunkBits)
	h.linkMask = uint32(numLinks - 1)
	link := nextcode[huffmanChunkBits+1] >> 1
	if cap(h.links) < huffmanNumChunks-link {
		h.links = make([][]uint16, huffmanNumChunks-link)
	} else {
		h.links = h.links[:huffmanNumChunks-link]
	}
	for j := uint(link); j < huffmanNumChunks; j++ {
		reverse := int(bits.Reverse16(uint16(j)))
		reverse >>= uint(16 - huffmanChunkBits)
		off := j - uint(link)
		chunks[reverse] = uint16(off<<huffmanValueShift | (huffmanChunkBits + 1))
		if cap(h.links[off]) < numLinks {
			h.links[off] = make([]uint16, numLinks)
		} else {
			h.links[off] = h.links[off][:numLinks]
		}
	}
	for n := huffmanChunkBits + 1; n <= maxLen; n++ {
		code := nextcode[n]
		for _, sym := range sorted[start[n]:start[n+1]] {
			reverse := int(bits.Reverse16(uint16(code))) >> (16 - n)
			code++
			linktab := h.links[chunks[reverse&(huffmanNumChunks-1)]>>huffmanValueShift]
			chunk := sym<<huffmanValueShift | uint16(n)
			for off := reverse >> huffmanChunkBits; off < len(linktab); off += 1 << (n - huffmanChunkBits) {
				linktab[off] = chunk
			}
		}
	}
	return true
}

// fixedHuffman decodes the fixed literal/length code (RFC 1951 3.2.6).
// It is built once and only read after.
var fixedHuffman = func() huffmanDecoder {
	var lengths [288]uint8
	for i := range lengths {
		switch {
		case i < 144:
			lengths[i] = 8
		case i < 256:
			lengths[i] = 9
		case i < 280:
			lengths[i] = 7
		default:
			lengths[i] = 8
		}
	}
	var h huffmanDecoder
	count := countLengths(lengths[:])
	h.init(lengths[:], &count)
	return h
}()
