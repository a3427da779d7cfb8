// Erasure of a person on request (issue 21, "Privacy"): every table that can
// hold their personal data has one step in eraseSteps, run in one
// transaction. A new table holding personal data adds its step there.

package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// EventErased records that a customer was erased; its changes hold no
// personal data.
const EventErased = "customer.erased"

// ErasedName replaces an erased customer's name, so lists of orders or
// imports that show a name show that nobody is left.
const ErasedName = "erased"

// EraseReport is what an erasure did.
type EraseReport struct {
	ID string `json:"id"`
	// Records are the customer and the records merged into it, all erased.
	Records []string `json:"records"`
	// Erased is when the customer was first erased.
	Erased time.Time `json:"erased"`
	// Scrubbed counts the rows each step changed or deleted, by table.
	Scrubbed map[string]int64 `json:"scrubbed"`
	// JobIDs are the jobs that carried the person: their Redis tasks (task
	// id = job id) are deleted by the caller once this has committed.
	JobIDs []string `json:"-"`
	// Mentions find the person in Redis task payloads; empty on a repeat.
	Mentions dedupe.Mentions `json:"-"`
}

// eraseScope is what every step works on. args is the parameter list of
// every step's SQL: $1 organization, $2 customer ids, $3 email LIKE
// patterns, $4 the LIKE patterns of a value's digits (a phone's digits
// exactly, or ending with its national number), $5 those of a whole
// document's digits (containing either), $6 email keys, $7 phone keys,
// $8 external ids.
type eraseScope struct {
	orgID  string
	ids    []string
	args   []any
	jobIDs []string
}

// eraseStep scrubs one table.
type eraseStep struct {
	table string
	run   func(ctx context.Context, tx pgx.Tx, s *eraseScope) (int64, error)
}

// eraseSteps lists every table holding personal data, in order: the scans
// by content first (they read ids and identities the later steps delete),
// the customer rows last.
var eraseSteps = []eraseStep{
	{"jobs", eraseJobs},
	{"audit_events", stmt(sqlEraseAudit)},
	{"import_rows", stmt(sqlEraseImportRows)},
	{"import_errors", stmt(sqlEraseImportErrors)},
	{"imports", stmt(sqlEraseImports)},
	{"orders", stmt(sqlEraseOrders)},
	{"credit_checks", stmt(sqlEraseCreditChecks)},
	{"duplicate_suggestions", stmt(sqlEraseSuggestions)},
	{"customer_merges", stmt(sqlEraseMerges)},
	// An import's before-images (revert): that import's revert leaves the
	// person alone.
	{"import_changes", stmt(sqlEraseByCustomer("import_changes"))},
	{"import_created", stmt(sqlEraseImportCreated)},
	// Fuzzy matching's blocking keys (hashes of name sounds, postcode…) and
	// its queue of customers to score.
	{"fuzzy_keys", stmt(sqlEraseByCustomer("fuzzy_keys"))},
	{"suggest_pending", stmt(sqlEraseSuggestPending)},
	{"idempotency_keys", stmt(sqlEraseIdempotencyKeys)},
	// Webhook bodies frozen for a retry: rebuilt, from the erased record, at
	// the next attempt.
	{"webhook_outbox", stmt(sqlEraseWebhookPayloads)},
	{"customer_addresses", stmt(sqlEraseByCustomer("customer_addresses"))},
	{"customer_contacts", stmt(sqlEraseByCustomer("customer_contacts"))},
	{"customer_tags", stmt(sqlEraseByCustomer("customer_tags"))},
	{"customer_locations", stmt(sqlEraseByCustomer("customer_locations"))},
	{"group_members", stmt(sqlEraseByCustomer("group_members"))},
	{"shared_identifier_carriers", stmt(sqlEraseByCustomer("shared_identifier_carriers"))},
	{"shared_identifiers", stmt(sqlEraseSharedIdentifiers)},
	{"customer_identities", stmt(sqlEraseByCustomer("customer_identities"))},
	{"customers", stmt(sqlEraseCustomers)},
}

// stmt is a step of one statement over the scope's parameters.
func stmt(sql string) func(ctx context.Context, tx pgx.Tx, s *eraseScope) (int64, error) {
	return func(ctx context.Context, tx pgx.Tx, s *eraseScope) (int64, error) {
		var n int64
		err := tx.QueryRow(ctx, sql, s.args...).Scan(&n)
		return n, err
	}
}

// The mention rules of dedupe.Mentions in SQL, for a text expression, the
// strings and numbers of a jsonb document, and a text array. A document or
// array is first tested as a whole (mayMention: its text holds an email, or,
// once the usual separators of a written phone are taken out, its digits),
// so the many rows that cannot match are never walked value by value:
// erasing one person among 200,000 jobs took 93 s walking every payload,
// 55 s with a regular expression over each, 11 s so (a loaded 2-core
// machine, rows never read before). In raw cells a phone written with other
// separators than these ("415_555_0142") is missed.
func mentionsText(x string) string {
	return `(lower(` + x + `) LIKE ANY($3) OR regexp_replace(` + x + `, '\D', '', 'g') LIKE ANY($4))`
}

func mayMention(x string) string {
	return `(lower(` + x + `) LIKE ANY($3) OR translate(` + x + `, ' ()-./', '') LIKE ANY($5))`
}

// A document the service wrote holds phones as it normalized them (E.164):
// their digits appear as they are in its text, one case-blind pass finds
// them and the emails.
func mentionsJSON(doc string) string {
	return `(lower(` + doc + `::text) LIKE ANY($3 || $5) AND EXISTS (SELECT 1 FROM jsonb_path_query(` + doc + `,
		'strict $.** ? (@.type() == "string" || @.type() == "number")') v WHERE ` + mentionsText(`(v #>> '{}')`) + `))`
}

func mentionsArray(arr string) string {
	return `(` + mayMention(`array_to_string(`+arr+`, ' ')`) + ` AND EXISTS (SELECT 1 FROM unnest(` + arr + `) v WHERE ` + mentionsText("v") + `))`
}

// eraseParams names every parameter once so each statement takes the
// same eight (a no-op CTE).
const eraseParams = `params AS (SELECT $1::text, $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`

const sqlEraseWebhookPayloads = `WITH ` + eraseParams + `, gone AS (UPDATE webhook_outbox SET payload = NULL
		WHERE organization_id = $1 AND payload IS NOT NULL AND payload->'data'->'customer'->>'id' = ANY($2) RETURNING 1)
		SELECT count(*) FROM gone`

// The queue of customers to score holds arrays of ids (migration 00038):
// the person's are taken out of them.
const sqlEraseSuggestPending = `WITH ` + eraseParams + `, gone AS (UPDATE suggest_pending
		SET customer_ids = ARRAY(SELECT x FROM unnest(customer_ids) x WHERE x <> ALL($2))
		WHERE organization_id = $1 AND customer_ids && $2 RETURNING 1)
		SELECT count(*) FROM gone`

// The customers an import created are arrays too (migration 00039), with no
// index on their ids: reading every array of the organization to find the
// person's took 0.4 s at 830k imported customers. The person's records
// name their arrays: each one an import created has its customer.created
// event, of that import, written in the chunk's transaction (its xmin) —
// the array's written; since migration 00048 that event is in an
// audit_created row of the same transaction. Only those arrays are opened
// (their import's rows, by the primary key; written is inline). Should no array of the import
// carry the event's transaction (the event rewritten since, e.g. by a
// table repack), every array of that import is read, as before.
var sqlEraseImportCreated = `WITH ` + eraseParams + `,
		ev AS MATERIALIZED (SELECT DISTINCT import_id, x FROM (
			SELECT import_id, xmin::text AS x FROM audit_events
			WHERE organization_id = $1 AND customer_id = ANY($2) AND type = '` + EventCreated + `' AND import_id IS NOT NULL
			UNION ALL ` + createdRows("b.import_id, b.xmin::text", "c.id = ANY($2) AND b.import_id IS NOT NULL") + `) v),
		lost AS MATERIALIZED (SELECT import_id FROM ev WHERE NOT EXISTS (SELECT 1 FROM import_created b
			WHERE b.organization_id = $1 AND b.import_id = ev.import_id AND (b.written::text::bigint % 4294967296)::text = ev.x)),
		-- The arrays' keys first, from the inline columns; then each of
		-- those arrays opened by its key (OFFSET 0: one probe a key; a
		-- plain join let the planner test every array of the organization).
		arrays AS MATERIALIZED (SELECT a.import_id, a.first_id FROM import_created a
			WHERE a.organization_id = $1 AND a.import_id IN (SELECT import_id FROM ev)
				AND ((a.import_id, (a.written::text::bigint % 4294967296)::text) IN (SELECT import_id, x FROM ev)
					OR a.import_id IN (SELECT import_id FROM lost))),
		hit AS MATERIALIZED (SELECT k.import_id, k.first_id FROM arrays k, LATERAL (SELECT a.customer_ids && $2 AS has
			FROM import_created a WHERE a.organization_id = $1 AND a.import_id = k.import_id AND a.first_id = k.first_id OFFSET 0) o
			WHERE o.has),
		gone AS (UPDATE import_created a SET customer_ids = ARRAY(SELECT x FROM unnest(customer_ids) x WHERE x <> ALL($2))
			FROM hit k WHERE a.organization_id = $1 AND a.import_id = k.import_id AND a.first_id = k.first_id RETURNING 1)
		SELECT count(*) FROM gone`

func sqlEraseByCustomer(table string) string {
	return `WITH ` + eraseParams + `, gone AS (DELETE FROM ` + table + `
		WHERE organization_id = $1 AND customer_id = ANY($2) RETURNING 1)
		SELECT count(*) FROM gone`
}

var (
	// Finished jobs that touched the person: by the customer their result
	// names, or a payload, result or error mentioning them. The row stays
	// (its id and state answer GET /jobs/{id}). A queued job is a request
	// still to run: it runs after the erasure, as a new request would, and
	// its waiting caller gets its answer. A locked one is running a
	// duplicate delivery: waiting for it could deadlock (it holds its job,
	// then asks for the customer locked here).
	sqlEraseJobs = `WITH ` + eraseParams + `
		UPDATE jobs SET payload = '{}', result = NULL, request_hash = '',
			error = CASE WHEN error = '' THEN '' ELSE 'Erased on request' END
		WHERE (organization_id, id) IN (SELECT organization_id, id FROM jobs
			WHERE organization_id = $1 AND state <> 'queued' AND (payload <> '{}' OR result IS NOT NULL) AND (
				result->>'customer_id' = ANY($2) OR result->'merged' ?| $2
				OR ` + mentionsJSON("payload") + ` OR ` + mentionsJSON("result") + ` OR ` + mentionsText("error") + `)
			FOR UPDATE SKIP LOCKED)
		RETURNING id`
	// The events stay (type, source, time: the trail of what happened);
	// their values go.
	sqlEraseAudit = `WITH ` + eraseParams + `, scrubbed AS (UPDATE audit_events SET changes = '{}'
		WHERE organization_id = $1 AND customer_id = ANY($2) AND changes <> '{}' RETURNING 1)
		SELECT count(*) FROM scrubbed`
	// Staged rows that carry the person are deleted, with the plan's marks
	// of them: an import still running then never merges them.
	sqlEraseImportRows = `WITH ` + eraseParams + `, gone AS (
			DELETE FROM import_rows WHERE organization_id = $1 AND (email_key = ANY($6) OR phone_key = ANY($7)
				OR external_key = ANY($8) OR ` + mentionsJSON("record") + ` OR ` + mentionsArray("coalesce(raw, '{}')") + `)
			RETURNING import_id, row_num),
		moves AS (DELETE FROM import_row_moves m USING gone g
			WHERE m.organization_id = $1 AND m.import_id = g.import_id AND m.row_num = g.row_num),
		owned AS (DELETE FROM import_owned_rows o USING gone g
			WHERE o.organization_id = $1 AND o.import_id = g.import_id AND o.row_num = g.row_num)
		SELECT count(*) FROM gone`
	// An error report keeps the row (its number and reason count) without
	// the cells; a reason quoting a value loses it.
	sqlEraseImportErrors = `WITH ` + eraseParams + `, scrubbed AS (UPDATE import_errors
			SET raw = '{}', reason = CASE WHEN ` + mentionsText("reason") + ` THEN 'erased on request' ELSE reason END
			WHERE organization_id = $1 AND (` + mentionsArray("raw") + ` OR ` + mentionsText("reason") + `)
			RETURNING 1)
		SELECT count(*) FROM scrubbed`
	// Placeholders (identifiers a file put on many rows), a file error
	// quoting a value, an error summary recomputed from the scrubbed errors.
	// (Dry-run samples hold row numbers only.)
	sqlEraseImports = `WITH ` + eraseParams + `, scrubbed AS (UPDATE imports SET
			placeholders = (SELECT coalesce(jsonb_agg(p), '[]') FROM jsonb_array_elements(placeholders) p
				WHERE NOT ` + mentionsJSON("p") + `),
			error_summary = CASE WHEN ` + mentionsText("error_summary::text") + ` THEN NULL ELSE error_summary END,
			error = CASE WHEN ` + mentionsText("error") + ` THEN 'erased on request' ELSE error END
			WHERE (organization_id, id) IN (SELECT organization_id, id FROM imports
				WHERE organization_id = $1 AND (` + mentionsJSON("placeholders") + `
					OR ` + mentionsText("coalesce(error_summary::text, '')") + ` OR ` + mentionsText("error") + `)
				-- A running chunk holds its import while it waits for the
				-- customer locked here: skip it rather than deadlock.
				FOR NO KEY UPDATE SKIP LOCKED)
			RETURNING 1)
		SELECT count(*) FROM scrubbed`
	// Orders keep amounts, currency, dates, lines and number: the
	// merchant's books. The address they were shipped to goes.
	sqlEraseOrders = `WITH ` + eraseParams + `, scrubbed AS (UPDATE orders SET shipping_address = NULL, updated = now()
			WHERE organization_id = $1 AND customer_id = ANY($2) AND shipping_address IS NOT NULL RETURNING 1)
		SELECT count(*) FROM scrubbed`
	sqlEraseCreditChecks = sqlEraseByCustomer("credit_checks")
	sqlEraseSuggestions  = `WITH ` + eraseParams + `, gone AS (DELETE FROM duplicate_suggestions
			WHERE organization_id = $1 AND (customer_a = ANY($2) OR customer_b = ANY($2)) RETURNING 1)
		SELECT count(*) FROM gone`
	// Merge snapshots hold both records as they were: an unmerge could only
	// bring the person back, so the merges go.
	sqlEraseMerges = `WITH ` + eraseParams + `, gone AS (DELETE FROM customer_merges
			WHERE organization_id = $1 AND (survivor_id = ANY($2) OR source_id = ANY($2)) RETURNING 1)
		SELECT count(*) FROM gone`
	// A remembered answer (Idempotency-Key) naming the records or
	// mentioning the person is forgotten: a replay runs the request again.
	sqlEraseIdempotencyKeys = `WITH ` + eraseParams + `, gone AS (DELETE FROM idempotency_keys k
			WHERE organization_id = $1 AND (
				EXISTS (SELECT 1 FROM unnest($2::text[]) i WHERE strpos(coalesce(k.location, ''), i) > 0
					OR strpos(encode(coalesce(k.body, ''), 'escape'), i) > 0)
				OR lower(encode(coalesce(k.body, ''), 'escape')) LIKE ANY($3 || $5))
			RETURNING 1)
		SELECT count(*) FROM gone`
	// A shared identifier of the person's that nobody carries any more.
	sqlEraseSharedIdentifiers = `WITH ` + eraseParams + `, gone AS (DELETE FROM shared_identifiers s
			WHERE s.organization_id = $1 AND ((s.kind = 'email' AND s.value = ANY($6))
				OR (s.kind = 'phone' AND s.value = ANY($7)) OR (s.kind = 'external' AND s.value = ANY($8)))
			AND NOT EXISTS (SELECT 1 FROM shared_identifier_carriers c
				WHERE c.organization_id = $1 AND c.kind = s.kind AND c.value = s.value)
			RETURNING 1)
		SELECT count(*) FROM gone`
	// The rows stay for the orders that reference them and the totals;
	// merged_into = '' marks them erased (migration 00029).
	sqlEraseCustomers = `WITH ` + eraseParams + `, scrubbed AS (UPDATE customers SET
			first_name = '', last_name = '', name = '` + ErasedName + `', email = '', phone = '', phone_valid = false,
			phone_ext = '', birthdate = NULL, gender = '', company_name = '', avatar_url = '', source = '',
			notes = '', attributes = '{}', website = '', tax_id = '', fax = '', billing_address = NULL,
			shipping_address = NULL, payment_terms = '', preferred_shipping = '', merged_into = '', updated = now()
			WHERE organization_id = $1 AND id = ANY($2) RETURNING 1)
		SELECT count(*) FROM scrubbed`
)

func eraseJobs(ctx context.Context, tx pgx.Tx, s *eraseScope) (int64, error) {
	rows, err := tx.Query(ctx, sqlEraseJobs, s.args...)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	s.jobIDs = append(s.jobIDs, ids...)
	return int64(len(ids)), err
}

const (
	// The customer, locked: merged_into says merged ('id'), erased ('') or live.
	sqlLockErasable = `SELECT merged_into FROM customers WHERE organization_id = $1 AND id = $2 FOR UPDATE`
	// The records merged into it, locked in id order.
	sqlLockMergedAway = `SELECT id FROM customers WHERE organization_id = $1 AND merged_into = $2 ORDER BY id FOR UPDATE`
	// Every identifier the records hold or held: fields, identities (aliases
	// and source records' external ids), carried shared identifiers, and
	// emails and phones their history mentions (an alias deleted since).
	sqlPersonIdentifiers = `SELECT 'email', email FROM customers WHERE organization_id = $1 AND id = ANY($2) AND email <> ''
		UNION SELECT 'phone', phone FROM customers WHERE organization_id = $1 AND id = ANY($2) AND phone <> ''
		UNION SELECT kind, value FROM customer_identities WHERE organization_id = $1 AND customer_id = ANY($2)
		UNION SELECT kind, display FROM customer_identities WHERE organization_id = $1 AND customer_id = ANY($2) AND display <> ''
		UNION SELECT kind, value FROM shared_identifier_carriers WHERE organization_id = $1 AND customer_id = ANY($2)
		UNION SELECT CASE WHEN v LIKE '%@%' THEN 'email' ELSE 'phone' END, v FROM (
			SELECT x #>> '{}' AS v FROM audit_events a,
				jsonb_path_query(a.changes, 'strict $.** ? (@.type() == "string")') x
			WHERE a.organization_id = $1 AND a.customer_id = ANY($2)) h
			WHERE v ~ '^[^@\s]+@[^@\s]+$' OR v ~ '^\+[0-9]{6,15}$'`
	sqlFirstErased = `SELECT min(created) FROM audit_events
		WHERE organization_id = $1 AND customer_id = $2 AND type = '` + EventErased + `'`
)

// EraseCustomer anonymizes a person everywhere the database holds them
// (eraseSteps) in one transaction, and records a customer.erased event.
// Erasing an erased customer runs the steps again by id (catching what
// arrived since) and answers the same; a merged one is EMOVED.
//
// beforeCommit (may be nil) runs with the report once the database is
// scrubbed and before it commits: an error there (Redis down while its
// copies are deleted) rolls everything back, so a retried erase finds the
// person's identifiers again instead of leaving copies nobody can find.
func (s *Store) EraseCustomer(ctx context.Context, orgID, id string, beforeCommit func(*EraseReport) error) (*EraseReport, error) {
	// A deadlock with a writer that locked in another order (an import
	// chunk) is retried.
	rep, err := retryTx(ctx, s, func(tx pgx.Tx) (*EraseReport, error) {
		rep := &EraseReport{ID: id, Scrubbed: map[string]int64{}}
		return rep, eraseInTx(ctx, tx, orgID, id, rep, beforeCommit)
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// eraseInTx is one attempt of EraseCustomer.
func eraseInTx(ctx context.Context, tx pgx.Tx, orgID, id string, rep *EraseReport, beforeCommit func(*EraseReport) error) error {
	var mergedInto *string
	if err := tx.QueryRow(ctx, sqlLockErasable, orgID, id).Scan(&mergedInto); err != nil {
		return interpretError(err, customer.NotFound("Customer", id))
	}
	already := mergedInto != nil && *mergedInto == ""
	if mergedInto != nil && !already {
		return movedOrErased(id, *mergedInto)
	}
	rows, err := tx.Query(ctx, sqlLockMergedAway, orgID, id)
	if err != nil {
		return interpretError(fmt.Errorf("lock merged records: %w", err), nil)
	}
	merged, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return interpretError(fmt.Errorf("lock merged records: %w", err), nil)
	}
	rep.Records = append([]string{id}, merged...)
	scope, mentions, err := newEraseScope(ctx, tx, orgID, rep.Records)
	if err != nil {
		return err
	}
	rep.Mentions = mentions
	for _, step := range eraseSteps {
		n, err := step.run(ctx, tx, scope)
		if err != nil {
			return interpretError(fmt.Errorf("erase %s: %w", step.table, err), nil)
		}
		rep.Scrubbed[step.table] = n
	}
	rep.JobIDs = scope.jobIDs
	if !already {
		// Counts only: what kinds of data were removed, never values.
		if err := audit(ctx, tx, orgID, id, EventErased, "api", map[string]any{"records": len(rep.Records)}); err != nil {
			return err
		}
	}
	var first *time.Time
	if err := tx.QueryRow(ctx, sqlFirstErased, orgID, id).Scan(&first); err != nil {
		return interpretError(fmt.Errorf("erased at: %w", err), nil)
	}
	if first != nil {
		rep.Erased = first.UTC()
	}
	if beforeCommit != nil {
		return beforeCommit(rep)
	}
	return nil
}

// newEraseScope reads the identifiers of the records ids and lays out the
// steps' parameters.
func newEraseScope(ctx context.Context, tx pgx.Tx, orgID string, ids []string) (*eraseScope, dedupe.Mentions, error) {
	rows, err := tx.Query(ctx, sqlPersonIdentifiers, orgID, ids)
	if err != nil {
		return nil, dedupe.Mentions{}, interpretError(fmt.Errorf("read identifiers: %w", err), nil)
	}
	var emails, phones, emailKeys, phoneKeys, externals []string
	var kind, value string
	_, err = pgx.ForEachRow(rows, []any{&kind, &value}, func() error {
		switch kind {
		case "email":
			emails = append(emails, value)
			emailKeys = append(emailKeys, dedupe.EmailKey(value, false), strings.ToLower(value))
		case "phone":
			phones = append(phones, value)
			phoneKeys = append(phoneKeys, dedupe.PhoneDigits(value))
		case "external":
			externals = append(externals, value)
		}
		return nil
	})
	if err != nil {
		return nil, dedupe.Mentions{}, interpretError(fmt.Errorf("read identifiers: %w", err), nil)
	}
	m := dedupe.NewMentions(emails, phones)
	like := func(list []string, prefix, suffix string) []string {
		out := make([]string, 0, len(list))
		for _, v := range list {
			out = append(out, prefix+likeEscaper.Replace(v)+suffix)
		}
		return out
	}
	s := &eraseScope{orgID: orgID, ids: ids}
	s.args = []any{orgID, ids, like(m.Emails, "%", "%"), append(like(m.Digits, "", ""), like(m.National, "%", "")...),
		append(like(m.Digits, "%", "%"), like(m.National, "%", "%")...),
		nonNil(emailKeys), nonNil(phoneKeys), nonNil(externals)} // [], not NULL: = ANY(NULL) is NULL
	return s, m, nil
}

// likeEscaper escapes LIKE's wildcards (an email may hold '_').
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// movedOrErased is the error of a read of a customer whose merged_into is
// set: a redirect to its survivor, or gone when erased (the empty string).
func movedOrErased(id, mergedInto string) error {
	if mergedInto == "" {
		return customer.Erased(id)
	}
	return &customer.Error{Code: customer.EMOVED, Message: "Customer was merged",
		Details: map[string]string{"id": id, "merged_into": mergedInto}}
}
