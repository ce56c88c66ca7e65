package capture

import (
	"bytes"
	"testing"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// countingSink is a rendering sink that counts what reaches it each way.
type countingSink struct {
	session.RenderingSink
	events, rendered int
}

func (c *countingSink) Event(e decode.Event) error {
	c.events++
	return c.RenderingSink.Event(e)
}

func (c *countingSink) WriteRendered(b []byte) error {
	c.rendered++
	return c.RenderingSink.WriteRendered(b)
}

// replayOnly hides that a sink can render on the lanes: its events are
// rebuilt from the store.
type replayOnly struct{ s session.EventSink }

func (r replayOnly) Event(e decode.Event) error { return r.s.Event(e) }
func (r replayOnly) Flush() error               { return r.s.Flush() }

// TestLaneRenderingMatchesReplay: the NDJSON stream and the dump of a
// capture decoded on workers, rendered on the lanes from the decoder's
// events, are byte for byte what the same sinks write from events rebuilt
// from the store, for a capture of interleaved connections (many chunks
// of rendered lines, given back and rendered into again) and for every
// sample; and the lanes did render them: every line of the capture's
// connections came that way.
func TestLaneRenderingMatchesReplay(t *testing.T) {
	files := map[string][]byte{"interleaved.pcapng": interleavedCapture(t, 12, 400)}
	for _, name := range sampleNames(t) {
		files[name] = readSample(t, name)
	}
	for name, file := range files {
		tt := newTestTap(t)
		var hotND, replayND, hotDump, replayDump bytes.Buffer
		nd := &countingSink{RenderingSink: export.NewNDJSONWriter(&hotND, export.Options{})}
		dump := &countingSink{RenderingSink: export.NewDumper(&hotDump, export.Options{})}
		followers := []*session.Following{
			tt.store.FollowEvents(nd),
			tt.store.FollowEvents(dump),
			tt.store.FollowEvents(replayOnly{export.NewNDJSONWriter(&replayND, export.Options{})}),
			tt.store.FollowEvents(replayOnly{export.NewDumper(&replayDump, export.Options{})}),
		}
		r := decodeCapture(t, name, file, Options{Workers: 3, Tap: tt.tap})
		if r.err != nil {
			t.Fatalf("%s: %v", name, r.err)
		}
		for _, f := range followers {
			if err := f.Finish(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if replayND.Len() == 0 || replayDump.Len() == 0 {
			t.Fatalf("%s: the replayed NDJSON has %d bytes, the dump %d", name, replayND.Len(), replayDump.Len())
		}
		if !bytes.Equal(hotND.Bytes(), replayND.Bytes()) {
			t.Errorf("%s: the NDJSON rendered on the lanes differs from the replay's at byte %d of %d/%d", name, firstDiff(hotND.Bytes(), replayND.Bytes()), hotND.Len(), replayND.Len())
		}
		if !bytes.Equal(hotDump.Bytes(), replayDump.Bytes()) {
			t.Errorf("%s: the dump rendered on the lanes differs from the replay's at byte %d of %d/%d", name, firstDiff(hotDump.Bytes(), replayDump.Bytes()), hotDump.Len(), replayDump.Len())
		}
		for _, c := range []struct {
			what string
			s    *countingSink
		}{{"NDJSON", nd}, {"dump", dump}} {
			if c.s.events != 0 || c.s.rendered == 0 {
				t.Errorf("%s: the %s got %d events to render and %d renderings, want none and some", name, c.what, c.s.events, c.s.rendered)
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	i := 0
	for i < min(len(a), len(b)) && a[i] == b[i] {
		i++
	}
	return i
}
