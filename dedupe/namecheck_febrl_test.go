package dedupe_test

import (
	"bufio"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/hbollon/go-edlib"

	"github.com/linkitworks/customers/dedupe"
)

// febrlPerson is one row of the FEBRL synthetic data (testdata/febrl/README.md).
type febrlPerson struct {
	id   string // rec-<N>: rows sharing it are the same person
	name dedupe.PersonName
}

func readFebrl(t *testing.T, path string) []febrlPerson {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var people []febrlPerson
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), ", ")
		if len(cols) < 3 {
			continue
		}
		rec := strings.Split(cols[0], "-") // rec-<N>-org | rec-<N>-dup-<k>
		people = append(people, febrlPerson{
			id:   rec[0] + "-" + rec[1],
			name: dedupe.PersonName{First: strings.TrimSpace(cols[1]), Last: strings.TrimSpace(cols[2])},
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return people
}

// TestNamesDifferFebrl measures the name check on labelled data: FEBRL's
// corrupted duplicates (typos, swapped fields, missing values, nicknames)
// must almost never be called different people, and random pairs of
// different people with different names mostly should.
func TestNamesDifferFebrl(t *testing.T) {
	t.Parallel()
	var people []febrlPerson
	for _, file := range []string{"testdata/febrl/dataset1.csv", "testdata/febrl/dataset2.csv"} {
		for _, p := range readFebrl(t, file) {
			p.id = file + p.id // ids repeat across the two files
			people = append(people, p)
		}
	}
	byID := map[string][]dedupe.PersonName{}
	for _, p := range people {
		byID[p.id] = append(byID[p.id], p.name)
	}
	var dupPairs, dupDiffer, alikePairs, alikeDiffer int
	for _, names := range byID {
		for i := range names {
			for j := i + 1; j < len(names); j++ {
				a, b := names[i], names[j]
				differ := dedupe.NamesDiffer(a, b)
				dupPairs++
				if differ {
					dupDiffer++
				}
				if !namesAlike(a, b) {
					continue
				}
				alikePairs++
				if differ {
					alikeDiffer++
					t.Logf("duplicate with alike names called different: %+v / %+v", a, b)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(19, 19))
	var otherPairs, otherDiffer int
	for otherPairs < 20000 {
		a, b := people[rng.IntN(len(people))], people[rng.IntN(len(people))]
		if a.id == b.id || a.name == b.name {
			continue
		}
		otherPairs++
		if dedupe.NamesDiffer(a.name, b.name) {
			otherDiffer++
		}
	}
	dupRate := float64(dupDiffer) / float64(dupPairs)
	alikeRate := float64(alikeDiffer) / float64(alikePairs)
	otherRate := float64(otherDiffer) / float64(otherPairs)
	t.Logf("true duplicates called different: %d of %d (%.2f%%)", dupDiffer, dupPairs, 100*dupRate)
	t.Logf("true duplicates with alike names called different: %d of %d (%.2f%%)", alikeDiffer, alikePairs, 100*alikeRate)
	t.Logf("different people called different: %d of %d (%.2f%%)", otherDiffer, otherPairs, 100*otherRate)
	// Measured: 3 of 1,995 (0.15%): a triple typo (patesrn, patwrson) and two
	// half-replaced names.
	if alikeRate > 0.02 {
		t.Errorf("%.2f%% of true duplicates with alike names called different, want at most 2%%", 100*alikeRate)
	}
	// Measured: 431 of 2,434 (17.7%). FEBRL corrupts some duplicates by
	// replacing a whole name with another (rec-3: Molly Webb and Hugo
	// Alderson, same birth date, id and address); no name check can accept
	// those without accepting strangers, and the spec calls a different
	// given name a different person. The bound guards against regressions.
	if dupRate > 0.20 {
		t.Errorf("%.2f%% of true duplicates called different, want at most 20%%", 100*dupRate)
	}
	// Measured: 19,969 of 20,000 (99.8%).
	if otherRate < 0.95 {
		t.Errorf("only %.2f%% of different people called different, want at least 95%%", 100*otherRate)
	}
}

// namesAlike tells FEBRL's typo-level corruptions from replaced names, using
// only a plain Jaro-Winkler score (not the rules under test): each name part,
// in order, is missing on one side or scores at least 0.8; or all four are
// there and score so swapped.
func namesAlike(a, b dedupe.PersonName) bool {
	alike := func(x, y string) bool {
		return x == "" || y == "" || edlib.JaroWinklerSimilarity(x, y) >= 0.8
	}
	swapped := a.First != "" && a.Last != "" && b.First != "" && b.Last != "" &&
		alike(a.First, b.Last) && alike(a.Last, b.First)
	return alike(a.First, b.First) && alike(a.Last, b.Last) || swapped
}
