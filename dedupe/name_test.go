package dedupe_test

import (
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                          "",
		"   ":                       "",
		"Ada":                       "Ada",
		"  Ada   Lovelace ":         "Ada Lovelace",
		"Ada\tKing\nLovelace":       "Ada King Lovelace",
		"Ada\u00a0Lovelace":         "Ada Lovelace", // no-break space
		"محمد\u3000العتيبي":         "محمد العتيبي", // ideographic space
		"Jean-Luc  Picard\u2003Jr.": "Jean-Luc Picard Jr.",
	}
	for in, want := range tests {
		if got := dedupe.NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		full, first, last string
	}{
		{"", "", ""},
		{"  ", "", ""},
		{"Cher", "Cher", ""},
		{"Ada Lovelace", "Ada", "Lovelace"},
		{"  Mary   Ann  Smith ", "Mary Ann", "Smith"},
		{"Ludwig van Beethoven", "Ludwig van", "Beethoven"},
		{"محمد بن سلمان", "محمد بن", "سلمان"},
		{"Ada\u00a0Lovelace", "Ada", "Lovelace"},
	}
	for _, tc := range tests {
		first, last := dedupe.SplitName(tc.full)
		if first != tc.first || last != tc.last {
			t.Errorf("SplitName(%q) = %q, %q; want %q, %q", tc.full, first, last, tc.first, tc.last)
		}
	}
}
