// What the reconciler and the janitor ask of imports: pending chunks, stalled imports, expired uploads, heartbeats, purging staged rows.

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	sqlPendingChunks = `SELECT chunk FROM import_chunks WHERE organization_id = $1 AND import_id = $2 AND NOT done ORDER BY chunk`
	// A locked import is being worked on (a planner writing its plan, a
	// minute for a 2 GB file): not stalled, and touching it would block the
	// reconciler until the plan commits. At most 10 per organization, so
	// one tenant's pile cannot crowd out the others' within the 100.
	sqlStalledImports = `SELECT i.organization_id, i.id, i.status, i.updated FROM imports i
		WHERE (i.organization_id, i.id) IN (
			SELECT organization_id, id FROM (
				SELECT organization_id, id, row_number() OVER (PARTITION BY organization_id ORDER BY updated) AS n
				FROM imports WHERE status = 'processing' AND updated < $1) oldest
			WHERE n <= 10)
		ORDER BY i.updated LIMIT 100
		FOR NO KEY UPDATE OF i SKIP LOCKED`
	// Uploads still reading long after they started: their API process died
	// or the client vanished. One statement for every tenant.
	sqlFailExpiredUploads = `UPDATE imports SET status = 'failed', error = $2, finished = now(), updated = now()
		WHERE (organization_id, id) IN (SELECT organization_id, id FROM imports
			WHERE status = 'reading' AND updated < $1 FOR NO KEY UPDATE SKIP LOCKED)`
	sqlTouchImport = `UPDATE imports SET updated = now() WHERE organization_id = $1 AND id = $2`
)

// PendingChunks lists the chunks of an import not merged yet.
func (s *Store) PendingChunks(ctx context.Context, orgID, importID string) ([]int, error) {
	rows, err := s.pool.Query(ctx, sqlPendingChunks, orgID, importID)
	if err != nil {
		return nil, interpretError(err, nil)
	}
	chunks, err := pgx.CollectRows(rows, pgx.RowTo[int])
	return chunks, interpretError(err, nil)
}

// StalledImport is an unfinished import without recent progress.
type StalledImport struct {
	OrgID, ID string
	Status    customer.ImportStatus
	Updated   time.Time // the last sign of progress
}

// StalledImports lists processing imports not updated since before,
// oldest first, at most 10 per organization.
func (s *Store) StalledImports(ctx context.Context, before time.Time) ([]StalledImport, error) {
	rows, err := s.pool.Query(ctx, sqlStalledImports, before)
	if err != nil {
		return nil, interpretError(err, nil)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StalledImport, error) {
		var s StalledImport
		err := r.Scan(&s.OrgID, &s.ID, &s.Status, &s.Updated)
		return s, err
	})
	return list, interpretError(err, nil)
}

// FailExpiredUploads fails the imports still reading that were last
// updated before the given time, with reason as their error, and returns
// how many.
func (s *Store) FailExpiredUploads(ctx context.Context, before time.Time, reason string) (int64, error) {
	tag, err := s.pool.Exec(ctx, sqlFailExpiredUploads, before, reason)
	if err != nil {
		return 0, interpretError(fmt.Errorf("fail expired uploads: %w", err), nil)
	}
	return tag.RowsAffected(), nil
}

// TouchImport marks progress so the reconciler leaves the import alone.
func (s *Store) TouchImport(ctx context.Context, orgID, importID string) error {
	_, err := s.pool.Exec(ctx, sqlTouchImport, orgID, importID)
	return interpretError(err, nil)
}

const (
	sqlUnpurgedImport = `SELECT organization_id, id FROM imports
		WHERE NOT staging_purged AND status IN ('completed', 'failed', 'cancelled') AND finished < $1
		ORDER BY finished LIMIT 1`
	sqlMarkPurged = `UPDATE imports SET staging_purged = true WHERE organization_id = $1 AND id = $2`
)

// sqlPurgeBatch deletes up to $3 of an import's rows from one of its
// staging tables (a constant name, never input).
func sqlPurgeBatch(table string) string {
	return `DELETE FROM ` + table + ` WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM ` + table + ` WHERE organization_id = $1 AND import_id = $2 LIMIT $3))`
}

// PurgeImportStaging deletes up to limit staged rows of the import that
// finished first before the given time; an import left with none is marked
// purged. It returns how many rows it deleted. Batches keep each delete
// short beside the live traffic.
func (s *Store) PurgeImportStaging(ctx context.Context, finishedBefore time.Time, limit int) (int64, error) {
	var orgID, importID string
	err := s.pool.QueryRow(ctx, sqlUnpurgedImport, finishedBefore).Scan(&orgID, &importID)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, interpretError(fmt.Errorf("find finished import: %w", err), nil)
	}
	var n int64
	// import_rows last: the other two list its rows.
	for _, table := range []string{"import_row_moves", "import_owned_rows", "import_rows"} {
		tag, err := s.pool.Exec(ctx, sqlPurgeBatch(table), orgID, importID, limit)
		if err != nil {
			return n, interpretError(fmt.Errorf("purge staging of %s: %w", importID, err), nil)
		}
		if n += tag.RowsAffected(); tag.RowsAffected() == int64(limit) {
			return n, nil // more next time
		}
	}
	if _, err := s.pool.Exec(ctx, sqlMarkPurged, orgID, importID); err != nil {
		return n, interpretError(fmt.Errorf("mark %s purged: %w", importID, err), nil)
	}
	return n, nil
}

// settleImportRows is the size (customers created and updated) from which
// a completed import analyzes the customers table (SettleImportedCustomers).
const settleImportRows = 20000

const (
	sqlImportWrites    = `SELECT created_count + updated_count FROM imports WHERE organization_id = $1 AND id = $2`
	sqlSettleCustomers = `ANALYZE customers`
)

// SettleImportedCustomers analyzes the customers table after a large
// import (settleImportRows or more customers written): searches estimate
// the organization's size from the planner (searchSamples), which without
// fresh statistics still sees the organization as it was — an organization
// new to its first big import as a few hundred customers, so every common
// term would be fetched by the trigram index before being walked.
// ANALYZE samples a bounded number of rows whatever the table's size
// (1.5 s after a 1M-row import on the loaded box). VACUUM's heap pass was
// measured too and left out: 14 s there, and the first searches after the
// import cost the same with or without it (issue 24). It reports whether
// it ran.
func (s *Store) SettleImportedCustomers(ctx context.Context, orgID, importID string) (bool, error) {
	var n int
	if err := s.pool.QueryRow(ctx, sqlImportWrites, orgID, importID).Scan(&n); err != nil {
		return false, interpretError(fmt.Errorf("import %s writes: %w", importID, err), nil)
	}
	if n < settleImportRows {
		return false, nil
	}
	if _, err := s.pool.Exec(ctx, sqlSettleCustomers); err != nil {
		return false, interpretError(fmt.Errorf("analyze customers: %w", err), nil)
	}
	return true, nil
}
