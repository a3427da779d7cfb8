package postgres

import (
	"fmt"
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

// The trigram index is asked for a term without its first (or last)
// character only when the sample says that character adds little: most
// texts holding its neighbours hold it too; never for short terms, terms
// with other characters, or where both ends filter.
func TestProbePartDropsAnEndThatFiltersLittle(t *testing.T) {
	var texts []string
	for i := range 1000 {
		texts = append(texts, fmt.Sprintf("n%d khan%d@mail.example é%dabc", i, i*7919%100000, i))
	}
	st := newSampleTexts(texts)
	for term, want := range map[string]string{
		"han726":  "an726", // every text holding "an" holds "han"
		"khan72":  "han72", // likewise "kh" and "kha"
		"726han":  "726ha", // and "ha" and "han"
		"ail.ex":  "il.ex", // separators are characters of trigrams too
		"han72":   "",      // short: the part would keep two trigrams
		"zhan72":  "",      // no text holds "zha"; few holding "n7" hold "n72"
		"x72615":  "",      // nor "x72"; few holding "61" hold "615"
		"a%b726":  "",      // a character the index does not hold
		"7é4abcx": "",      // no text holds "7é4" nor "bcx"
		"":        "",
	} {
		if got := st.probePart(term); got != want {
			t.Errorf("probePart(%q) = %q, want %q", term, got, want)
		}
	}
	if got := (*sampleTexts)(nil).probePart("han726"); got != "" {
		t.Errorf("without a sample: %q", got)
	}
}

func BenchmarkProbePart(b *testing.B) {
	var texts []string
	names := []string{"khan", "haddad", "murphy", "suzuki", "mansour", "walsh", "das", "okafor"}
	for i := range 1000 {
		n := names[i%len(names)]
		texts = append(texts, fmt.Sprintf("sarah %s sarah.%s%d@example.com +1555%07d", n, n, i*7919%100000000, i*104729%10000000))
	}
	st := newSampleTexts(texts)
	for _, term := range []string{"han726", "ddy478", "uki234"} {
		b.Run(term, func(b *testing.B) {
			for range b.N {
				st.probePart(term)
			}
		})
	}
}
