package postgres

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// A sample counts each text holding the term once, however often it holds
// it, and never a match across two texts.
func TestSampleOfCountsTexts(t *testing.T) {
	texts := []string{"smith smithers", "anna smith", "jo nes", "smi", "th"}
	for term, want := range map[string]int{"smith": 2, "smi": 3, "nes": 1, "smith\x00": 0, "smi\x00th": 0, "mith": 2, "zz": 0, "jo nes": 1} {
		if got := sampleOf(newSampleTexts(texts), term); got.matches != want || got.size != len(texts) {
			t.Errorf("%q: %+v, want %d matches of %d", term, got, want, len(texts))
		}
	}
}

// The byte-pair masks only skip texts that cannot hold the term: counts
// agree with reading every text, for random texts and terms over a small
// alphabet (many near misses), multi-byte letters included.
func TestSampleOfAgreesWithContains(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "s", "m", " ", "@", ".", "1", "2", "é", "ü", "ǂ"}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for round := 0; round < 200; round++ {
		texts := make([]string, 1+rng.IntN(300))
		for i := range texts {
			texts[i] = word(rng.IntN(40))
		}
		st := newSampleTexts(texts)
		for k := 0; k < 50; k++ {
			term := word(1 + rng.IntN(6))
			want := 0
			for _, s := range texts {
				if strings.Contains(s, term) {
					want++
				}
			}
			if got := sampleOf(st, term); got.matches != want || got.size != len(texts) {
				t.Fatalf("%q in %d texts: %+v, want %d matches", term, len(texts), got, want)
			}
		}
	}
}
