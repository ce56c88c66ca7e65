package filter

import (
	"errors"
	"testing"
)

// FuzzParse checks that any input parses or fails with an *Error placed
// inside it, never panics, and that what a filter writes parses back to
// a filter that writes the same and selects the same.
//
//	go test ./ui/filter -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.expr)
	}
	for _, tt := range errorTests {
		f.Add(tt.expr)
	}
	for _, tt := range stringTests {
		f.Add(tt.expr)
	}
	for _, r := range grammar {
		for _, e := range r.examples {
			f.Add(e)
		}
	}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Parse(expr)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q): %T %v, not an *Error", expr, err, err)
			}
			if e.Pos < 0 || e.Pos > e.End || e.End > len(expr) || e.Msg == "" {
				t.Fatalf("Parse(%q): error at %d-%d of %d: %q", expr, e.Pos, e.End, len(expr), e.Msg)
			}
			return
		}
		checkRoundTrip(t, expr)
		for _, x := range fixture() {
			if decided, ok := flt.MatchConnection(x.c); flt.Match(x.c, x.m) != ok && decided {
				t.Fatalf("%q: MatchConnection decides %v for connection %s, Match says otherwise for %s", expr, ok, x.c.ID, x.name)
			}
		}
		flt.Match(nil, nil)
	})
}
