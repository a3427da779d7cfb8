package dedupe_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

var benchA = dedupe.FuzzyRecord{First: "Jonathan", Last: "Smyth", Birthdate: "1984-03-02", Street: "12 Hill Street",
	City: "Springfield", Postcode: "62704", Email: "jon.smyth@example.com", Phone: "+14155550123"}
var benchB = dedupe.FuzzyRecord{First: "Jon", Last: "Smith", Birthdate: "1984-02-03", Street: "12 hill st",
	City: "Springfeld", Postcode: "62705", Email: "jon.smith@example.com", Phone: "+14155550123"}

func BenchmarkFuzzyCompare(b *testing.B) {
	pa, pb := dedupe.Prepare(&benchA), dedupe.Prepare(&benchB)
	m := dedupe.DefaultFuzzyModel()
	for b.Loop() {
		c := dedupe.Compare(pa, pb)
		_ = m.Score(c)
	}
}

func BenchmarkFuzzyPrepare(b *testing.B) {
	for b.Loop() {
		_ = dedupe.Prepare(&benchA)
	}
}

func TestFuzzyCompareLevels(t *testing.T) {
	t.Parallel()
	m := dedupe.DefaultFuzzyModel()
	cases := []struct {
		name    string
		a, b    dedupe.FuzzyRecord
		reasons []string // all must be among the pair's reasons
		above   bool     // score ≥ DefaultMinScore
	}{
		{"nickname, typo'd family name, same birthdate and street",
			dedupe.FuzzyRecord{First: "Jonathan", Last: "Smyth", Birthdate: "1984-03-02", Street: "12 Hill Street"},
			dedupe.FuzzyRecord{First: "Jon", Last: "Smith", Birthdate: "1984-03-02", Street: "12 hill st."},
			[]string{"same birthdate", "same street", "same house number"}, true},
		{"swapped names, day and month swapped",
			dedupe.FuzzyRecord{First: "Maria", Last: "Lopez", Birthdate: "1990-07-04", Postcode: "28001"},
			dedupe.FuzzyRecord{First: "Lopez", Last: "Maria", Birthdate: "1990-04-07", Postcode: "28001"},
			[]string{"first and last names swapped", "birthdate with day and month swapped", "same postcode"}, true},
		{"email one letter off, same phone digits",
			dedupe.FuzzyRecord{Name: "Ana Silva", Email: "ana.silva@example.com", Phone: "+351912345678"},
			dedupe.FuzzyRecord{Name: "Ana Silva", Email: "ana.silvaa@example.org", Phone: "912 345 678"},
			[]string{"email differs by one letter", "same phone digits", "same first name"}, true},
		{"same street, different people",
			dedupe.FuzzyRecord{First: "Maria", Last: "Gonzalez", Birthdate: "1990-07-21", Street: "12 Hill Street"},
			dedupe.FuzzyRecord{First: "Jon", Last: "Smith", Birthdate: "1984-03-02", Street: "12 Hill St"},
			nil, false},
		{"accents and punctuation fold",
			dedupe.FuzzyRecord{First: "José", Last: "O'Brien", Birthdate: "1970-01-01"},
			dedupe.FuzzyRecord{First: "jose", Last: "OBRIEN", Birthdate: "1970-01-01"},
			[]string{"same first name", "same last name", "same birthdate"}, true},
		{"nothing in common but a missing field",
			dedupe.FuzzyRecord{First: "Li", Last: "Wei"},
			dedupe.FuzzyRecord{First: "Olu", Last: "Ade", Birthdate: "1999-09-09"},
			nil, false},
	}
	for _, tc := range cases {
		c := dedupe.Compare(dedupe.Prepare(&tc.a), dedupe.Prepare(&tc.b))
		score, reasons := m.Score(c), m.Reasons(c)
		if score < 0 || score > 1 || (score >= dedupe.DefaultMinScore) != tc.above {
			t.Errorf("%s: score %.3f (%v), want above %.2f: %v", tc.name, score, reasons, dedupe.DefaultMinScore, tc.above)
		}
		for _, r := range tc.reasons {
			if !slices.Contains(reasons, r) {
				t.Errorf("%s: reasons %v lack %q", tc.name, reasons, r)
			}
		}
		// Symmetric.
		back := dedupe.Compare(dedupe.Prepare(&tc.b), dedupe.Prepare(&tc.a))
		if m.Score(back) != score {
			t.Errorf("%s: not symmetric: %.4f vs %.4f", tc.name, score, m.Score(back))
		}
	}
}

// EM recovers a known model: pairs drawn from a mixture with known m, u and
// lambda are counted by pattern, and the estimate lands near the truth.
func TestFuzzyEMRecoversModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	truth := dedupe.DefaultFuzzyModel()
	truth.Lambda = 0.3
	draw := func(probs []float64) uint8 {
		x := rng.Float64()
		for l, p := range probs {
			if x < p {
				return uint8(l + 1)
			}
			x -= p
		}
		return uint8(len(probs))
	}
	blocked, random := dedupe.PatternCounts{}, dedupe.PatternCounts{}
	for i := range 60000 {
		match := i < 18000
		var p dedupe.Pattern
		for c := range dedupe.NumComparisons {
			if match {
				p[c] = draw(truth.M[c])
			} else {
				p[c] = draw(truth.U[c])
			}
		}
		blocked.Add(p)
	}
	for range 50000 {
		var p dedupe.Pattern
		for c := range dedupe.NumComparisons {
			p[c] = draw(truth.U[c])
		}
		random.Add(p)
	}
	got := dedupe.EstimateFuzzyModel(blocked, random)
	if math.Abs(got.Lambda-0.3) > 0.02 {
		t.Errorf("lambda %.3f, want 0.3", got.Lambda)
	}
	for c := range dedupe.NumComparisons {
		if d := math.Abs(got.M[c][0] - truth.M[c][0]); d > 0.05 {
			t.Errorf("comparison %d: m of agreement %.3f, want %.3f", c, got.M[c][0], truth.M[c][0])
		}
	}
	// A pair agreeing on everything scores near 1, one disagreeing near 0.
	var all, none dedupe.Pattern
	for c := range dedupe.NumComparisons {
		all[c], none[c] = 1, uint8(len(truth.M[c]))
	}
	if w := got.MatchWeight(all); w < 20 {
		t.Errorf("full agreement weight %.1f", w)
	}
	if w := got.MatchWeight(none); w > -10 {
		t.Errorf("full disagreement weight %.1f", w)
	}
}

// A stored model of another shape (an older version's) falls back to the
// default rather than indexing out of range.
func TestFuzzyModelOrDefault(t *testing.T) {
	t.Parallel()
	var m dedupe.FuzzyModel
	if err := json.Unmarshal([]byte(`{"lambda":0.2,"m":[[0.5,0.5]],"u":[[0.5,0.5]]}`), &m); err != nil {
		t.Fatal(err)
	}
	if got := m.OrDefault(); got.Lambda != dedupe.DefaultFuzzyModel().Lambda {
		t.Fatalf("got %+v", got)
	}
}
