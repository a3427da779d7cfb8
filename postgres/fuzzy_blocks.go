package postgres

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// sqlFuzzyBlockMembers lists the members of every block of two customers
// up to its key's cap, ordered by key. Grouping only counts (a small state
// per key, most keys being one customer's); the members of the blocks that
// pass are read again rather than aggregated into arrays, whose per-group
// state spilled the aggregation to disk at a million customers.
const sqlFuzzyBlockMembers = `WITH k AS NOT MATERIALIZED (
		SELECT customer_id, unnest(keys) AS key FROM fuzzy_keys WHERE organization_id = $1)
	SELECT k.key, k.customer_id FROM k WHERE k.key IN (
		SELECT k.key FROM k GROUP BY k.key HAVING count(*) BETWEEN 2 AND ` + sqlFuzzyKeyCapK + `)
	ORDER BY k.key`

// fuzzyBlocks are a scan's blocks, as indexes into its fuzzyRecords: the
// pairs are expanded in Go, each once (from the first block its two
// customers share), so PostgreSQL neither unnests nor sorts them for a
// DISTINCT (nine million pairs at a million customers, 96% of them
// distinct anyway).
type fuzzyBlocks struct {
	start   []int32 // block b's members are members[start[b]:start[b+1]]
	members []int32
	// Each record's blocks, ascending: of record r, of[ofStart[r]:ofStart[r+1]].
	ofStart []int32
	of      []int32
}

// loadFuzzyBlocks reads the organization's blocks over recs.
func (s *Store) loadFuzzyBlocks(ctx context.Context, orgID string, recs *fuzzyRecords) (*fuzzyBlocks, error) {
	fb := &fuzzyBlocks{start: []int32{0}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlFuzzyPlanSettings); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sqlFuzzyBlockMembers, orgID)
		if err != nil {
			return err
		}
		defer rows.Close()
		// Raw values, nothing allocated per row (3 million rows at a
		// million customers): the key's 8 bytes (binary format) compared
		// as they are, the id found in the arena.
		var cur []byte
		for rows.Next() {
			raw := rows.RawValues()
			if len(raw) != 2 || len(raw[0]) != 8 {
				return fmt.Errorf("fuzzy blocks: unexpected row")
			}
			if !bytes.Equal(raw[0], cur) {
				fb.close()
				cur = append(cur[:0], raw[0]...)
			}
			if i, ok := recs.find(raw[1]); ok { // else created since the records were read
				fb.members = append(fb.members, i)
			}
		}
		fb.close()
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("fuzzy blocks: %w", err)
	}
	fb.index(recs.len())
	return fb, nil
}

// index lists each of n records' blocks, by counting then filling in
// block order.
func (fb *fuzzyBlocks) index(n int) {
	fb.ofStart = make([]int32, n+1)
	for _, m := range fb.members {
		fb.ofStart[m+1]++
	}
	for r := range n {
		fb.ofStart[r+1] += fb.ofStart[r]
	}
	fb.of = make([]int32, len(fb.members))
	next := make([]int32, n)
	copy(next, fb.ofStart)
	for b := range len(fb.start) - 1 {
		for _, m := range fb.members[fb.start[b]:fb.start[b+1]] {
			fb.of[next[m]] = int32(b)
			next[m]++
		}
	}
}

// close ends the block being read; one of fewer than two members is dropped.
func (fb *fuzzyBlocks) close() {
	last := fb.start[len(fb.start)-1]
	if int(last)+2 <= len(fb.members) {
		fb.start = append(fb.start, int32(len(fb.members)))
	} else {
		fb.members = fb.members[:last]
	}
}

// firstShared is the first block records a and b share.
func (fb *fuzzyBlocks) firstShared(a, b int32) int32 {
	x, y := fb.of[fb.ofStart[a]:fb.ofStart[a+1]], fb.of[fb.ofStart[b]:fb.ofStart[b+1]]
	for len(x) > 0 && len(y) > 0 {
		switch {
		case x[0] == y[0]:
			return x[0]
		case x[0] < y[0]:
			x = x[1:]
		default:
			y = y[1:]
		}
	}
	return -1
}

// pairs calls fn with each candidate pair once, its first customer's id
// the smaller; with mod > 1 only pairs whose first id hashes to 0 modulo
// mod (a sample, the same at every scan of the same data).
func (fb *fuzzyBlocks) pairs(recs *fuzzyRecords, mod int, fn func(a, b int32) error) error {
	for b := range len(fb.start) - 1 {
		m := fb.members[fb.start[b]:fb.start[b+1]]
		for x := range m {
			for _, c := range m[x+1:] {
				a, c := m[x], c
				if a == c || fb.firstShared(a, c) != int32(b) {
					continue
				}
				if recs.field(int(a), 0) > recs.field(int(c), 0) {
					a, c = c, a
				}
				if mod > 1 && fnv32a(recs.field(int(a), 0))%uint32(mod) != 0 {
					continue
				}
				if err := fn(a, c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fnv32a is the 32-bit FNV-1a hash of s.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := range len(s) {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
