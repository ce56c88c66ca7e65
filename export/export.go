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
	return string(appendTime(nil, t))
}

// appendTime appends t in UTC as timeLayout formats it. Exports hold a few
// times per frame, and taking the fields apart directly costs a fraction
// of interpreting the layout; years outside 0-9999, which the layout
// writes differently, go through time.Time.AppendFormat.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6) // truncated, as the layout does
	return append(b, 'Z')
}

// appendDigits appends the n lowest decimal digits of the non-negative v,
// with leading zeros.
func appendDigits(b []byte, v, n int) []byte {
	b = append(b, "000000000"[:n]...)
	for i := len(b) - 1; n > 0; i, n = i-1, n-1 {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// sideName is the "from" value of the JSON contract.
func sideName(s decode.Side) string {
	if s == decode.Client {
		return "client"
	}
	return "server"
}
