package decode

import "time"

// mode is what a direction's next bytes are expected to be.
type mode uint8

const (
	modeDetect mode = iota // nothing seen yet: HTTP or frames?
	modeHTTP               // an HTTP head (request or response)
	modeBody               // a plain HTTP body, or a hixie-76 challenge
	modeHold               // client bytes after an Upgrade, until the answer
	modeFrames             // RFC 6455 frames
	modeHixie              // hixie-75/76 frames
	modeResync             // looking for a frame header after a gap
	modeIgnore             // nothing more to decode
)

// direction is the decoding state of the bytes one side sends.
type direction struct {
	side Side
	mode mode
	// pos is the stream position of the next byte the mode will see,
	// counted from the first byte this side sent (handshake included).
	pos int64

	http  httpDirection
	frame frameState
	msg   messageState
	// ctrl holds the payload of the control frame being read, which may
	// arrive in the middle of a fragmented data message.
	ctrl []byte
	// closeSent is set once this side sent a Close frame.
	closeSent bool
	infl      *inflater
	hixie     hixieState
	resync    resyncState
	// scratch receives payload bytes past the retain limit, which are
	// still unmasked so that text can be validated.
	scratch []byte
	// inflated receives inflated payloads; it is reused from message to
	// message (see inflateMessage).
	inflated []byte
}

// frameState is the frame being read.
type frameState struct {
	// hdr collects a header split across chunks; hdrN bytes are in it.
	hdr  [MaxFrameHeaderSize]byte
	hdrN int
	// inPayload is set between a complete header and the payload's end.
	inPayload bool
	h         FrameHeader
	start     int64     // stream position of the first header byte
	time      time.Time // capture time of the first header byte
	left      uint64    // payload bytes still to come
	maskPos   int
	control   bool
	// bufStart is where the payload starts in the buffer it goes to
	// (the message buffer or ctrl); retained counts the bytes kept there.
	bufStart int
	retained int
	// pending are problems found in this frame, reported with its index
	// when it is complete.
	pending []pendingProblem
}

// messageState is the data message being joined from fragments.
type messageState struct {
	open       bool
	opcode     Opcode
	compressed bool
	time       time.Time
	lastTime   time.Time
	frames     []int  // indexes of its frames
	wire       int64  // header and payload bytes on the wire
	size       int64  // payload bytes (compressed size if compressed)
	buf        []byte // payload (compressed when compressed), up to the limit
	truncated  bool
	text       utf8Stream
	textBadAt  int // index of the frame where the text turned invalid, badThisFrame, or -1
}
