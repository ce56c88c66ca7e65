package decode

import (
	"fmt"
	"time"
)

// Kind names a class of problem. The names are stable: they appear in the
// JSON export and users filter on them.
type Kind string

// Frame-level violations (RFC 6455 5).
const (
	KindUnmaskedClientFrame    Kind = "unmasked-client-frame"    // 5.1: a client must mask
	KindMaskedServerFrame      Kind = "masked-server-frame"      // 5.1: a server must not mask
	KindRSVWithoutExtension    Kind = "rsv-without-extension"    // 5.2: RSV bits need a negotiated extension
	KindRSV1OnContinuation     Kind = "rsv1-on-continuation"     // RFC 7692 6.1: RSV1 only on the first frame
	KindReservedOpcode         Kind = "reserved-opcode"          // 5.2: opcodes 3-7 and 11-15
	KindControlFrameTooLong    Kind = "control-frame-too-long"   // 5.5: control payload at most 125 bytes
	KindControlFragmented      Kind = "control-frame-fragmented" // 5.5: control frames must not be fragmented
	KindUnexpectedContinuation Kind = "unexpected-continuation"  // 5.4: continuation with no message open
	KindInterleavedDataFrame   Kind = "interleaved-data-frame"   // 5.4: new data frame inside a fragmented message
	KindLengthTopBit           Kind = "length-top-bit"           // 5.2: 64-bit length with the most significant bit set
	KindNonMinimalLength       Kind = "non-minimal-length"       // 5.2: "the minimal number of bytes MUST be used"
	KindInvalidUTF8            Kind = "invalid-utf8"             // 8.1: text must be UTF-8
	KindInvalidCloseCode       Kind = "invalid-close-code"       // 7.4
	KindShortClosePayload      Kind = "short-close-payload"      // 5.5.1: a body must start with a 2-byte code
	KindFrameAfterClose        Kind = "frame-after-close"        // 5.5.1: nothing after a Close
	KindTruncatedFrame         Kind = "truncated-frame"          // the stream ended inside a frame
	KindMessageTruncated       Kind = "message-truncated"        // over the retain limit
	KindInflateFailed          Kind = "inflate-failed"           // RFC 7692 7.2.2
	KindInflateLimit           Kind = "inflate-limit"            // expansion limit (decompression bomb)
	KindDecompressionBomb      Kind = "decompression-bomb"       // the connection's inflation budget is spent
	KindContextLost            Kind = "deflate-context-lost"     // compressed with a context we do not have
	KindMissingBytes           Kind = "missing-bytes"            // a gap in the capture
	KindResync                 Kind = "resynchronised"           // frames found again after a gap
	KindIncompleteMessage      Kind = "incomplete-message"       // the stream ended inside a fragmented message
	KindHixieFraming           Kind = "hixie-framing"            // bad hixie-75/76 frame type byte
)

// What the source of the bytes saw that is not in them: a proxy knows
// who reset a connection and why an upstream could not be reached, which a
// capture of the bytes alone cannot tell. Recorded through Decoder.Note.
const (
	KindUpstreamFailed  Kind = "upstream-failed"  // the proxy could not reach or talk to the server
	KindConnectionReset Kind = "connection-reset" // a side reset the connection (TCP RST) or vanished
	KindInternalError   Kind = "internal-error"   // wstap failed decoding the connection (a bug): decoded no further
)

// Handshake violations (RFC 6455 4).
const (
	KindHandshakeMissing      Kind = "handshake-missing"       // capture started after the Upgrade
	KindHandshakeMalformed    Kind = "handshake-malformed"     // not parseable HTTP
	KindHandshakeTooLarge     Kind = "handshake-too-large"     // header block over the limit
	KindBadMethod             Kind = "bad-method"              // 4.1: GET
	KindMissingUpgrade        Kind = "missing-upgrade"         // 4.1/4.2.2: Upgrade: websocket
	KindMissingConnection     Kind = "missing-connection"      // 4.1/4.2.2: Connection: Upgrade
	KindMissingHost           Kind = "missing-host"            // 4.1
	KindBadKey                Kind = "bad-key"                 // 4.1: base64 of 16 bytes
	KindBadVersion            Kind = "bad-version"             // 4.1: 13
	KindBadAccept             Kind = "bad-accept"              // 4.2.2: SHA-1 of key and GUID
	KindMissingAccept         Kind = "missing-accept"          // 4.2.2
	KindSubprotocolNotOffered Kind = "subprotocol-not-offered" // 4.2.2: must be one the client offered
	KindExtensionNotOffered   Kind = "extension-not-offered"   // 9.1: only extensions the client offered
	KindBadExtensionParams    Kind = "bad-extension-params"    // RFC 7692 7.1
	KindDataBeforeResponse    Kind = "data-before-response"    // client data while the answer was pending
	KindNoResponse            Kind = "no-response"             // the stream ended before the server answered
	KindBadChallenge          Kind = "bad-challenge"           // hixie-76 MD5 answer wrong
)

// where locates a problem: when it was found, and the frame, message and
// stream offset it concerns, each -1 when it concerns none.
type where struct {
	time    time.Time
	frame   int
	message int
	offset  int64
}

// at returns a location with only a time.
func at(t time.Time) where { return where{time: t, frame: -1, message: -1, offset: -1} }

// report records a problem found at w.
func (d *Decoder) report(sev Severity, kind Kind, from Side, w where, format string, args ...any) {
	d.problem(Problem{
		Severity: sev, Kind: kind, From: from, Message: fmt.Sprintf(format, args...),
		Time: w.time, Frame: w.frame, MessageIndex: w.message, Offset: w.offset,
	})
}
