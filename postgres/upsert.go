package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

const (
	sqlGenericPlans = `SET LOCAL plan_cache_mode = force_generic_plan`
	sqlLockJob      = `SELECT state, result FROM jobs WHERE organization_id = $1 AND id = $2 FOR UPDATE`
	// Advisory locks on the request's identity keys (sorted, so concurrent
	// upserts can't deadlock) serialize find-or-create of one identity.
	sqlLockKeys = `SELECT count(pg_advisory_xact_lock(h)) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(h, i)`
	// One index probe per key: LIMIT 1 keeps the planner from hashing a
	// whole organization's identities when it misjudges the key count.
	sqlKeyProbe = `unnest($2::text[], $3::text[]) AS k(kind, value)
		CROSS JOIN LATERAL (SELECT i.customer_id, i.source FROM customer_identities i
			WHERE i.organization_id = $1 AND i.kind = k.kind AND i.value = k.value LIMIT 1) x`
	sqlOwners = `SELECT k.kind, k.value, x.customer_id, x.source FROM ` + sqlKeyProbe
	// Candidates are the keys' owners and the carriers of shared keys
	// (sqlCarriers: the newest carriersLoaded of each).
	sqlCandidateIDs = `ARRAY(SELECT x.customer_id FROM ` + sqlKeyProbe + `
		UNION SELECT s.customer_id FROM unnest($2::text[], $3::text[]) AS k(kind, value)
			CROSS JOIN LATERAL (` + sqlCarriers + `) s)`
	sqlCarriers = `SELECT c.customer_id FROM shared_identifier_carriers c
		WHERE c.organization_id = $1 AND c.kind = k.kind AND c.value = k.value
		ORDER BY c.created DESC, c.customer_id DESC LIMIT ` + carriersLoaded
	// The shared keys among $2/$3, with their carriers.
	sqlSharedKeys = `SELECT s.kind, s.value, s.reason, ARRAY(` + sqlCarriers + `)
		FROM unnest($2::text[], $3::text[]) AS k(kind, value)
		JOIN shared_identifiers s ON s.organization_id = $1 AND s.kind = k.kind AND s.value = k.value`
	sqlInsertShared = `INSERT INTO shared_identifiers (organization_id, kind, value, reason)
		SELECT $1, k, v, r FROM unnest($2::text[], $3::text[], $4::text[]) AS t(k, v, r)
		ON CONFLICT DO NOTHING`
	// A carrier of a key blocklisted but not yet listed lists it first.
	sqlInsertCarriers = `WITH listed AS (
			INSERT INTO shared_identifiers (organization_id, kind, value, reason)
			SELECT DISTINCT $1, k, v, '` + dedupe.ReasonBlocklist + `' FROM unnest($2::text[], $3::text[]) AS t(k, v)
			ON CONFLICT DO NOTHING)
		INSERT INTO shared_identifier_carriers (organization_id, kind, value, customer_id, display)
		SELECT $1, k, v, c, d FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(k, v, c, d)
		ON CONFLICT DO NOTHING`
	sqlLockCandidates = `SELECT ` + customerColumns + ` FROM customers c
		WHERE c.organization_id = $1 AND c.id = ANY(` + sqlCandidateIDs + `)
		ORDER BY c.id FOR UPDATE`
	sqlLocationDefaults = `SELECT default_tags, default_group_ids FROM locations WHERE organization_id = $1 AND id = $2`
	sqlCandidateTags    = `SELECT customer_id, location_id, tag_key FROM customer_tags
		WHERE organization_id = $1 AND customer_id = ANY(` + sqlCandidateIDs + `)`
	sqlCandidateGroups = `SELECT customer_id, group_id FROM group_members
		WHERE organization_id = $1 AND customer_id = ANY(` + sqlCandidateIDs + `)`

	// A key that turned out to belong to another customer is not written;
	// fewer rows than keys fails the statement with raceMessage (the cast of
	// a text built at run time, so planning never trips on it).
	sqlUpsertKeys = `WITH written AS (
		INSERT INTO customer_identities (organization_id, kind, value, customer_id, is_primary, display)
		SELECT $1, k, v, c, p, d FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $6::text[]) AS t(k, v, c, p, d)
		ON CONFLICT (organization_id, kind, value) DO UPDATE SET is_primary = EXCLUDED.is_primary,
			display = CASE WHEN EXCLUDED.display = '' THEN customer_identities.display ELSE EXCLUDED.display END
		WHERE customer_identities.customer_id = EXCLUDED.customer_id
		RETURNING 1)
		SELECT CASE WHEN count(*) = $7 THEN 0 ELSE ('` + raceMessage + `: ' || count(*))::int END FROM written`
	sqlInsertKeys = `INSERT INTO customer_identities (organization_id, kind, value, customer_id, is_primary, display)
		SELECT $1, k, v, c, p, d FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $6::text[]) AS t(k, v, c, p, d)`
	sqlAddMemberships = `INSERT INTO group_members (organization_id, group_id, customer_id, location_id)
		SELECT $1, g, $2, NULLIF($3, '') FROM unnest($4::text[]) AS g
		WHERE EXISTS (SELECT 1 FROM customer_groups WHERE organization_id = $1 AND id = g)
		ON CONFLICT DO NOTHING`
	// An address is added unless the customer already has the same first line.
	sqlAddAddressOnce = `INSERT INTO customer_addresses (organization_id, id, customer_id, label, address_line1,
		address_line2, city, state, country, postal_code, is_default)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
			NOT EXISTS (SELECT 1 FROM customer_addresses WHERE organization_id = $1 AND customer_id = $3)
		WHERE NOT EXISTS (SELECT 1 FROM customer_addresses WHERE organization_id = $1 AND customer_id = $3
			AND lower(address_line1) = lower($5))`
	sqlInsertAudit = `INSERT INTO audit_events (organization_id, customer_id, type, source, job_id, import_id, location_id, changes)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), $8)`
	sqlSetSourceRecord = `UPDATE customer_identities SET source = $4
		WHERE organization_id = $1 AND kind = 'external' AND value = $2 AND customer_id = $3`
	sqlSelectSourceLink = `SELECT customer_id, created, source FROM customer_identities
		WHERE organization_id = $1 AND kind = 'external' AND value = $2`
	// A dismissed or merged pair stays so: only open pairs take new reasons.
	sqlSuggestPair = `INSERT INTO duplicate_suggestions (organization_id, customer_a, customer_b, reasons, score)
		VALUES ($1, $2, $3, ARRAY[$4::text], 0.9)
		ON CONFLICT (organization_id, customer_a, customer_b) DO UPDATE
		SET reasons = (SELECT array_agg(DISTINCT r) FROM unnest(duplicate_suggestions.reasons || EXCLUDED.reasons) r),
			updated = now()
		WHERE duplicate_suggestions.status = 'open'`
)

// errIdentityRace means a key was claimed concurrently (outside the
// advisory locks, e.g. by an import): the transaction is retried.
var errIdentityRace = errors.New("identity claimed concurrently")

// RunUpsert performs one upsert job exactly once: the job row is locked, a
// completed job returns its stored result, otherwise the request is matched,
// merged and written and the job completed — all in one transaction.
func (s *Store) RunUpsert(ctx context.Context, orgID string, it BatchItem) (*UpsertReply, error) {
	var err error
	for range 5 {
		var res *UpsertReply
		if res, err = s.runUpsertOnce(ctx, orgID, it); err == nil {
			return res, nil
		}
		if !retryable(err) {
			break
		}
	}
	return nil, fmt.Errorf("upsert %s: %w", it.JobID, err)
}

// runUpsertOnce runs one attempt on a pooled connection, ending the
// transaction whatever happened (a replayed job commits its empty read).
func (s *Store) runUpsertOnce(ctx context.Context, orgID string, it BatchItem) (*UpsertReply, error) {
	var res *UpsertReply
	err := s.inConn(ctx, func(conn *pgx.Conn) error {
		var err error
		res, err = runUpsert(ctx, conn, orgID, it)
		return err
	})
	return res, err
}

// retryTx runs fn in a transaction, again (up to five times) while it
// fails with a race another attempt resolves: a key claimed concurrently,
// a deadlock, a serialization failure.
func retryTx[T any](ctx context.Context, s *Store, fn func(tx pgx.Tx) (T, error)) (T, error) {
	var out T
	var err error
	for range 5 {
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			var ferr error
			out, ferr = fn(tx)
			return ferr
		})
		if err == nil || !retryable(err) {
			return out, err
		}
	}
	return out, err
}

// raceMessage is the text sqlUpsertKeys fails with on a race.
const raceMessage = "identity claimed concurrently"

// retryable errors are races another attempt resolves.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, errIdentityRace) ||
		(errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001" || pgErr.Code == "23505" ||
			(pgErr.Code == "22P02" && strings.Contains(pgErr.Message, raceMessage))))
}

// lockHashes turns keys into sorted advisory lock ids.
func lockHashes(orgID string, keys []dedupe.Key) []int64 {
	out := make([]int64, 0, len(keys))
	for _, k := range keys {
		h := fnv.New64a()
		h.Write([]byte(orgID + "\x00" + k.Kind + "\x00" + k.Value))
		out = append(out, int64(h.Sum64()))
	}
	slices.Sort(out)
	return out
}

// batchSender is what runUpsert needs of a connection.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// runUpsert is one attempt in two round trips: BEGIN travels with the
// reads and COMMIT with the writes. On error the caller rolls back.
func runUpsert(ctx context.Context, tx batchSender, orgID string, it BatchItem) (*UpsertReply, error) {
	jobID, req := it.JobID, it.Request
	var job *jobRow
	// One round trip: key locks (and the job id's, for a row not written
	// yet) before the job row's, candidates, owners, tags.
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(sqlServicePendingList)
	// The array parameters would make PostgreSQL plan every statement anew
	// (a third of an upsert's database time); their generic plans are the same.
	b.Queue(sqlGenericPlans)
	keys := it.lockKeys()
	b.Queue(sqlLockKeys, lockHashes(orgID, keys))
	b.Queue(sqlLockJob, orgID, jobID).Query(func(rows pgx.Rows) error {
		var j jobRow
		_, err := pgx.ForEachRow(rows, []any{&j.state, &j.result}, func() error {
			job = &j
			return nil
		})
		return err
	})
	cand := queueCandidates(b, orgID, req.Record.Keys(), req.LocationID, withRelations(req))
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("load candidates: %w", err), nil)
	}
	switch {
	case job == nil && it.NewJob == nil:
		return nil, customer.NotFound("Job", jobID)
	case job != nil && job.state == customer.JobCompleted:
		o := storedOutcome(jobID, job.result)
		return o.Reply, o.Err
	}
	wb := &pgx.Batch{}
	res, err := queueMatchWrite(wb, orgID, auditContext{source: req.Source, jobID: jobID, locationID: req.LocationID}, req, cand)
	if err != nil {
		return nil, err
	}
	out := &UpsertReply{Result: &res, JobID: jobID}
	if err := completeUpsertJob(wb, orgID, it, out); err != nil {
		return nil, err
	}
	// Read the customer back in the same round trip, for the reply.
	byID := map[string]*customer.Customer{}
	queueReadBack(wb, orgID, []string{res.CustomerID}, byID)
	wb.Queue("COMMIT")
	if err := tx.SendBatch(ctx, wb).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("write upsert: %w", err), nil)
	}
	out.Customer = byID[res.CustomerID]
	return out, nil
}

// withRelations reports whether a request touches tags, groups or a
// location, whose current rows the engine then loads with the candidates.
func withRelations(req *dedupe.Request) bool {
	return req.LocationID != "" || len(req.Tags) > 0 || req.ReplaceTags || len(req.AddedTags) > 0 || len(req.GroupIDs) > 0
}

// queueMatchRead queues the read step of one find-or-create: advisory
// locks on the request's keys, then its candidates (locked).
func queueMatchRead(b *pgx.Batch, orgID string, req *dedupe.Request) *candidates {
	keys := req.Record.Keys()
	b.Queue(sqlLockKeys, lockHashes(orgID, keys))
	return queueCandidates(b, orgID, keys, req.LocationID, withRelations(req))
}

// queueMatchWrite runs the engine over the loaded candidates and queues
// every write of SPEC §6 steps 3–6: customers and keys, tags, groups, the
// visit, the address, audit events and suggested duplicates. The returned
// check must be called once the batch ran (see queueWorkspace).
func queueMatchWrite(wb *pgx.Batch, orgID string, ac auditContext, req *dedupe.Request, cand *candidates) (dedupe.Result, error) {
	if cand.locMissing {
		return dedupe.Result{}, customer.NotFound("Location", req.LocationID)
	}
	// A request without a source came through the API: its events and
	// visit say "api", as the API's own creates do (imports say "import").
	ac.source = cmpOr(ac.source, "api")
	w, err := cand.workspace(req.Options.CanonicalEmails)
	if err != nil {
		return dedupe.Result{}, err
	}
	res, err := applyRequest(w, req)
	if err != nil {
		return dedupe.Result{}, err
	}
	queueWorkspace(wb, orgID, ac, w, cand.owners)
	// Tags, groups and the visit only add (or replace tags at the location);
	// their effect is computed against what was loaded, before writing.
	tagged := queueTagsAndGroups(wb, orgID, res.CustomerID, req, *cand)
	if ch, ok := queueSourceRecord(wb, orgID, w, res.CustomerID, req, cand); ok {
		tagged["source_record"] = ch
	}
	if req.LocationID != "" {
		wb.Queue(sqlRecordVisit, orgID, res.CustomerID, req.LocationID, ac.source)
	}
	queueAddress(wb, orgID, res.CustomerID, req.Address)
	if res.Action == dedupe.ActionUnchanged && len(tagged) > 0 {
		res.Action = dedupe.ActionUpdated
	}
	queueAudit(wb, orgID, ac, w, res, tagged)
	for _, p := range w.Pairs() {
		wb.Queue(sqlSuggestPair, orgID, p.A, p.B, p.Reason)
	}
	return res, nil
}

// applyRequest applies a request's record to w: its result, or the error
// the engine refused it with (which changed nothing in w).
func applyRequest(w *dedupe.Workspace, req *dedupe.Request) (dedupe.Result, error) {
	res, err := w.Apply(&req.Record, req.Options)
	if serr := (*dedupe.SharedError)(nil); errors.As(err, &serr) {
		return dedupe.Result{}, sharedConflict(serr)
	}
	if err != nil {
		return dedupe.Result{}, &customer.Error{Code: customer.EINVALID, Message: "Validation error",
			Details: map[string]string{"email": "email, phone or external_id is required"}}
	}
	// A phone kept invalid is applied, and the answer says so (SPEC §10.1).
	res.Warnings = append(res.Warnings, w.PhoneWarnings(&req.Record, res.CustomerID)...)
	return res, nil
}

// queueAddress adds a request's address to its customer unless the
// customer has one with the same first line.
func queueAddress(b *pgx.Batch, orgID, customerID string, a *customer.Address) {
	if a != nil {
		b.Queue(sqlAddAddressOnce, orgID, customer.NewID(customer.PrefixAddress), customerID, cmp.Or(a.Label, "Address"),
			a.AddressLine1, a.AddressLine2, a.City, a.State, a.Country, a.PostalCode)
	}
}

// sharedConflict is the 409 of a record with no name and only shared
// identifiers (SPEC §10.1): details name each field "shared" and the
// candidates.
func sharedConflict(e *dedupe.SharedError) *customer.Error {
	details := map[string]any{"candidates": e.Candidates}
	for _, f := range e.Fields {
		details[f] = "shared"
	}
	return &customer.Error{Code: customer.ECONFLICT, Details: details,
		Message: "Only shared identifiers and no name: send a name to tell the customers who share them apart"}
}

// queueSourceRecord stores a unified customer's source record on its
// external id when the request's customer owns that id (a conflicting owner
// keeps its own). Sent fields replace stored ones, absent fields keep them:
// the source system speaks for its record whatever the merge policy. It
// reports the change, if any, for the audit trail.
func queueSourceRecord(b *pgx.Batch, orgID string, w *dedupe.Workspace, customerID string, req *dedupe.Request, cand *candidates) (Change, bool) {
	rec := req.SourceRecord
	if rec == nil || req.Record.External == "" {
		return Change{}, false
	}
	k := dedupe.Key{Kind: dedupe.KindExternal, Value: req.Record.External}
	if w.Owner(k) != customerID {
		return Change{}, false
	}
	stored := cand.sources[k]
	next := *rec
	if stored != nil {
		next.ProviderID = cmp.Or(next.ProviderID, stored.ProviderID)
		next.ConfigID = cmp.Or(next.ConfigID, stored.ConfigID)
		next.SupportingDataDefinitionID = cmp.Or(next.SupportingDataDefinitionID, stored.SupportingDataDefinitionID)
		if next.Data == nil {
			next.Data = stored.Data
		}
		if reflect.DeepEqual(*stored, next) {
			return Change{}, false
		}
	}
	b.Queue(sqlSetSourceRecord, orgID, k.Value, customerID, &next)
	return Change{From: stored, To: &next}, true
}

// FindSourceLink returns the source record stored on an external id
// ("system:id") and when that id was first seen.
func (s *Store) FindSourceLink(ctx context.Context, orgID, key string) (*customer.SourceLink, error) {
	var l customer.SourceLink
	err := s.pool.QueryRow(ctx, sqlSelectSourceLink, orgID, key).Scan(&l.CustomerID, &l.FirstSeen, &l.Record)
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Source record", key))
	}
	l.FirstSeen = l.FirstSeen.UTC()
	return &l, nil
}

func setAdd(m map[string]map[string]bool, id, v string) {
	if m[id] == nil {
		m[id] = map[string]bool{}
	}
	m[id][v] = true
}

// queueTagsAndGroups writes the request's tags and memberships and returns
// what they change for the audit trail ("tags_added", "tags_removed", "groups_added").
func queueTagsAndGroups(b *pgx.Batch, orgID, customerID string, req *dedupe.Request, cand candidates) map[string]Change {
	have := cand.tags[customerID]
	loc := req.LocationID
	want := map[string]string{} // tag_key → tag
	var order []string
	add := func(tags []string) {
		for _, t := range tags {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if _, ok := want[strings.ToLower(t)]; !ok {
				want[strings.ToLower(t)] = t
				order = append(order, t)
			}
		}
	}
	add(req.Tags)
	add(req.AddedTags)
	add(cand.locTags)
	changes := map[string]Change{}
	var added, removed []string
	for _, t := range order {
		if !have[loc+"\x00"+strings.ToLower(t)] {
			added = append(added, t)
		}
	}
	if req.ReplaceTags {
		var keep []string
		for k := range want {
			keep = append(keep, k)
		}
		for key := range have {
			l, tag, _ := strings.Cut(key, "\x00")
			if l == loc && want[tag] == "" {
				removed = append(removed, tag)
			}
		}
		if len(removed) > 0 {
			slices.Sort(removed)
			b.Queue(sqlDropOtherTags, orgID, customerID, loc, keep)
		}
	}
	if len(added) > 0 {
		b.Queue(sqlAddTags, orgID, customerID, loc, added)
		changes["tags_added"] = Change{To: added}
	}
	if len(removed) > 0 {
		changes["tags_removed"] = Change{From: removed}
	}
	var groups []string
	for _, g := range slices.Concat(req.GroupIDs, cand.locGroups) {
		if !cand.groups[customerID][g] && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	if len(groups) > 0 {
		b.Queue(sqlAddMemberships, orgID, customerID, loc, groups)
		changes["groups_added"] = Change{To: groups}
	}
	return changes
}

// Change is an audit entry's before and after.
type Change = dedupe.Change
