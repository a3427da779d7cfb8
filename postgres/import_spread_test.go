package postgres

import (
	"maps"
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
