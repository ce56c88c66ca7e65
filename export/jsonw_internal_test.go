package export

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzQuoted checks the hand-written string encoder against encoding/json,
// the reference: what it writes must parse, and give back the string
// (with each byte that is not UTF-8 as U+FFFD, as encoding/json does).
func FuzzQuoted(f *testing.F) {
	for _, s := range []string{"", "hello", "tab\tnl\n\"q\" \\", "\x00\x1f\x7f", "é✓", "\u2028\u2029", "\xff\xfe", "a\xc3", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := appendQuoted(nil, s)
		var back string
		if err := json.Unmarshal(q, &back); err != nil {
			t.Fatalf("%q encodes as %s, which does not parse: %v", s, q, err)
		}
		want := s
		if !utf8.ValidString(s) {
			var b strings.Builder
			for i := 0; i < len(s); {
				r, n := utf8.DecodeRuneInString(s[i:])
				b.WriteRune(r) // RuneError for each bad byte
				i += n
			}
			want = b.String()
		}
		if back != want {
			t.Fatalf("%q encodes as %s and reads back as %q", s, q, back)
		}
		if bytes.ContainsAny(q, "\n\r") {
			t.Fatalf("%q encodes with a raw line break: %s", s, q)
		}
	})
}

func TestEpochSeconds(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1555608234, 452854000), "1555608234.452854"},
		{time.Unix(1555608234, 452854999), "1555608234.452854"}, // truncated to microseconds
		{time.Unix(0, 0), "0.000000"},
		{time.Unix(7, 1000), "7.000001"},
		{time.Unix(-2, 500000000), "-1.500000"},
	} {
		var b bytes.Buffer
		e := newJW(&b)
		e.epochSeconds(tc.t)
		e.flush()
		if b.String() != tc.want {
			t.Errorf("%v: %s, want %s", tc.t, b.String(), tc.want)
		}
	}
}

func TestMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 1500 * time.Microsecond: "1.5", 43 * time.Microsecond: "0.043", 33045936 * time.Microsecond: "33045.936", 999: "0",
	} {
		var b bytes.Buffer
		e := newJW(&b)
		e.millis(d)
		e.flush()
		if b.String() != want {
			t.Errorf("%v: %s, want %s", d, b.String(), want)
		}
	}
}
