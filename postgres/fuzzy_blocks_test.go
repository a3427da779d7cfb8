package postgres

import (
	"fmt"
	"testing"
)

// testRecords is an arena of n records with ids c00, c01, …
func testRecords(n int) *fuzzyRecords {
	r := &fuzzyRecords{}
	for i := range n {
		for f := range fuzzyFields {
			r.off = append(r.off, uint32(len(r.arena)))
			if f == 0 {
				r.arena = append(r.arena, fmt.Sprintf("c%02d", i)...)
			}
		}
		r.off = append(r.off, uint32(len(r.arena)))
	}
	return r
}

// testBlocks builds blocks as loadFuzzyBlocks does from rows in key order.
func testBlocks(recs *fuzzyRecords, blocks [][]int32) *fuzzyBlocks {
	fb := &fuzzyBlocks{start: []int32{0}}
	for _, b := range blocks {
		fb.members = append(fb.members, b...)
		fb.close()
	}
	fb.index(recs.len())
	return fb
}

// Pairs found by several blocks come once, from the first block they
// share; a block of one is dropped; the sample is a fixed subset.
func TestFuzzyBlocksPairsOnce(t *testing.T) {
	recs := testRecords(6)
	fb := testBlocks(recs, [][]int32{{0, 1, 2}, {5}, {2, 1, 3}, {4, 0, 1}})
	if i, ok := recs.find([]byte("c04")); !ok || i != 4 {
		t.Fatalf("find c04: %d %v", i, ok)
	}
	if _, ok := recs.find([]byte("c06")); ok {
		t.Fatal("found c06")
	}
	if n := len(fb.start) - 1; n != 3 {
		t.Fatalf("%d blocks, want 3 (the block of one dropped)", n)
	}
	got := map[string]int{}
	if err := fb.pairs(recs, 1, func(a, b int32) error {
		got[recs.field(int(a), 0)+"-"+recs.field(int(b), 0)]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"c00-c01", "c00-c02", "c01-c02", "c01-c03", "c02-c03", "c00-c04", "c01-c04"}
	if len(got) != len(want) {
		t.Fatalf("pairs %v, want %v", got, want)
	}
	for _, p := range want {
		if got[p] != 1 {
			t.Fatalf("pair %s came %d times (all: %v)", p, got[p], got)
		}
	}
	sampled := 0
	_ = fb.pairs(recs, 2, func(a, b int32) error {
		if fnv32a(recs.field(int(a), 0))%2 != 0 {
			t.Fatalf("pair %d-%d outside the sample", a, b)
		}
		sampled++
		return nil
	})
	if sampled == 0 || sampled == len(want) {
		t.Fatalf("sample of 1 in 2: %d of %d pairs", sampled, len(want))
	}
}
