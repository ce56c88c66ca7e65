// Package decode turns the two byte streams of a TCP connection into the
// WebSocket conversation they carry: the HTTP Upgrade handshake, every frame,
// the messages joined from them, and the problems found on the way.
//
// The decoder is a debugger's decoder: it parses first and judges later. A
// protocol violation is recorded as a Problem and decoding goes on; nothing a
// user may want to see is refused. It imports only the standard library and a
// flate implementation, so every other package can depend on it.
package decode

import "time"

// Side names one end of a connection. The client is the side that sent the
// Upgrade request or, without one, the side whose frames are masked
// (RFC 6455 5.1).
type Side uint8

const (
	Client Side = iota
	Server
)

// Other returns the opposite side.
func (s Side) Other() Side { return 1 - s }

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// Protocol is the framing a connection speaks.
type Protocol uint8

const (
	// ProtocolUnknown: no handshake seen yet.
	ProtocolUnknown Protocol = iota
	// ProtocolRFC6455 is the framing of RFC 6455 (Sec-WebSocket-Version 13).
	ProtocolRFC6455
	// ProtocolHixie76 is draft-ietf-hybi-thewebsocketprotocol-00 (hixie-76):
	// Sec-WebSocket-Key1/Key2 with an 8-byte challenge body.
	ProtocolHixie76
	// ProtocolHixie75 is draft-hixie-thewebsocketprotocol-75: no keys at all.
	ProtocolHixie75
)

func (p Protocol) String() string {
	switch p {
	case ProtocolRFC6455:
		return "rfc6455"
	case ProtocolHixie76:
		return "hixie-76"
	case ProtocolHixie75:
		return "hixie-75"
	}
	return "unknown"
}

// State is where a connection is in its life (RFC 6455 4 and 7).
type State uint8

const (
	// StateHandshake: the Upgrade request or its answer is not complete yet.
	StateHandshake State = iota
	// StateOpen: the server answered 101 (or framing was recognised without a
	// handshake) and frames flow.
	StateOpen
	// StateClosing: one side sent a Close frame.
	StateClosing
	// StateClosed: both sides sent Close frames, or the TCP connection ended.
	StateClosed
	// StateRejected: the server answered the Upgrade with a status other
	// than 101. That is a failed handshake, not a decoding error.
	StateRejected
	// StateNotWebSocket: the connection carried plain HTTP only.
	StateNotWebSocket
)

func (s State) String() string {
	return [...]string{"handshake", "open", "closing", "closed", "rejected", "not-websocket"}[s]
}

// Header is one HTTP header field, kept in wire order with its original
// spelling because a debugger shows what was sent, not a canonical form.
type Header struct {
	Name  string
	Value string
}

// Request is an HTTP request head.
type Request struct {
	Method  string
	Target  string
	Proto   string
	Headers []Header
	Time    time.Time
	// Body is the request body when it is part of the handshake (the 8-byte
	// key3 of hixie-76) or a plain HTTP request body, up to the retain limit.
	Body []byte
	// BodySize is the full body size on the wire.
	BodySize int64
}

// Response is an HTTP response head.
type Response struct {
	Proto   string
	Status  int
	Reason  string
	Headers []Header
	Time    time.Time
	// Body: the hixie-76 16-byte challenge answer, or a plain HTTP body, up
	// to the retain limit.
	Body     []byte
	BodySize int64
}

// Get returns the value of the first header called name, compared
// case-insensitively, and whether it was present.
func Get(headers []Header, name string) (string, bool) {
	for _, h := range headers {
		if equalFoldASCII(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// Exchange is a plain HTTP request and its response seen on the connection
// before (or instead of) an Upgrade.
type Exchange struct {
	Request  *Request
	Response *Response
}

// Opcode is the frame opcode (RFC 6455 5.2).
type Opcode uint8

const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether the opcode is a control opcode (RFC 6455 5.5):
// the most significant opcode bit is set.
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsReserved reports whether the opcode is one RFC 6455 5.2 reserves for
// future use (3-7 and 11-15).
func (o Opcode) IsReserved() bool {
	switch o {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "cont"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "op" + string("0123456789abcdef"[o&0xf])
}

// Frame is one frame as it was on the wire (RFC 6455 5.2).
type Frame struct {
	From Side
	// Time is the capture time of the frame's first header byte.
	Time time.Time
	// Offset is the position of the first header byte in the byte stream of
	// its direction, counted from the first byte that side sent.
	Offset int64
	Fin    bool
	// Rsv is the three RSV bits as a number: RSV1 = 4, RSV2 = 2, RSV3 = 1.
	Rsv     uint8
	Opcode  Opcode
	Masked  bool
	MaskKey [4]byte
	// Length is the payload length field.
	Length uint64
	// HeaderLen is the header size in bytes (2 to 14).
	HeaderLen int
	// Payload is the unmasked payload as far as it is retained (up to
	// Options.MaxMessageSize per message): shorter than Length when the
	// message went over that limit or the frame was cut off. For a frame
	// of a compressed message it is the compressed bytes.
	Payload []byte
	// Message is the index of the message the frame belongs to. In the
	// frame's event it is known for a control frame and a data message's
	// final frame, and -1 for the fragments before it: their message is
	// complete, and its index known, only with its final frame.
	Message int
}

// Message is a complete message: a data message joined from its fragments,
// or a control frame, which is a message of its own (RFC 6455 5.4, 5.5).
type Message struct {
	From Side
	// Time and LastTime are the times of its first and last frame.
	Time     time.Time
	LastTime time.Time
	Opcode   Opcode
	// Frames are indexes into the connection's frames.
	Frames []int
	// Compressed is true when RSV1 was set on the first frame with
	// permessage-deflate negotiated (RFC 7692 6).
	Compressed bool
	// WireSize is the bytes the message took on the wire, headers included.
	WireSize int64
	// Size is the decoded payload size: inflated when compressed. When the
	// payload was truncated it is the size as far as it was decoded.
	Size int64
	// Payload is the unmasked, inflated payload, up to the retain limit.
	Payload []byte
	// Truncated is true when Payload holds less than the message carried:
	// over the retain limit, or inflation stopped.
	Truncated bool
	// Raw is true when the payload is still compressed because it could
	// not be inflated.
	Raw bool
	// TextValid is true for text messages (and close reasons) whose payload
	// is valid UTF-8.
	TextValid bool
	// Close holds the parsed close payload of a Close message.
	Close *Close
}

// Close is the content of a Close frame (RFC 6455 5.5.1, 7.4).
type Close struct {
	From Side
	Time time.Time
	// HasCode is false for a Close frame with an empty payload (code 1005
	// is then reported as received, RFC 6455 7.1.5).
	HasCode bool
	Code    uint16
	Reason  string
}

// Severity says how bad a problem is.
type Severity uint8

const (
	Warning Severity = iota
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Problem is something wrong in the traffic, recorded where it was found.
type Problem struct {
	Severity Severity
	Kind     Kind
	Message  string
	From     Side
	Time     time.Time
	// Frame and MessageIndex locate the problem; -1 when it has no frame or
	// message.
	Frame        int
	MessageIndex int
	// Offset is the byte position in the direction's stream, or -1.
	Offset int64
}

// Connection is the decoded state of one TCP connection: its addresses, the
// handshake, where it is in its life, and counts. The frames, messages,
// problems and exchanges are events the decoder emits one by one and does
// not keep; session.Store keeps them.
type Connection struct {
	ID     string
	Client string
	Server string
	// Source says where the bytes came from: "pcap", "live", "proxy", or the
	// format a session was imported from.
	Source   string
	Protocol Protocol
	State    State
	// Request and Response are the Upgrade handshake, nil until seen.
	Request  *Request
	Response *Response
	// URL is the ws:// or wss:// URL the client asked for.
	URL string
	// TLS is set by sources that saw the connection inside TLS, so the URL
	// scheme is wss.
	TLS         bool
	Subprotocol string
	// Extensions is the Sec-WebSocket-Extensions value the server accepted.
	Extensions string
	// Deflate holds the negotiated permessage-deflate parameters, or nil.
	Deflate *DeflateParams
	// Close is the first Close frame sent; CloseReply the answer to it.
	Close      *Close
	CloseReply *Close
	// Opened and LastSeen are the first and last capture times seen.
	Opened   time.Time
	LastSeen time.Time
	// FrameCount, MessageCount, ProblemCount and ExchangeCount are how many
	// of each the decoder has emitted so far: the index the next one gets.
	// The decoder keeps none of them (session.Store does).
	FrameCount    int
	MessageCount  int
	ProblemCount  int
	ExchangeCount int
	// SuppressedProblems counts problems not kept because their kind
	// reached Options.MaxProblemsPerKind.
	SuppressedProblems int
	// Bytes counts the bytes seen in each direction, handshake included.
	Bytes [2]int64
}
