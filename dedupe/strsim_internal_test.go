package dedupe

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"github.com/hbollon/go-edlib"
)

// The allocation-free similarities give go-edlib's results bit for bit:
// random strings of a small alphabet (so that they share letters, prefixes
// and transpositions), ASCII and not, short and over strsimMax.
func TestStrsimAsEdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 50))
	alphabets := []string{"ab", "abc", "abcdefgh", "aeiourstln0123456789", "abcé", "jonsmithé.-_"}
	word := func() string {
		al := []rune(alphabets[rng.IntN(len(alphabets))])
		n := rng.IntN(12)
		if rng.IntN(50) == 0 {
			n = strsimMax - 2 + rng.IntN(5)
		}
		var b strings.Builder
		for range n {
			b.WriteRune(al[rng.IntN(len(al))])
		}
		return b.String()
	}
	for i := range 300000 {
		a, b := word(), word()
		if i%3 == 0 && len(a) > 1 { // a typo of a
			k := rng.IntN(len(a) - 1)
			b = a[:k] + a[k+1:k+2] + a[k:k+1] + a[k+2:]
		}
		if got, want := jaroWinkler(a, b), edlib.JaroWinklerSimilarity(a, b); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("jaroWinkler(%q, %q) = %v, go-edlib %v", a, b, got, want)
		}
		if got, want := osaDistance(a, b), edlib.OSADamerauLevenshteinDistance(a, b); got != want {
			t.Fatalf("osaDistance(%q, %q) = %d, go-edlib %d", a, b, got, want)
		}
		for k := range 3 {
			if got, want := osaWithin(a, b, k), edlib.OSADamerauLevenshteinDistance(a, b); (got <= k) != (want <= k) || want <= k && got != want {
				t.Fatalf("osaWithin(%q, %q, %d) = %d, go-edlib %d", a, b, k, got, want)
			}
		}
	}
}

// foldWord's ASCII path folds as the general one does.
func TestFoldASCIIAsGeneral(t *testing.T) {
	general := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	for _, s := range []string{"", "john", "John", "O'Brien", "Mary Ann", "van der Berg", "ABC-12 x", "a\tb\x7f~", "smith2"} {
		if got, want := foldWord(s), general(s); got != want {
			t.Errorf("foldWord(%q) = %q, want %q", s, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		b := make([]byte, rng.IntN(10))
		for i := range b {
			b[i] = byte(rng.IntN(128))
		}
		if got, want := foldWord(string(b)), general(string(b)); got != want {
			t.Fatalf("foldWord(%q) = %q, want %q", b, got, want)
		}
	}
}
