package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/postgres/postgrestest"
	"github.com/linkitworks/customers/queue"
)

func metaOf(r response) map[string]any { return r.meta() }

func TestUpsertFindOrCreate(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	first := e.do("POST", "/api/v1/customers/upsert", map[string]any{
		"name": "Nora Haddad", "email": "Nora@Example.com", "phone": "+966 50 123 4567", "source": "pos",
	}).want(t, http.StatusCreated)
	id := str(first.data()["id"])
	m := metaOf(first)
	if m["action"] != "created" || m["matched_on"] != nil || !strings.HasPrefix(str(m["job_id"]), "job_") {
		t.Fatalf("meta %v", m)
	}
	if c := first.data(); c["first_name"] != "Nora" || c["last_name"] != "Haddad" || c["email"] != "nora@example.com" || c["phone"] != "+966501234567" {
		t.Fatalf("customer %v", c)
	}
	// The same phone in POS formats finds the same customer.
	for _, phone := range []string{"00966501234567", "966 50 123 4567", "+966-50-123-4567"} {
		res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"phone": phone}).want(t, http.StatusOK)
		if res.data()["id"] != id || metaOf(res)["matched_on"] != "phone" || metaOf(res)["action"] != "unchanged" {
			t.Fatalf("phone %s: %s", phone, res.Raw)
		}
	}
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "NORA@example.com ", "company_name": "Haddad Co"}).want(t, http.StatusOK)
	if metaOf(res)["matched_on"] != "email" || metaOf(res)["action"] != "updated" || res.data()["company_name"] != "Haddad Co" {
		t.Fatalf("fill blanks: %s", res.Raw)
	}
	var n int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&n)
	if n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
}

func TestUpsertValidation(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	for _, tc := range []struct {
		path   string
		body   map[string]any
		fields []string
	}{
		{"", map[string]any{"name": "Only A Name"}, []string{"email", "phone"}},
		{"", map[string]any{"email": "not-an-email"}, []string{"email"}},
		{"", map[string]any{"phone": "12"}, []string{"phone"}},
		{"", map[string]any{"email": "a@example.com", "merge_policy": "smash"}, []string{"merge_policy"}},
		{"", map[string]any{"email": "a@example.com", "group_ids": []string{"grp_missing"}}, []string{"group_ids"}},
		{"", map[string]any{"email": "a@example.com", "location_id": "loc_missing"}, []string{"location_id"}},
		{"", map[string]any{"email": "a@example.com", "tags": []string{strings.Repeat("t", 65)}}, []string{"tags"}},
		{"", map[string]any{"email": "a@example.com", "address": 12}, []string{"address"}},
		{"", map[string]any{"email": 12}, []string{"email"}},
		{"?wait=31", map[string]any{"email": "a@example.com"}, []string{"wait"}},
	} {
		e.do("POST", "/api/v1/customers/upsert"+tc.path, tc.body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
	}
	e.do("POST", "/api/v1/customers/upsert", `{"email":`).wantError(t, http.StatusBadRequest)
	e.do("POST", "/api/v1/customers/upsert", `{"email":"a@example.com"}`, "Content-Type", "text/csv").wantError(t, http.StatusUnsupportedMediaType)
	var jobs int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM jobs").Scan(&jobs)
	if jobs != 0 {
		t.Fatalf("%d jobs stored for rejected requests", jobs)
	}
}

func TestUpsertTagsGroupsAndLocation(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	ctx := context.Background()
	pool := e.store.Pool()
	if _, err := pool.Exec(ctx, `INSERT INTO customer_groups (organization_id, id, name) VALUES ($1, 'grp_vip', 'VIP'), ($1, 'grp_loyal', 'Loyal')`, e.org); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO locations (organization_id, id, name, default_region, default_tags, default_group_ids)
		VALUES ($1, 'loc_riyadh', 'Riyadh', 'SA', '{riyadh}', '{grp_loyal}')`, e.org); err != nil {
		t.Fatal(err)
	}
	res := e.do("POST", "/api/v1/locations/loc_riyadh/customers/upsert", map[string]any{
		"name": "Sami", "phone": "050 765 4321", "tags": []string{"walk-in", "Coffee"}, "group_ids": []string{"grp_vip"},
		"address": "King Fahd Rd 1", "source": "pos",
	}).want(t, http.StatusCreated)
	if res.Body["success"] != true || res.Body["message"] != "Customer upserted!" {
		t.Fatalf("envelope %s", res.Raw)
	}
	c := res.data()
	if c["phone"] != "+966507654321" {
		t.Fatalf("location region not used: %v", c["phone"])
	}
	tags := fmt.Sprint(c["tags_by_location"])
	if !strings.Contains(tags, "loc_riyadh:[Coffee riyadh walk-in]") {
		t.Fatalf("tags_by_location %s", tags)
	}
	if g := fmt.Sprint(c["groups"]); !strings.Contains(g, "grp_vip") || !strings.Contains(g, "grp_loyal") {
		t.Fatalf("groups %s", g)
	}
	if l := fmt.Sprint(c["locations"]); !strings.Contains(l, "loc_riyadh") {
		t.Fatalf("locations %s", l)
	}
	id := str(c["id"])
	addrs := e.do("GET", "/api/v1/customers/"+id+"/addresses", nil).want(t, http.StatusOK).list()
	if len(addrs) != 1 || addrs[0]["address_line1"] != "King Fahd Rd 1" || addrs[0]["is_default"] != true {
		t.Fatalf("addresses %v", addrs)
	}
	// tags replace the tags at this location; added_tags only add.
	res = e.do("POST", "/api/v1/locations/loc_riyadh/customers/upsert", map[string]any{
		"phone": "+966507654321", "tags": []string{"coffee"}, "added_tags": []string{"returning"},
	}).want(t, http.StatusOK)
	if tags := fmt.Sprint(res.data()["tags_by_location"]); !strings.Contains(tags, "loc_riyadh:[Coffee riyadh returning]") {
		t.Fatalf("after replace: %s", tags)
	}
	if metaOf(res)["action"] != "updated" {
		t.Fatalf("tag change must be an update: %v", metaOf(res))
	}
	e.do("POST", "/api/v1/locations/loc_nowhere/customers/upsert", map[string]any{"phone": "+966507654321"}).
		want(t, http.StatusNotFound)
	// The location-scoped error envelope.
	bad := e.do("POST", "/api/v1/locations/loc_riyadh/customers/upsert", map[string]any{"name": "x"}).want(t, http.StatusUnprocessableEntity)
	if bad.Body["success"] != false || bad.Body["errors"] == nil {
		t.Fatalf("error envelope %s", bad.Raw)
	}
}

func TestUpsertConflictAndMergeConflicts(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	a := e.createCustomer(map[string]any{"email": "a@example.com", "first_name": "Amal"})
	b := e.createCustomer(map[string]any{"phone": "+14155550142", "company_name": "Khan Co"})
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "a@example.com", "phone": "+1 415 555 0142"}).want(t, http.StatusOK)
	m := metaOf(res)
	conflicts, _ := m["conflicts"].([]any)
	if res.data()["id"] != a["id"] || m["matched_on"] != "email" || len(conflicts) != 1 {
		t.Fatalf("conflict answer %s", res.Raw)
	}
	if cf := conflicts[0].(map[string]any); cf["field"] != "phone" || cf["customer_id"] != b["id"] {
		t.Fatalf("conflict %v", cf)
	}
	if res.data()["phone"] != nil {
		t.Fatalf("B's phone moved to A: %v", res.data()["phone"])
	}
	var pairs int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM duplicate_suggestions").Scan(&pairs)
	if pairs != 1 {
		t.Fatalf("%d suggested duplicates, want 1", pairs)
	}
	// B's order moves with B.
	e.do("POST", "/api/v1/orders", map[string]any{"customer_id": b["id"], "order_number": "SO-B1", "total_amount": 80}).want(t, http.StatusCreated)
	// merge_conflicts folds B into A; B redirects to A.
	res = e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "a@example.com", "phone": "+14155550142", "merge_policy": "merge_conflicts"}).
		want(t, http.StatusOK)
	if res.data()["total_orders"] != float64(1) || res.data()["lifetime_value"] != float64(80) || res.data()["current_balance"] != float64(80) {
		t.Fatalf("orders did not follow the merge: %s", res.Raw)
	}
	if res.data()["phone"] != "+14155550142" || res.data()["company_name"] != "Khan Co" || res.data()["first_name"] != "Amal" {
		t.Fatalf("merged survivor %s", res.Raw)
	}
	moved := e.do("GET", "/api/v1/customers/"+str(b["id"]), nil).want(t, http.StatusMovedPermanently)
	if loc := moved.Header.Get("Location"); loc != "/api/v1/customers/"+str(a["id"]) {
		t.Fatalf("Location %q", loc)
	}
	look := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550142", nil).want(t, http.StatusOK)
	if look.data()["id"] != a["id"] {
		t.Fatalf("lookup after merge %v", look.data()["id"])
	}
	list := e.do("GET", "/api/v1/customers", nil).want(t, http.StatusOK)
	if list.meta()["total"] != float64(1) {
		t.Fatalf("merged customer still listed: %v", list.meta())
	}
}

func TestUpsertPolicies(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "p@example.com", "first_name": "Tom", "company_name": "OldCo"}).want(t, http.StatusCreated)
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "p@example.com", "first_name": "Thomas", "last_name": "Last", "do_not_update": true, "added_tags": []string{"seen"}}).
		want(t, http.StatusOK)
	if d := res.data(); d["first_name"] != "Tom" || d["last_name"] != nil || fmt.Sprint(d["tags"]) != "[seen]" {
		t.Fatalf("do_not_update: %s", res.Raw)
	}
	res = e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "p@example.com", "first_name": "Thomas", "merge_policy": "overwrite"}).want(t, http.StatusOK)
	if d := res.data(); d["first_name"] != "Thomas" || d["company_name"] != "OldCo" {
		t.Fatalf("overwrite: %s", res.Raw)
	}
	// History records what changed, newest first.
	hist := e.do("GET", "/api/v1/customers/"+str(res.data()["id"])+"/history", nil).want(t, http.StatusOK).list()
	if len(hist) != 3 || hist[0]["type"] != "customer.updated" || hist[2]["type"] != "customer.created" || hist[1]["type"] != "customer.tagged" {
		t.Fatalf("history %v", hist)
	}
	ch, _ := hist[0]["changes"].(map[string]any)
	if fn, _ := ch["first_name"].(map[string]any); fn["from"] != "Tom" || fn["to"] != "Thomas" {
		t.Fatalf("changes %v", ch)
	}
	if hist[0]["job_id"] == nil {
		t.Fatal("history without job id")
	}
}

func TestUpsertAsyncAndJobs(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "async@example.com"}, "Prefer", "respond-async").
		want(t, http.StatusAccepted)
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, "/api/v1/jobs/job_") || res.data()["state"] != "queued" {
		t.Fatalf("202 answer %s (Location %q)", res.Raw, loc)
	}
	job := pollJob(t, e.env, loc)
	result, _ := job["result"].(map[string]any)
	cust, _ := result["customer"].(map[string]any)
	if job["state"] != "completed" || result["action"] != "created" || cust["email"] != "async@example.com" || job["completed"] == nil {
		t.Fatalf("job %v", job)
	}
	e.do("POST", "/api/v1/customers/upsert?wait=0", map[string]any{"email": "async@example.com"}).want(t, http.StatusAccepted)
	e.do("GET", "/api/v1/jobs/job_missing", nil).wantError(t, http.StatusNotFound)
	_, keyB := e.newOrg("B", "")
	e.doKey(keyB, "GET", loc, nil).wantError(t, http.StatusNotFound)
}

func pollJob(t *testing.T, e *env, path string) map[string]any {
	t.Helper()
	return e.client().WaitJob(strings.TrimPrefix(path, "/api/v1/jobs/"), 20*time.Second)
}

func TestUpsertIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	body := map[string]any{"email": "idem@example.com", "first_name": "I"}
	first := e.do("POST", "/api/v1/customers/upsert", body, "Idempotency-Key", "k-1").want(t, http.StatusCreated)
	again := e.do("POST", "/api/v1/customers/upsert", body, "Idempotency-Key", "k-1").want(t, http.StatusCreated)
	if metaOf(again)["job_id"] != metaOf(first)["job_id"] || again.data()["id"] != first.data()["id"] || metaOf(again)["action"] != "created" {
		t.Fatalf("replay %s vs %s", again.Raw, first.Raw)
	}
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "other@example.com"}, "Idempotency-Key", "k-1").
		wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key")
	var jobs, events int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM jobs").Scan(&jobs)
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM audit_events").Scan(&events)
	if jobs != 1 || events != 1 {
		t.Fatalf("%d jobs and %d audit events, want 1 and 1", jobs, events)
	}
	// Keys are per organization.
	_, keyB := e.newOrg("B", "")
	e.doKey(keyB, "POST", "/api/v1/customers/upsert", body, "Idempotency-Key", "k-1").want(t, http.StatusCreated)
}

// 64 simultaneous upserts of one new identity create exactly one customer.
func TestUpsertConcurrentSameIdentity(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	const n = 64
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := map[string]any{"email": "same@example.com", "phone": "+14155550150"}
			if i%2 == 1 {
				body = map[string]any{"phone": "(415) 555-0150", "email": "SAME@example.com"}
				body["phone"] = "+1 (415) 555-0150"
			}
			results[i] = e.do("POST", "/api/v1/customers/upsert?wait=30", body)
		}()
	}
	wg.Wait()
	ids := map[any]int{}
	actions := map[any]int{}
	for _, r := range results {
		if r.Status != http.StatusCreated && r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Raw)
		}
		ids[r.data()["id"]]++
		actions[metaOf(r)["action"]]++
	}
	if len(ids) != 1 || actions["created"] != 1 || actions["unchanged"] != n-1 {
		t.Fatalf("ids %v actions %v", ids, actions)
	}
	var customers int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	if customers != 1 {
		t.Fatalf("%d customers, want 1", customers)
	}
}

// Upserts whose email and phone point at different customers, in crossing
// orders, never deadlock and never break identity uniqueness.
func TestUpsertInterleavedNoDeadlock(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	const pairs = 6
	for i := range pairs {
		e.createCustomer(map[string]any{"email": fmt.Sprintf("e%d@example.com", i)})
		e.createCustomer(map[string]any{"phone": fmt.Sprintf("+1415555%04d", 200+i)})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for round := range 8 {
		for i := range pairs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j := (i + round) % pairs
				policy := "fill_blanks"
				if round%4 == 3 {
					policy = "merge_conflicts"
				}
				r := e.do("POST", "/api/v1/customers/upsert?wait=30", map[string]any{
					"email": fmt.Sprintf("e%d@example.com", i), "phone": fmt.Sprintf("+1415555%04d", 200+j), "merge_policy": policy,
				})
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if statuses[http.StatusOK] != 8*pairs {
		t.Fatalf("statuses %v", statuses)
	}
	var dupEmails, dupPhones int
	pool := e.store.Pool()
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT email FROM customers WHERE email <> '' AND merged_into IS NULL GROUP BY email HAVING count(*) > 1) d`).Scan(&dupEmails)
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT phone FROM customers WHERE phone <> '' AND merged_into IS NULL GROUP BY phone HAVING count(*) > 1) d`).Scan(&dupPhones)
	if dupEmails+dupPhones != 0 {
		t.Fatalf("duplicate identities: %d emails %d phones", dupEmails, dupPhones)
	}
	// Every identity resolves to exactly one live customer.
	var orphans int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM customer_identities i JOIN customers c
		ON c.organization_id = i.organization_id AND c.id = i.customer_id WHERE c.merged_into IS NOT NULL`).Scan(&orphans)
	if orphans != 0 {
		t.Fatalf("%d identities point at merged customers", orphans)
	}
}

// A task delivered twice (asynq redelivery after a lost ack) changes nothing twice.
func TestUpsertDuplicateDelivery(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	res := e.do("POST", "/api/v1/customers/upsert?wait=0", map[string]any{"email": "twice@example.com", "added_tags": []string{"x"}}).
		want(t, http.StatusAccepted)
	jobID := str(res.data()["id"])
	inspector := asynq.NewInspector(e.opt)
	defer inspector.Close()
	info, err := inspector.GetTaskInfo(e.names.Critical(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	mux := workerMux(e)
	task := asynq.NewTask(info.Type, info.Payload)
	for range 3 {
		if err := mux.ProcessTask(context.Background(), task); err != nil {
			t.Fatal(err)
		}
	}
	var customers, events, tags int
	pool := e.store.Pool()
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_events").Scan(&events)
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM customer_tags").Scan(&tags)
	if customers != 1 || events != 1 || tags != 1 {
		t.Fatalf("customers %d events %d tags %d, want 1 each", customers, events, tags)
	}
	job := e.do("GET", "/api/v1/jobs/"+jobID, nil).want(t, http.StatusOK).data()
	if job["state"] != "completed" {
		t.Fatalf("job %v", job)
	}
}

// With Redis unreachable the API refuses the work (503) instead of losing it.
func TestUpsertQueueDown(t *testing.T) {
	t.Parallel()
	store := postgrestest.New(t)
	opt, _ := queue.RedisOpt("redis://127.0.0.1:1/0")
	client := queue.NewClient(opt, queue.Names{})
	defer client.Close()
	h := api.NewServer(api.Config{}, api.Deps{Store: store, Queue: client})
	srv := newServerEnv(t, store, h)
	res := srv.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "down@example.com"}).wantError(t, http.StatusServiceUnavailable)
	if strings.Contains(res.Raw, "dial") || strings.Contains(res.Raw, "127.0.0.1") {
		t.Fatalf("internal detail leaked: %s", res.Raw)
	}
	var state string
	_ = store.Pool().QueryRow(context.Background(), "SELECT state FROM jobs").Scan(&state)
	if state != "failed" {
		t.Fatalf("job state %q, want failed (never re-run behind the caller's back)", state)
	}
}
