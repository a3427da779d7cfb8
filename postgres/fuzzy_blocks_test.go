package postgres

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"
)

// int8Array is keys in PostgreSQL's binary int8[] form.
func int8Array(keys []int64) []byte {
	b := binary.BigEndian.AppendUint32(nil, 1)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, 20) // int8
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	b = binary.BigEndian.AppendUint32(b, 1)
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(k))
	}
	return b
}

// testPass is the pass over [r.lo, r.hi] of records with ids c00, c01, …
// and the given keys, as loadFuzzyPass reads them: only the members of
// the pass's blocks.
func testPass(t *testing.T, keys [][]int64, r keyRange, oversize []int64) *fuzzyRecords {
	t.Helper()
	count := map[int64]int{}
	for _, ks := range keys {
		for _, k := range ks {
			count[k]++
		}
	}
	recs := &fuzzyRecords{keyStart: []int32{0}}
	for i, ks := range keys {
		member := slices.ContainsFunc(ks, func(k int64) bool {
			_, over := slices.BinarySearch(oversize, k)
			return k >= r.lo && k <= r.hi && count[k] >= 2 && !over
		})
		if !member {
			continue
		}
		for f := range fuzzyFields {
			recs.off = append(recs.off, uint32(len(recs.arena)))
			if f == 0 {
				recs.arena = append(recs.arena, fmt.Sprintf("c%02d", i)...)
			}
		}
		recs.off = append(recs.off, uint32(len(recs.arena)))
		if err := recs.addKeys(int8Array(ks), r.hi, oversize); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// Pairs found by several blocks come once, from the first key they share,
// in one pass or in several; a key of one customer makes no block, one
// above its cap none either; the sample is a fixed subset.
func TestFuzzyBlocksPairsOnce(t *testing.T) {
	// Blocks: 10 {0,1,2}, 30 {1,2,3}, 40 {0,1,4}; 20 only c05's; 50
	// everyone's but over its cap.
	keys := [][]int64{{10, 40, 50}, {50, 40, 30, 10}, {10, 30, 50}, {30, 50}, {40, 50}, {20, 50}}
	oversize := []int64{50}
	want := []string{"c00-c01", "c00-c02", "c01-c02", "c01-c03", "c02-c03", "c00-c04", "c01-c04"}
	collect := func(passes []keyRange, mod int) map[string]int {
		got := map[string]int{}
		var fb fuzzyBlocks
		var scratch []fuzzyMember
		for _, r := range passes {
			recs := testPass(t, keys, r, oversize)
			scratch = buildBlocks(recs, r.lo, &fb, scratch)
			if err := fb.pairs(recs, mod, func(a, b int32) error {
				if mod > 1 && fnv32a(recs.field(int(a), 0))%uint32(mod) != 0 {
					t.Fatalf("pair %d-%d outside the sample", a, b)
				}
				got[recs.field(int(a), 0)+"-"+recs.field(int(b), 0)]++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	one := []keyRange{{math.MinInt64, math.MaxInt64}}
	for name, passes := range map[string][]keyRange{
		"one pass":    one,
		"two passes":  {{math.MinInt64, 25}, {26, math.MaxInt64}},
		"four passes": {{math.MinInt64, 10}, {11, 30}, {31, 39}, {40, math.MaxInt64}},
	} {
		got := collect(passes, 1)
		if len(got) != len(want) {
			t.Fatalf("%s: pairs %v, want %v", name, got, want)
		}
		for _, p := range want {
			if got[p] != 1 {
				t.Fatalf("%s: pair %s came %d times (all: %v)", name, p, got[p], got)
			}
		}
	}
	sampled := collect(one, 2)
	if len(sampled) == 0 || len(sampled) == len(want) {
		t.Fatalf("sample of 1 in 2: %d of %d pairs", len(sampled), len(want))
	}
	if split := collect([]keyRange{{math.MinInt64, 25}, {26, math.MaxInt64}}, 2); fmt.Sprint(split) != fmt.Sprint(sampled) {
		t.Fatalf("sample in two passes %v, in one %v", split, sampled)
	}
}

// Passes cover every key once, each within the budget unless a bucket
// alone exceeds it.
func TestFuzzyCutPasses(t *testing.T) {
	buckets := make([]int64, fuzzyBuckets)
	for i := range buckets {
		buckets[i] = 100
	}
	buckets[7] = 10000
	for _, budget := range []int64{1 << 40, 100 * fuzzyMemberBytes * 64, 1} {
		passes := cutPasses(buckets, budget)
		if passes[0].lo != math.MinInt64 || passes[len(passes)-1].hi != math.MaxInt64 {
			t.Fatalf("budget %d: passes %v do not cover the keys", budget, passes)
		}
		for i := 1; i < len(passes); i++ {
			if passes[i].lo != passes[i-1].hi+1 {
				t.Fatalf("budget %d: gap or overlap between %v and %v", budget, passes[i-1], passes[i])
			}
		}
		for _, p := range passes {
			var n int64
			for b := keyBucket(p.lo); b <= keyBucket(p.hi); b++ {
				n += buckets[b]
			}
			if n*fuzzyMemberBytes > budget && keyBucket(p.lo) != keyBucket(p.hi) {
				t.Fatalf("budget %d: pass %v holds %d members", budget, p, n)
			}
		}
		t.Logf("budget %d: %d passes", budget, len(passes))
	}
	if n := len(cutPasses(buckets, 1<<40)); n != 1 {
		t.Fatalf("a budget above everything: %d passes, want 1", n)
	}
	if n := len(cutPasses(buckets, 1)); n != fuzzyBuckets {
		t.Fatalf("a budget below a bucket: %d passes, want one a bucket (%d)", n, fuzzyBuckets)
	}
}
