// Undoing an import (SPEC §10.3): the request that starts it and the job
// that deletes what the import created and restores what it changed, from
// the before-images its chunks recorded (import_changes, import_changes.go).

package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/linkitworks/customers/customer"
)

// JobImportRevert is the job type of a revert (the queue's task type too).
const JobImportRevert = "import:revert"

// defaultRevertBatch is how many customers one revert transaction handles:
// memory and lock time stay bounded whatever the import's size.
const defaultRevertBatch = 4000

// maxKept is how many kept customers the import object and the job list.
const maxKept = 1000

const (
	sqlLockImportRevert = `SELECT status, kind, dry_run, changes_purge, coalesce(revert_job, ''),
			coalesce((SELECT state FROM jobs j WHERE j.organization_id = i.organization_id AND j.id = i.revert_job), '')
		FROM imports i WHERE organization_id = $1 AND id = $2 FOR UPDATE`
	sqlInsertRevertJob = `INSERT INTO jobs (organization_id, id, type, payload) VALUES ($1, $2, $3, $4) RETURNING created`
	sqlStartRevert     = `UPDATE imports SET status = 'reverting', revert_job = $3, revert = $4, updated = now()
		WHERE organization_id = $1 AND id = $2`
	// Waits for a chunk still merging (a cancelled import's last one): it
	// holds its chunk row until it commits; chunks that start later find
	// the import reverting and do nothing.
	sqlLockImportChunks = `SELECT count(*) FROM (SELECT 1 FROM import_chunks
		WHERE organization_id = $1 AND import_id = $2 FOR UPDATE) c`
	sqlRevertOwner = `SELECT coalesce(revert_job, ''), status FROM imports
		WHERE organization_id = $1 AND id = $2 FOR UPDATE`
	// A batch shares the import's row: batches run side by side, a new job
	// replacing this one (FOR UPDATE) waits for them.
	sqlRevertBatchOwner = `SELECT coalesce(revert_job, ''), status FROM imports
		WHERE organization_id = $1 AND id = $2 FOR SHARE`
	// Merged customers go first, all in one batch (import_revert_merges.go);
	// then the rest, batch by batch: two batches at once skip each other's rows.
	// A batch walks the primary key from after the last customer of its
	// runner's previous batch ($4), so rows reverted before are not read
	// again (there is no index of the pending rows: migration 00038).
	sqlRevertNext = `SELECT customer_id FROM import_changes
		WHERE organization_id = $1 AND import_id = $2 AND customer_id > $4 AND outcome IS NULL AND NOT merged
		ORDER BY customer_id LIMIT $3
		FOR UPDATE SKIP LOCKED`
	// Once the runners are done, one last walk that waits for locked rows:
	// what a runner skipped and nobody reverted (a batch whose transaction
	// outlived its failed job, say) is reverted before the summary.
	sqlRevertSweep = `SELECT customer_id FROM import_changes
		WHERE organization_id = $1 AND import_id = $2 AND customer_id > $4 AND outcome IS NULL AND NOT merged
		ORDER BY customer_id LIMIT $3
		FOR UPDATE`
	sqlKeepUpdated = `SET LOCAL linkit.keep_updated = 'on'`
	sqlRevertLock  = `SELECT count(*) FROM (SELECT 1 FROM customers
		WHERE organization_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE) c`
	// Deleting what the import created (identities and carriers have no
	// foreign key to cascade; see migration 00011).
	sqlRevertDeleteIdentities = `DELETE FROM customer_identities WHERE organization_id = $1 AND customer_id = ANY($2)`
	sqlRevertDeleteCarriers   = `DELETE FROM shared_identifier_carriers WHERE organization_id = $1 AND customer_id = ANY($2)`
	sqlRevertDeletePairs      = `DELETE FROM duplicate_suggestions WHERE organization_id = $1
		AND (customer_a = ANY($2) OR customer_b = ANY($2))`
	sqlRevertDeleteCustomers = `DELETE FROM customers WHERE organization_id = $1 AND id = ANY($2)`
	// The pairs the import's chunks wrote on the batch's customers (their
	// xmin is a chunk's transaction).
	sqlRevertChunkPairs = `DELETE FROM duplicate_suggestions d WHERE d.organization_id = $1
		AND (d.customer_a = ANY($3) OR d.customer_b = ANY($3))
		AND d.xmin IN (SELECT (ch.written::text::bigint % 4294967296)::text::xid FROM import_changes ch
			WHERE ch.organization_id = $1 AND ch.import_id = $2 AND ch.customer_id = ANY($3))`

	// Restoring what it changed: everything the image holds is replaced.
	// The batch's images, one primary-key probe per customer (LIMIT keeps
	// it a probe: as a join, on statistics older than the import, the
	// planner scanned all the import's rows for each customer).
	revertImagesOf = `FROM unnest($3::text[]) AS u(id) CROSS JOIN LATERAL (SELECT ch.customer_id, ch.before FROM import_changes ch
		WHERE ch.organization_id = $1 AND ch.import_id = $2 AND ch.customer_id = u.id AND ch.before IS NOT NULL LIMIT 1) ch`
	sqlRevertClearTags      = `DELETE FROM customer_tags WHERE organization_id = $1 AND customer_id = ANY($2)`
	sqlRevertClearGroups    = `DELETE FROM group_members WHERE organization_id = $1 AND customer_id = ANY($2)`
	sqlRevertClearVisits    = `DELETE FROM customer_locations WHERE organization_id = $1 AND customer_id = ANY($2)`
	sqlRevertClearAddresses = `DELETE FROM customer_addresses WHERE organization_id = $1 AND customer_id = ANY($2)`
	// An identifier someone else holds now stays theirs.
	sqlRevertIdentities = `INSERT INTO customer_identities (organization_id, kind, value, customer_id, is_primary, display, created)
		SELECT $1, x.kind, x.value, x.customer_id, x.is_primary, x.display, x.created
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_populate_recordset(NULL::customer_identities, ch.before->'identities') x
		ON CONFLICT DO NOTHING`
	sqlRevertCarriers = `INSERT INTO shared_identifier_carriers (organization_id, kind, value, customer_id, display, created)
		SELECT $1, x.kind, x.value, x.customer_id, x.display, x.created
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_populate_recordset(NULL::shared_identifier_carriers, ch.before->'carriers') x
		WHERE EXISTS (SELECT 1 FROM shared_identifiers s WHERE s.organization_id = $1 AND s.kind = x.kind AND s.value = x.value)
		ON CONFLICT DO NOTHING`
	sqlRevertTags = `INSERT INTO customer_tags (organization_id, customer_id, location_id, tag, created)
		SELECT $1, x.customer_id, x.location_id, x.tag, x.created
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_populate_recordset(NULL::customer_tags, ch.before->'tags') x
		ON CONFLICT DO NOTHING`
	sqlRevertGroups = `INSERT INTO group_members (organization_id, group_id, customer_id, location_id, added)
		SELECT $1, x.group_id, x.customer_id, x.location_id, x.added
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_populate_recordset(NULL::group_members, ch.before->'groups') x
		WHERE EXISTS (SELECT 1 FROM customer_groups g WHERE g.organization_id = $1 AND g.id = x.group_id)
		ON CONFLICT DO NOTHING`
	sqlRevertVisits = `INSERT INTO customer_locations (organization_id, customer_id, location_id, first_seen, last_seen, source)
		SELECT $1, x.customer_id, x.location_id, x.first_seen, x.last_seen, x.source
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_populate_recordset(NULL::customer_locations, ch.before->'visits') x
		WHERE EXISTS (SELECT 1 FROM locations l WHERE l.organization_id = $1 AND l.id = x.location_id)
		ON CONFLICT DO NOTHING`
	sqlRevertAddresses = `INSERT INTO customer_addresses (organization_id, id, customer_id, label, address_line1, address_line2,
			city, state, country, postal_code, is_default, created, updated)
		SELECT $1, x.id, x.customer_id, x.label, x.address_line1, x.address_line2, x.city, x.state, x.country,
			x.postal_code, x.is_default, x.created, x.updated
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_populate_recordset(NULL::customer_addresses, ch.before->'addresses') x
		ON CONFLICT DO NOTHING`
	sqlRevertCustomers = `UPDATE customers c SET first_name = x.first_name, last_name = x.last_name, name = x.name,
			email = x.email, phone = x.phone, phone_valid = x.phone_valid, phone_ext = x.phone_ext, birthdate = x.birthdate,
			gender = x.gender, type = x.type, status = x.status, company_name = x.company_name, avatar_url = x.avatar_url,
			source = x.source, notes = x.notes, attributes = x.attributes, website = x.website, tax_id = x.tax_id,
			fax = x.fax, billing_address = x.billing_address, shipping_address = x.shipping_address,
			payment_terms = x.payment_terms, currency = x.currency, credit_limit = x.credit_limit,
			current_balance = x.current_balance, discount_rate = x.discount_rate,
			preferred_shipping = x.preferred_shipping, lifetime_value = x.lifetime_value, total_orders = x.total_orders,
			customer_since = x.customer_since, merged_into = x.merged_into, created = x.created, updated = x.updated
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_populate_record(NULL::customers, ch.before->'row') x
		WHERE c.organization_id = $1 AND c.id = ch.customer_id`
	// A customer restored to what an earlier import left (the image's
	// row was that import's writing) is that import's again: its own
	// revert then restores it rather than keeping it as changed since.
	sqlRevertHandBack = `UPDATE import_changes o SET written = pg_current_xact_id()
		FROM import_changes ch WHERE ch.organization_id = $1 AND ch.import_id = $2 AND ch.customer_id = ANY($3)
			AND o.organization_id = $1 AND o.customer_id = ch.customer_id AND o.import_id <> $2 AND o.outcome IS NULL
			AND (o.written::text::bigint % 4294967296)::text = ch.before->>'xmin'`
	sqlRevertAudit = `INSERT INTO audit_events (organization_id, customer_id, type, source, import_id, changes)
		SELECT $1, c, $3, 'revert', $2, '{}' FROM unnest($4::text[]) AS c`

	// The arrays' deleted customers are counted on their rows (migration 00039).
	sqlRevertSummary = `SELECT count(*) FILTER (WHERE outcome = 'deleted') + (SELECT coalesce(sum(deleted), 0)
				FROM import_created WHERE organization_id = $1 AND import_id = $2),
			count(*) FILTER (WHERE outcome = 'restored'), count(*) FILTER (WHERE outcome = 'kept')
		FROM import_changes WHERE organization_id = $1 AND import_id = $2`
	sqlRevertKept = `SELECT customer_id, created, reason FROM import_changes
		WHERE organization_id = $1 AND import_id = $2 AND outcome = 'kept' ORDER BY customer_id LIMIT $3`
	sqlFinishRevert = `UPDATE imports SET status = 'reverted', revert = $3, updated = now()
		WHERE organization_id = $1 AND id = $2`
)

// Decides each customer's fate: a customer one of whose rows (its
// own, an identifier, carrier, tag, membership, address, order) a
// transaction after the import's chunk wrote was changed since, or
// deleted, and is kept. Visits are left out: a later visit only moves
// last_seen.
var sqlRevertClassify = `WITH cur AS MATERIALIZED (
		SELECT ch.customer_id, c.id IS NULL AS gone, ` + revertChangedCols + `
		FROM unnest($3::text[]) AS u(id)
		CROSS JOIN LATERAL (SELECT ch.customer_id, ch.written FROM import_changes ch WHERE ch.organization_id = $1
			AND ch.import_id = $2 AND ch.customer_id = u.id AND ch.outcome IS NULL LIMIT 1) ch
		CROSS JOIN LATERAL (SELECT (ch.written::text::bigint % 4294967296)::text::xid AS t) w
		LEFT JOIN customers c ON c.organization_id = $1 AND c.id = u.id)
	UPDATE import_changes ch SET
		outcome = CASE WHEN cur.gone OR cur.changed OR cur.orders THEN 'kept'
			WHEN ch.created THEN 'deleted' ELSE 'restored' END,
		reason = ` + revertReason + `
	FROM cur WHERE ch.organization_id = $1 AND ch.import_id = $2 AND ch.customer_id = cur.customer_id
	RETURNING ch.customer_id, ch.outcome, coalesce(ch.merge_group, '')`

// revertReason is why a classified customer (cur) is kept, ” if it is not.
const revertReason = `CASE WHEN cur.gone THEN 'deleted since the import'
			WHEN cur.changed THEN 'changed since the import'
			WHEN cur.orders THEN 'has orders since the import' ELSE '' END`

// revertChangedCols are a customer's (u.id, its row c) changed and orders:
// whether a transaction after the chunk's (w.t) changed it, or gave it
// orders.
var revertChangedCols = rowNewer("c") + ` OR EXISTS (SELECT 1 FROM customer_identities i
				WHERE i.organization_id = $1 AND i.customer_id = u.id AND ` + rowNewer("i") + `)
			OR EXISTS (SELECT 1 FROM shared_identifier_carriers s
				WHERE s.organization_id = $1 AND s.customer_id = u.id AND ` + rowNewer("s") + `)
			OR EXISTS (SELECT 1 FROM customer_tags g
				WHERE g.organization_id = $1 AND g.customer_id = u.id AND ` + rowNewer("g") + `)
			OR EXISTS (SELECT 1 FROM group_members m
				WHERE m.organization_id = $1 AND m.customer_id = u.id AND ` + rowNewer("m") + `)
			OR EXISTS (SELECT 1 FROM customer_addresses a
				WHERE a.organization_id = $1 AND a.customer_id = u.id AND ` + rowNewer("a") + `) AS changed,
			EXISTS (SELECT 1 FROM orders o WHERE o.organization_id = $1 AND o.customer_id = u.id AND ` + rowNewer("o") + `) AS orders`

// rowNewer says a row (alias x) was written by a transaction after the
// import's chunk (w.t): xmin compared by age, which survives wraparound.
func rowNewer(x string) string {
	return "(" + x + ".xmin <> w.t AND age(" + x + ".xmin) < age(w.t))"
}

// RevertPayload is the job's payload (and its task's, with the job id).
type RevertPayload struct {
	ImportID string `json:"import_id"`
}

// StartImportRevert accepts a revert of an import and returns its job; a
// second request returns the first one's job (created false), unless that
// job failed, when a new job resumes where it stopped. Only an import that
// finished (completed, failed or cancelled) and wrote (not a dry run, not
// an order import) can be reverted.
func (s *Store) StartImportRevert(ctx context.Context, orgID, importID string) (job *customer.Job, created bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var status customer.ImportStatus
		var kind customer.ImportKind
		var dry bool
		var purge, jobID, jobState string
		if err := tx.QueryRow(ctx, sqlLockImportRevert, orgID, importID).Scan(&status, &kind, &dry, &purge, &jobID, &jobState); err != nil {
			return interpretError(err, customer.NotFound("Import", importID))
		}
		conflict := func(msg string) error {
			return &customer.Error{Code: customer.ECONFLICT, Message: msg, Details: map[string]string{"status": string(status)}}
		}
		if jobID != "" && jobState == "" && status == customer.ImportReverted {
			return conflict("Import was reverted; its revert job has been deleted by retention (LINKIT_RETENTION_JOBS)")
		}
		if jobID != "" && jobState != customer.JobFailed {
			j, err := scanJob(tx.QueryRow(ctx, sqlSelectJob, orgID, jobID))
			if err != nil {
				return interpretError(fmt.Errorf("revert job: %w", err), nil)
			}
			job = j
			return nil
		}
		switch {
		case purge != "":
			return &customer.Error{Code: customer.ECONFLICT, Message: "Import can no longer be reverted: its before-images " +
				"were deleted by retention (LINKIT_RETENTION_IMPORT_CHANGES, 30 days after it finished by default)",
				Details: map[string]string{"status": string(status), "reason": "before_images_purged"}}
		case dry:
			return conflict("A dry run wrote nothing: there is nothing to revert")
		case kind != customer.ImportCustomers:
			return conflict("Only customer imports can be reverted")
		case status != customer.ImportCompleted && status != customer.ImportFailed &&
			status != customer.ImportCancelled && status != customer.ImportReverting:
			return conflict("Import is " + string(status) + ": only a finished import can be reverted (cancel it first)")
		}
		payload, _ := json.Marshal(RevertPayload{ImportID: importID})
		j := &customer.Job{ID: customer.NewID(customer.PrefixJob), OrganizationID: orgID, Type: JobImportRevert,
			State: customer.JobQueued, Payload: payload}
		if err := tx.QueryRow(ctx, sqlInsertRevertJob, orgID, j.ID, j.Type, payload).Scan(&j.Created); err != nil {
			return interpretError(fmt.Errorf("insert revert job: %w", err), nil)
		}
		rv := customer.ImportRevert{JobID: j.ID, State: customer.JobQueued, Kept: []customer.RevertKept{}}
		if _, err := tx.Exec(ctx, sqlStartRevert, orgID, importID, j.ID, rv); err != nil {
			return interpretError(fmt.Errorf("start revert: %w", err), nil)
		}
		job, created = j, true
		return nil
	})
	return job, created, err
}

// RunImportRevert carries a revert job out, batch by batch; each batch
// commits the outcome of its customers with their changes, so a worker
// that dies resumes with the next batch, and a duplicate task waits on the
// import's row and finds nothing left to do. A job that is no longer the
// import's revert job (replaced after failing) does nothing. The merged
// customers go first, in one batch; then revertParallel batches run at
// once, as an import's chunks do.
//
// yield, when set, is called after each committed batch with the batch's
// time (worker: while API processes are busy it waits); an error ends the
// run, the batches done kept.
func (s *Store) RunImportRevert(ctx context.Context, orgID, jobID, importID string,
	yield func(ctx context.Context, spent time.Duration) error) (*customer.ImportRevert, error) {
	if _, err := s.pool.Exec(ctx, sqlLockImportChunks, orgID, importID); err != nil {
		return nil, interpretError(fmt.Errorf("wait for chunks: %w", err), nil)
	}
	size := cmp.Or(s.opts.RevertBatch, defaultRevertBatch)
	// Each runner keeps a cursor, moved only once its batch committed: a row
	// it skipped below it was locked by the other runner's batch, which
	// reverts it or, failing, takes it again from its own cursor. A job
	// that fails resumes from the start, reading reverted rows once.
	run := func(ctx context.Context, next string) (stale bool, err error) {
		var after string
		for {
			var done bool
			start := time.Now()
			last, err := retryTx(ctx, s, func(tx pgx.Tx) (string, error) {
				var last string
				var err error
				last, done, stale, err = revertBatchTx(ctx, tx, orgID, jobID, importID, next, size, after)
				return last, err
			})
			if err != nil {
				return false, fmt.Errorf("revert import %s: %w", importID, err)
			}
			if stale || done || next == sqlRevertNextMerged {
				return stale, nil
			}
			after = last
			if yield != nil {
				if err := yield(ctx, time.Since(start)); err != nil {
					return false, err
				}
			}
		}
	}
	if err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(sqlRevertMarkPlan)
		b.Queue(sqlRevertMarkCreated, orgID, importID)
		return tx.SendBatch(ctx, b).Close()
	}); err != nil {
		return nil, interpretError(fmt.Errorf("mark created: %w", err), nil)
	}
	stale, err := run(ctx, sqlRevertNextMerged)
	if err != nil || stale {
		return nil, err
	}
	// The created customers' arrays, then the before-images.
	for _, q := range [][2]string{{sqlRevertNextCreated, sqlRevertSweepCreated}, {sqlRevertNext, sqlRevertSweep}} {
		g, gctx := errgroup.WithContext(ctx)
		var staleAny atomic.Bool
		for range revertParallel {
			g.Go(func() error {
				st, err := run(gctx, q[0])
				if st {
					staleAny.Store(true)
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		if staleAny.Load() {
			return nil, nil
		}
		if stale, err := run(ctx, q[1]); err != nil || stale {
			return nil, err
		}
	}
	return retryTx(ctx, s, func(tx pgx.Tx) (*customer.ImportRevert, error) {
		return finishRevert(ctx, tx, orgID, jobID, importID)
	})
}

// revertParallel is how many revert batches run at once.
const revertParallel = 2

// revertBatchTx reverts the batch the query next picks after the customer
// id after (sqlRevertNextMerged: all the merged customers) and returns its
// last customer; done when none is left, stale when the job is no longer
// the import's.
func revertBatchTx(ctx context.Context, tx pgx.Tx, orgID, jobID, importID, next string, size int, after string) (last string, done, stale bool, err error) {
	var owner string
	var status customer.ImportStatus
	if err := tx.QueryRow(ctx, sqlRevertBatchOwner, orgID, importID).Scan(&owner, &status); err != nil {
		return "", false, false, interpretError(err, customer.NotFound("Import", importID))
	}
	if owner != jobID {
		return "", false, true, nil
	}
	if status == customer.ImportReverted {
		return "", true, false, nil
	}
	if next == sqlRevertNextCreated || next == sqlRevertSweepCreated {
		last, done, err := revertCreatedTx(ctx, tx, orgID, importID, next, after)
		return last, done, false, err
	}
	merged := next == sqlRevertNextMerged
	var rows pgx.Rows
	if merged {
		rows, err = tx.Query(ctx, next, orgID, importID)
	} else {
		rows, err = tx.Query(ctx, next, orgID, importID, size, after)
	}
	if err != nil {
		return "", false, false, interpretError(fmt.Errorf("next batch: %w", err), nil)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", false, false, interpretError(fmt.Errorf("next batch: %w", err), nil)
	}
	if len(ids) == 0 {
		return "", true, false, nil
	}
	if _, err := tx.Exec(ctx, sqlRevertLock, orgID, ids); err != nil {
		return "", false, false, interpretError(fmt.Errorf("lock customers: %w", err), nil)
	}
	// A revert restores rows as they were, updated included: the
	// dependents' trigger (migration 00037) must not stamp them anew.
	if _, err := tx.Exec(ctx, sqlKeepUpdated); err != nil {
		return "", false, false, interpretError(fmt.Errorf("keep updated: %w", err), nil)
	}
	deleted, restored, restoredMerged, err := classifyBatch(ctx, tx, orgID, importID, ids)
	if err != nil {
		return "", false, false, err
	}
	b := &pgx.Batch{}
	if len(deleted)+len(restored) > 0 {
		b.Queue(sqlRevertChunkPairs, orgID, importID, slices.Concat(deleted, restored))
	}
	if len(restoredMerged) > 0 {
		// What the merges moved goes back before a created survivor is
		// deleted; the rollups follow the orders.
		for _, q := range []string{sqlRevertOrders, sqlRevertContacts, sqlRevertCreditChecks, sqlRevertRedirects} {
			b.Queue(q, orgID, importID, restoredMerged)
		}
		queueRefreshCustomers(b, orgID, restoredMerged, allTime)
	}
	if len(restored) > 0 {
		// Cleared first, then written back: an identifier moving between
		// two restored customers finds its place free.
		for _, q := range []string{sqlRevertDeleteIdentities, sqlRevertDeleteCarriers, sqlRevertClearTags, sqlRevertClearGroups,
			sqlRevertClearVisits, sqlRevertClearAddresses} {
			b.Queue(q, orgID, restored)
		}
	}
	if len(deleted) > 0 {
		for _, q := range []string{sqlRevertDeleteIdentities, sqlRevertDeleteCarriers, sqlRevertDeletePairs, sqlRevertDeleteCustomers} {
			b.Queue(q, orgID, deleted)
		}
		b.Queue(sqlRevertAudit, orgID, importID, EventDeleted, deleted)
	}
	if len(restored) > 0 {
		for _, q := range []string{sqlRevertCustomers, sqlRevertIdentities, sqlRevertCarriers, sqlRevertTags, sqlRevertGroups,
			sqlRevertVisits, sqlRevertAddresses} {
			b.Queue(q, orgID, importID, restored)
		}
		b.Queue(sqlRevertAudit, orgID, importID, EventUpdated, restored)
		b.Queue(sqlRevertHandBack, orgID, importID, restored)
		b.Queue(sqlRevertHandBackCreated, orgID, importID, restored)
	}
	if len(restoredMerged) > 0 {
		b.Queue(sqlRevertPairs, orgID, importID, restoredMerged)
	}
	if merged {
		b.Queue(sqlRevertMergeRecords, orgID, importID, slices.Concat(deleted, restored))
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return "", false, false, interpretError(fmt.Errorf("revert batch: %w", err), nil)
		}
	}
	return ids[len(ids)-1], false, false, nil
}

// classifyBatch decides the batch's outcomes (sqlRevertClassify), a merge
// group with a kept customer kept whole, and returns the customers to
// delete, to restore, and those of the latter a merge involved.
func classifyBatch(ctx context.Context, tx pgx.Tx, orgID, importID string, ids []string) (deleted, restored, restoredMerged []string, err error) {
	rows, err := tx.Query(ctx, sqlRevertClassify, orgID, importID, ids)
	if err != nil {
		return nil, nil, nil, interpretError(fmt.Errorf("classify: %w", err), nil)
	}
	type fate struct{ id, outcome, group string }
	var fates []fate
	keptGroups := map[string]bool{}
	var f fate
	if _, err := pgx.ForEachRow(rows, []any{&f.id, &f.outcome, &f.group}, func() error {
		fates = append(fates, f)
		if f.outcome == "kept" && f.group != "" {
			keptGroups[f.group] = true
		}
		return nil
	}); err != nil {
		return nil, nil, nil, interpretError(fmt.Errorf("classify: %w", err), nil)
	}
	if len(keptGroups) > 0 {
		if _, err := tx.Exec(ctx, sqlRevertKeepGroups, orgID, importID, slices.Collect(maps.Keys(keptGroups))); err != nil {
			return nil, nil, nil, interpretError(fmt.Errorf("keep merge groups: %w", err), nil)
		}
	}
	for _, f := range fates {
		switch {
		case keptGroups[f.group]:
		case f.outcome == "deleted":
			deleted = append(deleted, f.id)
		case f.outcome == "restored":
			restored = append(restored, f.id)
			if f.group != "" {
				restoredMerged = append(restoredMerged, f.id)
			}
		}
	}
	return deleted, restored, restoredMerged, nil
}

// finishRevert sums the outcomes up, marks the import reverted and
// completes the job, once.
func finishRevert(ctx context.Context, tx pgx.Tx, orgID, jobID, importID string) (*customer.ImportRevert, error) {
	var owner string
	var status customer.ImportStatus
	if err := tx.QueryRow(ctx, sqlRevertOwner, orgID, importID).Scan(&owner, &status); err != nil {
		return nil, interpretError(err, customer.NotFound("Import", importID))
	}
	if owner != jobID {
		return nil, nil
	}
	now := time.Now().UTC()
	rv := &customer.ImportRevert{JobID: jobID, State: customer.JobCompleted, Finished: &now, Kept: []customer.RevertKept{}}
	if err := tx.QueryRow(ctx, sqlRevertSummary, orgID, importID).Scan(&rv.Deleted, &rv.Restored, &rv.KeptCount); err != nil {
		return nil, interpretError(fmt.Errorf("revert summary: %w", err), nil)
	}
	rows, err := tx.Query(ctx, sqlRevertKept, orgID, importID, maxKept)
	if err != nil {
		return nil, interpretError(fmt.Errorf("kept customers: %w", err), nil)
	}
	var k customer.RevertKept
	if _, err := pgx.ForEachRow(rows, []any{&k.CustomerID, &k.Created, &k.Reason}, func() error {
		rv.Kept = append(rv.Kept, k)
		return nil
	}); err != nil {
		return nil, interpretError(fmt.Errorf("kept customers: %w", err), nil)
	}
	if status == customer.ImportReverted {
		return rv, nil // a duplicate task: already finished
	}
	b := &pgx.Batch{}
	b.Queue(sqlFinishRevert, orgID, importID, rv)
	if err := completeJob(b, orgID, jobID, rv); err != nil {
		return nil, err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("finish revert: %w", err), nil)
	}
	return rv, nil
}
