package postgres

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

// fuzzyRecords holds an organization's records for a scan in one byte
// arena: the pair statement then sends two ids per pair instead of both
// records (a million customers made eight million pairs, and joining both
// records to each spilled PostgreSQL's hash joins to disk). About 230
// bytes a customer (the fields and their offsets, in id order: an id is
// found by binary search, a map of a million ids was another 70 MB), no
// pointers for the collector to scan.
type fuzzyRecords struct {
	arena []byte
	off   []uint32 // fuzzyFields+1 offsets per record into arena, in id order
}

const fuzzyFields = 11 // dedupe.FuzzyRecord's fields, ID first

// loadFuzzyRecords reads the organization's live records.
func (s *Store) loadFuzzyRecords(ctx context.Context, orgID string, customers int) (*fuzzyRecords, error) {
	r := &fuzzyRecords{
		arena: make([]byte, 0, customers*140),
		off:   make([]uint32, 0, customers*(fuzzyFields+1)),
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// Ids in byte order (C collation), as find compares them.
		rows, err := tx.Query(ctx, sqlFuzzyRecordsAll+` ORDER BY c.id COLLATE "C"`, orgID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			raw := rows.RawValues() // text format: the fields' bytes as they are
			if len(raw) != fuzzyFields {
				return fmt.Errorf("fuzzy records: %d columns", len(raw))
			}
			for _, f := range raw {
				r.off = append(r.off, uint32(len(r.arena)))
				r.arena = append(r.arena, f...)
			}
			r.off = append(r.off, uint32(len(r.arena)))
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("fuzzy records: %w", err)
	}
	return r, nil
}

func (r *fuzzyRecords) len() int { return len(r.off) / (fuzzyFields + 1) }

// find is the index of the record of id, by binary search.
func (r *fuzzyRecords) find(id []byte) (int32, bool) {
	lo, hi := 0, r.len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.field(m, 0) < string(id) { // no allocation: a comparison
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < r.len() && r.field(lo, 0) == string(id) {
		return int32(lo), true
	}
	return 0, false
}

// field is record i's field f, a view of the arena (never written again).
func (r *fuzzyRecords) field(i, f int) string {
	o := r.off[i*(fuzzyFields+1)+f : i*(fuzzyFields+1)+f+2]
	if o[0] == o[1] {
		return ""
	}
	return unsafe.String(&r.arena[o[0]], int(o[1]-o[0]))
}

// record is record i.
func (r *fuzzyRecords) record(i int32) dedupe.FuzzyRecord {
	n := int(i)
	return dedupe.FuzzyRecord{ID: r.field(n, 0), First: r.field(n, 1), Last: r.field(n, 2), Name: r.field(n, 3),
		Birthdate: r.field(n, 4), Street: r.field(n, 5), City: r.field(n, 6), Postcode: r.field(n, 7),
		Email: r.field(n, 8), Phone: r.field(n, 9), Company: r.field(n, 10)}
}
