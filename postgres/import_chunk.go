package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

const (
	// The chunk's inserts merge the trigram index's pending list into the
	// index when it passes 128 MB (~110,000 customers), in batches of
	// work_mem: larger batches, fewer index descents. 1M rows into 1M
	// customers: 136 s at 16 MB (64 MB batches), 122 s at 128 MB, 115 s at
	// 512 MB. But every search that asks the index scans what is pending,
	// whatever its organization: a rare term's search cost ~30 ms of CPU
	// beside a list of ~8,000 pages, ~1 ms settled. While API processes are
	// busy (ChunkOptions.Interactive) a chunk merges at 8 MB (≤ 1,024
	// pages): a 1M-row import then costs ~16% more (issue 24).
	sqlChunkWorkMem     = `SET LOCAL work_mem = '256MB'`
	sqlChunkPendingList = `SELECT set_config('gin_pending_list_limit', $1, true)`
	chunkPendingList    = "128MB"
	// chunkPendingListInteractive is the limit while the API is busy.
	chunkPendingListInteractive = "8MB"
	sqlImportState              = `SELECT status, options, dry_run, owned_rows_planned, placeholders, headers, mapping
		FROM imports WHERE organization_id = $1 AND id = $2`
	sqlLockChunk = `SELECT done FROM import_chunks WHERE organization_id = $1 AND import_id = $2 AND chunk = $3 FOR UPDATE`
	// A chunk's rows: those staged in it that the plan left there, and
	// those it moved in (import_row_moves). The moved-out test is a scalar
	// subquery, one primary-key probe per row: as NOT EXISTS the planner
	// made it an anti join that read and hashed all the import's moves for
	// every chunk (80% of the statement). The moved-in rows are a lateral
	// primary-key probe each (LIMIT keeps it from becoming a join): as a
	// join, on statistics that said an import had one row, the planner
	// scanned all the import's rows for each move.
	//
	// The rows staged in a chunk are a range of row numbers (a natural
	// chunk: imports.chunk_starts, or row / chunk_rows for imports staged
	// before it): read through the primary key, so that staging writes no
	// index by chunk (migration 00042). The chunk test stays: the range only
	// bounds the read. Chunks numbered after the natural ones (the plan's
	// spread groups, a retry's rows) hold no staged rows of their own, only
	// moved-in ones (import_retry.go records its rows as moves): an empty range.
	sqlChunkRows = `SELECT ` + chunkRowColumns + ` FROM import_rows r
		WHERE r.organization_id = $1 AND r.import_id = $2 AND r.chunk = $3
		AND r.row_num >= (SELECT CASE WHEN chunk_starts IS NOT NULL THEN coalesce(chunk_starts[$3 + 1], 2147483647)
			WHEN chunk_rows > 0 THEN $3 * chunk_rows ELSE 0 END FROM imports WHERE organization_id = $1 AND id = $2)
		AND r.row_num < (SELECT CASE WHEN chunk_starts IS NOT NULL THEN coalesce(chunk_starts[$3 + 2], 2147483647)
			WHEN chunk_rows > 0 THEN ($3 + 1) * chunk_rows ELSE 2147483647 END FROM imports WHERE organization_id = $1 AND id = $2)
		AND (
			SELECT true FROM import_row_moves m
			WHERE m.organization_id = $1 AND m.import_id = $2 AND m.row_num = r.row_num) IS NULL
		UNION ALL
		SELECT ` + chunkRowColumns + ` FROM import_row_moves m CROSS JOIN LATERAL (
			SELECT row_num, email, email_key, phone, phone_key, phone_valid, phone_ext, external_key, record, order_key
			FROM import_rows WHERE organization_id = m.organization_id AND import_id = m.import_id AND row_num = m.row_num
			LIMIT 1) r
		WHERE m.organization_id = $1 AND m.import_id = $2 AND m.chunk = $3`
	// Not the original cells (raw): problems found while merging copy them
	// in SQL (sqlInsertChunkProblems), and they would be a tenth of a big
	// order group's memory.
	chunkRowColumns = `r.row_num, r.email, r.email_key, r.phone, r.phone_key, r.phone_valid, r.phone_ext,
		r.external_key, r.record, r.order_key, (SELECT true FROM import_owned_rows o
			WHERE o.organization_id = $1 AND o.import_id = $2 AND o.row_num = r.row_num) IS NOT NULL`
	sqlChunkDone = `UPDATE import_chunks SET done = true, samples = $4, finished = now()
		WHERE organization_id = $1 AND import_id = $2 AND chunk = $3`
	// The last chunk to finish completes the import; the row lock taken by
	// this UPDATE makes exactly one chunk see chunks_done reach chunks. It
	// runs at the end of the chunk: finished is the clock's time, not the
	// transaction's start.
	sqlCountChunk = `UPDATE imports SET processed = processed + $3, created_count = created_count + $4,
		updated_count = updated_count + $5, unchanged = unchanged + $6, merged_in_file = merged_in_file + $7,
		conflicts = conflicts + $8, invalid = invalid + $9, warnings = warnings + $10,
		orders_created = orders_created + $11, orders_skipped = orders_skipped + $12,
		orders_invalid = orders_invalid + $13, chunks_done = chunks_done + 1, updated = now(),
		status = CASE WHEN status = 'processing' AND chunks_done + 1 >= chunks THEN 'completed' ELSE status END,
		finished = CASE WHEN status = 'processing' AND chunks_done + 1 >= chunks THEN clock_timestamp() ELSE finished END
		WHERE organization_id = $1 AND id = $2 RETURNING status`
	sqlCompleteEmptyImport = `UPDATE imports SET status = 'completed', finished = now(), updated = now()
		WHERE organization_id = $1 AND id = $2 AND status = 'processing' AND chunks = 0`
)

// ChunkOutcome reports one merged chunk.
type ChunkOutcome struct {
	Skipped bool                  // already merged, or the import stopped
	Status  customer.ImportStatus // the import's status afterwards
	Counts  customer.ImportCounts
}

// CompleteEmptyImport finishes an import that staged no rows.
func (s *Store) CompleteEmptyImport(ctx context.Context, orgID, importID string) error {
	_, err := s.pool.Exec(ctx, sqlCompleteEmptyImport, orgID, importID)
	return interpretError(err, nil)
}

// RunImportChunk merges one chunk of staged rows, in file order, exactly
// once: the chunk row is locked and marked done in the same transaction as
// the merge. A dry run computes the same outcome and writes only counts.
// ChunkOptions are how a chunk shares the database with other work.
type ChunkOptions struct {
	// Interactive: API processes are busy serving requests; the chunk
	// keeps the trigram index's pending list, which their searches scan,
	// short (chunkPendingListInteractive).
	Interactive bool
}

func (s *Store) RunImportChunk(ctx context.Context, orgID, importID string, chunk int, opts ChunkOptions) (*ChunkOutcome, error) {
	attempts := 0
	out, err := retryTx(ctx, s, func(tx pgx.Tx) (*ChunkOutcome, error) {
		// A retry follows a race (or a fault): probe every key, not only
		// those the plan saw owned — one may have been claimed since.
		attempts++
		pending := chunkPendingList
		if opts.Interactive {
			pending = chunkPendingListInteractive
		}
		return runImportChunk(ctx, tx, orgID, importID, chunk, pending, pageSize{s.opts.ChunkPageRows, s.opts.ChunkPageBytes, cmp.Or(s.opts.ChunkRows, DefaultChunkRows)}, attempts > 1,
			cmp.Or(s.opts.RevertBatch, defaultRevertBatch))
	})
	if err != nil {
		return nil, fmt.Errorf("import %s chunk %d: %w", importID, chunk, err)
	}
	return out, nil
}

// chunkInput is what a chunk reads before merging.
type chunkInput struct {
	orgID, importID string
	page            pageSize
	// onePage: the chunk's rows fit in one page, kept (with their owned
	// flags) after the first read.
	onePage      bool
	kept         []customer.ImportRow
	keptOwned    []bool
	status       customer.ImportStatus
	opts         customer.ImportOptions
	done         bool
	ownedPlanned bool // the plan recorded owned rows (import_owned_rows)
	placeholders []Placeholder
	headers      []string
	mapping      map[string]string
	settings     customer.Settings // the organization's, read once per chunk
}

// loadChunk reads the import's state and locks the chunk (its rows are
// read in pages: chunkInput.pages).
func loadChunk(ctx context.Context, tx pgx.Tx, orgID, importID string, chunk int, pendingList string) (*chunkInput, error) {
	in := &chunkInput{orgID: orgID, importID: importID}
	b := &pgx.Batch{}
	b.Queue(sqlChunkWorkMem)
	b.Queue(sqlChunkPendingList, pendingList)
	b.Queue(sqlImportState, orgID, importID).QueryRow(func(row pgx.Row) error {
		return row.Scan(&in.status, &in.opts, &in.opts.DryRun, &in.ownedPlanned, &in.placeholders, &in.headers, &in.mapping)
	})
	b.Queue(sqlLockChunk, orgID, importID, chunk).QueryRow(func(row pgx.Row) error { return row.Scan(&in.done) })
	b.Queue(sqlSelectSettings, orgID).QueryRow(func(row pgx.Row) error { return row.Scan(settingsDest(&in.settings)...) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("load chunk %d: %w", chunk, err), customer.NotFound("Import chunk", fmt.Sprint(chunk)))
	}
	return in, nil
}

// incomingKeys is a row as the engine's record, identifiers only.
func incomingKeys(r *customer.ImportRow) dedupe.Incoming {
	return dedupe.Incoming{Email: r.Email, EmailKey: r.EmailKey, Phone: r.Phone, PhoneKey: r.PhoneKey,
		PhoneValid: r.PhoneValid, PhoneExt: r.PhoneExt, External: r.External}
}

// incoming is a row as the engine's record. Built as each row is applied:
// a record per row held for a whole chunk was a third of a big chunk's heap.
func incoming(r *customer.ImportRow) *dedupe.Incoming {
	in := incomingKeys(r)
	in.Fields = r.Record.Customer()
	return &in
}

// perRow is how many created customers one row of import_created holds
// (the revert's batch).
func runImportChunk(ctx context.Context, tx pgx.Tx, orgID, importID string, chunk int, pendingList string, page pageSize, probeAll bool, perRow int) (*ChunkOutcome, error) {
	in, err := loadChunk(ctx, tx, orgID, importID, chunk, pendingList)
	if err != nil {
		return nil, err
	}
	if in.done || in.status != customer.ImportProcessing {
		return &ChunkOutcome{Skipped: true, Status: in.status}, nil
	}
	in.page = page
	if in.opts.Kind == customer.ImportOrders {
		return runOrderChunk(ctx, tx, in, chunk, probeAll)
	}
	opts := in.opts

	var ph *placeholderRows
	if len(in.placeholders) > 0 {
		ph = newPlaceholderRows(in.placeholders, customer.FieldColumns(in.headers, in.mapping))
	}

	cand, err := in.candidates(ctx, tx, chunk, probeAll, ph.placeholders(), nil)
	if err != nil {
		return nil, err
	}
	m := newChunkMerge(opts, in.settings, cand)
	m.columns = customer.FieldColumns(in.headers, in.mapping)
	w, err := cand.workspace(m.dopts.CanonicalEmails)
	if err != nil {
		return nil, err
	}

	apply := func(rows []customer.ImportRow, _ []bool) error {
		if ph != nil {
			rows = ph.drop(rows)
			if err := flushProblems(ctx, tx, orgID, importID, &ph.problems, problemsFlush); err != nil {
				return err
			}
		}
		for i := range rows {
			if _, err := m.apply(w, &rows[i], incoming(&rows[i])); err != nil {
				return fmt.Errorf("row %d: %w", rows[i].Num, err)
			}
		}
		return nil
	}
	// A chunk of one page (nearly all) was read once; a bigger one (one
	// person on a hundred thousand rows) is read again, page by page.
	if err := in.pages(ctx, tx, chunk, false, apply); err != nil {
		return nil, err
	}

	wb := &pgx.Batch{}
	if !opts.DryRun {
		// What a revert needs, around the writes (migration 00028).
		sets := m.imageSets(w)
		queueBeforeImages(wb, orgID, importID, sets, perRow)
		m.queueWrites(wb, orgID, importID, w)
	}
	if ph != nil {
		// Problems are the import's report, written in a dry run too.
		queueChunkProblems(wb, orgID, importID, ph.problems)
		m.counts.Invalid += ph.invalid
		m.counts.Warnings += ph.warnings
	}
	m.queueProblems(wb, orgID, importID)
	return queueChunkDone(ctx, tx, wb, in, chunk, m)
}

// queueChunkDone marks the chunk done, adds its counts to the import and
// sends the batch of its writes.
func queueChunkDone(ctx context.Context, tx pgx.Tx, wb *pgx.Batch, in *chunkInput, chunk int, m *chunkMerge) (*ChunkOutcome, error) {
	samples, _ := json.Marshal(m.samples)
	wb.Queue(sqlChunkDone, in.orgID, in.importID, chunk, samples)
	c := m.counts
	out := &ChunkOutcome{Counts: c}
	wb.Queue(sqlCountChunk, in.orgID, in.importID, c.Processed, c.Created, c.Updated, c.Unchanged, c.MergedInFile, c.Conflicts,
		c.Invalid, c.Warnings, c.OrdersCreated, c.OrdersSkipped, c.OrdersInvalid).
		QueryRow(func(row pgx.Row) error { return row.Scan(&out.Status) })
	if err := sendLargeBatch(ctx, tx, wb); err != nil {
		return nil, interpretError(fmt.Errorf("write chunk %d: %w", chunk, err), nil)
	}
	return out, nil
}
