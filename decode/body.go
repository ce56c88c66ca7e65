package decode

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// bodyNext is what follows a body once it is read.
type bodyNext uint8

const (
	nextHTTP      bodyNext = iota // another HTTP head
	nextHold                      // the client waits for the Upgrade answer
	nextExchange                  // a plain exchange is complete
	nextChallenge                 // the hixie-76 answer is complete
	nextFrames                    // RFC 6455 frames follow
	nextHixie                     // hixie frames follow
)

func nextMode(m mode) bodyNext {
	switch m {
	case modeHixie:
		return nextHixie
	case modeHTTP:
		return nextHTTP
	}
	return nextFrames
}

// chunked body parsing states (RFC 9112 7.1).
const (
	chunkSize uint8 = iota
	chunkData
	chunkDataEnd
	chunkTrailer
)

// bodyReader skips (and keeps up to the retain limit) an HTTP body.
type bodyReader struct {
	chunked bool
	left    int64 // fixed length left, or -1: until the connection closes
	state   uint8
	line    []byte
	keep    *[]byte
	size    *int64
	next    bodyNext
}

func (d *Decoder) startBody(dir *direction, bl bodyLength, keep *[]byte, size *int64, next bodyNext) {
	dir.http.body = bodyReader{chunked: bl.chunked, left: bl.length, keep: keep, size: size, next: next}
	if !bl.chunked && bl.length == 0 {
		d.finishBody(dir, time.Time{})
		return
	}
	dir.mode = modeBody
}

func (d *Decoder) feedBody(dir *direction, t time.Time, b []byte) int {
	br := &dir.http.body
	if !br.chunked {
		n := len(b)
		if br.left >= 0 && int64(n) > br.left {
			n = int(br.left)
		}
		d.keepBody(br, b[:n])
		if br.left >= 0 {
			br.left -= int64(n)
			if br.left == 0 {
				d.finishBody(dir, t)
			}
		}
		return n
	}
	consumed := 0
	for consumed < len(b) && dir.mode == modeBody {
		rest := b[consumed:]
		switch br.state {
		case chunkSize, chunkTrailer:
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				if len(br.line)+len(rest) > 4096 {
					d.problemf(Error, KindHandshakeMalformed, dir.side, t, "%s chunked body has a line over 4096 bytes; the rest of this direction is not decoded", dir.side)
					dir.mode = modeIgnore
				}
				br.line = append(br.line, rest...)
				return len(b)
			}
			line := strings.TrimSpace(string(append(br.line, rest[:i]...)))
			br.line = br.line[:0]
			consumed += i + 1
			if br.state == chunkTrailer {
				if line == "" {
					d.finishBody(dir, t)
				}
				continue
			}
			sizeText, _, _ := strings.Cut(line, ";")
			n, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
			if err != nil || n < 0 {
				d.problemf(Error, KindHandshakeMalformed, dir.side, t, "%s chunked body has a bad chunk size %q; the rest of this direction is not decoded", dir.side, clip(line, 40))
				dir.mode = modeIgnore
				return len(b)
			}
			if n == 0 {
				br.state = chunkTrailer
			} else {
				br.left, br.state = n, chunkData
			}
		case chunkData:
			n := len(rest)
			if int64(n) > br.left {
				n = int(br.left)
			}
			d.keepBody(br, rest[:n])
			br.left -= int64(n)
			consumed += n
			if br.left == 0 {
				br.state = chunkDataEnd
			}
		case chunkDataEnd:
			c := rest[0]
			consumed++
			if c == '\n' {
				br.state = chunkSize
			}
		}
	}
	return consumed
}

func (d *Decoder) keepBody(br *bodyReader, p []byte) {
	*br.size += int64(len(p))
	if room := d.opts.MaxMessageSize - int64(len(*br.keep)); room > 0 {
		*br.keep = append(*br.keep, p[:min(int64(len(p)), room)]...)
	}
}

// finishBody moves on to what follows the body.
func (d *Decoder) finishBody(dir *direction, t time.Time) {
	br := &dir.http.body
	switch br.next {
	case nextHTTP:
		dir.mode = modeHTTP
	case nextHold:
		dir.mode = modeHold
	case nextExchange:
		if ex := d.hs.exchange; ex != nil {
			d.hs.exchange = nil
			d.addExchange(ex)
		}
		dir.mode = modeHTTP
	case nextChallenge:
		d.checkChallenge()
		d.emit(Event{Kind: EventHandshake, Conn: d.conn})
		dir.mode = modeHixie
	case nextFrames:
		dir.mode = modeFrames
	case nextHixie:
		dir.mode = modeHixie
	}
	*br = bodyReader{}
}
