package postgres

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

const (
	// sqlSuggestPendingOrgs lists organizations with customers waiting to
	// be scored (every worker's poll, every 20 ms by default): a skip scan over the
	// primary key, one probe per organization however many rows an import
	// left waiting.
	sqlSuggestPendingOrgs = `WITH RECURSIVE o AS (
			(SELECT organization_id FROM suggest_pending ORDER BY organization_id LIMIT 1)
			UNION ALL
			SELECT (SELECT p.organization_id FROM suggest_pending p WHERE p.organization_id > o.organization_id
				ORDER BY p.organization_id LIMIT 1)
			FROM o WHERE o.organization_id IS NOT NULL)
		SELECT organization_id FROM o WHERE organization_id IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM imports i WHERE i.organization_id = o.organization_id AND i.status = 'processing')
		LIMIT $1`
	// A row holds the customers of one statement, up to 500 (migration
	// 00038): rows are taken in order while they add up to at most $2
	// customers, and always the first.
	sqlSuggestTakePending = `WITH taken AS (DELETE FROM suggest_pending WHERE organization_id = $1 AND id IN (
			SELECT id FROM (
				SELECT id, cardinality(customer_ids) AS n, sum(cardinality(customer_ids)) OVER (ORDER BY id) AS upto
				FROM (SELECT id, customer_ids FROM suggest_pending WHERE organization_id = $1
					ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) l) w
			WHERE upto <= $2 OR upto = n)
			RETURNING customer_ids)
		SELECT unnest(customer_ids) FROM taken`
	sqlSuggestPendingOf = `SELECT coalesce(sum(cardinality(customer_ids)), 0) FROM suggest_pending WHERE organization_id = $1`
	// The backlog's name while it lasts: only a scan or the scorer removes
	// its oldest row. The primary key alone: counting what waits reads
	// every row's array (TOASTed: ~160 ms for 830k waiting customers).
	sqlSuggestOldest = `SELECT coalesce(min(id), 0) FROM suggest_pending WHERE organization_id = $1`
)

// SuggestPendingOrgs lists up to limit organizations with customers waiting
// to be scored, but those with an import merging (they wait for it).
func (s *Store) SuggestPendingOrgs(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, sqlSuggestPendingOrgs, limit)
	if err != nil {
		return nil, interpretError(fmt.Errorf("pending suggestions: %w", err), nil)
	}
	orgs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return orgs, interpretError(err, nil)
}

// SuggestPending counts an organization's customers waiting to be scored.
func (s *Store) SuggestPending(ctx context.Context, orgID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, sqlSuggestPendingOf, orgID).Scan(&n)
	return n, interpretError(err, nil)
}

// SuggestOldest names an organization's oldest waiting row (0: none).
func (s *Store) SuggestOldest(ctx context.Context, orgID string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, sqlSuggestOldest, orgID).Scan(&id)
	return id, interpretError(err, nil)
}

// CountLiveCustomers counts an organization's customers not merged away.
func (s *Store) CountLiveCustomers(ctx context.Context, orgID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, sqlFuzzyCountLive, orgID).Scan(&n)
	return n, interpretError(err, nil)
}

// SuggestBatch is what one incremental batch did.
type SuggestBatch struct {
	Customers int // customers scored
	Compared  int // candidate pairs compared
	Suggested int // pairs written at or above the minimum score
	Busy      bool
}

// ScoreSuggestPending scores up to limit waiting customers of an
// organization against their candidates, in one transaction: their keys
// are rewritten, their pairs scored with the organization's model and
// written, and the pending rows deleted. Busy: a scan holds the organization, which
// covers these customers, or one of its imports is merging; try again later.
func (s *Store) ScoreSuggestPending(ctx context.Context, orgID string, limit int, minScore float64) (SuggestBatch, error) {
	var out SuggestBatch
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var locked, free bool
		if err := tx.QueryRow(ctx, sqlSuggestLockShared, fuzzyLockKey(orgID)).Scan(&locked); err != nil {
			return fmt.Errorf("suggest lock: %w", err)
		}
		if locked {
			if err := tx.QueryRow(ctx, sqlSuggestFree, orgID).Scan(&free); err != nil {
				return fmt.Errorf("suggest lease: %w", err)
			}
		}
		if !free {
			out.Busy = true
			return nil
		}
		rows, err := tx.Query(ctx, sqlSuggestTakePending, orgID, limit)
		if err != nil {
			return fmt.Errorf("take pending: %w", err)
		}
		taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("take pending: %w", err)
		}
		ids := distinct(taken)
		if len(ids) == 0 {
			return nil
		}
		model, err := fuzzyModel(ctx, tx, orgID)
		if err != nil {
			return err
		}
		res, err := scoreCustomers(ctx, tx, orgID, ids, model, minScore)
		out = res
		return err
	})
	return out, interpretError(err, nil)
}

// ScoreCustomers scores the given customers against their candidates now
// (what the incremental batch does, without the pending table): the
// benchmark's measure of one new customer.
func (s *Store) ScoreCustomers(ctx context.Context, orgID string, ids []string, minScore float64) (SuggestBatch, error) {
	var out SuggestBatch
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		model, err := fuzzyModel(ctx, tx, orgID)
		if err != nil {
			return err
		}
		out, err = scoreCustomers(ctx, tx, orgID, ids, model, minScore)
		return err
	})
	return out, interpretError(err, nil)
}

func scoreCustomers(ctx context.Context, tx pgx.Tx, orgID string, ids []string, model *dedupe.FuzzyModel, minScore float64) (SuggestBatch, error) {
	out := SuggestBatch{Customers: len(ids)}
	if _, err := tx.Exec(ctx, sqlFuzzyScoreSettings); err != nil {
		return out, fmt.Errorf("fuzzy settings: %w", err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(sqlFuzzyKeys, "AND c.id = ANY($2)"), orgID, ids); err != nil {
		return out, fmt.Errorf("write fuzzy keys: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlFuzzyFlushKeys); err != nil {
		return out, fmt.Errorf("merge fuzzy keys: %w", err)
	}
	// The customers met are numbered as they come (a pair is two numbers,
	// its customers hashed once each), read as raw bytes: a batch meets
	// tens of candidates a customer, most of them more than once.
	c := fuzzyCandidates{index: make(map[string]int32, 8*len(ids)), pairs: make(map[uint64]struct{}, 32*len(ids))}
	if err := c.read(ctx, tx, orgID, ids); err != nil {
		return out, fmt.Errorf("fuzzy candidates: %w", err)
	}
	if len(c.pairs) == 0 {
		return out, nil
	}
	recs := make([]dedupe.PreparedRecord, len(c.ids))
	have := make([]bool, len(c.ids))
	rows, err := tx.Query(ctx, sqlFuzzyRecords, orgID, c.ids)
	if err != nil {
		return out, fmt.Errorf("fuzzy records: %w", err)
	}
	var r dedupe.FuzzyRecord
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.First, &r.Last, &r.Name, &r.Birthdate, &r.Street, &r.City,
		&r.Postcode, &r.Email, &r.Phone, &r.Company}, func() error {
		if i, ok := c.index[r.ID]; ok {
			recs[i], have[i] = dedupe.Prepare(&r), true
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("fuzzy records: %w", err)
	}
	w := &pairWriter{orgID: orgID}
	weights := model.Weights()
	for p := range c.pairs {
		a, b := int32(p>>32), int32(p&(1<<32-1))
		if !have[a] || !have[b] { // merged or deleted since its keys were written
			continue
		}
		out.Compared++
		cmp := dedupe.Compare(recs[a], recs[b])
		score := weights.Score(cmp)
		// A pair below the minimum is left as it is: the next scan drops
		// open fuzzy pairs it no longer confirms.
		if score >= minScore {
			w.add(FuzzyPair{A: c.ids[a], B: c.ids[b], Score: score, Reasons: model.Reasons(cmp)})
		}
	}
	err = w.flush(ctx, tx)
	out.Suggested = w.written
	return out, err
}

// fuzzyCandidates are the pairs of a batch: customers numbered in index (ids
// by number), a pair the numbers of its customers in the table's order
// (customer_a < customer_b), high and low 32 bits.
type fuzzyCandidates struct {
	index map[string]int32
	ids   []string
	pairs map[uint64]struct{}
}

// number is the customer's number, given on first sight.
func (c *fuzzyCandidates) number(id []byte) int32 {
	if i, ok := c.index[string(id)]; ok {
		return i
	}
	s := string(id)
	i := int32(len(c.ids))
	c.index[s] = i
	c.ids = append(c.ids, s)
	return i
}

// read pairs each customer of ids with the customers sharing a key with
// it (sqlFuzzyCandidates), keys above their cap left out.
func (c *fuzzyCandidates) read(ctx context.Context, tx pgx.Tx, orgID string, ids []string) error {
	rows, err := tx.Query(ctx, sqlFuzzyCandidates, orgID, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	if fd := rows.FieldDescriptions(); len(fd) != 3 || fd[1].Format != pgx.BinaryFormatCode || fd[2].Format != pgx.BinaryFormatCode {
		return fmt.Errorf("unexpected columns")
	}
	var others [][]byte
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw[1]) != 8 {
			return fmt.Errorf("key of %d bytes", len(raw[1]))
		}
		key := int64(binary.BigEndian.Uint64(raw[1]))
		if others, err = textArrayElements(raw[2], others[:0]); err != nil {
			return err
		}
		if len(others) > fuzzyKeyCap(key) {
			continue
		}
		a := c.number(raw[0])
		for _, o := range others {
			if string(o) == c.ids[a] {
				continue
			}
			b := c.number(o)
			if c.ids[a] < c.ids[b] {
				c.pairs[uint64(a)<<32|uint64(b)] = struct{}{}
			} else {
				c.pairs[uint64(b)<<32|uint64(a)] = struct{}{}
			}
		}
	}
	return rows.Err()
}

// textArrayElements appends the elements of a one-dimensional text[] in
// binary form (NULL: none), views of raw.
func textArrayElements(raw []byte, out [][]byte) ([][]byte, error) {
	if raw == nil {
		return out, nil
	}
	if len(raw) < 12 {
		return nil, fmt.Errorf("text[]: short array")
	}
	ndim := binary.BigEndian.Uint32(raw)
	if ndim == 0 {
		return out, nil
	}
	if ndim != 1 || len(raw) < 20 {
		return nil, fmt.Errorf("text[]: %d dimensions", ndim)
	}
	n := int(binary.BigEndian.Uint32(raw[12:]))
	p := raw[20:]
	for range n {
		if len(p) < 4 {
			return nil, fmt.Errorf("text[]: short element")
		}
		l := int32(binary.BigEndian.Uint32(p))
		if l < 0 || int(l) > len(p)-4 {
			return nil, fmt.Errorf("text[]: null or odd element")
		}
		out = append(out, p[4:4+l])
		p = p[4+l:]
	}
	return out, nil
}

func distinct(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
