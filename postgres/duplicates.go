// Duplicate review (SPEC §10.2): the queue of suggested pairs, dismissing
// one, and merging several as a job.

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

const (
	// Scores are stored as real: rounded, 0.9 reads 0.9 and not 0.8999999761.
	dupColumns = `d.id, d.customer_a, d.customer_b, round(d.score::numeric, 4)::float8, d.reasons, d.status,
		d.source, d.created, d.resolved`
	dupWhere = `d.organization_id = $1 AND d.status = $2 AND d.score >= $3::real
		AND ($4::text = '' OR d.customer_a = $4 OR d.customer_b = $4)`
	sqlDupList = `SELECT ` + dupColumns + ` FROM duplicate_suggestions d WHERE ` + dupWhere + `
		ORDER BY d.score DESC, d.id LIMIT $5 OFFSET $6`
	sqlDupCount   = `SELECT count(*) FROM duplicate_suggestions d WHERE ` + dupWhere
	sqlDupGet     = `SELECT ` + dupColumns + ` FROM duplicate_suggestions d WHERE d.organization_id = $1 AND d.id = $2`
	sqlDupDismiss = `UPDATE duplicate_suggestions d SET status = 'dismissed', resolved = now(), updated = now()
		WHERE d.organization_id = $1 AND d.id = $2 AND d.status = 'open' RETURNING ` + dupColumns
	// A deleted customer's open pairs are gone with it: there is nothing
	// left to review. Dismissed and merged ones stay as history.
	sqlDupDropOpen = `DELETE FROM duplicate_suggestions
		WHERE organization_id = $1 AND status = 'open' AND (customer_a = $2 OR customer_b = $2)`

	sqlDupLockPairs = `SELECT d.id, d.customer_a, d.customer_b, d.status FROM duplicate_suggestions d
		WHERE d.organization_id = $1 AND d.id = ANY($2) ORDER BY d.id FOR UPDATE`
	sqlDupLive = `SELECT id, merged_into, created FROM customers WHERE organization_id = $1 AND id = ANY($2)
		ORDER BY id FOR UPDATE`
	sqlDupMarkMerged = `UPDATE duplicate_suggestions SET status = 'merged', resolved = now(), updated = now()
		WHERE organization_id = $1 AND id = $2 AND status = 'open'`
)

// DuplicateFilter selects pairs of the review queue.
type DuplicateFilter struct {
	Status     string
	MinScore   float64
	CustomerID string
	Page       int
	Limit      int
}

func scanDuplicate(row pgx.Row) (customer.Duplicate, error) {
	var d customer.Duplicate
	err := row.Scan(&d.ID, &d.CustomerIDs[0], &d.CustomerIDs[1], &d.Score, &d.Reasons, &d.Status, &d.Source, &d.Created, &d.Resolved)
	d.Reasons = customer.ReadableReasons(d.Reasons)
	d.Created = d.Created.UTC()
	if d.Resolved != nil {
		t := d.Resolved.UTC()
		d.Resolved = &t
	}
	return d, err
}

// FindDuplicates lists pairs of one status, best score first (then id).
func (s *Store) FindDuplicates(ctx context.Context, orgID string, f DuplicateFilter) ([]customer.Duplicate, customer.Page, error) {
	list := []customer.Duplicate{}
	var total int
	b := &pgx.Batch{}
	b.Queue(sqlDupList, orgID, f.Status, f.MinScore, f.CustomerID, f.Limit, (f.Page-1)*f.Limit).Query(func(rows pgx.Rows) error {
		var err error
		list, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (customer.Duplicate, error) { return scanDuplicate(r) })
		return err
	})
	b.Queue(sqlDupCount, orgID, f.Status, f.MinScore, f.CustomerID).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list duplicates: %w", err), nil)
	}
	return list, customer.NewPage(total, f.Page, f.Limit), nil
}

// FindDuplicate returns one pair (404 for another organization's).
func (s *Store) FindDuplicate(ctx context.Context, orgID, id string) (*customer.Duplicate, error) {
	d, err := scanDuplicate(s.pool.QueryRow(ctx, sqlDupGet, orgID, id))
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Duplicate", id))
	}
	return &d, nil
}

// DismissDuplicate marks a pair "not a duplicate": it leaves the queue and
// no writer reopens it (they update open pairs only). Dismissing it again
// answers the same; a merged pair cannot be dismissed (409).
func (s *Store) DismissDuplicate(ctx context.Context, orgID, id string) (*customer.Duplicate, error) {
	d, err := scanDuplicate(s.pool.QueryRow(ctx, sqlDupDismiss, orgID, id))
	if err == nil {
		return &d, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, interpretError(fmt.Errorf("dismiss duplicate: %w", err), nil)
	}
	cur, err := s.FindDuplicate(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	if cur.Status == customer.DuplicateMerged {
		return nil, &customer.Error{Code: customer.ECONFLICT, Message: "The pair was merged; unmerge it instead",
			Details: map[string]string{"id": id, "status": cur.Status}}
	}
	return cur, nil
}

// DuplicateMergeOutcome is what a duplicates merge job did with one pair.
type DuplicateMergeOutcome struct {
	ID         string `json:"id"`
	Status     string `json:"status"` // merged | skipped
	Reason     string `json:"reason,omitempty"`
	SurvivorID string `json:"survivor_id,omitempty"`
	SourceID   string `json:"source_id,omitempty"`
	MergeID    string `json:"merge_id,omitempty"`
}

// DuplicateMergeResult is a duplicates merge job's result.
type DuplicateMergeResult struct {
	Merged  int                     `json:"merged"`
	Skipped int                     `json:"skipped"`
	Pairs   []DuplicateMergeOutcome `json:"pairs"`
}

// RunDuplicateMerge merges each open pair of ids (the older customer
// survives; a pair whose customers were merged since merges their
// survivors), in one transaction with the job's completion: a task
// delivered twice finds the job completed and changes nothing twice.
func (s *Store) RunDuplicateMerge(ctx context.Context, orgID, jobID string, ids []string, policy dedupe.Policy, canonical bool) (*DuplicateMergeResult, error) {
	return retryTx(ctx, s, func(tx pgx.Tx) (*DuplicateMergeResult, error) {
		var state string
		var stored []byte
		if err := tx.QueryRow(ctx, sqlLockJob, orgID, jobID).Scan(&state, &stored); err != nil {
			return nil, interpretError(err, customer.NotFound("Job", jobID))
		}
		if state == customer.JobCompleted {
			var done DuplicateMergeResult
			if err := json.Unmarshal(stored, &done); err != nil {
				return nil, fmt.Errorf("stored result of %s: %w", jobID, err)
			}
			return &done, nil
		}
		type pair struct{ a, b, status string }
		pairs := map[string]pair{}
		rows, err := tx.Query(ctx, sqlDupLockPairs, orgID, ids)
		if err != nil {
			return nil, interpretError(fmt.Errorf("lock pairs: %w", err), nil)
		}
		var id string
		var p pair
		if _, err := pgx.ForEachRow(rows, []any{&id, &p.a, &p.b, &p.status}, func() error {
			pairs[id] = p
			return nil
		}); err != nil {
			return nil, interpretError(fmt.Errorf("lock pairs: %w", err), nil)
		}
		res := &DuplicateMergeResult{Pairs: []DuplicateMergeOutcome{}}
		ac := auditContext{source: "api", jobID: jobID}
		for _, id := range ids {
			out := DuplicateMergeOutcome{ID: id, Status: "skipped"}
			p, ok := pairs[id]
			switch {
			case !ok:
				out.Reason = "not found"
			case p.status != customer.DuplicateOpen:
				out.Reason = "pair is " + p.status
			default:
				if err := mergePair(ctx, tx, orgID, id, p.a, p.b, policy, canonical, ac, &out); err != nil {
					return nil, err
				}
			}
			if out.Status == customer.DuplicateMerged {
				res.Merged++
			} else {
				res.Skipped++
			}
			res.Pairs = append(res.Pairs, out)
		}
		b := &pgx.Batch{}
		if err := completeJob(b, orgID, jobID, res); err != nil {
			return nil, err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, interpretError(fmt.Errorf("complete job: %w", err), nil)
		}
		return res, nil
	})
}

// mergePair merges one pair's customers as they are now (following
// merges), the older one surviving, and marks the pair merged.
func mergePair(ctx context.Context, tx pgx.Tx, orgID, pairID, a, b string, policy dedupe.Policy, canonical bool, ac auditContext, out *DuplicateMergeOutcome) error {
	type live struct {
		id      string
		created int64
	}
	var ends [2]live
	for i, start := range []string{a, b} {
		cur := start
		for range 16 {
			var id string
			var into *string
			var created time.Time
			err := tx.QueryRow(ctx, sqlDupLive, orgID, []string{cur}).Scan(&id, &into, &created)
			if errors.Is(err, pgx.ErrNoRows) {
				out.Reason = "customer " + start + " no longer exists"
				return nil
			}
			if err != nil {
				return interpretError(fmt.Errorf("follow merges: %w", err), nil)
			}
			if into == nil {
				ends[i] = live{id: id, created: created.UnixMicro()}
				break
			}
			cur = *into
		}
		if ends[i].id == "" {
			out.Reason = "merge chain of " + start + " too long"
			return nil
		}
	}
	if ends[0].id == ends[1].id {
		out.Status, out.SurvivorID, out.Reason = customer.DuplicateMerged, ends[0].id, "already one customer"
		_, err := tx.Exec(ctx, sqlDupMarkMerged, orgID, pairID)
		return interpretError(err, nil)
	}
	survivor, source := ends[0], ends[1]
	if source.created < survivor.created || (source.created == survivor.created && source.id < survivor.id) {
		survivor, source = source, survivor
	}
	refs, err := mergeInTx(ctx, tx, orgID, survivor.id, []string{source.id}, policy, canonical, ac, nil)
	if err != nil {
		if customer.AsError(err).Code != customer.EINTERNAL {
			out.Reason = customer.AsError(err).Message // checked before any write: the transaction goes on
			return nil
		}
		return err
	}
	if _, err := tx.Exec(ctx, sqlDupMarkMerged, orgID, pairID); err != nil {
		return interpretError(fmt.Errorf("mark pair merged: %w", err), nil)
	}
	out.Status, out.SurvivorID, out.SourceID, out.MergeID = customer.DuplicateMerged, survivor.id, source.id, refs[0].ID
	return nil
}

// dropOpenPairs removes a deleted customer's open pairs.
func dropOpenPairs(ctx context.Context, tx pgx.Tx, orgID, customerID string) error {
	if _, err := tx.Exec(ctx, sqlDupDropOpen, orgID, customerID); err != nil {
		return interpretError(fmt.Errorf("drop open pairs: %w", err), nil)
	}
	return nil
}
