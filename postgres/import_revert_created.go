// Reverting the customers an import created (and no merge involved): their
// ids are arrays (import_created, migration 00039), one row per chunk
// statement of up to a revert batch's ids. A revert batch takes one row and
// reverts it whole in one transaction: it deletes the customers not changed
// since, records each kept one as an import_changes row (outcome 'kept',
// with its reason: the summary lists them as before) and marks the row
// reverted with how many it deleted. A revert that dies resumes with the
// rows not marked; no array is ever half reverted.

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const (
	// A customer of an array that also has an import_changes row of the
	// import (a later chunk or a retried row changed it, its image taken
	// then) is reverted by that row, as the import's creation; once, before
	// the batches, so the merged batch sees it too. One hash join of the
	// import's ids and images: on statistics older than the import the
	// planner, thinking both small, unnested every array once per image (a
	// 200k-row import's revert sat minutes on it), hence no nested loop.
	sqlRevertMarkPlan    = `SET LOCAL enable_nestloop = off`
	sqlRevertMarkCreated = `UPDATE import_changes ch SET created = true
		FROM (SELECT unnest(customer_ids) AS id FROM import_created
			WHERE organization_id = $1 AND import_id = $2 AND NOT reverted) a
		WHERE ch.organization_id = $1 AND ch.import_id = $2 AND ch.customer_id = a.id
			AND NOT ch.created AND ch.outcome IS NULL`
	// A batch: the next array row after the runner's previous one ($3), as
	// sqlRevertNext; the sweep waits for rows another transaction holds.
	sqlRevertNextCreated = `SELECT first_id FROM import_created
		WHERE organization_id = $1 AND import_id = $2 AND first_id > $3 AND NOT reverted
		ORDER BY first_id LIMIT 1 FOR UPDATE SKIP LOCKED`
	sqlRevertSweepCreated = `SELECT first_id FROM import_created
		WHERE organization_id = $1 AND import_id = $2 AND first_id > $3 AND NOT reverted
		ORDER BY first_id LIMIT 1 FOR UPDATE`
	sqlRevertLockCreated = `SELECT count(*) FROM (SELECT 1 FROM customers WHERE organization_id = $1 AND id IN (
			SELECT unnest(customer_ids) FROM import_created WHERE organization_id = $1 AND import_id = $2 AND first_id = $3)
		ORDER BY id FOR UPDATE) c`
	sqlRevertKeepCreated = `INSERT INTO import_changes (organization_id, import_id, customer_id, created, outcome, reason)
		SELECT $1, $2, u.id, true, 'kept', u.reason FROM unnest($3::text[], $4::text[]) AS u(id, reason)`
	sqlRevertCreatedDone = `UPDATE import_created SET reverted = true, deleted = $4
		WHERE organization_id = $1 AND import_id = $2 AND first_id = $3`
	// A customer restored to what an earlier import created (its image's
	// row is that import's chunk's writing) is that import's again, as
	// sqlRevertHandBack does for images: an import_changes row of that
	// import, written now, reverts it as created.
	// The batch's images' xmins are read once, and only the arrays written
	// by one of those transactions are opened.
	sqlRevertHandBackCreated = `WITH w AS MATERIALIZED (SELECT ch.customer_id, ch.before->>'xmin' AS x FROM import_changes ch
			WHERE ch.organization_id = $1 AND ch.import_id = $2 AND ch.customer_id = ANY($3)),
		a AS MATERIALIZED (SELECT a.import_id, a.customer_ids, (a.written::text::bigint % 4294967296)::text AS x
			FROM import_created a WHERE a.organization_id = $1 AND a.import_id <> $2 AND NOT a.reverted
				AND (a.written::text::bigint % 4294967296)::text IN (SELECT x FROM w))
		INSERT INTO import_changes (organization_id, import_id, customer_id, created)
		SELECT $1, a.import_id, w.customer_id, true FROM a JOIN w ON w.x = a.x AND w.customer_id = ANY(a.customer_ids)
		ON CONFLICT DO NOTHING`
)

// Each customer of the row with why it is kept (an empty reason when it
// goes), as sqlRevertClassify decides, against the row's transaction.
// Whether the import has an image of the customer is a scalar subquery, a
// primary-key probe per id: as NOT EXISTS the planner, counting ten ids to
// an array, joined each id against all the import's images (17 s for an
// array of 2,800 ids beside 28,000 images; 0.2 s so).
var sqlRevertClassifyCreated = `WITH cur AS MATERIALIZED (
		SELECT u.id, c.id IS NULL AS gone, ` + revertChangedCols + `
		FROM import_created ic CROSS JOIN LATERAL unnest(ic.customer_ids) AS u(id)
		CROSS JOIN LATERAL (SELECT (ic.written::text::bigint % 4294967296)::text::xid AS t) w
		LEFT JOIN customers c ON c.organization_id = $1 AND c.id = u.id
		WHERE ic.organization_id = $1 AND ic.import_id = $2 AND ic.first_id = $3
			AND (SELECT count(*) FROM import_changes ch WHERE ch.organization_id = $1 AND ch.import_id = $2
				AND ch.customer_id = u.id) = 0)
	SELECT cur.id, ` + revertReason + ` FROM cur`

// revertCreatedTx reverts the array row the query next picks after the
// row after, and returns its key; done when none is left.
func revertCreatedTx(ctx context.Context, tx pgx.Tx, orgID, importID, next, after string) (last string, done bool, err error) {
	var first string
	if err := tx.QueryRow(ctx, next, orgID, importID, after).Scan(&first); err == pgx.ErrNoRows {
		return "", true, nil
	} else if err != nil {
		return "", false, interpretError(fmt.Errorf("next created: %w", err), nil)
	}
	if _, err := tx.Exec(ctx, sqlRevertLockCreated, orgID, importID, first); err != nil {
		return "", false, interpretError(fmt.Errorf("lock created: %w", err), nil)
	}
	rows, err := tx.Query(ctx, sqlRevertClassifyCreated, orgID, importID, first)
	if err != nil {
		return "", false, interpretError(fmt.Errorf("classify created: %w", err), nil)
	}
	var deleted, kept, reasons []string
	var id, reason string
	if _, err := pgx.ForEachRow(rows, []any{&id, &reason}, func() error {
		if reason == "" {
			deleted = append(deleted, id)
		} else {
			kept, reasons = append(kept, id), append(reasons, reason)
		}
		return nil
	}); err != nil {
		return "", false, interpretError(fmt.Errorf("classify created: %w", err), nil)
	}
	b := &pgx.Batch{}
	if len(deleted) > 0 {
		for _, q := range []string{sqlRevertDeleteIdentities, sqlRevertDeleteCarriers, sqlRevertDeletePairs, sqlRevertDeleteCustomers} {
			b.Queue(q, orgID, deleted)
		}
		b.Queue(sqlRevertAudit, orgID, importID, EventDeleted, deleted)
	}
	if len(kept) > 0 {
		b.Queue(sqlRevertKeepCreated, orgID, importID, kept, reasons)
	}
	b.Queue(sqlRevertCreatedDone, orgID, importID, first, len(deleted))
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return "", false, interpretError(fmt.Errorf("revert created: %w", err), nil)
	}
	return first, false, nil
}
