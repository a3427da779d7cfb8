// The plan's pure grouping: a union-find over row numbers, and spreading heavy groups over chunks.

package postgres

import (
	"maps"
	"slices"
)

// spreadGroups bounds what a chunk's customers can hold. A natural chunk's
// own rows are bounded by bytes when staged, but its groups gather their
// later rows too: 4,000 small rows whose people each come back on a 100 KB
// row would put 4,000 fat customers in one chunk's memory. Taken in file
// order, a weighed group stays in its natural chunk while the chunk's
// weight stays within budget (or the group is the chunk's first); the
// others go to extra chunks numbered from first, filled the same way.
// Groups are independent, so where one is merged does not change the
// result. It returns the groups that move, by first row.
func spreadGroups(weights map[int32]int64, natural func(row int) int, first int, budget int64) map[int32]int {
	moved := map[int32]int{}
	load := map[int]int64{}
	extra := first
	for _, root := range slices.Sorted(maps.Keys(weights)) {
		w, c := weights[root], natural(int(root))
		if load[c] == 0 || load[c]+w <= budget {
			load[c] += w
			continue
		}
		if load[extra] > 0 && load[extra]+w > budget {
			extra++
		}
		load[extra] += w
		moved[root] = extra
	}
	return moved
}

// unionFind over row numbers; the root of a set is its smallest member.
type unionFind struct {
	parent []int32 // -1: no such row
	owned  bitset  // rows matching an existing customer (sqlRowsByOwner)
	// placeholders found by the email and phone reads
	placeholders []Placeholder
}

// bitset of row numbers: one bit a row beside the union-find's four bytes.
type bitset []uint64

func newBitset(n int) bitset      { return make(bitset, (n+63)/64) }
func (b bitset) set(r int32)      { b[r/64] |= 1 << (r % 64) }
func (b bitset) has(r int32) bool { return b[r/64]&(1<<(r%64)) != 0 }

func newUnionFind(n int) *unionFind {
	p := make([]int32, n)
	for i := range p {
		p[i] = -1
	}
	return &unionFind{parent: p, owned: newBitset(n)}
}

func (u *unionFind) add(r int32) {
	if u.parent[r] < 0 {
		u.parent[r] = r
	}
}

func (u *unionFind) find(r int32) int32 {
	for u.parent[r] != r {
		u.parent[r] = u.parent[u.parent[r]] // path halving
		r = u.parent[r]
	}
	return r
}

func (u *unionFind) union(a, b int32) {
	ra, rb := u.find(a), u.find(b)
	switch {
	case ra < rb:
		u.parent[rb] = ra
	case rb < ra:
		u.parent[ra] = rb
	}
}
