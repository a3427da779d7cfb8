// An upsert batch applied as one workspace: one round trip locks and reads
// everything its requests can touch, the engine applies them in arrival
// order in memory, one round trip writes the outcome set-based and commits.

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

const (
	// sqlServicePendingList and sqlGenericPlans (array parameters: see
	// runUpsert) in one statement.
	sqlBatchSettings = `SELECT set_config('gin_pending_list_limit', '256MB', true), set_config('plan_cache_mode', 'force_generic_plan', true)`
	// The answers' customers with their relations, one statement.
	sqlReadBackBatch = `SELECT ` + customerColumns + `, ` + relationColumns + `
		FROM customers c WHERE c.organization_id = $1 AND c.id = ANY($2)`
)

// errPerRequest: the batch needs what the workspace path leaves to the
// per-request one (a merge, a source record, requests that disagree on
// email canonicalization).
var errPerRequest = errors.New("upsert batch: applied request by request")

// queueLockBatch queues the locks of a batch's first round trip: every key
// and job row up front, keys sorted, so batches and single upserts cannot
// deadlock on them whatever order their requests came in. The advisory
// locks go first: a job row not written yet is locked by its id's.
func queueLockBatch(b *pgx.Batch, orgID string, items []BatchItem, left []bool, jobs map[string]jobRow) {
	var ids []string
	var keys []dedupe.Key
	for i, it := range items {
		if !left[i] {
			ids = append(ids, it.JobID)
			keys = append(keys, it.lockKeys()...)
		}
	}
	b.Queue("BEGIN")
	b.Queue(sqlBatchSettings)
	b.Queue(sqlLockKeys, slices.Compact(lockHashes(orgID, keys)))
	b.Queue(sqlLockJobs, orgID, ids).Query(func(rows pgx.Rows) error {
		var id string
		var j jobRow
		_, err := pgx.ForEachRow(rows, []any{&id, &j.state, &j.result}, func() error {
			jobs[id] = j
			return nil
		})
		return err
	})
}

// pendingOutcome is an item's outcome before its batch commits: a
// customer touched again later in the batch is answered as this item left
// it (snapshot), else as read back.
type pendingOutcome struct {
	BatchOutcome
	snapshot *customer.Customer
}

// batchWrites collects a batch's writes, set-based where the kinds allow.
type batchWrites struct {
	rel                                              pgx.Batch // per request: tags, groups, visit, address, pairs
	auditC, auditT, auditS, auditJ, auditL, auditCh  []string
	doneIDs, doneResults                             []string
	newIDs, newTypes, newPayloads, newHashes, newRes []string
}

// runBatchSet applies the batch on one workspace in two round trips.
// Outcomes are filled only once it committed. errPerRequest: the caller
// applies the batch request by request; any other error rolls it back.
func runBatchSet(ctx context.Context, tx batchSender, orgID string, items []BatchItem, out []BatchOutcome) error {
	left := make([]bool, len(items))
	var keys []dedupe.Key
	seen := map[dedupe.Key]bool{}
	relations := false
	locations := map[string]*candidates{}
	for _, it := range items {
		req := it.Request
		if req.SourceRecord != nil || req.Options.CanonicalEmails != items[0].Request.Options.CanonicalEmails {
			return errPerRequest
		}
		for _, k := range req.Record.Keys() {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		relations = relations || withRelations(req)
		if req.LocationID != "" {
			locations[req.LocationID] = &candidates{}
		}
	}

	// One round trip: the locks, then the candidates of every key of the
	// batch (locked) with their relations when a request needs them.
	jobs := map[string]jobRow{}
	b := &pgx.Batch{}
	queueLockBatch(b, orgID, items, left, jobs)
	cand := queueCandidates(b, orgID, keys, "", relations)
	for loc, c := range locations {
		queueLocationDefaults(b, orgID, loc, c)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return interpretError(fmt.Errorf("load upsert batch: %w", err), nil)
	}
	w, err := cand.workspace(items[0].Request.Options.CanonicalEmails)
	if err != nil {
		return err
	}

	// The engine, request after request: each sees what the earlier ones
	// did in memory, as it would have seen their writes.
	pending := make([]pendingOutcome, len(items))
	var wr batchWrites
	last := map[string]int{}  // customer → the last item answered with it
	first := map[string]int{} // job → its first item (a job twice in a batch runs once)
	for i, it := range items {
		if f, ok := first[it.JobID]; ok {
			pending[i] = pendingOutcome{BatchOutcome: pending[f].BatchOutcome}
			continue
		}
		first[it.JobID] = i
		j, ok := jobs[it.JobID]
		switch {
		case !ok && it.NewJob == nil:
			pending[i].Err = customer.NotFound("Job", it.JobID)
			continue
		case j.state == customer.JobCompleted:
			pending[i].BatchOutcome = storedOutcome(it.JobID, j.result)
			continue
		}
		req := it.Request
		loc := locations[req.LocationID]
		if loc != nil && loc.locMissing {
			pending[i].Err = customer.NotFound("Location", req.LocationID)
			continue
		}
		merges := len(w.Merges())
		pairs := len(w.Pairs())
		res, err := applyRequest(w, req)
		if err != nil {
			pending[i].Err = err // refused: nothing of it in w
			continue
		}
		if len(w.Merges()) > merges {
			return errPerRequest
		}
		reply, err := wr.add(orgID, it, w, cand, loc, res, w.Pairs()[pairs:])
		if err != nil {
			return err
		}
		snap := *w.Customer(res.CustomerID)
		snap.Attributes = maps.Clone(snap.Attributes)
		pending[i] = pendingOutcome{BatchOutcome: BatchOutcome{Reply: reply}, snapshot: &snap}
		last[res.CustomerID] = i
	}

	// One round trip: customers and keys first (what the rest refers to),
	// then each request's relations in order, audit events, jobs, the
	// read-back of every answer's customer, COMMIT.
	wb := &pgx.Batch{}
	queueBatchWorkspace(wb, orgID, w, cand.owners)
	wb.QueuedQueries = append(wb.QueuedQueries, wr.rel.QueuedQueries...)
	wr.queue(wb, orgID)
	byID := map[string]*customer.Customer{}
	ids := slices.Sorted(maps.Keys(last))
	if len(ids) > 0 {
		wb.Queue(sqlReadBackBatch, orgID, ids).Query(func(rows pgx.Rows) error {
			list, err := scanCustomers(rows, nil)
			for _, c := range list {
				byID[c.ID] = c
			}
			return err
		})
	}
	wb.Queue("COMMIT")
	if err := tx.SendBatch(ctx, wb).Close(); err != nil {
		return sentError{interpretError(fmt.Errorf("write upsert batch: %w", err), nil)}
	}
	for i, p := range pending {
		if r := p.Reply; r != nil && r.Result != nil && p.snapshot != nil {
			r.Customer = byID[r.CustomerID]
			if last[r.CustomerID] != i && r.Customer != nil {
				r.Customer = asLeft(p.snapshot, r.Customer)
			}
		}
		out[i] = p.BatchOutcome
	}
	return nil
}

// asLeft is a customer as an earlier request of its batch left it: its
// fields then, its timestamps and relations as the batch left them.
func asLeft(snap, stored *customer.Customer) *customer.Customer {
	c := *snap
	c.OrganizationID, c.Created, c.Updated = stored.OrganizationID, stored.Created, stored.Updated
	c.Tags, c.TagsByLocation, c.Groups, c.Locations, c.Aliases = stored.Tags, stored.TagsByLocation, stored.Groups, stored.Locations, stored.Aliases
	c.CurrentBalance, c.LifetimeValue, c.TotalOrders = stored.CurrentBalance, stored.LifetimeValue, stored.TotalOrders
	if c.CustomerSince == nil {
		c.CustomerSince = stored.CustomerSince
	}
	return &c
}

// add records what request it adds beside the workspace's customers and
// keys: its relations (against what the batch's earlier requests left),
// audit events and job, and returns its reply.
func (wr *batchWrites) add(orgID string, it BatchItem, w *dedupe.Workspace, cand *candidates, loc *candidates, res dedupe.Result, pairs []dedupe.Pair) (*UpsertReply, error) {
	req := it.Request
	source := cmpOr(req.Source, "api")
	view := *cand
	if loc != nil {
		view.locTags, view.locGroups = loc.locTags, loc.locGroups
	}
	tagged := queueTagsAndGroups(&wr.rel, orgID, res.CustomerID, req, view)
	noteTagsAndGroups(cand, res.CustomerID, req.LocationID, tagged)
	if req.LocationID != "" {
		wr.rel.Queue(sqlRecordVisit, orgID, res.CustomerID, req.LocationID, source)
	}
	queueAddress(&wr.rel, orgID, res.CustomerID, req.Address)
	for _, p := range pairs {
		wr.rel.Queue(sqlSuggestPair, orgID, p.A, p.B, p.Reason)
	}
	changes := w.LastChanges()
	if res.Action == dedupe.ActionUnchanged && (len(changes) > 0 || len(tagged) > 0) {
		res.Action = dedupe.ActionUpdated
	}
	var created []string
	var updated map[string]map[string]Change
	switch {
	case res.Action == dedupe.ActionCreated:
		created = []string{res.CustomerID}
	case len(changes) > 0:
		updated = map[string]map[string]Change{res.CustomerID: changes}
	}
	var err error
	auditEvents(created, updated, res, tagged, func(customerID, typ string, ch map[string]any) {
		raw, merr := json.Marshal(ch)
		err = cmpErr(err, merr)
		wr.auditC, wr.auditT, wr.auditS = append(wr.auditC, customerID), append(wr.auditT, typ), append(wr.auditS, source)
		wr.auditJ, wr.auditL, wr.auditCh = append(wr.auditJ, it.JobID), append(wr.auditL, req.LocationID), append(wr.auditCh, string(raw))
	})
	if err != nil {
		return nil, fmt.Errorf("encode audit event: %w", err)
	}
	reply := &UpsertReply{Result: &res, JobID: it.JobID}
	result, err := json.Marshal(reply)
	if err != nil {
		return nil, fmt.Errorf("encode job result: %w", err)
	}
	if it.NewJob == nil {
		wr.doneIDs, wr.doneResults = append(wr.doneIDs, it.JobID), append(wr.doneResults, string(result))
		return reply, nil
	}
	payload, err := it.payload()
	if err != nil {
		return nil, err
	}
	wr.newIDs, wr.newTypes, wr.newHashes = append(wr.newIDs, it.JobID), append(wr.newTypes, it.NewJob.Type), append(wr.newHashes, it.NewJob.RequestHash)
	wr.newPayloads, wr.newRes = append(wr.newPayloads, string(payload)), append(wr.newRes, string(result))
	return reply, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// queue queues the batch's audit events and job completions, one
// statement for all.
func (wr *batchWrites) queue(b *pgx.Batch, orgID string) {
	if len(wr.auditC) > 0 || len(wr.doneIDs) > 0 || len(wr.newIDs) > 0 {
		b.Queue(sqlBatchAuditAndJobs, orgID, wr.auditC, wr.auditT, wr.auditS, wr.auditJ, wr.auditL, wr.auditCh,
			wr.doneIDs, wr.doneResults, wr.newIDs, wr.newTypes, wr.newPayloads, wr.newHashes, wr.newRes)
	}
}

// noteTagsAndGroups adds a request's tag and group changes to the loaded
// view, so that the batch's later requests compare against them.
func noteTagsAndGroups(cand *candidates, customerID, loc string, tagged map[string]Change) {
	if ch, ok := tagged["tags_removed"]; ok {
		for _, t := range ch.From.([]string) {
			delete(cand.tags[customerID], loc+"\x00"+t)
		}
	}
	if ch, ok := tagged["tags_added"]; ok {
		for _, t := range ch.To.([]string) {
			setAdd(cand.tags, customerID, loc+"\x00"+strings.ToLower(t))
		}
	}
	if ch, ok := tagged["groups_added"]; ok {
		for _, g := range ch.To.([]string) {
			setAdd(cand.groups, customerID, g)
		}
	}
}
