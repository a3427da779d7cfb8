// Retrying an import's rows in error (SPEC §10.3): the corrected rows are
// staged in the same import as one more chunk, merged by the chunk code
// like the others.

package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	sqlImportErrorRows = `SELECT DISTINCT row_num FROM import_errors
		WHERE organization_id = $1 AND import_id = $2 AND severity = 'error'`
	sqlLockImportRetry = `SELECT status, kind, chunks, revert_job IS NOT NULL FROM imports
		WHERE organization_id = $1 AND id = $2 FOR UPDATE`
	sqlCountErrorRows = `SELECT count(DISTINCT row_num) FROM import_errors
		WHERE organization_id = $1 AND import_id = $2 AND severity = 'error' AND row_num = ANY($3)`
	sqlRetryClearErrors = `DELETE FROM import_errors WHERE organization_id = $1 AND import_id = $2 AND row_num = ANY($3)`
	sqlRetryClearMoves  = `DELETE FROM import_row_moves WHERE organization_id = $1 AND import_id = $2 AND row_num = ANY($3)`
	// A row the merge refused was staged: its corrected version replaces it.
	sqlRetryClearRows = `DELETE FROM import_rows WHERE organization_id = $1 AND import_id = $2 AND row_num = ANY($3)`
	// The retried rows reach their chunk as moved-in rows: a chunk reads
	// its staged rows as the row range of a natural chunk (sqlChunkRows),
	// and these keep their row numbers, scattered over the file.
	sqlRetryMoves = `INSERT INTO import_row_moves (organization_id, import_id, row_num, chunk)
		SELECT $1, $2, n, $4 FROM unnest($3::int[]) AS n`
	// The chunk probes every key of these rows (the plan never saw them).
	sqlRetryOwned = `INSERT INTO import_owned_rows (organization_id, import_id, row_num)
		SELECT $1, $2, n FROM unnest($3::int[]) AS n ON CONFLICT DO NOTHING`
	sqlRetryChunk = `INSERT INTO import_chunks (organization_id, import_id, chunk, rows) VALUES ($1, $2, $3, $4)`
	// Retried rows leave invalid; those still in error come back to it, and
	// the new chunk counts the rest as it merges them.
	sqlRetryCounts = `UPDATE imports SET invalid = invalid - $3 + $4, warnings = warnings + $5,
		chunks = chunks + $6, status = CASE WHEN $6 > 0 THEN 'processing' ELSE status END,
		finished = CASE WHEN $6 > 0 THEN NULL ELSE finished END,
		error_summary = NULL, staging_purged = false, updated = now()
		WHERE organization_id = $1 AND id = $2`
)

// ImportErrorRows lists the row numbers of an import's rows in error.
func (s *Store) ImportErrorRows(ctx context.Context, orgID, importID string) (map[int]bool, error) {
	rows, err := s.pool.Query(ctx, sqlImportErrorRows, orgID, importID)
	if err != nil {
		return nil, interpretError(fmt.Errorf("error rows: %w", err), nil)
	}
	out := map[int]bool{}
	var n int
	_, err = pgx.ForEachRow(rows, []any{&n}, func() error { out[n] = true; return nil })
	return out, interpretError(err, nil)
}

// ImportRetry is a corrected error report, read (importer.ReadRetry).
type ImportRetry struct {
	Rows     []customer.ImportRow     // now valid: merged as a new chunk
	Problems []customer.ImportProblem // the retried rows' problems now
	Retried  []int                    // the row numbers retried
	Invalid  int                      // retried rows still in error
	Warnings int                      // retried rows imported with a warning
}

// RetryImport replaces the retried rows' problems with their new ones and
// stages the valid rows as one more chunk of the import, which goes back
// to processing; it returns that chunk (-1 when no row became valid). Only
// a completed customer import that is not being reverted can be retried.
func (s *Store) RetryImport(ctx context.Context, orgID, importID string, rt *ImportRetry) (int, error) {
	chunk := -1
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status customer.ImportStatus
		var kind customer.ImportKind
		var chunks int
		var reverted bool
		if err := tx.QueryRow(ctx, sqlLockImportRetry, orgID, importID).Scan(&status, &kind, &chunks, &reverted); err != nil {
			return interpretError(err, customer.NotFound("Import", importID))
		}
		if status != customer.ImportCompleted || reverted || kind != customer.ImportCustomers {
			return &customer.Error{Code: customer.ECONFLICT, Message: "Only a completed customer import can be retried (this one is " +
				string(status) + ")", Details: map[string]string{"status": string(status)}}
		}
		var still int
		if err := tx.QueryRow(ctx, sqlCountErrorRows, orgID, importID, rt.Retried).Scan(&still); err != nil {
			return interpretError(fmt.Errorf("count error rows: %w", err), nil)
		}
		if still != len(rt.Retried) {
			return &customer.Error{Code: customer.ECONFLICT, Message: "Another retry of this import changed its errors meanwhile: download them again"}
		}
		b := &pgx.Batch{}
		for _, q := range []string{sqlRetryClearErrors, sqlRetryClearMoves, sqlRetryClearRows} {
			b.Queue(q, orgID, importID, rt.Retried)
		}
		if len(rt.Rows) > 0 {
			chunk = chunks
			nums := make([]int32, len(rt.Rows))
			for i := range rt.Rows {
				rt.Rows[i].Chunk = chunk
				nums[i] = int32(rt.Rows[i].Num)
			}
			b.Queue(sqlRetryMoves, orgID, importID, nums, chunk)
			b.Queue(sqlRetryOwned, orgID, importID, nums)
			b.Queue(sqlRetryChunk, orgID, importID, chunk, len(rt.Rows))
		}
		added := 0
		if chunk >= 0 {
			added = 1
		}
		b.Queue(sqlRetryCounts, orgID, importID, len(rt.Retried), rt.Invalid, rt.Warnings, added)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return interpretError(fmt.Errorf("retry import: %w", err), nil)
		}
		return copyRetry(ctx, tx, orgID, importID, rt, s.fatRowBytes())
	})
	return chunk, err
}

// copyRetry stages the retried rows and problems in the transaction.
func copyRetry(ctx context.Context, tx pgx.Tx, orgID, importID string, rt *ImportRetry, fat int) error {
	rows := make([][]any, 0, len(rt.Rows))
	for i := range rt.Rows {
		r := &rt.Rows[i]
		rec, err := json.Marshal(r.Record)
		if err != nil {
			return fmt.Errorf("encode row %d: %w", r.Num, err)
		}
		var size any
		if r.Bytes >= fat {
			size = int32(r.Bytes)
		}
		rows = append(rows, []any{orgID, importID, int32(r.Num), int32(r.Chunk), r.Email, r.EmailKey, r.Phone, r.PhoneKey,
			r.PhoneValid, r.PhoneExt, r.External, string(rec), r.OrderKey, r.Raw, size})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_rows"},
		[]string{"organization_id", "import_id", "row_num", "chunk", "email", "email_key", "phone", "phone_key",
			"phone_valid", "phone_ext", "external_key", "record", "order_key", "raw", "size_bytes"}, pgx.CopyFromRows(rows)); err != nil {
		return interpretError(fmt.Errorf("stage retried rows: %w", err), nil)
	}
	probs := make([][]any, 0, len(rt.Problems))
	for _, p := range rt.Problems {
		raw := p.Raw
		if raw == nil {
			raw = []string{}
		}
		probs = append(probs, []any{orgID, importID, int32(p.Row), int16(p.Seq), p.Severity, p.Column, p.Reason, raw})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_errors"},
		[]string{"organization_id", "import_id", "row_num", "seq", "severity", "column_name", "reason", "raw"}, pgx.CopyFromRows(probs)); err != nil {
		return interpretError(fmt.Errorf("stage retried problems: %w", err), nil)
	}
	return nil
}
