package postgres

import (
	"strings"
	"testing"
)

// A sample counts each text holding the term once, however often it holds
// it, and never a match across two texts.
func TestSampleOfCountsTexts(t *testing.T) {
	texts := []string{"smith smithers", "anna smith", "jo nes", "smi", "th"}
	joined := strings.Join(texts, "\x00") + "\x00"
	for term, want := range map[string]int{"smith": 2, "smi": 3, "nes": 1, "smith\x00": 0, "smi\x00th": 0, "mith": 2, "zz": 0, "jo nes": 1} {
		if got := sampleOf(joined, len(texts), term); got.matches != want || got.size != len(texts) {
			t.Errorf("%q: %+v, want %d matches of %d", term, got, want, len(texts))
		}
	}
}
