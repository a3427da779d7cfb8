package postgres

import (
	"maps"
	"slices"
	"testing"
)

// Groups are taken in file order: each stays in its first row's chunk
// while that chunk's weight fits the budget (or it is the chunk's first),
// else it fills the extra chunks numbered from first.
func TestSpreadGroups(t *testing.T) {
	natural := func(row int) int { return row / 100 } // chunks of 100 rows
	for _, tc := range []struct {
		name    string
		weights map[int32]int64
		want    map[int32]int
	}{
		{"all fit", map[int32]int64{1: 40, 2: 60, 150: 100}, map[int32]int{}},
		// 1 and 2 fill chunk 0; 3 and 4 share extra chunk 5; 5 opens 6.
		{"overflow fills extra chunks in order", map[int32]int64{1: 60, 2: 40, 3: 70, 4: 30, 5: 10},
			map[int32]int{3: 5, 4: 5, 5: 6}},
		// A group heavier than the budget stays where it starts when it is
		// the chunk's first, and takes an extra chunk of its own otherwise;
		// a later light group still fits its own chunk.
		{"heavy groups", map[int32]int64{1: 500, 2: 1, 120: 10, 130: 300, 140: 5},
			map[int32]int{2: 5, 130: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := spreadGroups(tc.weights, natural, 5, 100)
			if !maps.Equal(got, tc.want) {
				t.Fatalf("moved %v, want %v", got, tc.want)
			}
		})
	}
}

// The plan feeds the union-find pairs {first row of a run, row} as
// unionRuns' flush does, and relies on one invariant: a group's root is
// its smallest row, so the group lives in its first row's natural chunk
// and only later rows move. Rows never added were not staged.
func TestUnionFind(t *testing.T) {
	t.Parallel()
	chain := make([][2]int32, 0, 99) // joined from the end: the deepest tree
	for r := int32(98); r >= 0; r-- {
		chain = append(chain, [2]int32{r, r}, [2]int32{r, r + 1})
	}
	all := make([]int32, 100)
	for i := range all {
		all[i] = int32(i)
	}
	for _, tc := range []struct {
		name  string
		n     int
		pairs [][2]int32
		want  [][]int32 // groups by first row, rows in file order
	}{
		{"nothing staged", 4, nil, nil},
		{"rows alone", 6, [][2]int32{{4, 4}, {1, 1}, {3, 3}}, [][]int32{{1}, {3}, {4}}},
		{"one run", 10, [][2]int32{{3, 3}, {3, 5}, {3, 9}}, [][]int32{{3, 5, 9}}},
		// Email run {2, 7}, phone run {5, 7}, external run {1, 5}: one
		// person on four rows, whose first row is 1 whatever the order.
		{"runs of different keys join", 10, [][2]int32{{5, 5}, {5, 7}, {2, 2}, {2, 7}, {1, 1}, {1, 5}, {8, 8}},
			[][]int32{{1, 2, 5, 7}, {8}}},
		// Two groups rooted at 6 and 4 joined by a later pair: the smaller
		// root wins, whichever side the pair names it on.
		{"joining groups keeps the smaller root", 10, [][2]int32{{6, 6}, {6, 9}, {4, 4}, {4, 8}, {9, 9}, {9, 8}},
			[][]int32{{4, 6, 8, 9}}},
		{"repeated pairs change nothing", 5, [][2]int32{{0, 0}, {0, 2}, {0, 2}, {2, 2}, {2, 0}},
			[][]int32{{0, 2}}},
		{"a long chain", 100, chain, [][]int32{all}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			uf := newUnionFind(tc.n)
			for _, p := range tc.pairs {
				uf.add(p[1])
				if p[0] != p[1] {
					uf.union(p[0], p[1])
				}
			}
			var got [][]int32
			index := map[int32]int{} // root → its group in got
			for r := range int32(tc.n) {
				if uf.parent[r] < 0 {
					continue // not staged
				}
				root := uf.find(r)
				if root > r {
					t.Fatalf("row %d has root %d: a group's root must be its first row", r, root)
				}
				if uf.find(root) != root {
					t.Fatalf("root %d of row %d is not its own root", root, r)
				}
				i, ok := index[root]
				if !ok {
					if root != r {
						t.Fatalf("row %d's root %d was not seen before it", r, root)
					}
					i = len(got)
					index[root] = i
					got = append(got, nil)
				}
				got[i] = append(got[i], r)
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("groups %v, want %v", got, tc.want)
			}
		})
	}
}
