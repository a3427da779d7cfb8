package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
)

// A scan's memory is bounded by splitting its blocks by key into passes
// (issue 20/24): the records and blocks of a million customers took ~260
// MB at once, 520 MB of resident memory with the scan's garbage at 1.7M,
// and grew with the organization. A pass reads the members of the blocks
// whose keys fall in its range, each record with its keys, and expands
// their pairs; a pair is still expanded once, from the first (smallest)
// key its two customers share, which either pass can tell from the keys.
// A customer in blocks of several passes is read by each (~3 blocks a
// customer at a million): the price of the bound.

// sqlFuzzyKeyCounts counts every key shared by two customers or more: the
// passes' sizes and the keys above their cap (left out of every block).
const sqlFuzzyKeyCounts = `SELECT k.key, count(*) FROM (
		SELECT unnest(keys) AS key FROM fuzzy_keys WHERE organization_id = $1) k
	GROUP BY k.key HAVING count(*) > 1`

// DefaultFuzzyScanMemory is a scan's default memory budget for one pass's
// records and blocks (Options.FuzzyScanMemory).
const DefaultFuzzyScanMemory = 64 << 20

// fuzzyMemberBytes is what a block member costs a pass, about: its record
// (~190 bytes with offsets), its keys, its block entry. A customer in two
// blocks of one pass is counted twice: the estimate errs high.
const fuzzyMemberBytes = 256

// fuzzyBuckets is how finely the key space is cut to size the passes.
const fuzzyBuckets = 1024

// keyRange is a pass's keys, both ends included.
type keyRange struct{ lo, hi int64 }

// fuzzyPlan is a scan's passes and the keys left out of every block.
type fuzzyPlan struct {
	passes   []keyRange
	oversize []int64 // ascending
	members  int64   // block memberships, all passes
}

// planFuzzyPasses counts the organization's blocks by key and cuts the key
// space into passes of at most budget bytes each (one, if it fits).
func (s *Store) planFuzzyPasses(ctx context.Context, orgID string, budget int64) (*fuzzyPlan, error) {
	var buckets [fuzzyBuckets]int64
	p := &fuzzyPlan{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlFuzzyPlanSettings); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sqlFuzzyKeyCounts, orgID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			raw := rows.RawValues() // both int8, binary: nothing allocated per row
			if len(raw) != 2 || len(raw[0]) != 8 || len(raw[1]) != 8 {
				return fmt.Errorf("fuzzy key counts: unexpected row")
			}
			key, n := int64(binary.BigEndian.Uint64(raw[0])), int64(binary.BigEndian.Uint64(raw[1]))
			if n > int64(fuzzyKeyCap(key)) {
				p.oversize = append(p.oversize, key)
				continue
			}
			buckets[keyBucket(key)] += n
			p.members += n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("fuzzy key counts: %w", err)
	}
	slices.Sort(p.oversize)
	p.passes = cutPasses(buckets[:], budget)
	return p, nil
}

// keyBucket is key's bucket, in key order.
func keyBucket(key int64) int { return int((uint64(key) ^ 1<<63) >> 54) }

// bucketStart is the smallest key of bucket b.
func bucketStart(b int) int64 { return int64(uint64(b)<<54 ^ 1<<63) }

// cutPasses groups consecutive buckets of memberships into key ranges of
// at most budget bytes (a bucket alone may exceed it), covering every key.
func cutPasses(buckets []int64, budget int64) []keyRange {
	var out []keyRange
	lo, size := int64(math.MinInt64), int64(0)
	for b, n := range buckets {
		if size > 0 && (size+n)*fuzzyMemberBytes > budget {
			out = append(out, keyRange{lo, bucketStart(b) - 1})
			lo, size = bucketStart(b), 0
		}
		size += n
	}
	return append(out, keyRange{lo, math.MaxInt64})
}

// fuzzyBlocks are a pass's blocks, as indexes into its fuzzyRecords.
type fuzzyBlocks struct {
	key     []int64 // block b's key
	start   []int32 // block b's members are members[start[b]:start[b+1]]
	members []int32
}

// fuzzyMember is a record's membership of a block, while the blocks are built.
type fuzzyMember struct {
	key int64
	rec int32
}

// buildBlocks groups the records by their keys from lo on (the pass's
// range: keys below it only tell pairs already expanded), dropping keys of
// one member; fb's buffers are reused.
func buildBlocks(recs *fuzzyRecords, lo int64, fb *fuzzyBlocks, scratch []fuzzyMember) []fuzzyMember {
	scratch = scratch[:0]
	for i := range int32(recs.len()) {
		ks := recs.keysOf(i)
		at, _ := slices.BinarySearch(ks, lo)
		for _, k := range ks[at:] {
			scratch = append(scratch, fuzzyMember{k, i})
		}
	}
	slices.SortFunc(scratch, func(a, b fuzzyMember) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.rec, b.rec))
	})
	fb.key, fb.start, fb.members = fb.key[:0], append(fb.start[:0], 0), fb.members[:0]
	for i := 0; i < len(scratch); {
		j := i + 1
		for j < len(scratch) && scratch[j].key == scratch[i].key {
			j++
		}
		if j-i >= 2 {
			for _, m := range scratch[i:j] {
				fb.members = append(fb.members, m.rec)
			}
			fb.key = append(fb.key, scratch[i].key)
			fb.start = append(fb.start, int32(len(fb.members)))
		}
		i = j
	}
	return scratch
}

// pairs calls fn with each candidate pair of the pass once (from the first
// key its customers share), its first customer's id the smaller; with mod >
// 1 only pairs whose first id hashes to 0 modulo mod (a sample, the same at
// every scan of the same data, however many passes).
func (fb *fuzzyBlocks) pairs(recs *fuzzyRecords, mod int, fn func(a, b int32) error) error {
	for b, key := range fb.key {
		m := fb.members[fb.start[b]:fb.start[b+1]]
		for x := range m {
			for _, c := range m[x+1:] {
				a, c := m[x], c
				if first, ok := recs.firstShared(a, c); !ok || first != key {
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
