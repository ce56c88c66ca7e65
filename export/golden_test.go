package export_test

import (
	"testing"

	"github.com/wstap/wstap/export"
)

// TestGolden writes the recorded session in every format and compares
// with the golden files; every HAR is also validated against the HAR 1.2
// schema.
func TestGolden(t *testing.T) {
	conns := sessionSources(t)
	sch := harSchema(t)
	for _, tc := range []struct {
		suffix string
		opts   export.Options
	}{
		{"", export.Options{}},
		{".redacted", export.Options{Redact: sharingRedaction}},
	} {
		checkGolden(t, "session"+tc.suffix+".json", writeJSON(t, tc.opts, conns...))
		har := writeHAR(t, tc.opts, conns...)
		validateHAR(t, sch, "session"+tc.suffix+".har", har)
		checkGolden(t, "session"+tc.suffix+".har", har)
		nd, dump := streamed(t, tc.opts)
		checkGolden(t, "session"+tc.suffix+".ndjson", nd)
		if tc.suffix == "" {
			checkGolden(t, "session.dump", dump)
		}
	}
}
