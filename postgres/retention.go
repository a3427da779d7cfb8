// Retention (issue 21, "Privacy"): the reconciler deletes, in batches, what
// is kept only for a while — finished jobs (their requests hold personal
// data), the error reports of imports finished long ago (raw cells) and
// their before-images (import_changes: what a revert needs).
// Staged import rows have their own, shorter window (PurgeImportStaging).

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// The purge finds old jobs through a BRIN index on created, which
	// skips only the block ranges it has summarized; ranges filled since
	// are read whole. Autovacuum summarizes them — when it runs: where it
	// is off or behind, every tick read the whole table (363 ms at 194k
	// jobs, measured). Summarizing the new full ranges first reads each
	// block once, ever.
	sqlSummarizeJobs = `SELECT brin_summarize_new_values('jobs_created_brin')`
	// Without statistics (autovacuum off or behind: no ANALYZE) the planner
	// reads the whole table rather than trust the index.
	sqlPurgeByIndex = `SET LOCAL enable_seqscan = off`
	// Queued jobs are work still owed; only finished ones expire.
	sqlPurgeJobs = `DELETE FROM jobs WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM jobs WHERE created < $1 AND state <> 'queued' LIMIT $2))`
	sqlUnpurgedErrors = `SELECT organization_id, id, error_summary IS NULL FROM imports
		WHERE NOT errors_purged AND status IN ('completed', 'failed', 'cancelled') AND finished < $1
		ORDER BY finished LIMIT 1`
	// An import whose before-images are being purged, else the one that
	// finished first before $1 (a reverting one waits for its revert).
	sqlUnpurgedChanges = `(SELECT organization_id, id, changes_purge FROM imports WHERE changes_purge = 'purging' LIMIT 1)
		UNION ALL (SELECT organization_id, id, changes_purge FROM imports WHERE changes_purge = ''
			AND status IN ('completed', 'failed', 'cancelled', 'reverted') AND finished < $1 ORDER BY finished LIMIT 1)
		LIMIT 1`
	// From the first batch on, a revert is refused (StartImportRevert).
	sqlMarkChangesPurging = `UPDATE imports SET changes_purge = 'purging'
		WHERE organization_id = $1 AND id = $2 AND changes_purge = '' AND status <> 'reverting'`
	sqlMarkChangesPurged = `UPDATE imports SET changes_purge = 'purged' WHERE organization_id = $1 AND id = $2`
	// The identifiers a file put on many rows go with the report.
	sqlMarkErrorsPurged = `UPDATE imports SET errors_purged = true, placeholders = '[]'
		WHERE organization_id = $1 AND id = $2`
)

// PurgeJobs deletes up to limit finished jobs created before the given
// time and returns how many. GET /jobs/{id} answers 404 for them after.
func (s *Store) PurgeJobs(ctx context.Context, createdBefore time.Time, limit int) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{sqlSummarizeJobs, sqlPurgeByIndex} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, sqlPurgeJobs, createdBefore, limit)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, interpretError(fmt.Errorf("purge jobs: %w", err), nil)
	}
	return n, nil
}

// PurgeImportErrors deletes up to limit error rows of the import that
// finished first before the given time; an import left with none is
// marked purged. Its error summary is stored first, so the import keeps
// its counts by reason. It returns how many rows it deleted.
func (s *Store) PurgeImportErrors(ctx context.Context, finishedBefore time.Time, limit int) (int64, error) {
	var orgID, importID string
	var noSummary bool
	err := s.pool.QueryRow(ctx, sqlUnpurgedErrors, finishedBefore).Scan(&orgID, &importID, &noSummary)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, interpretError(fmt.Errorf("find finished import: %w", err), nil)
	}
	if noSummary {
		sum, err := s.errorSummary(ctx, orgID, importID)
		if err != nil {
			return 0, err
		}
		if _, err := s.pool.Exec(ctx, sqlStoreErrorSummary, orgID, importID, sum); err != nil {
			return 0, interpretError(fmt.Errorf("store error summary: %w", err), nil)
		}
	}
	tag, err := s.pool.Exec(ctx, sqlPurgeBatch("import_errors"), orgID, importID, limit)
	if err != nil {
		return 0, interpretError(fmt.Errorf("purge errors of %s: %w", importID, err), nil)
	}
	if tag.RowsAffected() == int64(limit) {
		return tag.RowsAffected(), nil // more next time
	}
	if _, err := s.pool.Exec(ctx, sqlMarkErrorsPurged, orgID, importID); err != nil {
		return tag.RowsAffected(), interpretError(fmt.Errorf("mark %s purged: %w", importID, err), nil)
	}
	return tag.RowsAffected(), nil
}

// PurgeImportChanges deletes up to limit before-images (import_changes) of
// the import that finished first before the given time, or of one whose
// purge began: the import can no longer be reverted. It returns how many
// rows it deleted.
func (s *Store) PurgeImportChanges(ctx context.Context, finishedBefore time.Time, limit int) (int64, error) {
	var orgID, importID, state string
	err := s.pool.QueryRow(ctx, sqlUnpurgedChanges, finishedBefore).Scan(&orgID, &importID, &state)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, interpretError(fmt.Errorf("find finished import: %w", err), nil)
	}
	if state == "" {
		tag, err := s.pool.Exec(ctx, sqlMarkChangesPurging, orgID, importID)
		if err != nil {
			return 0, interpretError(fmt.Errorf("mark %s purging: %w", importID, err), nil)
		}
		if tag.RowsAffected() == 0 {
			return 0, nil // a revert started meanwhile: it goes first
		}
	}
	// The created customers' arrays (migration 00039) go with the images.
	var n int64
	for _, table := range []string{"import_changes", "import_created"} {
		tag, err := s.pool.Exec(ctx, sqlPurgeBatch(table), orgID, importID, limit)
		if err != nil {
			return n, interpretError(fmt.Errorf("purge before-images of %s: %w", importID, err), nil)
		}
		if n += tag.RowsAffected(); tag.RowsAffected() == int64(limit) {
			return n, nil // more next time
		}
	}
	if _, err := s.pool.Exec(ctx, sqlMarkChangesPurged, orgID, importID); err != nil {
		return n, interpretError(fmt.Errorf("mark %s purged: %w", importID, err), nil)
	}
	return n, nil
}
