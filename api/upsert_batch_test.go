package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/queue"
)

// pendingUpserts lists the upsert tasks waiting in the critical queue.
func pendingUpserts(t *testing.T, e *queueEnv) []*asynq.TaskInfo {
	t.Helper()
	insp := asynq.NewInspector(e.opt)
	defer insp.Close()
	tasks, err := insp.ListPendingTasks(e.names.Critical())
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

// Upserts that arrive while another is in flight travel as one task and
// are applied in arrival order (three upserts of one person, each
// overwriting the company name: the last one's stays), each with its
// own job and audit event; the batch delivered three times changes nothing
// more; a batched request replayed with its Idempotency-Key gets its own
// job's answer.
func TestUpsertBatchArrivalOrderAndReplay(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true, cfg: api.Config{UpsertLinger: 500 * time.Millisecond}})
	var wg sync.WaitGroup
	lone := make(chan response, 1)
	wg.Add(1)
	go func() { // in flight for a second: no worker answers it
		defer wg.Done()
		lone <- e.do("POST", "/api/v1/customers/upsert?wait=1", map[string]any{"email": "lone@example.com"})
	}()
	// The others must arrive while it is in flight: once its task is queued
	// (a fixed 200 ms was not always enough on a loaded machine).
	insp := asynq.NewInspector(e.opt)
	defer insp.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if tasks, err := insp.ListPendingTasks(e.names.Critical()); err == nil && len(tasks) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lone upsert was not queued")
		}
	}
	names := []string{"Bea", "Cem", "Dan"}
	answers := make([]response, len(names))
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = e.do("POST", "/api/v1/customers/upsert?wait=1", map[string]any{
				"email": "order@example.com", "first_name": "Ola", "company_name": name, "merge_policy": "overwrite"}, "Idempotency-Key", "key-"+name)
		}()
		time.Sleep(20 * time.Millisecond) // well inside the linger; the order they arrive in is read from the batch
	}
	wg.Wait()
	(<-lone).want(t, http.StatusAccepted)
	var jobs []string
	for _, a := range answers {
		jobs = append(jobs, str(a.want(t, http.StatusAccepted).data()["id"]))
	}

	tasks := pendingUpserts(t, e)
	var batch *asynq.TaskInfo
	for _, ti := range tasks {
		if ti.Type == queue.TypeUpsertBatch {
			batch = ti
		}
	}
	if len(tasks) != 2 || batch == nil {
		t.Fatalf("%d tasks (batch %v), want the lone upsert and one batch", len(tasks), batch != nil)
	}
	var p queue.UpsertBatchPayload
	if err := json.Unmarshal(batch.Payload, &p); err != nil {
		t.Fatal(err)
	}
	// Arrival is when a request reaches the coalescer, after its job row
	// is written: on a busy machine not always the order the client sent.
	nameOf := map[string]string{}
	for i, id := range jobs {
		nameOf[id] = names[i]
	}
	var order []string
	for _, it := range p.Items {
		if nameOf[it.JobID] == "" || it.Request.Record.Fields.CompanyName != nameOf[it.JobID] {
			t.Fatalf("batch item %s: not one of %v, or another's request", it.JobID, jobs)
		}
		order = append(order, it.JobID)
	}
	if len(order) != len(jobs) {
		t.Fatalf("batch holds %v, want %v", order, jobs)
	}
	mux := workerMux(e)
	for range 3 { // a duplicate delivery, then another
		if err := mux.ProcessTask(context.Background(), asynq.NewTask(batch.Type, batch.Payload)); err != nil {
			t.Fatal(err)
		}
	}
	pool := e.store.Pool()
	var customers, events int
	var first string
	_ = pool.QueryRow(context.Background(), "SELECT count(*), max(company_name) FROM customers WHERE email = 'order@example.com'").Scan(&customers, &first)
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_events WHERE job_id = ANY($1)", jobs).Scan(&events)
	last := nameOf[order[2]]
	if customers != 1 || first != last || events != 3 {
		t.Fatalf("%d customers named %q, %d audit events; want 1, %s (the last to arrive), 3", customers, first, events, last)
	}
	for i, want := range []string{"created", "updated", "updated"} {
		job := e.do("GET", "/api/v1/jobs/"+order[i], nil).want(t, http.StatusOK).data()
		res, _ := job["result"].(map[string]any)
		if job["state"] != "completed" || res["action"] != want {
			t.Fatalf("job %d (%s): %v, want completed and %s", i, nameOf[order[i]], job, want)
		}
	}
	// The second request again, same key: its own job's answer, not the
	// last one's.
	mid := nameOf[order[1]]
	again := e.do("POST", "/api/v1/customers/upsert", map[string]any{
		"email": "order@example.com", "first_name": "Ola", "company_name": mid, "merge_policy": "overwrite"}, "Idempotency-Key", "key-"+mid).want(t, http.StatusOK)
	if metaOf(again)["job_id"] != order[1] || metaOf(again)["action"] != "updated" {
		t.Fatalf("replay of a batched request: %s", again.Raw)
	}
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM jobs").Scan(&events)
	if events != 4 {
		t.Fatalf("%d jobs, want 4: a replay runs nothing", events)
	}
}

// One request of a batch the engine refuses (its location deleted after it
// was accepted) fails alone, with its own error; the others land.
func TestUpsertBatchOneBadRequest(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	jobs, p := asyncBatch(t, e, map[string]any{"email": "good1@example.com"}, map[string]any{"email": "bad@example.com"},
		map[string]any{"email": "good2@example.com"})
	p.Items[1].Request.LocationID = "loc_deleted_since"
	raw, _ := json.Marshal(p)
	if err := workerMux(e).ProcessTask(context.Background(), asynq.NewTask(queue.TypeUpsertBatch, raw)); err != nil {
		t.Fatalf("a batch with one refused request: %v", err)
	}
	for i, want := range []string{"completed", "failed", "completed"} {
		job := e.do("GET", "/api/v1/jobs/"+jobs[i], nil).want(t, http.StatusOK)
		if job.data()["state"] != want {
			t.Fatalf("job %d: %s, want %s", i, job.Raw, want)
		}
		if want == "failed" && !strings.Contains(job.Raw, "Location") {
			t.Fatalf("failed job without its own error: %s", job.Raw)
		}
	}
	var customers int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	if customers != 2 {
		t.Fatalf("%d customers, want the two good requests'", customers)
	}
}

// Under load through the real worker: many clients, identities repeated
// within and across batches, each with its Idempotency-Key. One customer
// per identity, every job completed once, every answer replayable.
func TestUpsertBatchedUnderLoad(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{cfg: api.Config{UpsertLinger: 20 * time.Millisecond}})
	const n, people = 40, 8
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = e.do("POST", "/api/v1/customers/upsert?wait=30", map[string]any{
				"email": fmt.Sprintf("load%d@example.com", i%people)}, "Idempotency-Key", fmt.Sprint("load-", i))
		}()
	}
	wg.Wait()
	created := map[any]int{}
	for _, a := range answers {
		if a.Status != http.StatusCreated && a.Status != http.StatusOK {
			t.Fatalf("status %d: %s", a.Status, a.Raw)
		}
		if metaOf(a)["action"] == "created" {
			created[a.data()["email"]]++
		}
	}
	var customers, completed int
	pool := e.store.Pool()
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM jobs WHERE state = 'completed' AND attempts = 1").Scan(&completed)
	if customers != people || len(created) != people || completed != n {
		t.Fatalf("%d customers, created %v, %d jobs completed once; want %d, one each, %d", customers, created, completed, people, n)
	}
	for i, a := range answers {
		r := e.do("POST", "/api/v1/customers/upsert?wait=30", map[string]any{
			"email": fmt.Sprintf("load%d@example.com", i%people)}, "Idempotency-Key", fmt.Sprint("load-", i))
		if r.Status != a.Status || r.Header.Get("Idempotent-Replayed") != "true" || r.Raw != a.Raw {
			t.Fatalf("replay %d: %d %s, want %d %s", i, r.Status, r.Raw, a.Status, a.Raw)
		}
	}
}

// A request whose statements fail (here a NUL byte PostgreSQL refuses,
// which the API never lets through) is left out of its batch and queued
// alone, with a single upsert's retries; the rest of the batch commits.
func TestUpsertBatchFailedStatementGoesAlone(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	// Their single tasks are deleted, as if they had been batched.
	jobs, p := asyncBatch(t, e, map[string]any{"email": "fine1@example.com"}, map[string]any{"email": "nul@example.com"},
		map[string]any{"email": "fine2@example.com"})
	p.Items[1].Request.Record.Fields.Notes = "bad\x00notes"
	raw, _ := json.Marshal(p)
	if err := workerMux(e).ProcessTask(context.Background(), asynq.NewTask(queue.TypeUpsertBatch, raw)); err != nil {
		t.Fatalf("a batch with one failing request: %v", err)
	}
	for i, want := range []string{"completed", "queued", "completed"} {
		if job := e.do("GET", "/api/v1/jobs/"+jobs[i], nil).want(t, http.StatusOK); job.data()["state"] != want {
			t.Fatalf("job %d: %s, want %s", i, job.Raw, want)
		}
	}
	tasks := pendingUpserts(t, e)
	if len(tasks) != 1 || tasks[0].ID != jobs[1] || tasks[0].Type != queue.TypeUpsert {
		t.Fatalf("pending %d tasks, want the failing request alone (%s)", len(tasks), jobs[1])
	}
	var customers int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	if customers != 2 {
		t.Fatalf("%d customers, want the two other requests'", customers)
	}
}
