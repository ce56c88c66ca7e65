package filter

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wstap/wstap/decode"
)

// naiveContainsFold is the reference for the folding search: lower both
// (ASCII letters only) and look.
func naiveContainsFold(h, needle []byte) bool {
	lower := func(b []byte) []byte {
		out := make([]byte, len(b))
		for i, c := range b {
			out[i] = lowerASCII(c)
		}
		return out
	}
	return bytes.Contains(lower(h), lower(needle))
}

// TestIndexFold checks the fast search against the naive one, on random
// haystacks and needles over a small alphabet, so that hits, near misses,
// both cases of the scanned byte and windows at either edge are common.
func TestIndexFold(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aAbBzZ:\" \x00\xff"
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for range 200000 {
		h := random(rng.IntN(40))
		needle := random(1 + rng.IntN(4))
		tx, err := newText(contains, false, string(needle))
		if err != nil {
			t.Fatal(err)
		}
		want := naiveContainsFold(h, needle)
		if got := tx.matchBytes(h); got != want {
			t.Fatalf("%q in %q: %v, want %v", needle, h, got, want)
		}
		if got := tx.matchString(string(h)); got != want {
			t.Fatalf("%q in string %q: %v, want %v", needle, h, got, want)
		}
		if want {
			i := indexFold(h, tx.lower, tx.rare, bytes.IndexByte)
			if !naiveContainsFold(h[i:i+len(needle)], needle) || naiveContainsFold(h[:i+len(needle)-1], needle) {
				t.Fatalf("%q in %q: index %d is not the first", needle, h, i)
			}
		}
	}
}

func TestRarest(t *testing.T) {
	for needle, want := range map[string]byte{
		"hello":   'l',
		`"user":`: 'u',
		"e":       'e',
		"eeeq":    'q',
		"a#b":     '#',
	} {
		if got := needle[rarest([]byte(needle))]; lowerASCII(got) != want {
			t.Errorf("rarest(%q) = %q, want %q", needle, got, want)
		}
	}
}

func TestUnicodeFold(t *testing.T) {
	for _, tt := range []struct {
		needle, h string
		want      bool
	}{
		{"zoë", "ZOË", true},
		{"ÉTÉ", "un été", true},
		{"σ", "Σ", true},
		{"日本", "日本語", true}, // no case: the byte search
		{"ß", "SS", false},  // simple folding only, as regexp does
		{"é", "e", false},
	} {
		tx, err := newText(contains, false, tt.needle)
		if err != nil {
			t.Fatal(err)
		}
		if got := tx.matchBytes([]byte(tt.h)); got != tt.want {
			t.Errorf("%q in %q: %v, want %v", tt.needle, tt.h, got, tt.want)
		}
	}
}

// TestMatchAllocs checks that Match allocates nothing, for every kind of
// term, on small payloads and on a 1 MB one.
func TestMatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	big := &decode.Message{From: decode.Client, Opcode: decode.OpText,
		Payload: []byte(strings.Repeat(`{"id":12345,"op":"update","data":[1,2,3]}`, 1<<20/40)), Frames: []int{0}}
	big.Size = int64(len(big.Payload))
	msgs := fixture()
	for _, expr := range []string{
		"client text hello", "hello", "HELLO", "missing", "/hel+o/", "case:/^Hello/", "zoë", "case:World",
		"payload=p", "url~^wss host:example", "host:10.0", "id:3", "problem",
		"size>1k or frames>1 or wire<10", "compressed fragmented truncated invalid raw", "op:reserved control data",
		"not (ping or pong) and -close",
	} {
		f, err := Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			for _, x := range msgs {
				f.Match(x.c, x.m)
			}
			f.Match(chatConn, big)
			f.MatchConnection(apiConn)
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations a run", expr, allocs)
		}
	}
}

// TestRegexPrefilter checks regexes with and without the literal
// prefilter, also on the letters whose folding leaves ASCII.
func TestRegexPrefilter(t *testing.T) {
	for _, tt := range []struct {
		re, h string
		pre   string
		want  bool
	}{
		{"needle", "a NEEDLE", "needle", true},
		{"needle", "a needl", "needle", false},
		{"ne+dle", "NEEEDLE", "dle", true},
		{"(ab){2}c", "xABABC", "ab", true},
		{"(ab)+", "xAB", "ab", true},
		{"a|b", "b", "", true},
		{"ab?c", "AC", "a", true},
		{"k", "\u212a", "", true}, // the Kelvin sign folds to k
		{"sun", "\u017fun", "un", true},
		{"zoë", "ZOË", "zo", true},
		{"(?-i)Abc", "abc", "Abc", false},
		{"(?-i)Abc", "xAbc", "Abc", true},
		{"^abc$", "ABC", "abc", true},
	} {
		tx, err := newText(matches, false, tt.re)
		if err != nil {
			t.Fatal(err)
		}
		if string(tx.pre) != tt.pre {
			t.Errorf("%q: prefilter %q, want %q", tt.re, tx.pre, tt.pre)
		}
		if got := tx.matchBytes([]byte(tt.h)); got != tt.want {
			t.Errorf("/%s/ on %q: %v, want %v", tt.re, tt.h, got, tt.want)
		}
	}
}

// FuzzSearch checks the searches against their references: the folding
// search against lowering both, a regex with its prefilter against the
// regex alone.
func FuzzSearch(f *testing.F) {
	f.Add("needle", []byte("a NEEDLE"), false)
	f.Add("k", []byte("\u212a"), true)
	f.Add("(?i)s+un", []byte("\u017f\u017fun"), true)
	f.Add("zoë", []byte("ZOË"), false)
	f.Add("a.b|c", []byte("xAyB"), true)
	f.Fuzz(func(t *testing.T, needle string, h []byte, regex bool) {
		if !regex {
			tx, err := newText(contains, false, needle)
			if err != nil {
				t.Fatal(err)
			}
			if tx.re != nil {
				return // letters outside ASCII: regexp's folding
			}
			if got, want := tx.matchBytes(h), naiveContainsFold(h, []byte(needle)); got != want {
				t.Fatalf("%q in %q: %v, want %v", needle, h, got, want)
			}
			return
		}
		tx, err := newText(matches, false, needle)
		if err != nil {
			return
		}
		if got, want := tx.matchBytes(h), tx.re.Match(h); got != want {
			t.Fatalf("/%s/ (prefilter %q) on %q: %v, want %v", needle, tx.pre, h, got, want)
		}
	})
}
