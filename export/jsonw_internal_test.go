package export

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// TestTime checks the hand-written time formatting, with its per-second
// cache, against time.Time.AppendFormat with the layout it stands for:
// times in order and out of order, sharing a second or not, in other
// zones, before 1970 and at the edges of four-digit years.
func TestTime(t *testing.T) {
	base := time.Date(2026, 11, 21, 5, 26, 41, 123456789, time.UTC)
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{
		base,
		base.Add(time.Microsecond), // same second
		base.Add(-123456789),       // same second, its first nanosecond
		base.Add(876543210),        // the next second's first nanosecond
		base.Add(876543209),        // back to the last nanosecond of the first
		base.In(east),              // same instant, another zone
		base.In(east).Add(-6 * time.Hour),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 1000, time.UTC),
		time.Unix(0, 0),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 5000, time.UTC),
		time.Date(999, 3, 4, 5, 6, 7, 8000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 2, 28, 23, 59, 59, 0, east),
	}
	var b bytes.Buffer
	e := newJW(&b)
	for i := 0; i < 2; i++ { // twice: the second round starts from a filled cache
		for _, tm := range times {
			b.Reset()
			e.time(tm)
			e.flush()
			want := `"` + tm.UTC().Format(timeLayout) + `"`
			if b.String() != want {
				t.Errorf("%v: %s, want %s", tm, b.String(), want)
			}
			if got := formatTime(tm); `"`+got+`"` != want {
				t.Errorf("formatTime(%v) = %s, want %s", tm, got, want)
			}
		}
	}
}

// TestQuotedPlainRuns checks appendQuoted against a byte-at-a-time
// reference with every byte that needs escaping (and a few that do not)
// at every position of a run of plain ASCII, so that each lane of the
// eight-byte fast path sees each of them.
func TestQuotedPlainRuns(t *testing.T) {
	reference := func(s string) string {
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s { // bytes that are not UTF-8 come as RuneError
			switch {
			case r == '"' || r == '\\':
				b.WriteString(`\` + string(r))
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\r':
				b.WriteString(`\r`)
			case r == '\t':
				b.WriteString(`\t`)
			case r < 0x20, r == '\u2028', r == '\u2029', r == utf8.RuneError:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	specials := []string{"\"", "\\", "\x00", "\x1f", "\n", " ", "~", "\x7f", "\x80", "\xff", "é", "\u2028", "✓", "\xe2\x80"}
	plain := "abcdefghijklmnopqrstuvwxyz0123456789"
	for _, sp := range specials {
		for i := 0; i <= len(plain); i++ {
			s := plain[:i] + sp + plain[i:]
			if got, want := string(appendQuoted(nil, s)), reference(s); got != want {
				t.Fatalf("%q: %s, want %s", s, got, want)
			}
		}
	}
}

// BenchmarkAppendQuoted: JSON text as traffic carries it (a quote every
// few bytes), plain prose, and a word as the exports' fixed values are.
func BenchmarkAppendQuoted(b *testing.B) {
	for name, s := range map[string]string{
		"json":  strings.Repeat(`{"type":"ticker","symbol":"BTC-USD","price":"43210.55","qty":7,"ts":1700000000123,"side":"buy"}`, 4),
		"prose": strings.Repeat("the quick brown fox jumps over the lazy dog, again and again; ", 6),
		"word":  "server",
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			buf := make([]byte, 0, 2*len(s))
			for b.Loop() {
				buf = appendQuoted(buf[:0], s)
			}
		})
	}
}
