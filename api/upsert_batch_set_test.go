package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// asyncBatch accepts bodies as 202 upserts (no worker runs) and gathers
// their queued tasks, in order, into one batch as the coalescer would send
// it; the single tasks are deleted.
func asyncBatch(t *testing.T, e *queueEnv, bodies ...map[string]any) ([]string, queue.UpsertBatchPayload) {
	t.Helper()
	insp := asynq.NewInspector(e.opt)
	defer insp.Close()
	var jobs []string
	var p queue.UpsertBatchPayload
	for _, body := range bodies {
		id := str(e.do("POST", "/api/v1/customers/upsert?wait=0", body).want(t, http.StatusAccepted).data()["id"])
		info, err := insp.GetTaskInfo(e.names.Critical(), id)
		if err != nil {
			t.Fatal(err)
		}
		var single queue.UpsertPayload
		if err := json.Unmarshal(info.Payload, &single); err != nil {
			t.Fatal(err)
		}
		if err := insp.DeleteTask(e.names.Critical(), id); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, id)
		p.OrgID = single.OrgID
		p.Items = append(p.Items, queue.UpsertItem{JobID: single.JobID, Request: single.Request})
	}
	return jobs, p
}

func batchItems(p queue.UpsertBatchPayload) []postgres.BatchItem {
	var items []postgres.BatchItem
	for _, it := range p.Items {
		items = append(items, postgres.BatchItem{JobID: it.JobID, Request: it.Request})
	}
	return items
}

// count runs a count(*) query.
func count(t *testing.T, e *queueEnv, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantCompletedOnce checks that want of the jobs completed, each on its
// first attempt (exactly once).
func wantCompletedOnce(t *testing.T, e *queueEnv, jobs []string, want int) {
	t.Helper()
	if n := count(t, e, "SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'completed' AND attempts = 1", jobs); n != want {
		t.Fatalf("%d jobs completed once, want %d", n, want)
	}
}

// Requests of one person in one batch are applied in arrival order on one
// workspace: one customer, each answer what that request alone did as if
// applied after the earlier ones (created, then updated with its own
// changes, then unchanged), each job and audit event its own; the batch
// delivered again answers every stored result and writes nothing.
func TestUpsertBatchSameIdentityInOrder(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	jobs, p := asyncBatch(t, e,
		map[string]any{"email": "seq@example.com", "first_name": "Ana"},
		map[string]any{"email": "seq@example.com", "last_name": "Lee", "phone": "+12025550143"},
		map[string]any{"email": "seq@example.com", "first_name": "Ana", "last_name": "Lee"},
		map[string]any{"email": "seq@example.com", "first_name": "Anna", "merge_policy": "overwrite"},
	)
	ctx := context.Background()
	outs, err := e.store.RunUpsertBatch(ctx, e.org, batchItems(p))
	if err != nil {
		t.Fatal(err)
	}
	type answer struct{ action, first, last, phone string }
	want := []answer{{"created", "Ana", "", ""}, {"updated", "Ana", "Lee", "+12025550143"},
		{"unchanged", "Ana", "Lee", "+12025550143"}, {"updated", "Anna", "Lee", "+12025550143"}}
	var id string
	for i, o := range outs {
		if o.Err != nil || o.Reply.Customer == nil {
			t.Fatalf("request %d: %v", i, o.Err)
		}
		c := o.Reply.Customer
		got := answer{string(o.Reply.Action), c.FirstName, c.LastName, c.Phone}
		if got != want[i] || o.Reply.JobID != jobs[i] || (id != "" && c.ID != id) {
			t.Fatalf("request %d answered %+v (job %s, customer %s), want %+v (job %s, customer %s)", i, got, o.Reply.JobID, c.ID, want[i], jobs[i], id)
		}
		id = c.ID
	}
	if n := count(t, e, "SELECT count(*) FROM customers WHERE organization_id = $1", e.org); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
	// One event per request that changed something, each naming its job
	// and only its own changes.
	rows, err := e.store.Pool().Query(ctx, `SELECT job_id, type, changes FROM audit_events WHERE customer_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		job, typ string
		changes  map[string]any
	}
	var events []event
	for rows.Next() {
		var ev event
		if err := rows.Scan(&ev.job, &ev.typ, &ev.changes); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	if len(events) != 3 || events[0].job != jobs[0] || events[0].typ != postgres.EventCreated ||
		events[1].job != jobs[1] || events[1].typ != postgres.EventUpdated || events[1].changes["last_name"] == nil ||
		events[1].changes["first_name"] != nil || events[2].job != jobs[3] {
		t.Fatalf("events %+v, want created (job 1), updated with last_name (job 2), updated (job 4)", events)
	}
	if ch, _ := events[2].changes["first_name"].(map[string]any); ch["from"] != "Ana" || ch["to"] != "Anna" || len(events[2].changes) != 1 {
		t.Fatalf("job 4's event: %v, want first_name Ana → Anna alone", events[2].changes)
	}
	for i, want := range []string{"created", "updated", "unchanged", "updated"} {
		job := e.do("GET", "/api/v1/jobs/"+jobs[i], nil).want(t, http.StatusOK).data()
		res, _ := job["result"].(map[string]any)
		if job["state"] != "completed" || res["action"] != want {
			t.Fatalf("job %d: %v, want completed and %s", i, job, want)
		}
	}
	// Delivered again: the stored results, nothing written.
	again, err := e.store.RunUpsertBatch(ctx, e.org, batchItems(p))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range again {
		if o.Err != nil || string(o.Reply.Action) != want[i].action || o.Reply.CustomerID != id {
			t.Fatalf("redelivered request %d: %+v, %v; want its stored %s", i, o.Reply, o.Err, want[i].action)
		}
	}
	if n := count(t, e, "SELECT count(*) FROM audit_events WHERE customer_id = $1", id); n != 3 {
		t.Fatalf("%d audit events after redelivery, want 3", n)
	}
	wantCompletedOnce(t, e, jobs, 4)
}

// A request the engine refuses in the middle of a batch (no identifier
// left: the API never lets one through, the engine refuses it all the
// same) gets its own error and writes nothing; the requests around it, of
// the same person, are applied as if it had not come.
func TestUpsertBatchRefusedItemInTheMiddle(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	ctx := context.Background()
	jobs, p := asyncBatch(t, e,
		map[string]any{"email": "mid@example.com", "first_name": "Mia"},
		map[string]any{"email": "mid@example.com", "first_name": "Max", "merge_policy": "overwrite"},
		map[string]any{"email": "mid@example.com", "last_name": "Cho"},
	)
	p.Items[1].Request.Record = dedupe.Incoming{Fields: p.Items[1].Request.Record.Fields}
	outs, err := e.store.RunUpsertBatch(ctx, e.org, batchItems(p))
	if err != nil {
		t.Fatal(err)
	}
	if outs[1].Err == nil || customer.ErrorCode(outs[1].Err) != customer.EINVALID {
		t.Fatalf("the refused request: %+v, %v; want its validation error", outs[1].Reply, outs[1].Err)
	}
	if outs[0].Err != nil || outs[2].Err != nil || outs[0].Reply.Action != "created" || outs[2].Reply.Action != "updated" ||
		outs[2].Reply.Customer.LastName != "Cho" || outs[2].Reply.Customer.FirstName != "Mia" || outs[2].Reply.CustomerID != outs[0].Reply.CustomerID {
		t.Fatalf("the others: %+v %v / %+v %v; want created, then updated with the last name", outs[0].Reply, outs[0].Err, outs[2].Reply, outs[2].Err)
	}
	if n := count(t, e, "SELECT count(*) FROM customers WHERE organization_id = $1", e.org); n != 1 {
		t.Fatalf("%d customers, want Mia alone", n)
	}
	if n := count(t, e, "SELECT count(*) FROM audit_events WHERE job_id = ANY($1)", jobs); n != 2 {
		t.Fatalf("%d audit events of the batch, want 2 (the refused request's none)", n)
	}
	if n := count(t, e, "SELECT count(*) FROM jobs WHERE id = $1 AND state = 'completed'", jobs[1]); n != 0 {
		t.Fatalf("the refused request's job completed")
	}
}

// A statement of the set-based write fails for one request's data (a NUL
// byte PostgreSQL refuses): nothing of that attempt stays; the batch is
// applied again request by request, the others exactly once — their
// customers, events and jobs once each — and the failing one alone fails.
func TestUpsertBatchSetWriteFailsForOne(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	ctx := context.Background()
	jobs, p := asyncBatch(t, e,
		map[string]any{"email": "one@example.com", "first_name": "One"},
		map[string]any{"email": "nul@example.com"},
		map[string]any{"email": "one@example.com", "last_name": "Later"},
		map[string]any{"email": "two@example.com"},
	)
	p.Items[1].Request.Record.Fields.Notes = "bad\x00notes"
	outs, err := e.store.RunUpsertBatch(ctx, e.org, batchItems(p))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"created", "", "updated", "created"} {
		if (want == "") != (outs[i].Err != nil) || (want != "" && string(outs[i].Reply.Action) != want) {
			t.Fatalf("request %d: %+v, %v; want %q", i, outs[i].Reply, outs[i].Err, want)
		}
	}
	if n := count(t, e, "SELECT count(*) FROM customers WHERE organization_id = $1", e.org); n != 2 {
		t.Fatalf("%d customers, want 2", n)
	}
	if n := count(t, e, "SELECT count(*) FROM audit_events WHERE job_id = ANY($1)", jobs); n != 3 {
		t.Fatalf("%d audit events, want one per applied request (3)", n)
	}
	wantCompletedOnce(t, e, jobs, 3)
}

// Tags, groups, the visit and the address of one person's requests in one
// batch: each request's answer and event say what it added beyond the
// earlier ones (the location's default tag and group once), tags replaced
// by a later request are gone, the first address stays the default.
func TestUpsertBatchRelationsInOrder(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	ctx := context.Background()
	pool := e.store.Pool()
	if _, err := pool.Exec(ctx, `INSERT INTO customer_groups (organization_id, id, name) VALUES ($1, 'grp_vip', 'VIP'), ($1, 'grp_loyal', 'Loyal')`, e.org); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO locations (organization_id, id, name, default_region, default_tags, default_group_ids)
		VALUES ($1, 'loc_mall', 'Mall', 'US', '{mall}', '{grp_loyal}')`, e.org); err != nil {
		t.Fatal(err)
	}
	jobs, p := asyncBatch(t, e,
		map[string]any{"email": "rel@example.com", "location_id": "loc_mall", "added_tags": []string{"Coffee"}, "address": "1 Main St"},
		map[string]any{"email": "rel@example.com", "location_id": "loc_mall", "added_tags": []string{"coffee", "tea"}, "group_ids": []string{"grp_vip"}},
		map[string]any{"email": "rel@example.com", "location_id": "loc_mall", "tags": []string{"tea", "mall"}, "address": "2 Side St"},
		map[string]any{"email": "rel@example.com", "location_id": "loc_mall", "added_tags": []string{"TEA"}},
	)
	outs, err := e.store.RunUpsertBatch(ctx, e.org, batchItems(p))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"created", "updated", "updated", "unchanged"} {
		if outs[i].Err != nil || string(outs[i].Reply.Action) != want {
			t.Fatalf("request %d: %+v, %v; want %s", i, outs[i].Reply, outs[i].Err, want)
		}
	}
	c := outs[3].Reply.Customer
	if fmt.Sprint(c.TagsByLocation) != "map[loc_mall:[mall tea]]" || fmt.Sprint(c.Groups) != "[grp_loyal grp_vip]" || len(c.Locations) != 1 {
		t.Fatalf("the customer after the batch: tags %v, groups %v, locations %v", c.TagsByLocation, c.Groups, c.Locations)
	}
	var changes []string // each event's changes: field=to (or -from)
	rows, err := pool.Query(ctx, `SELECT changes FROM audit_events WHERE job_id = ANY($1) ORDER BY id`, jobs)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ch map[string]map[string]any
		if err := rows.Scan(&ch); err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, f := range slices.Sorted(maps.Keys(ch)) {
			if ch[f]["to"] != nil {
				fields = append(fields, fmt.Sprint(f, "=", ch[f]["to"]))
			} else {
				fields = append(fields, fmt.Sprint(f, "=-", ch[f]["from"]))
			}
		}
		changes = append(changes, strings.Join(fields, " "))
	}
	want := []string{"groups_added=[grp_loyal] tags_added=[Coffee mall]", "groups_added=[grp_vip] tags_added=[tea]", "tags_removed=-[coffee]"}
	if !slices.Equal(changes, want) {
		t.Fatalf("events %q, want %q", changes, want)
	}
	if n := count(t, e, `SELECT count(*) FROM customer_addresses WHERE customer_id = $1`, c.ID); n != 2 {
		t.Fatalf("%d addresses, want 2", n)
	}
	if n := count(t, e, `SELECT count(*) FROM customer_addresses WHERE customer_id = $1 AND is_default AND address_line1 = '1 Main St'`, c.ID); n != 1 {
		t.Fatal("the first address is not the default")
	}
}

// A batch whose request merges two customers (merge_conflicts) is applied
// request by request: the merge happens once, the request after it sees
// the survivor, each job completes once.
func TestUpsertBatchWithMergeRequestByRequest(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	ctx := context.Background()
	_, first := asyncBatch(t, e, map[string]any{"email": "a@example.com", "first_name": "Amal"},
		map[string]any{"phone": "+14155550142", "company_name": "Khan Co"})
	made, err := e.store.RunUpsertBatch(ctx, e.org, batchItems(first))
	if err != nil || made[0].Err != nil || made[1].Err != nil {
		t.Fatalf("two customers: %v %+v", err, made)
	}
	jobs, p := asyncBatch(t, e,
		map[string]any{"email": "a@example.com", "phone": "+14155550142", "merge_policy": "merge_conflicts"},
		map[string]any{"phone": "+14155550142", "last_name": "Khan"},
	)
	outs, err := e.store.RunUpsertBatch(ctx, e.org, batchItems(p))
	if err != nil {
		t.Fatal(err)
	}
	a, b := made[0].Reply.CustomerID, made[1].Reply.CustomerID
	if outs[0].Err != nil || outs[0].Reply.CustomerID != a || len(outs[0].Reply.Merged) != 1 || outs[0].Reply.Merged[0] != b ||
		outs[0].Reply.Customer.CompanyName != "Khan Co" {
		t.Fatalf("the merging request: %+v, %v; want %s with %s merged in", outs[0].Reply, outs[0].Err, a, b)
	}
	if outs[1].Err != nil || outs[1].Reply.CustomerID != a || outs[1].Reply.Action != "updated" || outs[1].Reply.Customer.LastName != "Khan" {
		t.Fatalf("the request after the merge: %+v, %v; want %s updated", outs[1].Reply, outs[1].Err, a)
	}
	if n := count(t, e, "SELECT count(*) FROM customers WHERE organization_id = $1 AND merged_into IS NULL", e.org); n != 1 {
		t.Fatalf("%d customers left, want 1", n)
	}
	wantCompletedOnce(t, e, jobs, 2)
}
