package dedupe

import (
	"math"
	"testing"
)

// FuzzyWeights score every pattern as the model does, bit for bit: the
// default model and one with a family name's u at one address.
func TestFuzzyWeightsAsModel(t *testing.T) {
	est := DefaultFuzzyModel()
	est.Lambda = 0.00013
	est.ULastAtAddress = []float64{0.4, 0.05, 0.05, 0.5}
	est.M[CmpFirst] = []float64{0.7, 0.2, 0.07, 0.03}
	for _, m := range []*FuzzyModel{DefaultFuzzyModel(), est} {
		fw := m.Weights()
		var p Pattern
		n := 0
		var walk func(c int)
		walk = func(c int) {
			if c == NumComparisons {
				n++
				cmp := Comparison{Pattern: p}
				if got, want := fw.Score(cmp), m.Score(cmp); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("pattern %v: %v, model %v", p, got, want)
				}
				return
			}
			for l := 0; l <= comparisonLevels[c]; l++ {
				p[c] = uint8(l)
				walk(c + 1)
			}
		}
		walk(0)
		if n != 5*5*4*6*4*4*4 {
			t.Fatalf("%d patterns", n)
		}
	}
}
