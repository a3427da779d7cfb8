package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/worker"
)

// setup is a stack whose tasks stay queued: each test delivers them to the
// handlers itself through the worker's ServeMux.
func setup(t *testing.T) (*linkittest.Stack, *asynq.ServeMux) {
	t.Helper()
	s := linkittest.New(t, linkittest.WithoutWorker())
	return s, worker.NewServeMux(s.Deps)
}

// queuedTask is the task the API queued for a job, as a worker would receive it.
func queuedTask(t *testing.T, s *linkittest.Stack, queueName, id string) *asynq.Task {
	t.Helper()
	info, err := s.Inspector.GetTaskInfo(queueName, id)
	if err != nil {
		t.Fatalf("task %s in %s: %v", id, queueName, err)
	}
	return asynq.NewTask(info.Type, info.Payload)
}

// acceptUpsert submits an upsert without waiting and returns its job's id.
func acceptUpsert(t *testing.T, s *linkittest.Stack, body map[string]any) string {
	t.Helper()
	id, _ := s.Do("POST", "/api/v1/customers/upsert?wait=0", body).Want(t, http.StatusAccepted).Data()["id"].(string)
	if !strings.HasPrefix(id, "job_") {
		t.Fatalf("accepted upsert without a job id: %q", id)
	}
	return id
}

// withReplyTo is task with its payload's reply channel set, as the API sets
// it when a caller waits.
func withReplyTo(t *testing.T, task *asynq.Task, channel string) *asynq.Task {
	t.Helper()
	var p queue.UpsertPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil {
		t.Fatal(err)
	}
	p.ReplyTo = channel
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return asynq.NewTask(task.Type(), b)
}

// replyOf waits for the reply published for a job and decodes it.
func replyOf(t *testing.T, ch <-chan []byte) map[string]any {
	t.Helper()
	select {
	case body := <-ch:
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("reply %q: %v", body, err)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no reply published")
		return nil
	}
}

func count(t *testing.T, s *linkittest.Stack, query string) int {
	t.Helper()
	var n int
	if err := s.Store.Pool().QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUpsertTaskCreatesAndReplies(t *testing.T) {
	t.Parallel()
	s, mux := setup(t)
	jobID := acceptUpsert(t, s, map[string]any{"name": "Lina Saleh", "email": "Lina@Example.com"})
	replies := queue.NewReplies(t.Context(), s.Redis, s.Names, linkittest.Logger())
	ch, cancel := replies.Wait(jobID)
	defer cancel()

	task := withReplyTo(t, queuedTask(t, s, s.Names.Critical(), jobID), replies.Channel())
	if err := mux.ProcessTask(t.Context(), task); err != nil {
		t.Fatalf("upsert task: %v", err)
	}
	reply := replyOf(t, ch)
	c, _ := reply["customer"].(map[string]any)
	if reply["action"] != "created" || c["email"] != "lina@example.com" || c["first_name"] != "Lina" {
		t.Fatalf("reply %v", reply)
	}
	job := s.Do("GET", "/api/v1/jobs/"+jobID, nil).Want(t, http.StatusOK).Data()
	if job["state"] != "completed" {
		t.Fatalf("job after its task: %v", job)
	}
	got := s.Do("GET", "/api/v1/customers/lookup?email=lina%40example.com", nil).Want(t, http.StatusOK).Data()
	if got["id"] != c["id"] {
		t.Fatalf("lookup %v, reply's customer %v", got["id"], c["id"])
	}
}

// asynq delivers at least once: a task run again after its job committed
// (a lost acknowledgement) changes nothing and answers the same.
func TestUpsertTaskDeliveredTwice(t *testing.T) {
	t.Parallel()
	s, mux := setup(t)
	jobID := acceptUpsert(t, s, map[string]any{"email": "twice@example.com", "added_tags": []string{"vip"}})
	replies := queue.NewReplies(t.Context(), s.Redis, s.Names, linkittest.Logger())
	task := withReplyTo(t, queuedTask(t, s, s.Names.Critical(), jobID), replies.Channel())

	var replied []string
	for range 3 {
		ch, cancel := replies.Wait(jobID)
		if err := mux.ProcessTask(t.Context(), task); err != nil {
			t.Fatalf("upsert task: %v", err)
		}
		r := replyOf(t, ch)
		replied = append(replied, fmt.Sprint(r["action"], " ", r["customer_id"]))
		cancel()
	}
	if !strings.HasPrefix(replied[0], "created cust_") || replied[1] != replied[0] || replied[2] != replied[0] {
		t.Fatalf("replies %q: want the same created customer each time", replied)
	}
	customers := count(t, s, "SELECT count(*) FROM customers")
	events := count(t, s, "SELECT count(*) FROM audit_events")
	tags := count(t, s, "SELECT count(*) FROM customer_tags")
	if customers != 1 || events != 1 || tags != 1 {
		t.Fatalf("customers %d, audit events %d, tags %d; want 1 each", customers, events, tags)
	}
}

// A payload no worker can read never gets better: asynq must not retry it.
func TestUpsertTaskMalformedPayload(t *testing.T) {
	t.Parallel()
	s, mux := setup(t)
	for _, payload := range []string{`{not json`, `{"job_id":"job_x","org_id":"org_x"}`} {
		err := mux.ProcessTask(t.Context(), asynq.NewTask(queue.TypeUpsert, []byte(payload)))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("payload %s: err %v, want SkipRetry", payload, err)
		}
	}
	for _, typ := range []string{queue.TypeImportPlan, queue.TypeImportChunk} {
		err := mux.ProcessTask(t.Context(), asynq.NewTask(typ, []byte(`{"org_id":"org_x"}`)))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%s without an import id: err %v, want SkipRetry", typ, err)
		}
	}
	if n := count(t, s, "SELECT count(*) FROM customers"); n != 0 {
		t.Fatalf("%d customers after malformed tasks", n)
	}
}

// A request the domain rejects fails its job for good, tells the waiting
// caller why, and is not retried.
func TestUpsertTaskPermanentFailure(t *testing.T) {
	t.Parallel()
	s, mux := setup(t)
	loc := s.Do("POST", "/api/v1/locations", map[string]any{"name": "Gone Soon"}).Want(t, http.StatusCreated).Data()
	jobID := acceptUpsert(t, s, map[string]any{"email": "late@example.com", "location_id": loc["id"]})
	task := queuedTask(t, s, s.Names.Critical(), jobID)
	if _, err := s.Store.Pool().Exec(t.Context(), "DELETE FROM locations"); err != nil {
		t.Fatal(err)
	}
	replies := queue.NewReplies(t.Context(), s.Redis, s.Names, linkittest.Logger())
	ch, cancel := replies.Wait(jobID)
	defer cancel()

	err := mux.ProcessTask(t.Context(), withReplyTo(t, task, replies.Channel()))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err %v, want SkipRetry", err)
	}
	if reply := replyOf(t, ch); reply["code"] != string(customer.ENOTFOUND) || !strings.Contains(fmt.Sprint(reply["error"]), "Location") {
		t.Fatalf("error reply %v", reply)
	}
	job := s.Do("GET", "/api/v1/jobs/"+jobID, nil).Want(t, http.StatusOK).Data()
	if job["state"] != "failed" {
		t.Fatalf("job %v, want failed", job)
	}
	if n := count(t, s, "SELECT count(*) FROM customers"); n != 0 {
		t.Fatalf("%d customers written by a failed job", n)
	}
}

// An import runs as a plan task that queues chunk tasks; each is delivered
// here by hand, twice, and the import ends once with every row merged.
func TestImportTasks(t *testing.T) {
	t.Parallel()
	s, mux := setup(t)
	file := "email,first_name\nana@example.com,Ana\nben@example.com,Ben\nANA@example.com,Ana\n,Nobody\n"
	im := s.Upload("/api/v1/imports", "", "text/csv", []byte(file)).Want(t, http.StatusAccepted).Data()
	id, _ := im["id"].(string)

	plan := queuedTask(t, s, s.Names.Imports(), id+":plan")
	for range 2 {
		if err := mux.ProcessTask(t.Context(), plan); err != nil {
			t.Fatalf("plan task: %v", err)
		}
	}
	chunks, err := s.Inspector.ListPendingTasks(s.Names.Imports())
	if err != nil {
		t.Fatal(err)
	}
	var run int
	for _, c := range chunks {
		if c.Type != queue.TypeImportChunk {
			continue
		}
		for range 2 {
			if err := mux.ProcessTask(t.Context(), asynq.NewTask(c.Type, c.Payload)); err != nil {
				t.Fatalf("chunk task %s: %v", c.ID, err)
			}
		}
		run++
	}
	if run == 0 {
		t.Fatalf("the plan queued no chunk task: %d pending tasks", len(chunks))
	}
	done := s.Do("GET", "/api/v1/imports/"+id, nil).Want(t, http.StatusOK).Data()
	counts, _ := done["counts"].(map[string]any)
	if done["status"] != "completed" || counts["created"] != float64(2) || counts["invalid"] != float64(1) {
		t.Fatalf("import after its tasks: %v", done)
	}
	if n := count(t, s, "SELECT count(*) FROM customers"); n != 2 {
		t.Fatalf("%d customers, want 2", n)
	}
}

// A Redis that lost a queued job's task (flush, failover) gets it back from
// PostgreSQL, once however often the reconciler runs.
func TestReconcileRequeuesLostTasks(t *testing.T) {
	t.Parallel()
	s, mux := setup(t)
	jobID := acceptUpsert(t, s, map[string]any{"email": "lost@example.com"})
	if err := s.Inspector.DeleteTask(s.Names.Critical(), jobID); err != nil {
		t.Fatal(err)
	}
	// The second pass finds the task back in Redis and says it re-created none.
	for pass, want := range []int{1, 0} {
		if n, err := s.Deps.Reconcile(t.Context(), 0); err != nil || n != want {
			t.Fatalf("reconcile pass %d: %d re-enqueued, %v; want %d", pass+1, n, err, want)
		}
	}
	tasks, err := s.Inspector.ListPendingTasks(s.Names.Critical())
	if err != nil || len(tasks) != 1 || tasks[0].ID != jobID {
		t.Fatalf("pending after reconcile: %d tasks, %v", len(tasks), err)
	}
	if err := mux.ProcessTask(t.Context(), asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
		t.Fatal(err)
	}
	if job := s.Do("GET", "/api/v1/jobs/"+jobID, nil).Want(t, http.StatusOK).Data(); job["state"] != "completed" {
		t.Fatalf("re-enqueued job %v", job)
	}
	if n, err := s.Deps.Reconcile(t.Context(), 0); err != nil || n != 0 {
		t.Fatalf("reconcile after completion: %d re-enqueued, %v", n, err)
	}
}

// Jobs travelling in an upsert batch that Redis still holds (a killed
// worker's, waiting for its recovery; a backlog) are not lost: the
// reconciler leaves them to the batch, and re-creates them once the batch
// is gone.
func TestReconcileLeavesLiveBatches(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	p := queue.UpsertBatchPayload{OrgID: s.Org}
	for _, email := range []string{"batched.a@example.com", "batched.b@example.com"} {
		jobID := acceptUpsert(t, s, map[string]any{"email": email})
		// As if it had arrived with the other: one batch task, no task of its own.
		info, err := s.Inspector.GetTaskInfo(s.Names.Critical(), jobID)
		if err != nil {
			t.Fatal(err)
		}
		var single queue.UpsertPayload
		if err := json.Unmarshal(info.Payload, &single); err != nil {
			t.Fatal(err)
		}
		if err := s.Inspector.DeleteTask(s.Names.Critical(), jobID); err != nil {
			t.Fatal(err)
		}
		p.Items = append(p.Items, queue.UpsertItem{JobID: jobID, Request: single.Request})
	}
	if err := s.Deps.Client.EnqueueUpsertBatch(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Deps.Reconcile(t.Context(), 0); err != nil || n != 0 {
		t.Fatalf("reconcile with the batch queued: %d re-enqueued, %v; want 0", n, err)
	}
	tasks, err := s.Inspector.ListPendingTasks(s.Names.Critical())
	if err != nil || len(tasks) != 1 || tasks[0].Type != queue.TypeUpsertBatch {
		t.Fatalf("pending after reconcile: %d tasks, %v", len(tasks), err)
	}
	// The batch lost: its jobs come back one by one.
	if err := s.Inspector.DeleteTask(s.Names.Critical(), tasks[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Deps.Reconcile(t.Context(), 0); err != nil || n != 2 {
		t.Fatalf("reconcile with the batch lost: %d re-enqueued, %v; want 2", n, err)
	}
	tasks, err = s.Inspector.ListPendingTasks(s.Names.Critical())
	if err != nil || len(tasks) != 2 || tasks[0].Type != queue.TypeUpsert || tasks[1].Type != queue.TypeUpsert {
		t.Fatalf("pending after the batch was lost: %d tasks, %v", len(tasks), err)
	}
}
