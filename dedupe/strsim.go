package dedupe

import "github.com/hbollon/go-edlib"

// The fuzzy comparisons' string similarities, go-edlib's results exactly
// (the same float32 operations in the same order), without its two rune
// slices and tables allocated per call for the ASCII strings Prepare makes
// of names, streets and cities: a scorer compares each new customer with
// tens of candidates, and those allocations were most of Compare's time.
// Other strings, and longer ones, go to go-edlib.

// strsimMax is the longest string compared without allocating.
const strsimMax = 64

// jaroWinkler is edlib.JaroWinklerSimilarity(a, b).
func jaroWinkler(a, b string) float32 {
	if len(a) > strsimMax || len(b) > strsimMax || !isASCII(a) || !isASCII(b) {
		return edlib.JaroWinklerSimilarity(a, b)
	}
	jaroSim := jaroASCII(a, b)
	if jaroSim != 0.0 && jaroSim != 1.0 {
		var prefix int
		for i := 0; i < min(len(a), len(b)); i++ {
			if a[i] == b[i] {
				prefix++
			} else {
				break
			}
		}
		prefix = min(prefix, 4)
		return jaroSim + 0.1*float32(prefix)*(1-jaroSim)
	}
	return jaroSim
}

// jaroASCII is edlib.JaroSimilarity of two ASCII strings.
func jaroASCII(a, b string) float32 {
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0.0
	} else if a == b {
		return 1.0
	}
	var match int
	maxDist := max(la, lb)/2 - 1
	var ta, tb [strsimMax]bool
	for i := 0; i < la; i++ {
		for j := max(0, i-maxDist); j < min(lb, i+maxDist+1); j++ {
			if a[i] == b[j] && !tb[j] {
				ta[i], tb[j] = true, true
				match++
				break
			}
		}
	}
	if match == 0 {
		return 0.0
	}
	var t float32
	var p int
	for i := 0; i < la; i++ {
		if ta[i] {
			for !tb[p] {
				p++
			}
			if a[i] != b[p] {
				t++
			}
			p++
		}
	}
	t /= 2
	return (float32(match)/float32(la) +
		float32(match)/float32(lb) +
		(float32(match)-t)/float32(match)) / 3.0
}

// osaDistance is edlib.OSADamerauLevenshteinDistance(a, b): the optimal
// string alignment distance (adjacent transpositions, no substring edited
// twice).
func osaDistance(a, b string) int {
	if len(a) > strsimMax || len(b) > strsimMax || !isASCII(a) || !isASCII(b) {
		return edlib.OSADamerauLevenshteinDistance(a, b)
	}
	switch {
	case len(a) == 0:
		return len(b)
	case len(b) == 0:
		return len(a)
	case a == b:
		return 0
	}
	// Three rows of the matrix, rolling (a distance is at most strsimMax).
	var rows [3][strsimMax + 1]uint8
	for j := 0; j <= len(b); j++ {
		rows[0][j] = uint8(j)
	}
	for i := 1; i <= len(a); i++ {
		cur, prev := &rows[i%3], &rows[(i-1)%3]
		cur[0] = uint8(i)
		for j := 1; j <= len(b); j++ {
			cost := uint8(1)
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[(i-2)%3][j-2]+1)
			}
			cur[j] = d
		}
	}
	return int(rows[len(a)%3][len(b)])
}

// osaWithin is osaDistance(a, b) when that is at most k, else some value
// above k: the comparisons only ask whether it is. Two ASCII strings whose
// lengths differ by more than k are that far apart.
func osaWithin(a, b string, k int) int {
	if d := len(a) - len(b); (d > k || -d > k) && isASCII(a) && isASCII(b) {
		return k + 1
	}
	return osaDistance(a, b)
}
