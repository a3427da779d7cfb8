package dedupe

import (
	"math"
	"sort"
)

// FuzzyModel is a Fellegi–Sunter model: for each comparison level, m (how
// often two records of one person land on it) and u (how often two records
// of different people do), and Lambda, the probability that two records
// drawn at random are one person. A pair's match weight is
// log2(Lambda/(1-Lambda)) plus the sum of log2(m/u) over its levels; its
// score is the matching probability.
type FuzzyModel struct {
	Lambda float64                   `json:"lambda"`
	M      [NumComparisons][]float64 `json:"m"`
	U      [NumComparisons][]float64 `json:"u"`
	// ULastAtAddress is u of the family name between two records at one
	// address (address level 1): a household shares both, so there the
	// family name says much less than u alone would have it.
	ULastAtAddress []float64 `json:"u_last_at_address,omitempty"`
	// What the estimate saw (0: the defaults): candidate pairs (a sample),
	// random pairs, and the pairs each training rule found.
	Pairs         int            `json:"pairs"`
	RandomPairs   int            `json:"random_pairs"`
	TrainingPairs map[string]int `json:"training_pairs,omitempty"`
}

// DefaultMinScore is the score from which a pair is suggested.
const DefaultMinScore = 0.5

// Priors: the usual shape of m and u for each comparison's levels (best
// first), from the record-linkage literature's typical person data. They
// are the model of an organization too small to estimate one, and the
// pseudo-counts that keep an estimate from small data sane.
var (
	priorM = [NumComparisons][]float64{
		CmpFirst: {0.82, 0.10, 0.06, 0.02}, CmpLast: {0.85, 0.08, 0.04, 0.03},
		CmpBirth: {0.90, 0.08, 0.02}, CmpAddress: {0.75, 0.06, 0.06, 0.05, 0.08},
		CmpEmail: {0.85, 0.10, 0.05}, CmpPhone: {0.88, 0.04, 0.08}, CmpCompany: {0.80, 0.10, 0.10},
	}
	priorU = [NumComparisons][]float64{
		CmpFirst: {0.01, 0.005, 0.03, 0.955}, CmpLast: {0.003, 0.004, 0.02, 0.973},
		CmpBirth: {0.0003, 0.003, 0.9967}, CmpAddress: {0.00001, 0.0002, 0.002, 0.02, 0.97779},
		CmpEmail: {0.0002, 0.0005, 0.9993}, CmpPhone: {0.0001, 0.0002, 0.9997}, CmpCompany: {0.01, 0.01, 0.98},
	}
)

const (
	// defaultLambda is the prior of an organization never scanned: with u
	// from random pairs, a full name alone (about 14 bits) stays below the
	// minimum score and needs one more agreeing field (birthdate, street,
	// phone digits, an email typo) to be suggested.
	defaultLambda = 1.0 / (1 << 15)
	priorMWeight  = 10 // pseudo-pairs of one person behind each prior m
	priorUWeight  = 50 // pseudo-pairs of different people behind each prior u
	probFloor     = 1e-5
)

// DefaultFuzzyModel is the model of an organization that has not been
// scanned yet.
func DefaultFuzzyModel() *FuzzyModel {
	m := &FuzzyModel{Lambda: defaultLambda}
	for c := range NumComparisons {
		m.M[c] = append([]float64(nil), priorM[c]...)
		m.U[c] = append([]float64(nil), priorU[c]...)
	}
	return m
}

// valid reports whether the model has the shape this code compares with
// (a stored model of another version does not).
func (m *FuzzyModel) valid() bool {
	if m == nil || m.Lambda <= 0 || m.Lambda >= 1 {
		return false
	}
	for c := range NumComparisons {
		if len(m.M[c]) != comparisonLevels[c] || len(m.U[c]) != comparisonLevels[c] {
			return false
		}
	}
	return m.ULastAtAddress == nil || len(m.ULastAtAddress) == comparisonLevels[CmpLast]
}

// OrDefault is m when it fits this version's comparisons, else the default.
func (m *FuzzyModel) OrDefault() *FuzzyModel {
	if m.valid() {
		return m
	}
	return DefaultFuzzyModel()
}

// PatternCounts counts comparison patterns: EM needs only how many pairs
// share each pattern, so memory stays small whatever the number of pairs.
type PatternCounts map[Pattern]int

// Add counts one pair.
func (pc PatternCounts) Add(p Pattern) { pc[p]++ }

// Total is the number of pairs counted.
func (pc PatternCounts) Total() int {
	n := 0
	for _, c := range pc {
		n += c
	}
	return n
}

// EstimateU estimates u from the patterns of random pairs (nearly all of
// different people), smoothed toward the prior.
func EstimateU(random PatternCounts) [NumComparisons][]float64 {
	var u [NumComparisons][]float64
	for c := range NumComparisons {
		counts := make([]float64, comparisonLevels[c])
		for p, n := range random {
			if l := p[c]; l > 0 {
				counts[l-1] += float64(n)
			}
		}
		u[c] = smooth(counts, priorU[c], priorUWeight)
	}
	return u
}

// priorAtAddressWeight is the pseudo-pairs behind the prior of
// ULastAtAddress (u of the family name at large): with fewer random pairs
// at one address than that, the estimate stays near independence.
const priorAtAddressWeight = 20

// estimateULastAtAddress is u of the family name among the random pairs at
// one address, smoothed toward u of the family name.
func estimateULastAtAddress(random PatternCounts, uLast []float64) []float64 {
	counts := make([]float64, comparisonLevels[CmpLast])
	for p, n := range random {
		if l := p[CmpLast]; l > 0 && p[CmpAddress] == 1 {
			counts[l-1] += float64(n)
		}
	}
	return smooth(counts, uLast, priorAtAddressWeight)
}

// TrainingRule is a blocking rule the model's m is trained on: the pairs
// it finds agree on its own fields whether or not they are one person, so
// the comparisons of those fields (Skip) say nothing there and are left out
// of its estimate.
type TrainingRule struct {
	Name string
	Skip []int
}

// Training rules: pairs sharing a birthdate train every comparison but the
// birthdate; pairs sharing both names' phonetic codes train every one but
// the names and the email (local parts are made of names: "john.smith1"
// and "john.smith2" agree closely because the names do). Location rules are not used: people sharing a postcode share a
// city and, in a household, a family name, which is the structure a mixture
// would then find instead of "same person".
var (
	TrainOnBirthdate = TrainingRule{Name: "birthdate", Skip: []int{CmpBirth}}
	TrainOnNames     = TrainingRule{Name: "names", Skip: []int{CmpFirst, CmpLast, CmpEmail}}
)

// TrainingPairs are the patterns of the pairs a training rule found (a
// sample).
type TrainingPairs struct {
	Rule   TrainingRule
	Counts PatternCounts
}

// FuzzyEstimateInput is what an organization's estimate is made of.
type FuzzyEstimateInput struct {
	// Random counts the patterns of random pairs of the organization's
	// records: u.
	Random PatternCounts
	// Training holds each training rule's pairs: m.
	Training []TrainingPairs
	// Candidates counts the patterns of a sample of the candidate pairs,
	// one in CandidateScale of them; Records is the number of records:
	// Lambda.
	Candidates     PatternCounts
	CandidateScale float64
	Records        int
}

// EstimateFuzzyModel fits an organization's model as Splink trains one:
// u from random pairs (nearly all different people); m by
// expectation–maximisation over the pairs of each training rule with u
// held fixed, leaving out the comparisons the rule itself decides, the
// rules' expected counts pooled; then Lambda, the probability that two
// random records are one person, as the expected number of matching pairs
// among the candidates (the pairs outside them are near certainly not)
// over all pairs. A single EM over the union of the blocking rules' pairs,
// u re-estimated there, found the strongest structure of those pairs —
// "same city and postcode" on the benchmark's data — instead of "same
// person".
func EstimateFuzzyModel(in FuzzyEstimateInput) *FuzzyModel {
	model := DefaultFuzzyModel()
	model.U = EstimateU(in.Random)
	model.ULastAtAddress = estimateULastAtAddress(in.Random, model.U[CmpLast])
	model.Pairs, model.RandomPairs = in.Candidates.Total(), in.Random.Total()
	var pooled [NumComparisons][]float64
	for c := range NumComparisons {
		pooled[c] = make([]float64, comparisonLevels[c])
	}
	for _, t := range in.Training {
		if model.TrainingPairs == nil {
			model.TrainingPairs = map[string]int{}
		}
		model.TrainingPairs[t.Rule.Name] += t.Counts.Total()
		counts := trainM(model, t)
		for c := range NumComparisons {
			for l, x := range counts[c] {
				pooled[c][l] += x
			}
		}
	}
	for c := range NumComparisons {
		model.M[c] = smooth(pooled[c], priorM[c], priorMWeight)
	}
	if all := float64(in.Records) * float64(in.Records-1) / 2; all >= 1 && model.Pairs > 0 {
		model.Lambda = estimateLambda(model, in.Candidates, max(in.CandidateScale, 1), all)
	}
	return model
}

// trainM runs EM over one training rule's pairs, u fixed, the rule's own
// comparisons left out, and returns the expected count of matching pairs at
// each level of each other comparison.
func trainM(base *FuzzyModel, t TrainingPairs) [NumComparisons][]float64 {
	var counts [NumComparisons][]float64
	for c := range NumComparisons {
		counts[c] = make([]float64, comparisonLevels[c])
	}
	if len(t.Counts) == 0 {
		return counts
	}
	skip := [NumComparisons]bool{}
	for _, c := range t.Rule.Skip {
		skip[c] = true
	}
	model := DefaultFuzzyModel()
	model.U, model.ULastAtAddress = base.U, base.ULastAtAddress
	model.Lambda = 0.1
	type entry struct {
		p Pattern
		n float64
	}
	entries := make([]entry, 0, len(t.Counts))
	for p, n := range t.Counts {
		for c := range NumComparisons {
			if skip[c] {
				p[c] = 0 // null: weight 0
			}
		}
		entries = append(entries, entry{p, float64(n)})
	}
	for range 200 {
		var matchSum, total float64
		for c := range NumComparisons {
			clear(counts[c])
		}
		for _, e := range entries {
			pm := model.probability(e.p)
			matchSum += pm * e.n
			total += e.n
			for c := range NumComparisons {
				if l := e.p[c]; l > 0 {
					counts[c][l-1] += pm * e.n
				}
			}
		}
		lambda := clamp(matchSum/total, 1e-6, 0.999)
		delta := math.Abs(lambda - model.Lambda)
		model.Lambda = lambda
		for c := range NumComparisons {
			if skip[c] {
				continue
			}
			m := smooth(counts[c], priorM[c], priorMWeight)
			for l := range m {
				delta = math.Max(delta, math.Abs(m[l]-model.M[c][l]))
			}
			model.M[c] = m
		}
		if delta < 1e-6 {
			break
		}
	}
	return counts
}

// estimateLambda solves Lambda = E[matching pairs] / all pairs, the
// expectation over the candidate pairs (sampled one in scale) scored with
// that Lambda: the EM update of Lambda with m and u fixed.
func estimateLambda(model *FuzzyModel, candidates PatternCounts, scale, all float64) float64 {
	// m and u are fixed: each pattern's weight without Lambda is too.
	type entry struct{ w, n float64 }
	entries := make([]entry, 0, len(candidates))
	for p, n := range candidates {
		entries = append(entries, entry{model.MatchWeight(p) - math.Log2(model.Lambda/(1-model.Lambda)), float64(n) * scale})
	}
	lambda := clamp(float64(candidates.Total())*scale/all/4, 1e-12, 0.5)
	for range 1000 {
		prior := math.Log2(lambda / (1 - lambda))
		var expected float64
		for _, e := range entries {
			expected += e.n / (1 + math.Exp2(-(e.w + prior)))
		}
		next := clamp(expected/all, 1e-12, 0.5)
		if math.Abs(next-lambda) <= 1e-9*lambda {
			return next
		}
		lambda = next
	}
	return lambda
}

// smooth turns counts into probabilities with weight pseudo-counts of the
// prior, never below probFloor.
func smooth(counts, prior []float64, weight float64) []float64 {
	var sum float64
	for i, c := range counts {
		sum += c + prior[i]*weight
	}
	out := make([]float64, len(counts))
	for i, c := range counts {
		out[i] = math.Max((c+prior[i]*weight)/sum, probFloor)
	}
	return out
}

func clamp(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }

// weight is log2(m/u) of comparison c in pattern p (0 when null).
func (m *FuzzyModel) weight(p Pattern, c int) float64 {
	l := p[c]
	if l == 0 {
		return 0
	}
	if c == CmpLast && p[CmpAddress] == 1 && m.ULastAtAddress != nil {
		return math.Log2(m.M[c][l-1] / m.ULastAtAddress[l-1])
	}
	return math.Log2(m.M[c][l-1] / m.U[c][l-1])
}

// MatchWeight is the pair's total match weight in bits.
func (m *FuzzyModel) MatchWeight(p Pattern) float64 {
	w := math.Log2(m.Lambda / (1 - m.Lambda))
	for c := range NumComparisons {
		w += m.weight(p, c)
	}
	return w
}

func (m *FuzzyModel) probability(p Pattern) float64 {
	return 1 / (1 + math.Exp2(-m.MatchWeight(p)))
}

// Score is the probability (0..1) that a compared pair is one person.
func (m *FuzzyModel) Score(c Comparison) float64 { return m.probability(c.Pattern) }

// Reasons names, best first, the comparisons that spoke most for the pair
// (at most four, each worth at least a bit).
func (m *FuzzyModel) Reasons(c Comparison) []string {
	type contrib struct {
		cmp int
		w   float64
	}
	var cs []contrib
	for i := range NumComparisons {
		if c.swapped && (i == CmpFirst || i == CmpLast) {
			continue // said once, below
		}
		if w := m.weight(c.Pattern, i); w >= 1 {
			cs = append(cs, contrib{i, w})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].w > cs[j].w })
	var out []string
	if c.swapped {
		out = append(out, "first and last names swapped")
	}
	for _, x := range cs {
		if len(out) == 4 {
			break
		}
		out = append(out, reasonPhrase(x.cmp, c.Pattern[x.cmp], c.detail[x.cmp]))
	}
	return out
}

func reasonPhrase(cmp int, level, detail uint8) string {
	exact := level == 1
	switch cmp {
	case CmpFirst:
		if exact {
			return "same first name"
		}
		if detail == detailNickname {
			return "first name is a nickname"
		}
		return "first names similar"
	case CmpLast:
		if exact {
			return "same last name"
		}
		return "last names similar"
	case CmpBirth:
		if exact {
			return "same birthdate"
		}
		if detail == detailTransposed {
			return "birthdate with day and month swapped"
		}
		return "birthdate differs in one part"
	case CmpAddress:
		switch {
		case level == 1:
			return "same street and house number"
		case level == 2:
			return "same street"
		case level == 3:
			return "same postcode"
		case detail == detailSameCity:
			return "same city"
		}
		return "postcode differs by one character"
	case CmpEmail:
		if exact {
			return "same email before the @"
		}
		if detail == detailOneEdit {
			return "email differs by one letter"
		}
		return "email differs by two letters"
	case CmpPhone:
		if exact {
			return "same phone digits"
		}
		return "same last 7 phone digits"
	case CmpCompany:
		if exact {
			return "same company"
		}
		return "company similar"
	}
	return comparisonNames[cmp]
}

// FuzzyWeights are a model's match weights by level, taken once for the
// many pairs one model scores: Score is the model's Score without seven
// logarithms a pair (the same values, summed in the same order).
type FuzzyWeights struct {
	prior         float64
	w             [NumComparisons][6]float64 // by level, 0 the null level
	lastAtAddress [6]float64
	atAddress     bool
}

// Weights are m's match weights.
func (m *FuzzyModel) Weights() *FuzzyWeights {
	fw := &FuzzyWeights{prior: math.Log2(m.Lambda / (1 - m.Lambda)), atAddress: m.ULastAtAddress != nil}
	for c := range NumComparisons {
		for l := 1; l <= comparisonLevels[c]; l++ {
			fw.w[c][l] = math.Log2(m.M[c][l-1] / m.U[c][l-1])
			if c == CmpLast && fw.atAddress {
				fw.lastAtAddress[l] = math.Log2(m.M[c][l-1] / m.ULastAtAddress[l-1])
			}
		}
	}
	return fw
}

// Score is the model's Score of c.
func (fw *FuzzyWeights) Score(c Comparison) float64 {
	p := &c.Pattern
	w := fw.prior
	for i := range NumComparisons {
		if i == CmpLast && p[CmpAddress] == 1 && fw.atAddress {
			w += fw.lastAtAddress[p[i]]
		} else {
			w += fw.w[i][p[i]]
		}
	}
	return 1 / (1 + math.Exp2(-w))
}
