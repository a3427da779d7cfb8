package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// jobsOfTask names the jobs an upsert task holds: its own id, or a batch's.
func jobsOfTask(t *testing.T, task *asynq.TaskInfo) []string {
	t.Helper()
	if task.Type != queue.TypeUpsertBatch {
		return []string{task.ID}
	}
	var p queue.UpsertBatchPayload
	if err := json.Unmarshal(task.Payload, &p); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range p.Items {
		ids = append(ids, it.JobID)
	}
	return ids
}

// buildLinkit compiles the binary once per test into dir.
func buildLinkit(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "linkit")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/linkit")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// workerProc is a linkit subprocess (`linkit work`, or another command
// through startLinkitProc).
type workerProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

func startWorkerProc(t *testing.T, bin string, env testEnv) *workerProc {
	t.Helper()
	return startLinkitProc(t, bin, env, "work")
}

// startLinkitProc runs `linkit <command>` with exactly env (and PATH, HOME);
// the test's cleanup stops it with SIGTERM and shows its logs on failure.
func startLinkitProc(t *testing.T, bin string, env testEnv, command string) *workerProc {
	t.Helper()
	cmd := exec.Command(bin, command)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	w := &workerProc{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w.logs, w.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			t.Logf("linkit %s %d logs:\n%s", command, cmd.Process.Pid, w.logs)
		}
	})
	return w
}

// identity is one real customer the upserts describe, in several formats.
type identity struct {
	email, phone string // normalized, "" when not sent
	bodies       []map[string]any
}

// killIdentities: a third email-only, a third phone-only, a third both; every
// fourth identity is sent again in other formats (always with the same keys,
// so arrival order cannot legitimately split it into two customers).
func killIdentities(n int) ([]identity, int) {
	var ids []identity
	requests := 0
	for i := range n {
		var id identity
		email := fmt.Sprintf("kill.user%03d@example.com", i)
		phoneDigits := fmt.Sprintf("415555%04d", 1000+i)
		first := map[string]any{"first_name": fmt.Sprintf("User%03d", i), "source": "pos"}
		var again map[string]any
		switch i % 3 {
		case 0:
			id.email = email
			first["email"] = strings.ToUpper(email[:1]) + email[1:]
			again = map[string]any{"email": "  " + strings.ToUpper(email) + " ", "company_name": fmt.Sprintf("Co %d", i)}
		case 1:
			id.phone = "+1" + phoneDigits
			first["phone"] = fmt.Sprintf("+1 (%s) %s-%s", phoneDigits[:3], phoneDigits[3:6], phoneDigits[6:])
			// The same person (the name check would take a last name
			// alone for someone else's).
			again = map[string]any{"phone": "001" + phoneDigits, "first_name": first["first_name"], "last_name": "Again"}
		default:
			id.email, id.phone = email, "+1"+phoneDigits
			first["email"], first["phone"] = email, "+1-"+phoneDigits[:3]+"-"+phoneDigits[3:6]+"-"+phoneDigits[6:]
			again = map[string]any{"email": strings.ToUpper(email), "phone": "+1." + phoneDigits[:3] + "." + phoneDigits[3:6] + "." + phoneDigits[6:]}
		}
		id.bodies = append(id.bodies, first)
		if i%4 == 0 {
			id.bodies = append(id.bodies, again)
		}
		requests += len(id.bodies)
		ids = append(ids, id)
	}
	return ids, requests
}

// TestWorkerKilledMidTask submits upserts, kills -9 the worker process while
// it works through them, starts another, and checks SPEC §6's invariant: a
// retried task changes nothing twice. asynq hands a dead worker's active
// tasks back after their lease (30 s) plus a 30 s cutoff, so this takes ~65 s.
func TestWorkerKilledMidTask(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a worker and waits ~15 s for its tasks to be recovered")
	}
	t.Parallel()
	bin := buildLinkit(t)
	ctx := context.Background()

	// The API runs in-process and only enqueues: the subprocesses do the work.
	// Upserts arriving within 5 ms of each other travel as one batch task.
	stack := linkittest.New(t, linkittest.WithoutWorker(), linkittest.WithNamespace("k"), linkittest.WithOrg("Kill Test"),
		linkittest.WithAPI(api.Config{UpsertLinger: 5 * time.Millisecond}))
	env := testEnv{
		"LINKIT_DATABASE_URL":       stack.DatabaseURL,
		"LINKIT_REDIS_URL":          stack.RedisURL,
		"LINKIT_QUEUE_NAMESPACE":    stack.Names.Namespace,
		"LINKIT_WORKER_CONCURRENCY": "4",
	}
	store, pool, inspector, names := stack.Store, stack.Store.Pool(), stack.Inspector, stack.Names

	identities, total := killIdentities(240)
	var bodies []map[string]any
	for _, id := range identities {
		bodies = append(bodies, id.bodies...)
	}
	jobIDs := make([]string, len(bodies))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var submitErr []string
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(bodies); i += 8 {
				r := upsertAsync(stack.URL, stack.Key, bodies[i])
				loc := r.Header.Get("Location")
				if r.Status != http.StatusAccepted || !strings.HasPrefix(loc, "/api/v1/jobs/job_") {
					mu.Lock()
					submitErr = append(submitErr, fmt.Sprintf("upsert %d: %d %s %s", i, r.Status, loc, r.Raw))
					mu.Unlock()
					continue
				}
				jobIDs[i] = strings.TrimPrefix(loc, "/api/v1/jobs/")
			}
		}()
	}
	wg.Wait()
	if len(submitErr) > 0 {
		t.Fatalf("%d upserts not accepted, first: %s", len(submitErr), submitErr[0])
	}

	countJobs := func(state string) int {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE state = $1", state).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// A task certainly mid-flight at the kill: the test holds the row of
	// the first job accepted (ids sort by time, tasks run in order), so
	// the task carrying it waits in PostgreSQL until after the kill. Killed
	// at a count alone, a loaded machine once caught the worker between
	// tasks and the test proved nothing.
	held := slices.Min(jobIDs)
	hold, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Rollback(ctx) }()
	var holder int
	if err := hold.QueryRow(ctx, "SELECT pg_backend_pid() FROM jobs WHERE id = $1 FOR UPDATE", held).Scan(&holder); err != nil {
		t.Fatal(err)
	}
	first := startWorkerProc(t, bin, env)
	deadline := time.Now().Add(60 * time.Second)
	for countJobs("completed") < 15 || !blockedBy(t, pool, holder) {
		if time.Now().After(deadline) {
			t.Fatalf("first worker: %d completed, its task of job %s waiting: %v; logs:\n%s",
				countJobs("completed"), held, blockedBy(t, pool, holder), first.logs)
		}
		time.Sleep(time.Millisecond)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.done
	_ = hold.Rollback(ctx)
	atKill := countJobs("completed")
	if atKill >= total {
		t.Fatalf("all %d jobs completed before the kill: nothing to recover", total)
	}
	orphans, err := inspector.ListActiveTasks(names.Critical(), asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	committed, batches := 0, 0
	for _, task := range orphans {
		jobs := jobsOfTask(t, task)
		if len(jobs) > 1 {
			batches++
		}
		var state string
		_ = pool.QueryRow(ctx, "SELECT state FROM jobs WHERE id = $1", jobs[0]).Scan(&state)
		if state == customer.JobCompleted {
			committed++ // committed in PostgreSQL, never acknowledged to asynq
		}
	}
	t.Logf("killed the worker with %d/%d jobs completed, %d tasks active (%d batches; %d already committed)",
		atKill, total, len(orphans), batches, committed)
	if len(orphans) == 0 {
		t.Fatal("the kill left no task mid-flight; the test proved nothing")
	}
	if committed == 0 {
		// Make the worst case certain: the dead worker's transaction
		// committed but asynq never heard back, so its task runs again.
		var items []postgres.BatchItem
		for _, jobID := range jobsOfTask(t, orphans[0]) {
			var payload []byte
			if err := pool.QueryRow(ctx, "SELECT payload FROM jobs WHERE id = $1", jobID).Scan(&payload); err != nil {
				t.Fatal(err)
			}
			var req dedupe.Request
			if err := json.Unmarshal(payload, &req); err != nil {
				t.Fatal(err)
			}
			items = append(items, postgres.BatchItem{JobID: jobID, Request: &req})
		}
		if _, err := store.RunUpsertBatch(ctx, stack.Org, items); err != nil {
			t.Fatal(err)
		}
		t.Logf("committed orphan %s (%d jobs) as the dead worker might have", orphans[0].ID, len(items))
	}

	// The new worker recovers the orphans once their leases have gone
	// unextended for queue.OrphanAfter (asynq alone took ~60 s).
	killedAt := time.Now()
	second := startWorkerProc(t, bin, env)
	deadline = time.Now().Add(150 * time.Second)
	for {
		done, failed := countJobs("completed"), countJobs("failed")
		if done+failed == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d completed, %d failed of %d; worker logs:\n%s",
				time.Since(killedAt).Round(time.Second), done, failed, total, second.logs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	took := time.Since(killedAt)
	t.Logf("all jobs done %s after the second worker started", took.Round(time.Second))
	if took > 30*time.Second {
		t.Errorf("jobs of the killed worker completed %s after the restart, want well under a minute", took.Round(time.Second))
	}

	if n := countJobs("failed"); n != 0 {
		t.Errorf("%d jobs failed", n)
	}
	var customers int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM customers WHERE merged_into IS NULL").Scan(&customers); err != nil {
		t.Fatal(err)
	}
	if customers != len(identities) {
		t.Errorf("%d customers for %d identities", customers, len(identities))
	}
	for _, id := range identities {
		var byEmail, byPhone int
		if id.email != "" {
			_ = pool.QueryRow(ctx, "SELECT count(*) FROM customers WHERE email = $1", id.email).Scan(&byEmail)
			if byEmail != 1 {
				t.Errorf("email %s: %d customers", id.email, byEmail)
			}
		}
		if id.phone != "" {
			_ = pool.QueryRow(ctx, "SELECT count(*) FROM customers WHERE phone = $1", id.phone).Scan(&byPhone)
			if byPhone != 1 {
				t.Errorf("phone %s: %d customers", id.phone, byPhone)
			}
		}
	}
	var suggestions int
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM duplicate_suggestions").Scan(&suggestions)
	if suggestions != 0 {
		t.Errorf("%d duplicate suggestions among distinct identities", suggestions)
	}

	// Audit events: exactly one per job that changed a customer, none for
	// unchanged matches, and one customer.created per customer.
	rows, err := pool.Query(ctx, `SELECT j.id, j.result->>'action', j.attempts,
			(SELECT count(*) FROM audit_events a WHERE a.job_id = j.id),
			(SELECT count(*) FROM audit_events a WHERE a.job_id = j.id AND a.type = 'customer.created')
		FROM jobs j`)
	if err != nil {
		t.Fatal(err)
	}
	type jobAudit struct {
		action            string
		attempts          int
		events, creations int
	}
	audits := map[string]jobAudit{}
	for rows.Next() {
		var id string
		var a jobAudit
		if err := rows.Scan(&id, &a.action, &a.attempts, &a.events, &a.creations); err != nil {
			t.Fatal(err)
		}
		audits[id] = a
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	created := 0
	for i, jobID := range jobIDs {
		a, ok := audits[jobID]
		if !ok {
			t.Errorf("job %s of request %d not stored", jobID, i)
			continue
		}
		want := map[string]int{"created": 1, "updated": 1, "unchanged": 0}
		if w, known := want[a.action]; !known || a.events != w || a.attempts != 1 {
			t.Errorf("job %s: action %q, %d audit events, completed %d times", jobID, a.action, a.events, a.attempts)
		}
		if a.action == "created" && a.creations != 1 {
			t.Errorf("job %s created a customer with %d customer.created events", jobID, a.creations)
		}
		created += a.creations
	}
	if created != len(identities) {
		t.Errorf("%d customer.created events for %d customers", created, len(identities))
	}
	var orphanEvents int
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM audit_events WHERE job_id IS NULL OR job_id NOT IN (SELECT id FROM jobs)").Scan(&orphanEvents)
	if orphanEvents != 0 {
		t.Errorf("%d audit events belong to no job", orphanEvents)
	}

	// What users see: the API lists exactly one customer per identity.
	list := stack.Do("GET", "/api/v1/customers?limit=1", nil)
	if meta, _ := list.Body["meta"].(map[string]any); list.Status != http.StatusOK || meta["total"] != float64(len(identities)) {
		t.Errorf("GET /api/v1/customers: %d %.300s", list.Status, list.Raw)
	}
	// The killed worker's tasks stay "active" in asynq until the new worker
	// sees their lease go stale and re-queues them (an uncommitted one then
	// completes, a committed one reruns as a no-op). asynq alone took ~60 s.
	recoverBy := time.Now().Add(120 * time.Second)
	for {
		info, err := inspector.GetQueueInfo(names.Critical())
		if err == nil && info.Archived == 0 && info.Active == 0 {
			if took := time.Since(killedAt); took > 30*time.Second {
				t.Errorf("the killed worker's tasks were taken back %s after the restart, want well under a minute", took.Round(time.Second))
			}
			break
		}
		if time.Now().After(recoverBy) {
			if err == nil {
				t.Errorf("queue after recovery: %d archived, %d active", info.Archived, info.Active)
			}
			break
		}
		time.Sleep(time.Second)
	}
	// The log says what happened: the dead worker's tasks were taken back;
	// Redis never lost a job, so no job was re-created.
	for logBy := time.Now().Add(5 * time.Second); time.Now().Before(logBy); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(second.logs.String(), `"requeued tasks of dead workers"`) {
			break
		}
	}
	if logs := second.logs.String(); !strings.Contains(logs, `"requeued tasks of dead workers"`) ||
		strings.Contains(logs, "re-enqueued queued jobs") || strings.Contains(logs, "requeued jobs whose tasks were lost") {
		t.Errorf("the second worker's log misstates the recovery:\n%s", logs)
	}
}

// blockedBy says a session waits for a lock the session pid holds.
func blockedBy(t *testing.T, pool *pgxpool.Pool, pid int) bool {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// upsertAsync posts an upsert with wait=0 to the API at base through the
// generated client, without a testing.T (it runs on submit goroutines): a
// transport error is a Response of status 0 saying so.
func upsertAsync(base, key string, body any) linkittest.Response {
	b, err := json.Marshal(body)
	if err != nil {
		return linkittest.Response{Raw: err.Error()}
	}
	api, err := client.NewClient(base, client.WithRequestEditorFn(client.Header("Authorization", "Bearer "+key)))
	if err != nil {
		return linkittest.Response{Raw: err.Error()}
	}
	res, err := api.UpsertCustomerWithBody(context.Background(), &client.UpsertCustomerParams{Wait: client.Ptr[float32](0)},
		"application/json", bytes.NewReader(b))
	if err != nil {
		return linkittest.Response{Raw: err.Error()}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return linkittest.Response{Raw: err.Error()}
	}
	return linkittest.Response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
}
