package postgres

import (
	"context"
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
	rows, err := tx.Query(ctx, sqlFuzzyCandidates, orgID, ids)
	if err != nil {
		return out, fmt.Errorf("fuzzy candidates: %w", err)
	}
	type pair struct{ a, b string }
	pairs := map[pair]bool{}
	need := map[string]bool{}
	var id string
	var key int64
	var others []string
	_, err = pgx.ForEachRow(rows, []any{&id, &key, &others}, func() error {
		if len(others) > fuzzyKeyCap(key) {
			return nil
		}
		for _, o := range others {
			if o != id {
				a, b := orderedPair(id, o)
				pairs[pair{a, b}] = true
				need[a], need[b] = true, true
			}
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("fuzzy candidates: %w", err)
	}
	if len(pairs) == 0 {
		return out, nil
	}
	all := make([]string, 0, len(need))
	for k := range need {
		all = append(all, k)
	}
	recs := map[string]dedupe.PreparedRecord{}
	rows, err = tx.Query(ctx, sqlFuzzyRecords, orgID, all)
	if err != nil {
		return out, fmt.Errorf("fuzzy records: %w", err)
	}
	var r dedupe.FuzzyRecord
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.First, &r.Last, &r.Name, &r.Birthdate, &r.Street, &r.City,
		&r.Postcode, &r.Email, &r.Phone, &r.Company}, func() error {
		recs[r.ID] = dedupe.Prepare(&r)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("fuzzy records: %w", err)
	}
	w := &pairWriter{orgID: orgID}
	for p := range pairs {
		ra, okA := recs[p.a]
		rb, okB := recs[p.b]
		if !okA || !okB { // merged or deleted since its keys were written
			continue
		}
		out.Compared++
		c := dedupe.Compare(ra, rb)
		score := model.Score(c)
		// A pair below the minimum is left as it is: the next scan drops
		// open fuzzy pairs it no longer confirms.
		if score >= minScore {
			w.add(FuzzyPair{A: p.a, B: p.b, Score: score, Reasons: model.Reasons(c)})
		}
	}
	err = w.flush(ctx, tx)
	out.Suggested = w.written
	return out, err
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
