package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	importColumns = `id, organization_id, kind, status, file_name, size_bytes, format, encoding, delimiter,
		headers, mapping, options, dry_run, rows, processed, created_count, updated_count, unchanged,
		merged_in_file, conflicts, invalid, warnings, orders_created, orders_skipped, orders_invalid,
		chunks, chunks_done, samples, error, created, started, read_done, finished, revert`

	sqlInsertImport = `INSERT INTO imports (organization_id, id, kind, status, file_name, options, dry_run, chunk_rows, started)
		VALUES ($1, $2, $3, 'reading', $4, $5, $6, $7, now()) RETURNING created, started`
	sqlSelectImport = `SELECT ` + importColumns + `, error_summary, jsonb_array_length(placeholders) > 0
		FROM imports WHERE organization_id = $1 AND id = $2`
	sqlImportExists  = `SELECT true FROM imports WHERE organization_id = $1 AND id = $2`
	sqlSelectImports = `SELECT ` + importColumns + `, error_summary, jsonb_array_length(placeholders) > 0
		FROM imports WHERE organization_id = $1 ORDER BY created DESC, id DESC LIMIT $2 OFFSET $3`
	sqlCountImports = `SELECT count(*) FROM imports WHERE organization_id = $1`
	sqlImportRead   = `UPDATE imports SET format = $3, encoding = $4, delimiter = $5, headers = $6, mapping = $7,
		size_bytes = $8, rows = $9, invalid = $10, warnings = $11, chunk_starts = $12, read_done = now(), updated = now(),
		status = CASE WHEN status = 'reading' THEN 'processing' ELSE status END
		WHERE organization_id = $1 AND id = $2 RETURNING status`
	// size_bytes too: without its statistics the plan's read of fat rows
	// (sqlFatRows, nearly always none) scanned all of import_rows (1.9 s
	// for a million rows) instead of the partial index that holds them.
	sqlAnalyzeStaging = `ANALYZE import_rows (organization_id, import_id, email_key, phone_key, external_key, order_key, size_bytes)`
	sqlFailImport     = `UPDATE imports SET status = 'failed', error = $3, finished = now(), updated = now()
		WHERE organization_id = $1 AND id = $2 AND status IN ('queued', 'reading', 'processing')`
	sqlCancelImport = `UPDATE imports SET status = 'cancelled', finished = now(), updated = now()
		WHERE organization_id = $1 AND id = $2 AND status IN ('queued', 'reading', 'processing')`
	sqlErrorSummary = `SELECT severity, split_part(reason, ' "', 1) AS r, count(*) FROM import_errors
		WHERE organization_id = $1 AND import_id = $2 GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 50`
	sqlStoreErrorSummary = `UPDATE imports SET error_summary = $3
		WHERE organization_id = $1 AND id = $2 AND error_summary IS NULL`
	sqlChunkSamples = `SELECT samples FROM import_chunks WHERE organization_id = $1 AND import_id = $2
		AND samples <> '{}' ORDER BY chunk`
	// A dry run's invalid rows are its errors: the first of them.
	sqlInvalidSamples = `SELECT DISTINCT row_num FROM import_errors WHERE organization_id = $1 AND import_id = $2
		AND severity = 'error' ORDER BY row_num LIMIT 5`
	sqlSelectImportErrors = `SELECT row_num, severity, column_name, reason, raw FROM import_errors
		WHERE organization_id = $1 AND import_id = $2 AND ($3 = '' OR severity = $3)
		ORDER BY row_num, seq LIMIT $4 OFFSET $5`
	sqlCountImportErrors = `SELECT count(*) FROM import_errors WHERE organization_id = $1 AND import_id = $2
		AND ($3 = '' OR severity = $3)`
	sqlStreamImportErrors = `SELECT row_num, severity, column_name, reason, raw FROM import_errors
		WHERE organization_id = $1 AND import_id = $2 AND ($3 = '' OR severity = $3) ORDER BY row_num, seq`
)

// analyzeStagedRows is the file size from which staging refreshes the
// statistics of import_rows (half a second) before planning.
const analyzeStagedRows = 20000

// scanImport reads importColumns, then extra (columns selected after them).
func scanImport(row pgx.Row, extra ...any) (*customer.Import, error) {
	var im customer.Import
	var readDone *time.Time
	c := &im.Counts
	err := row.Scan(append([]any{&im.ID, &im.OrganizationID, &im.Kind, &im.Status, &im.FileName, &im.SizeBytes, &im.Format,
		&im.Encoding, &im.Delimiter, &im.Headers, &im.Mapping, &im.Options, &im.Options.DryRun, &c.Rows, &c.Processed,
		&c.Created, &c.Updated, &c.Unchanged, &c.MergedInFile, &c.Conflicts, &c.Invalid, &c.Warnings,
		&c.OrdersCreated, &c.OrdersSkipped, &c.OrdersInvalid, &im.Chunks, &im.ChunksDone, &im.Samples, &im.Error, &im.Created,
		&im.Started, &readDone, &im.Finished, &im.Revert}, extra...)...)
	if err != nil {
		return nil, err
	}
	im.Progress, im.RowsPerSecond, im.ETASeconds = progress(&im, readDone)
	return &im, nil
}

// progress derives progress (0–1), throughput and ETA from the counts:
// rows still being read count as unknown work. While the rows merge, the
// rate and ETA are the merge's own (since reading ended): a 2 GB file reads
// for minutes, and counting that time made the ETA hours too long. A
// finished import reports its rate over the whole run.
func progress(im *customer.Import, readDone *time.Time) (float64, float64, *float64) {
	c := im.Counts
	done := c.Processed + c.Invalid
	if im.Status == customer.ImportCompleted {
		return 1, rate(im.Started, im.Finished, done), nil
	}
	if readDone == nil || c.Rows == 0 || im.Started == nil {
		return 0, 0, nil
	}
	p := float64(done) / float64(c.Rows)
	r := rate(readDone, im.Finished, c.Processed)
	if r <= 0 || im.Status != customer.ImportProcessing {
		return p, r, nil
	}
	eta := float64(c.Rows-done) / r
	return p, r, &eta
}

// rate is n rows over from → to (or now).
func rate(from, to *time.Time, n int) float64 {
	if from == nil {
		return 0
	}
	end := time.Now()
	if to != nil {
		end = *to
	}
	secs := end.Sub(*from).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// problemsSettle is how long after a cancelled or failed import stopped a
// chunk that was running may still commit its problems: an import task's
// timeout (queue.enqueueImport).
const problemsSettle = 10 * time.Minute

// problemsFinal reports whether an import's problems can no longer change:
// a customer import's are all staged before it starts processing unless
// its plan found placeholders (chunks warn about those); an order import's
// chunks add theirs until it completes. A cancelled or failed import's
// are once no chunk can still be running (until then its summary is
// counted on each read, as is a running import's).
func problemsFinal(im *customer.Import, placeholders bool) bool {
	switch im.Status {
	case customer.ImportCompleted:
		return true
	case customer.ImportCancelled, customer.ImportFailed:
		return im.Finished != nil && time.Since(*im.Finished) > problemsSettle
	}
	return im.Kind != customer.ImportOrders && im.Status == customer.ImportProcessing && im.Chunks > 0 && !placeholders
}

// errorSummary counts an import's problems by severity and reason.
func (s *Store) errorSummary(ctx context.Context, orgID, id string) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, sqlErrorSummary, orgID, id)
	if err != nil {
		return nil, interpretError(fmt.Errorf("error summary: %w", err), nil)
	}
	sum := map[string]int{}
	var sev, reason string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&sev, &reason, &n}, func() error {
		sum[sev+": "+strings.TrimSpace(reason)] += n
		return nil
	})
	if err != nil {
		return nil, interpretError(fmt.Errorf("error summary: %w", err), nil)
	}
	return sum, nil
}

// CreateImport records a new import in status reading.
func (s *Store) CreateImport(ctx context.Context, im *customer.Import) error {
	im.ID = customer.NewID(customer.PrefixImport)
	im.Status = customer.ImportReading
	err := s.pool.QueryRow(ctx, sqlInsertImport, im.OrganizationID, im.ID, im.Kind, im.FileName, im.Options, im.Options.DryRun, s.chunkRows()).
		Scan(&im.Created, &im.Started)
	return interpretError(err, nil)
}

// FindImport returns one import with its error summary.
func (s *Store) FindImport(ctx context.Context, orgID, id string) (*customer.Import, error) {
	var stored map[string]int
	var placeholders bool
	im, err := scanImport(s.pool.QueryRow(ctx, sqlSelectImport, orgID, id), &stored, &placeholders)
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Import", id))
	}
	if err := s.fillErrorSummary(ctx, im, stored, placeholders); err != nil {
		return nil, err
	}
	if im.Options.DryRun {
		if im.Samples, err = s.importSamples(ctx, orgID, id); err != nil {
			return nil, err
		}
	}
	return im, nil
}

// fillErrorSummary sets the import's error summary: the stored one, else
// counted now, and stored once the problems are final (see problemsFinal).
func (s *Store) fillErrorSummary(ctx context.Context, im *customer.Import, stored map[string]int, placeholders bool) error {
	if im.ErrorSummary = stored; stored != nil {
		return nil
	}
	var err error
	if im.ErrorSummary, err = s.errorSummary(ctx, im.OrganizationID, im.ID); err != nil {
		return err
	}
	if problemsFinal(im, placeholders) {
		if _, err := s.pool.Exec(ctx, sqlStoreErrorSummary, im.OrganizationID, im.ID, im.ErrorSummary); err != nil {
			return interpretError(fmt.Errorf("store error summary: %w", err), nil)
		}
	}
	return nil
}

// importSamples gathers the first rows of each outcome over the chunks.
func (s *Store) importSamples(ctx context.Context, orgID, id string) (map[string][]int, error) {
	rows, err := s.pool.Query(ctx, sqlChunkSamples, orgID, id)
	if err != nil {
		return nil, interpretError(fmt.Errorf("samples: %w", err), nil)
	}
	out := map[string][]int{}
	var chunk map[string][]int
	_, err = pgx.ForEachRow(rows, []any{&chunk}, func() error {
		for k, v := range chunk {
			out[k] = append(out[k], v...)
		}
		return nil
	})
	if err != nil {
		return nil, interpretError(fmt.Errorf("samples: %w", err), nil)
	}
	for k, v := range out {
		slices.Sort(v)
		out[k] = v[:min(len(v), maxSamples)]
	}
	rows, err = s.pool.Query(ctx, sqlInvalidSamples, orgID, id)
	if err != nil {
		return nil, interpretError(fmt.Errorf("invalid samples: %w", err), nil)
	}
	invalid, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if len(invalid) > 0 {
		out["invalid"] = invalid
	}
	return out, interpretError(err, nil)
}

// FindImports lists an organization's imports, newest first.
func (s *Store) FindImports(ctx context.Context, orgID string, page, limit int) ([]*customer.Import, customer.Page, error) {
	var total int
	list := []*customer.Import{}
	b := &pgx.Batch{}
	type summary struct {
		stored       map[string]int
		placeholders bool
	}
	var sums []summary
	b.Queue(sqlSelectImports, orgID, limit, (page-1)*limit).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var sum summary
			im, err := scanImport(rows, &sum.stored, &sum.placeholders)
			if err != nil {
				return err
			}
			list, sums = append(list, im), append(sums, sum)
		}
		return rows.Err()
	})
	b.Queue(sqlCountImports, orgID).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list imports: %w", err), nil)
	}
	// The list shows the same import objects as GET: counted once for an
	// import whose summary is not stored yet (running, or finished before
	// it was stored).
	for i, im := range list {
		if err := s.fillErrorSummary(ctx, im, sums[i].stored, sums[i].placeholders); err != nil {
			return nil, customer.Page{}, err
		}
	}
	return list, customer.NewPage(total, page, limit), nil
}

// ImportRead records what reading found; the import moves to processing
// unless it was cancelled meanwhile (the returned status says which).
func (s *Store) ImportRead(ctx context.Context, im *customer.Import, chunkStarts []int) (customer.ImportStatus, error) {
	c := im.Counts
	if c.Rows >= analyzeStagedRows {
		// Fresh statistics make the plan's owner join a hash join: with the
		// file just staged the planner guessed a few rows and probed the
		// identities index once per row (8 s instead of 1.4 s for a million
		// rows). Best effort: stale statistics only make planning slower.
		_, _ = s.pool.Exec(ctx, sqlAnalyzeStaging)
	}
	var status customer.ImportStatus
	err := s.pool.QueryRow(ctx, sqlImportRead, im.OrganizationID, im.ID, im.Format, im.Encoding, im.Delimiter,
		im.Headers, im.Mapping, im.SizeBytes, c.Rows, c.Invalid, c.Warnings, chunkStarts).Scan(&status)
	return status, interpretError(err, customer.NotFound("Import", im.ID))
}

// FailImport ends an unfinished import with a file-level error.
func (s *Store) FailImport(ctx context.Context, orgID, id, reason string) error {
	_, err := s.pool.Exec(ctx, sqlFailImport, orgID, id, reason)
	return interpretError(err, nil)
}

// CancelImport stops an unfinished import; chunks not yet merged are skipped.
func (s *Store) CancelImport(ctx context.Context, orgID, id string) (*customer.Import, error) {
	im, err := s.FindImport(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	tag, err := s.pool.Exec(ctx, sqlCancelImport, orgID, id)
	if err != nil {
		return nil, interpretError(err, nil)
	}
	if tag.RowsAffected() == 0 {
		return nil, &customer.Error{Code: customer.ECONFLICT, Message: "Import already " + string(im.Status),
			Details: map[string]string{"status": string(im.Status)}}
	}
	return s.FindImport(ctx, orgID, id)
}

// FindImportErrors lists row problems (severity "" for all), by row.
func (s *Store) FindImportErrors(ctx context.Context, orgID, importID, severity string, page, limit int) ([]customer.ImportProblem, customer.Page, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, sqlImportExists, orgID, importID).Scan(&exists); err != nil {
		return nil, customer.Page{}, interpretError(err, customer.NotFound("Import", importID))
	}
	var total int
	list := []customer.ImportProblem{}
	b := &pgx.Batch{}
	b.Queue(sqlSelectImportErrors, orgID, importID, severity, limit, (page-1)*limit).Query(func(rows pgx.Rows) error {
		var p customer.ImportProblem
		_, err := pgx.ForEachRow(rows, []any{&p.Row, &p.Severity, &p.Column, &p.Reason, &p.Raw}, func() error {
			list = append(list, p)
			return nil
		})
		return err
	})
	b.Queue(sqlCountImportErrors, orgID, importID, severity).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("import errors: %w", err), nil)
	}
	return list, customer.NewPage(total, page, limit), nil
}

// EachImportError streams every row problem, by row, to fn.
func (s *Store) EachImportError(ctx context.Context, orgID, importID, severity string, fn func(customer.ImportProblem) error) error {
	rows, err := s.pool.Query(ctx, sqlStreamImportErrors, orgID, importID, severity)
	if err != nil {
		return interpretError(fmt.Errorf("import errors: %w", err), nil)
	}
	var p customer.ImportProblem
	_, err = pgx.ForEachRow(rows, []any{&p.Row, &p.Severity, &p.Column, &p.Reason, &p.Raw}, func() error { return fn(p) })
	return err
}
