package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
)

// The chaos scenarios (`make chaos`): each disturbs running linkit
// processes and ends by comparing with an undisturbed run. The short ones
// run in `make test` too; the long ones only with LINKIT_CHAOS=full. The
// other faults are tests of their own that `make chaos` runs by name:
// TestWorkerKilledMidTask, TestImportWorkerKilled, TestSeveralProcesses
// (a worker and the Redis master killed behind PgBouncer and Sentinel),
// and api's TestRedisFlushedWhileQueued and TestPostgresOutage.

// chaos skips a scenario that -short or LINKIT_CHAOS leave out.
func chaos(t *testing.T, full bool) {
	t.Helper()
	if testing.Short() {
		t.Skip("a chaos scenario: kills processes and waits for recovery")
	}
	if full && os.Getenv("LINKIT_CHAOS") != "full" {
		t.Skip("a long chaos scenario: set LINKIT_CHAOS=full (make chaos)")
	}
}

// chaosReference imports file undisturbed, in-process, and returns the
// import and its customers (orgState).
func chaosReference(t *testing.T, file []byte, chunkRows int) (map[string]any, string) {
	t.Helper()
	ref := linkittest.New(t, linkittest.WithNamespace("r"), linkittest.WithOrg("Chaos Reference"),
		linkittest.WithStore(postgres.Options{ChunkRows: chunkRows}))
	im := ref.ImportCSV("/api/v1/imports", file)
	if im["status"] != "completed" {
		t.Fatalf("undisturbed import: %v", im)
	}
	return im, orgState(t, ref.Store.Pool(), ref.Org)
}

// upsertBodies are killIdentities' requests in one list.
func upsertBodies(n int) ([]identity, []map[string]any) {
	ids, _ := killIdentities(n)
	var bodies []map[string]any
	for _, id := range ids {
		bodies = append(bodies, id.bodies...)
	}
	return ids, bodies
}

// sendKeyed posts each body (wait=0) to the APIs in turn, moving on to the
// next while one does not accept it, with an Idempotency-Key of its own so
// a retry after a lost answer gets the same job instead of a second one;
// it returns the distinct accepted job ids.
func sendKeyed(t *testing.T, apis func() []string, key, prefix string, bodies []map[string]any, pace time.Duration) []string {
	t.Helper()
	var mu sync.Mutex
	jobs := map[string]bool{}
	var lost []string
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(bodies); i += 6 {
				deadline := time.Now().Add(60 * time.Second)
				for attempt := 0; ; attempt++ {
					urls := apis()
					r := postKeyed(urls[(i+attempt)%len(urls)]+"/api/v1/customers/upsert?wait=0", key,
						fmt.Sprintf("%s-%d", prefix, i), bodies[i])
					// A 202 names its job in Location; a 200/201 (the job
					// finished within wait, or a replay) in meta.job_id.
					job := strings.TrimPrefix(r.Header.Get("Location"), "/api/v1/jobs/")
					if r.Status != http.StatusAccepted {
						meta, _ := r.Body["meta"].(map[string]any)
						job, _ = meta["job_id"].(string)
					}
					if (r.Status == http.StatusAccepted || r.Status == http.StatusOK || r.Status == http.StatusCreated) &&
						strings.HasPrefix(job, "job_") {
						mu.Lock()
						jobs[job] = true
						mu.Unlock()
						break
					}
					if time.Now().After(deadline) {
						mu.Lock()
						lost = append(lost, fmt.Sprintf("upsert %d: %d %.200s", i, r.Status, r.Raw))
						mu.Unlock()
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(pace)
			}
		}()
	}
	wg.Wait()
	if len(lost) > 0 {
		t.Fatalf("%d upserts never accepted, first: %s", len(lost), lost[0])
	}
	var out []string
	for id := range jobs {
		out = append(out, id)
	}
	return out
}

func postKeyed(url, key, idem string, body map[string]any) linkittest.Response {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Idempotency-Key", idem)
	r, err := linkittest.Fetch(req)
	if err != nil {
		return linkittest.Response{Raw: err.Error()}
	}
	return r
}

// checkUpserts: every accepted job completed exactly once, one job per
// request (the retries reused theirs), one customer per identity.
func checkUpserts(t *testing.T, c *cluster, orgID string, jobs []string, requests, identities int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.count(t, "SELECT count(*) FROM jobs WHERE id = ANY($1) AND state <> 'completed'", jobs) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("accepted jobs not completed within %s", within)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(jobs) != requests {
		t.Errorf("%d jobs for %d requests (an idempotent retry made a second job)", len(jobs), requests)
	}
	if n := c.count(t, "SELECT count(*) FROM jobs WHERE organization_id = $1", orgID); n != requests {
		t.Errorf("%d jobs stored for %d requests", n, requests)
	}
	if n := c.count(t, `SELECT count(*) FROM jobs j WHERE j.id = ANY($1) AND (j.attempts <> 1 OR
			(SELECT count(*) FROM audit_events a WHERE a.job_id = j.id) <> CASE j.result->>'action' WHEN 'unchanged' THEN 0 ELSE 1 END)`,
		jobs); n != 0 {
		t.Errorf("%d accepted jobs ran more or less than once", n)
	}
	if n := c.count(t, "SELECT count(*) FROM customers WHERE organization_id = $1 AND merged_into IS NULL", orgID); n != identities {
		t.Errorf("%d customers for %d identities", n, identities)
	}
}

// TestChaosAPIKilled SIGKILLs an API process in the middle of upserts and
// of an upload. Clients retry on the other process with the same
// Idempotency-Key: every request makes one job, run once; the cut upload's
// import fails with a reason once its timeout passes, and the file sent
// again ends exactly like an undisturbed import. The restarted process
// serves at once.
func TestChaosAPIKilled(t *testing.T) {
	chaos(t, false)
	t.Parallel()
	bin := buildLinkit(t)
	const chunkRows = 150
	file := importFile(1500)
	start := time.Now()
	refImport, want := chaosReference(t, file, chunkRows)
	t.Logf("undisturbed import took %s", time.Since(start).Round(time.Second))

	base := newTestEnv(t)
	c := &cluster{direct: base["LINKIT_DATABASE_URL"]}
	base["LINKIT_IMPORT_CHUNK_ROWS"] = fmt.Sprint(chunkRows)
	base["LINKIT_IMPORT_UPLOAD_TIMEOUT"] = "3s"
	base["LINKIT_WORKER_CONCURRENCY"] = "4"
	c.env = base
	c.pool = openPool(t, c.direct)

	addrs := []string{freeAddr(t), freeAddr(t)}
	for _, a := range addrs {
		c.api = append(c.api, startLinkitProc(t, bin, c.procEnv("LINKIT_HTTP_ADDR", a), "serve"))
		c.apis = append(c.apis, "http://"+a)
	}
	workAddr := freeAddr(t)
	c.workers = append(c.workers, startLinkitProc(t, bin, c.procEnv("LINKIT_WORKER_HTTP_ADDR", workAddr), "work"))
	for _, u := range append(append([]string(nil), c.apis...), "http://"+workAddr) {
		waitReady(t, u)
	}
	orgID, clients := c.org(t, "Chaos API")
	key := clients[0].Key
	importOrg, importers := c.org(t, "Chaos API Import")

	// An upload API 1 is still reading when it dies.
	// (Big enough that the API has sniffed it and is staging rows.)
	big := importFile(8000)
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write(big[:len(big)*3/4]) }() // and never the rest
	req, _ := http.NewRequest("POST", c.apis[0]+"/api/v1/imports", pr)
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+importers[0].Key)
	uploadDone := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		uploadDone <- err
	}()

	for deadline := time.Now().Add(20 * time.Second); c.count(t,
		"SELECT count(*) FROM imports WHERE organization_id = $1 AND status = 'reading'", importOrg) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upload never started staging")
		}
	}

	identities, bodies := upsertBodies(150)
	var live sync.Mutex
	apis := append([]string(nil), c.apis...)
	current := func() []string { live.Lock(); defer live.Unlock(); return apis }
	killed := make(chan struct{})
	go func() {
		// Kill API 1 once upserts flow through it.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			var jobs int
			_ = c.pool.QueryRow(context.Background(), "SELECT count(*) FROM jobs WHERE organization_id = $1", orgID).Scan(&jobs)
			if jobs >= 40 {
				break
			}
		}
		_ = c.api[0].cmd.Process.Signal(syscall.SIGKILL)
		<-c.api[0].done
		live.Lock()
		apis = apis[1:]
		live.Unlock()
		close(killed)
	}()
	jobs := sendKeyed(t, current, key, "chaosapi", bodies, 30*time.Millisecond)
	<-killed
	// The client notices its peer is gone once it tries to send more.
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-uploadDone; err == nil {
		t.Errorf("the upload to the killed API process answered")
	}
	killedAt := time.Now()
	checkUpserts(t, c, orgID, jobs, len(bodies), len(identities), 60*time.Second)
	t.Logf("%d upserts accepted, all completed %s after the kill", len(jobs), time.Since(killedAt).Round(time.Second))

	// The cut upload fails with its reason; the file sent again matches
	// the undisturbed run.
	var cutID string
	if err := c.pool.QueryRow(context.Background(), "SELECT id FROM imports WHERE organization_id = $1", importOrg).Scan(&cutID); err != nil {
		t.Fatalf("the cut upload left no import: %v", err)
	}
	cut := importers[1].WaitImport(cutID, 30*time.Second)
	if cut["status"] != "failed" || !strings.Contains(fmt.Sprint(cut["error"]), "upload the file again") {
		t.Errorf("the cut upload's import: %v", cut)
	}
	t.Logf("the cut upload failed %s after the kill", time.Since(killedAt).Round(time.Second))
	again := importers[1].ImportCSV("/api/v1/imports", file)
	if fmt.Sprint(again["counts"]) != fmt.Sprint(refImport["counts"]) {
		t.Errorf("import counts %v, undisturbed %v", again["counts"], refImport["counts"])
	}
	if got := orgState(t, c.pool, importOrg); got != want {
		t.Errorf("the import after the kill differs from the undisturbed run:\n%.1500s\n---\n%.1500s", got, want)
	}

	// API 1 restarted on its address answers at once.
	startLinkitProc(t, bin, c.procEnv("LINKIT_HTTP_ADDR", addrs[0]), "serve")
	waitReady(t, c.apis[0])
	r := clients[0].Do("POST", "/api/v1/customers/upsert", map[string]any{"email": "after.restart@example.com"})
	if r.Status != http.StatusCreated {
		t.Errorf("upsert on the restarted API: %d %s", r.Status, r.Raw)
	}
}

// TestChaosPostgresRestarted crashes and restarts PostgreSQL (a private
// cluster, `pg_ctl restart -m immediate`) under an API and a worker process
// with upserts and an import in flight. Requests that meet the outage are
// retried with their Idempotency-Key; every request makes one job, run
// once, and the import ends exactly like an undisturbed run.
func TestChaosPostgresRestarted(t *testing.T) {
	chaos(t, true)
	t.Parallel()
	bin := buildLinkit(t)
	const chunkRows = 150
	file := importFile(6000)
	refImport, want := chaosReference(t, file, chunkRows)

	pg := startPrivatePostgres(t)
	base := newTestEnv(t)
	base["LINKIT_DATABASE_URL"] = pg.URL
	base["LINKIT_IMPORT_CHUNK_ROWS"] = fmt.Sprint(chunkRows)
	base["LINKIT_WORKER_CONCURRENCY"] = "4"
	if _, errOut, err := runCmd(t, base, "migrate"); err != nil {
		t.Fatalf("migrate: %v %s", err, errOut)
	}
	c := &cluster{direct: pg.URL, env: base}
	c.pool = openPool(t, pg.URL)
	c.api = append(c.api, startLinkitProc(t, bin, base, "serve"))
	c.apis = append(c.apis, base.baseURL())
	workAddr := freeAddr(t)
	c.workers = append(c.workers, startLinkitProc(t, bin, c.procEnv("LINKIT_WORKER_HTTP_ADDR", workAddr), "work"))
	waitReady(t, base.baseURL())
	waitReady(t, "http://"+workAddr)
	orgID, clients := c.org(t, "Chaos Postgres")
	importOrg, importers := c.org(t, "Chaos Postgres Import")

	importID := str(importers[0].Upload("/api/v1/imports", "", "text/csv", file).Want(t, http.StatusAccepted).Data()["id"])
	identities, bodies := upsertBodies(150)
	restarted := make(chan time.Time, 1)
	go func() {
		// Restart once upserts flow and the import's chunks are merging.
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			var jobs, chunks int
			_ = c.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM jobs WHERE organization_id = $1),
				(SELECT count(*) FROM import_chunks WHERE organization_id = $2 AND done)`, orgID, importOrg).Scan(&jobs, &chunks)
			if jobs >= 30 && chunks >= 1 {
				break
			}
		}
		pg.restart()
		restarted <- time.Now()
	}()
	jobs := sendKeyed(t, func() []string { return c.apis }, clients[0].Key, "chaospg", bodies, 20*time.Millisecond)
	at := <-restarted
	if im := importers[0].Do("GET", "/api/v1/imports/"+importID, nil); im.Status == http.StatusOK && im.Data()["status"] == "completed" {
		t.Logf("note: the import had completed by the time of the restart")
	}
	checkUpserts(t, c, orgID, jobs, len(bodies), len(identities), 90*time.Second)
	t.Logf("%d upserts accepted, all completed %s after the restart", len(jobs), time.Since(at).Round(time.Second))
	done := importers[0].WaitImport(importID, 120*time.Second)
	if done["status"] != "completed" {
		t.Fatalf("import after the restart: %v", done)
	}
	t.Logf("import completed %s after the restart", time.Since(at).Round(time.Second))
	if fmt.Sprint(done["counts"]) != fmt.Sprint(refImport["counts"]) {
		t.Errorf("import counts %v, undisturbed %v", done["counts"], refImport["counts"])
	}
	if got := orgState(t, c.pool, importOrg); got != want {
		t.Errorf("the import across the restart differs from the undisturbed run:\n%.1500s\n---\n%.1500s", got, want)
	}
	if r := clients[0].Do("POST", "/api/v1/customers/upsert", map[string]any{"email": "after.restart@example.com"}); r.Status != http.StatusCreated {
		t.Errorf("upsert after the restart: %d %s", r.Status, r.Raw)
	}
}

// TestChaosSlowNetwork puts 20 ms each way between the processes and both
// PostgreSQL and Redis (startLatencyProxy) and checks that upserts and an
// import end exactly as an undisturbed run, within their deadlines.
func TestChaosSlowNetwork(t *testing.T) {
	chaos(t, true)
	t.Parallel()
	bin := buildLinkit(t)
	const chunkRows = 150
	file := importFile(1500)
	refImport, want := chaosReference(t, file, chunkRows)

	base := newTestEnv(t)
	c := &cluster{direct: base["LINKIT_DATABASE_URL"], env: base}
	c.pool = openPool(t, c.direct)
	const delay = 20 * time.Millisecond
	for _, key := range []string{"LINKIT_DATABASE_URL", "LINKIT_REDIS_URL"} {
		u, err := url.Parse(base[key])
		if err != nil {
			t.Fatal(err)
		}
		u.Host = startLatencyProxy(t, u.Host, delay)
		base[key] = u.String()
	}
	base["LINKIT_IMPORT_CHUNK_ROWS"] = fmt.Sprint(chunkRows)
	base["LINKIT_WORKER_CONCURRENCY"] = "4"
	c.api = append(c.api, startLinkitProc(t, bin, base, "serve"))
	c.apis = append(c.apis, base.baseURL())
	workAddr := freeAddr(t)
	c.workers = append(c.workers, startLinkitProc(t, bin, c.procEnv("LINKIT_WORKER_HTTP_ADDR", workAddr), "work"))
	waitReady(t, base.baseURL())
	waitReady(t, "http://"+workAddr)
	orgID, clients := c.org(t, "Chaos Slow")
	importOrg, importers := c.org(t, "Chaos Slow Import")

	start := time.Now()
	importID := str(importers[0].Upload("/api/v1/imports", "", "text/csv", file).Want(t, http.StatusAccepted).Data()["id"])
	identities, bodies := upsertBodies(60)
	jobs := sendKeyed(t, func() []string { return c.apis }, clients[0].Key, "chaosslow", bodies, 0)
	checkUpserts(t, c, orgID, jobs, len(bodies), len(identities), 60*time.Second)
	done := importers[0].WaitImport(importID, 120*time.Second)
	t.Logf("with %s each way: %d upserts and a %d-row import in %s", delay, len(bodies), 1500, time.Since(start).Round(time.Second))
	if done["status"] != "completed" || fmt.Sprint(done["counts"]) != fmt.Sprint(refImport["counts"]) {
		t.Errorf("import over a slow network: %v; undisturbed counts %v", done, refImport["counts"])
	}
	if got := orgState(t, c.pool, importOrg); got != want {
		t.Errorf("the import over a slow network differs from the undisturbed run:\n%.1500s\n---\n%.1500s", got, want)
	}
	// A synchronous upsert still gets its reply within its wait.
	if r := clients[0].Do("POST", "/api/v1/customers/upsert", map[string]any{"email": "slow.network@example.com"}); r.Status != http.StatusCreated {
		t.Errorf("upsert over a slow network: %d %s", r.Status, r.Raw)
	}
}
