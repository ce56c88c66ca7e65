package export

import (
	"context"
	"io"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// What the tests of package export_test need from inside.

// RefLoad is the loader as it was before it streamed (load_ref_test.go).
func RefLoad(name string, r io.Reader) ([]*session.Conversation, error) { return refLoad(name, r) }

// LoadEventsLimit is LoadEvents with another bound than maxValueSize.
func LoadEventsLimit(ctx context.Context, name string, r io.Reader, emit func(decode.Event), limit int64) error {
	return loadEvents(ctx, name, r, func(e decode.Event) error {
		emit(e)
		return nil
	}, loadHooks{limit: limit})
}

// The bounds, for the tests that check them.
const (
	MaxValueSize = maxValueSize
	ReadChunk    = readChunk
)
