// Package export writes decoded WebSocket sessions in the formats bug
// reports travel in, and reads them back: the full-fidelity wstap JSON, HAR
// 1.2 in the shape Chrome DevTools writes, a newline-delimited JSON event
// stream, and a one-line-per-message dump.
//
// Every writer is streaming: it writes its opening when created, one
// connection (or event) at a time as the caller hands it over, and its
// closing on Close, so that memory does not grow with the capture. None of
// them closes the io.Writer it was given; callers own their files.
package export

import (
	"time"

	"github.com/wstap/wstap/decode"
)

// Options are shared by every writer. The zero value writes everything as
// it was captured.
type Options struct {
	// Redact says which header values and query parameters are replaced by
	// Redacted before they leave the program.
	Redact Redaction
	// Version is written as the HAR creator's version; "dev" when empty.
	Version string
}

// timeLayout is RFC 3339 with microseconds, the precision of pcap and of
// Chrome's WebSocket message times. It is always written in UTC.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// formatTime writes t in UTC with microseconds.
func formatTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

// sideName is the "from" value of the JSON contract.
func sideName(s decode.Side) string {
	if s == decode.Client {
		return "client"
	}
	return "server"
}
