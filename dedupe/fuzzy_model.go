package dedupe

import (
	"math"
	"sort"
)

// FuzzyModel is a Fellegi–Sunter model: for each comparison level, m (how
// often two records of one person land on it) and u (how often two records
// of different people do), and Lambda, the share of candidate pairs that
// are one person. A pair's match weight is log2(Lambda/(1-Lambda)) plus the
// sum of log2(m/u) over its levels; its score is the matching probability.
type FuzzyModel struct {
	Lambda float64                   `json:"lambda"`
	M      [NumComparisons][]float64 `json:"m"`
	U      [NumComparisons][]float64 `json:"u"`
	// Pairs and RandomPairs are what the estimate saw (0: the defaults).
	Pairs       int `json:"pairs"`
	RandomPairs int `json:"random_pairs"`
}

// DefaultMinScore is the score from which a pair is suggested.
const DefaultMinScore = 0.5

// Priors: the usual shape of m and u for each comparison's levels (best
// first), from the record-linkage literature's typical person data. They
// are the model of an organization too small to estimate one, and the
// pseudo-counts that keep an estimate from small data sane.
var (
	priorM = [NumComparisons][]float64{
		CmpFirst: {0.80, 0.10, 0.05, 0.05}, CmpLast: {0.85, 0.08, 0.04, 0.03},
		CmpBirth: {0.90, 0.07, 0.03}, CmpStreet: {0.80, 0.12, 0.08}, CmpNumber: {0.90, 0.10},
		CmpCity: {0.85, 0.08, 0.07}, CmpPostcode: {0.88, 0.07, 0.05}, CmpEmail: {0.85, 0.10, 0.05},
		CmpPhone: {0.88, 0.04, 0.08}, CmpCompany: {0.80, 0.10, 0.10},
	}
	priorU = [NumComparisons][]float64{
		CmpFirst: {0.01, 0.005, 0.03, 0.955}, CmpLast: {0.003, 0.004, 0.02, 0.973},
		CmpBirth: {0.0003, 0.003, 0.9967}, CmpStreet: {0.001, 0.004, 0.995}, CmpNumber: {0.02, 0.98},
		CmpCity: {0.02, 0.01, 0.97}, CmpPostcode: {0.01, 0.02, 0.97}, CmpEmail: {0.0002, 0.0005, 0.9993},
		CmpPhone: {0.0001, 0.0002, 0.9997}, CmpCompany: {0.01, 0.01, 0.98},
	}
)

const (
	priorLambda = 0.05 // EM's start: share of true pairs among candidates
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
	return true
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

// EstimateFuzzyModel fits m, u and Lambda by expectation–maximisation over
// the patterns of the blocked candidate pairs (the two-class mixture of
// Winkler and fastLink), starting from, and smoothed toward, u measured on
// random pairs and the prior m. u is re-estimated rather than fixed because
// the pairs scored are the blocked ones: their non-matches agree on the
// blocking fields far more often than random pairs do, and a u from random
// pairs alone would call them matches.
func EstimateFuzzyModel(blocked, random PatternCounts) *FuzzyModel {
	model := DefaultFuzzyModel()
	model.Lambda = priorLambda
	uRandom := EstimateU(random)
	model.U = uRandom
	model.Pairs, model.RandomPairs = blocked.Total(), random.Total()
	if model.Pairs == 0 {
		return model
	}
	type entry struct {
		p Pattern
		n float64
	}
	entries := make([]entry, 0, len(blocked))
	for p, n := range blocked {
		entries = append(entries, entry{p, float64(n)})
	}
	for range 100 {
		var matchSum, total float64
		var mCounts, uCounts [NumComparisons][]float64
		for c := range NumComparisons {
			mCounts[c] = make([]float64, comparisonLevels[c])
			uCounts[c] = make([]float64, comparisonLevels[c])
		}
		for _, e := range entries {
			pm := model.probability(e.p)
			matchSum += pm * e.n
			total += e.n
			for c := range NumComparisons {
				if l := e.p[c]; l > 0 {
					mCounts[c][l-1] += pm * e.n
					uCounts[c][l-1] += (1 - pm) * e.n
				}
			}
		}
		lambda := clamp((matchSum+priorLambda*priorMWeight)/(total+priorMWeight), 1e-6, 0.999)
		delta := math.Abs(lambda - model.Lambda)
		model.Lambda = lambda
		for c := range NumComparisons {
			m := smooth(mCounts[c], priorM[c], priorMWeight)
			u := smooth(uCounts[c], uRandom[c], priorUWeight)
			for l := range m {
				delta = math.Max(delta, math.Max(math.Abs(m[l]-model.M[c][l]), math.Abs(u[l]-model.U[c][l])))
			}
			model.M[c], model.U[c] = m, u
		}
		if delta < 1e-6 {
			break
		}
	}
	return model
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

// weight is log2(m/u) of comparison c at level l (0 when l is null).
func (m *FuzzyModel) weight(c int, l uint8) float64 {
	if l == 0 {
		return 0
	}
	return math.Log2(m.M[c][l-1] / m.U[c][l-1])
}

// MatchWeight is the pair's total match weight in bits.
func (m *FuzzyModel) MatchWeight(p Pattern) float64 {
	w := math.Log2(m.Lambda / (1 - m.Lambda))
	for c := range NumComparisons {
		w += m.weight(c, p[c])
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
		if w := m.weight(i, c.Pattern[i]); w >= 1 {
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
	case CmpStreet:
		if exact {
			return "same street"
		}
		return "street similar"
	case CmpNumber:
		return "same house number"
	case CmpCity:
		if exact {
			return "same city"
		}
		return "city similar"
	case CmpPostcode:
		if exact {
			return "same postcode"
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
