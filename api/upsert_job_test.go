package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/queue"
)

// jobRow is a job's row as PostgreSQL holds it (state "" when none).
func jobRow(t *testing.T, e *queueEnv, id string) (state string, attempts int, requestHash string) {
	t.Helper()
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT state, attempts, request_hash FROM jobs WHERE id = $1", id).
		Scan(&state, &attempts, &requestHash)
	return state, attempts, requestHash
}

// counts are the rows an upsert writes.
func upsertCounts(t *testing.T, e *queueEnv) (customers, events, jobs int) {
	t.Helper()
	pool := e.store.Pool()
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_events").Scan(&events)
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM jobs").Scan(&jobs)
	return customers, events, jobs
}

// A caller who waits without an Idempotency-Key gets its answer from the
// worker, which writes the job row with the result: no row exists while
// the task waits, and the answered job is completed, polled like any.
func TestUpsertWaitingJobWrittenByWorker(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	answer := make(chan response, 1)
	go func() {
		answer <- e.do("POST", "/api/v1/customers/upsert?wait=10", map[string]any{"email": "waits@example.com"})
	}()
	insp := asynq.NewInspector(e.opt)
	defer insp.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// The queue exists once the task is in it.
		if info, err := insp.GetQueueInfo(e.names.Critical()); err == nil && info.Pending > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no task queued")
		}
	}
	if _, _, jobs := upsertCounts(t, e); jobs != 0 {
		t.Fatalf("%d job rows before the worker ran, want 0 (the worker writes it)", jobs)
	}
	e.startWorker(0)
	res := (<-answer).want(t, http.StatusCreated)
	jobID := str(res.meta()["job_id"])
	if state, attempts, hash := jobRow(t, e, jobID); state != customer.JobCompleted || attempts != 1 || hash == "" {
		t.Fatalf("job row: state %q attempts %d request hash %q", state, attempts, hash)
	}
	job := e.do("GET", "/api/v1/jobs/"+jobID, nil).want(t, http.StatusOK).data()
	result, _ := job["result"].(map[string]any)
	if job["state"] != customer.JobCompleted || result["customer_id"] != res.data()["id"] {
		t.Fatalf("job %v, answer %s", job, res.Raw)
	}
}

// A caller who stops waiting gets 202 and the job row, written by the API
// (queued): Redis losing the task then loses nothing, the reconciler
// queues it again from PostgreSQL, and it is applied once.
func TestUpsertStopsWaitingRecordsJob(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	res := e.do("POST", "/api/v1/customers/upsert?wait=0.3", map[string]any{"email": "late@example.com"}).
		want(t, http.StatusAccepted)
	jobID := str(res.data()["id"])
	if state, _, _ := jobRow(t, e, jobID); state != customer.JobQueued {
		t.Fatalf("job row after the 202: state %q, want queued", state)
	}
	insp := asynq.NewInspector(e.opt)
	defer insp.Close()
	for _, task := range pendingUpserts(t, e) {
		if err := insp.DeleteTask(e.names.Critical(), task.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.startWorker(200 * time.Millisecond)
	awaitJobs(e.env, []string{jobID}, 30*time.Second)
	if customers, events, jobs := upsertCounts(t, e); customers != 1 || events != 1 || jobs != 1 {
		t.Fatalf("customers %d events %d jobs %d, want 1 each", customers, events, jobs)
	}
}

// A task whose job row the worker writes, delivered three times at once
// (redelivery after a lost ack, the reconciler's copy), is applied once.
func TestUpsertJobWrittenByWorkerConcurrentDelivery(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	jobID := customer.NewID(customer.PrefixJob)
	req := &dedupe.Request{Record: dedupe.Incoming{Email: "thrice@example.com", EmailKey: "thrice@example.com"}}
	body, _ := json.Marshal(queue.UpsertPayload{JobID: jobID, OrgID: e.org, Request: req, RequestHash: "h"})
	mux := workerMux(e)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = mux.ProcessTask(context.Background(), asynq.NewTask(queue.TypeUpsert, body))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if customers, events, jobs := upsertCounts(t, e); customers != 1 || events != 1 || jobs != 1 {
		t.Fatalf("customers %d events %d jobs %d, want 1 each", customers, events, jobs)
	}
	if state, attempts, hash := jobRow(t, e, jobID); state != customer.JobCompleted || attempts != 1 || hash != "h" {
		t.Fatalf("job row: state %q attempts %d request hash %q", state, attempts, hash)
	}
}

// A job left to the worker that fails for good (its location deleted
// since the API checked it) is written, failed, with the reason.
func TestUpsertJobWrittenByWorkerFails(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	jobID := customer.NewID(customer.PrefixJob)
	req := &dedupe.Request{LocationID: "loc_gone", Record: dedupe.Incoming{Email: "gone@example.com", EmailKey: "gone@example.com"}}
	body, _ := json.Marshal(queue.UpsertPayload{JobID: jobID, OrgID: e.org, Request: req, RequestHash: "h"})
	_ = workerMux(e).ProcessTask(context.Background(), asynq.NewTask(queue.TypeUpsert, body))
	job := e.do("GET", "/api/v1/jobs/"+jobID, nil).want(t, http.StatusOK).data()
	if job["state"] != customer.JobFailed || job["error"] == nil {
		t.Fatalf("job %v, want failed with its error", job)
	}
	if customers, _, _ := upsertCounts(t, e); customers != 0 {
		t.Fatalf("%d customers written by a failed job", customers)
	}
}
