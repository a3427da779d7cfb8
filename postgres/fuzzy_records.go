package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

// sqlFuzzyPassRecords reads the records of one pass of a scan: the live
// customers that are members of a block whose key is in [$2, $3] (a key
// shared by two customers up to its cap), each with its keys. The keys
// are unnested once and only the pass's range is grouped; the members are
// then joined to their records, in id order (C collation: the pairs'
// order).
const sqlFuzzyPassRecords = `WITH k AS (
		SELECT customer_id, key FROM (SELECT customer_id, unnest(keys) AS key FROM fuzzy_keys
			WHERE organization_id = $1) u WHERE key BETWEEN $2 AND $3),
	m AS (SELECT DISTINCT customer_id FROM k WHERE key IN (
		SELECT k.key FROM k GROUP BY k.key HAVING count(*) BETWEEN 2 AND ` + sqlFuzzyKeyCapK + `))
	SELECT c.id, c.first_name, c.last_name, c.name, coalesce(to_char(c.birthdate, 'YYYY-MM-DD'), ''),
		coalesce(a.address_line1, ''), coalesce(a.city, ''), coalesce(a.postal_code, ''), c.email, c.phone,
		c.company_name, f.keys
	FROM m
	JOIN customers c ON c.organization_id = $1 AND c.id = m.customer_id AND c.merged_into IS NULL
	JOIN fuzzy_keys f ON f.organization_id = $1 AND f.customer_id = m.customer_id
	LEFT JOIN customer_addresses a ON a.organization_id = c.organization_id AND a.customer_id = c.id AND a.is_default
	ORDER BY c.id COLLATE "C"`

// sqlFuzzyPassSettings: the planner, guessing few members in a pass (200
// of 242,000 at a million customers), probed three indexes per member: 36
// s a pass; hash joins took 9 s under the same load.
const sqlFuzzyPassSettings = sqlFuzzyPlanSettings + `; SET LOCAL enable_nestloop = off`

// fuzzyRecords holds the records of one pass of a scan in one byte arena:
// the pairs are expanded from them in Go instead of sending both records
// per pair (a million customers made eight million pairs, and joining
// both records to each spilled PostgreSQL's hash joins to disk). About 190
// bytes a record and 8 a key, no pointers for the collector to scan; the
// buffers are reused from pass to pass.
type fuzzyRecords struct {
	arena []byte
	off   []uint32 // fuzzyFields+1 offsets per record into arena, in id order
	// Record i's keys, ascending: keys[keyStart[i]:keyStart[i+1]]. Those
	// that can make a block of this pass or an earlier one: a key beyond
	// the pass, or shared by more than its cap, never decides a pair here.
	keyStart []int32
	keys     []int64
}

const fuzzyFields = 11 // dedupe.FuzzyRecord's fields, ID first

// loadFuzzyPass reads the records of the pass over keys [r.lo, r.hi] into
// recs (its buffers reused); oversize lists the keys above their cap,
// ascending.
func (s *Store) loadFuzzyPass(ctx context.Context, orgID string, r keyRange, oversize []int64, recs *fuzzyRecords) error {
	recs.arena, recs.off, recs.keys = recs.arena[:0], recs.off[:0], recs.keys[:0]
	recs.keyStart = append(recs.keyStart[:0], 0)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlFuzzyPassSettings); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sqlFuzzyPassRecords, orgID, r.lo, r.hi)
		if err != nil {
			return err
		}
		defer rows.Close()
		if fd := rows.FieldDescriptions(); len(fd) != fuzzyFields+1 || fd[fuzzyFields].Format != pgx.BinaryFormatCode {
			return fmt.Errorf("fuzzy records: unexpected columns")
		}
		for rows.Next() {
			raw := rows.RawValues() // text format: the fields' bytes as they are
			for _, f := range raw[:fuzzyFields] {
				recs.off = append(recs.off, uint32(len(recs.arena)))
				recs.arena = append(recs.arena, f...)
			}
			recs.off = append(recs.off, uint32(len(recs.arena)))
			if err := recs.addKeys(raw[fuzzyFields], r.hi, oversize); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("fuzzy records: %w", err)
	}
	return nil
}

// addKeys appends a record's keys from their int8[] binary form: those up
// to hi and not oversize, ascending, once each.
func (r *fuzzyRecords) addKeys(raw []byte, hi int64, oversize []int64) error {
	from := len(r.keys)
	if len(raw) < 12 {
		return fmt.Errorf("fuzzy keys: short array")
	}
	if ndim := binary.BigEndian.Uint32(raw); ndim == 1 && len(raw) >= 20 {
		n := int(binary.BigEndian.Uint32(raw[12:]))
		p := raw[20:]
		if len(p) != n*12 {
			return fmt.Errorf("fuzzy keys: %d bytes for %d keys", len(p), n)
		}
		for i := range n {
			e := p[i*12:]
			if binary.BigEndian.Uint32(e) != 8 {
				return fmt.Errorf("fuzzy keys: null or odd element")
			}
			k := int64(binary.BigEndian.Uint64(e[4:]))
			if _, over := slices.BinarySearch(oversize, k); k <= hi && !over {
				r.keys = append(r.keys, k)
			}
		}
	}
	own := r.keys[from:]
	slices.Sort(own)
	r.keys = r.keys[:from+len(slices.Compact(own))]
	r.keyStart = append(r.keyStart, int32(len(r.keys)))
	return nil
}

func (r *fuzzyRecords) len() int { return len(r.off) / (fuzzyFields + 1) }

// keysOf is record i's keys, ascending.
func (r *fuzzyRecords) keysOf(i int32) []int64 { return r.keys[r.keyStart[i]:r.keyStart[i+1]] }

// firstShared is the smallest key records a and b share (false: none).
func (r *fuzzyRecords) firstShared(a, b int32) (int64, bool) {
	x, y := r.keysOf(a), r.keysOf(b)
	for len(x) > 0 && len(y) > 0 {
		switch {
		case x[0] == y[0]:
			return x[0], true
		case x[0] < y[0]:
			x = x[1:]
		default:
			y = y[1:]
		}
	}
	return 0, false
}

// field is record i's field f, a view of the arena (valid until the next
// pass is read into it).
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
