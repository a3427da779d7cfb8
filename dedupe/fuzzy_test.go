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
			[]string{"same birthdate", "same street and house number"}, true},
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
		{"household: same family name and address, other given name and birthdate",
			dedupe.FuzzyRecord{First: "Maria", Last: "Lopez", Birthdate: "1961-04-19", Street: "7 Oak Avenue", Postcode: "30011",
				Email: "maria.lopez12@example.com"},
			dedupe.FuzzyRecord{First: "Daniel", Last: "Lopez", Birthdate: "1990-11-02", Street: "7 Oak Ave", Postcode: "30011",
				Email: "daniel.lopez14@example.com"},
			nil, false},
		{"same names, numbered emails, other years: two people",
			dedupe.FuzzyRecord{First: "John", Last: "Smith", Birthdate: "1978-11-13", Email: "john.smith84@example.com"},
			dedupe.FuzzyRecord{First: "John", Last: "Smith", Birthdate: "2004-11-13", Email: "john.smith85@example.com"},
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

// The estimate recovers a known model: random pairs drawn from u, each
// training rule's pairs a mixture agreeing on the rule's fields whatever
// the class, and candidate pairs of known size; m of every comparison,
// and lambda, land near the truth.
func TestFuzzyEstimateRecoversModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	truth := dedupe.DefaultFuzzyModel()
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
	pair := func(match bool, agree []int) dedupe.Pattern {
		var p dedupe.Pattern
		for c := range dedupe.NumComparisons {
			if match {
				p[c] = draw(truth.M[c])
			} else {
				p[c] = draw(truth.U[c])
			}
		}
		for _, c := range agree {
			p[c] = 1
		}
		return p
	}
	in := dedupe.FuzzyEstimateInput{Random: dedupe.PatternCounts{}, Candidates: dedupe.PatternCounts{},
		CandidateScale: 2, Records: 100000}
	for range 100000 {
		in.Random.Add(pair(false, nil))
	}
	for _, rule := range []dedupe.TrainingRule{dedupe.TrainOnBirthdate, dedupe.TrainOnNames} {
		tp := dedupe.TrainingPairs{Rule: rule, Counts: dedupe.PatternCounts{}}
		for i := range 40000 {
			tp.Counts.Add(pair(i < 8000, rule.Skip))
		}
		in.Training = append(in.Training, tp)
	}
	// 5,000 matching pairs (sampled one in two) among 50,000 candidates of
	// 100,000 records: lambda 5000/(100000·99999/2).
	for i := range 25000 {
		in.Candidates.Add(pair(i < 2500, []int{dedupe.CmpBirth}))
	}
	got := dedupe.EstimateFuzzyModel(in)
	want := 5000 / (100000 * 99999 / 2.0)
	if math.Abs(got.Lambda-want)/want > 0.1 {
		t.Errorf("lambda %.3g, want %.3g", got.Lambda, want)
	}
	for c := range dedupe.NumComparisons {
		for l := range got.M[c] {
			if d := math.Abs(got.M[c][l] - truth.M[c][l]); d > 0.03 {
				t.Errorf("comparison %d level %d: m %.3f, want %.3f", c, l+1, got.M[c][l], truth.M[c][l])
			}
		}
	}
	if got.TrainingPairs["birthdate"] != 40000 || got.Pairs != 25000 || got.RandomPairs != 100000 {
		t.Errorf("counts %+v", got)
	}
	// A pair agreeing on everything scores near 1, one disagreeing near 0.
	var all, none dedupe.Pattern
	for c := range dedupe.NumComparisons {
		all[c], none[c] = 1, uint8(len(truth.M[c]))
	}
	if s := got.Score(dedupe.Comparison{Pattern: all}); s < 0.999 {
		t.Errorf("full agreement score %.3f", s)
	}
	if s := got.Score(dedupe.Comparison{Pattern: none}); s > 1e-6 {
		t.Errorf("full disagreement score %.3g", s)
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

// Random pairs at one address are mostly households sharing the family
// name: the estimate learns it, and a household pair (same family name and
// address, other given name and birthdate) falls below the minimum score
// where independence would have suggested it.
func TestFuzzyHouseholdDependence(t *testing.T) {
	t.Parallel()
	var household, other dedupe.Pattern
	household[dedupe.CmpFirst], household[dedupe.CmpLast], household[dedupe.CmpBirth], household[dedupe.CmpAddress] = 3, 1, 3, 1
	other[dedupe.CmpFirst], other[dedupe.CmpLast], other[dedupe.CmpBirth], other[dedupe.CmpAddress] = 4, 4, 3, 5
	in := dedupe.FuzzyEstimateInput{Random: dedupe.PatternCounts{}} // no candidates: the default lambda
	in.Random[other] = 99900
	in.Random[household] = 100 // one random pair in a thousand is a household
	got := dedupe.EstimateFuzzyModel(in)
	if got.ULastAtAddress[0] < 0.5 {
		t.Fatalf("u of the family name at one address %.3f, want most households", got.ULastAtAddress[0])
	}
	if s := got.Score(dedupe.Comparison{Pattern: household}); s >= dedupe.DefaultMinScore {
		t.Errorf("household scores %.3f", s)
	}
	indep := *got
	indep.ULastAtAddress = nil
	if s := indep.Score(dedupe.Comparison{Pattern: household}); s < dedupe.DefaultMinScore {
		t.Errorf("under independence the household scores %.3f: the test proves nothing", s)
	}
}
