package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
	"github.com/linkitworks/customers/queue"
)

// cluster is a production-shaped deployment on loopback: two `linkit serve`
// and two `linkit work` processes, PostgreSQL behind PgBouncer in
// transaction mode, Redis behind Sentinel.
type cluster struct {
	direct  string // the database, bypassing PgBouncer (migrations, assertions)
	pool    *pgxpool.Pool
	redis   *sentinelRedis
	env     testEnv // the processes' environment
	apis    []string
	api     []*workerProc
	workers []*workerProc
}

func startCluster(t *testing.T, bin string, chunkRows int) *cluster {
	t.Helper()
	c := &cluster{direct: postgrestest.NewURL(t)}
	pooled := startPgBouncer(t, c.direct, 12)
	// Migrations take goose's session-level advisory lock, which a
	// transaction pooler would leave on whatever server connection ran
	// it: LINKIT_MIGRATE_DATABASE_URL sends them to PostgreSQL directly.
	out, errOut, err := runCmd(t, testEnv{"LINKIT_DATABASE_URL": pooled, "LINKIT_MIGRATE_DATABASE_URL": c.direct}, "migrate")
	if err != nil || !strings.Contains(out, postgres.Redact(c.direct)) {
		t.Fatalf("migrate: %v %s %s", err, out, errOut)
	}
	c.pool = openPool(t, c.direct)
	c.redis = startSentinelRedis(t)
	c.env = testEnv{
		"LINKIT_DATABASE_URL":       pooled,
		"LINKIT_REDIS_URL":          c.redis.URL,
		"LINKIT_QUEUE_NAMESPACE":    "m" + randomHex(6),
		"LINKIT_ADMIN_TOKEN":        "admin-" + randomHex(8),
		"LINKIT_WORKER_CONCURRENCY": "4",
		"LINKIT_IMPORT_CONCURRENCY": "2",
		"LINKIT_IMPORT_CHUNK_ROWS":  fmt.Sprint(chunkRows),
		"LINKIT_DB_MAX_CONNS":       "8",
		"LINKIT_DB_STAGE_CONNS":     "4",
	}
	var probes []string
	for range 2 {
		env := c.procEnv("LINKIT_HTTP_ADDR", freeAddr(t))
		c.api = append(c.api, startLinkitProc(t, bin, env, "serve"))
		c.apis = append(c.apis, "http://"+env["LINKIT_HTTP_ADDR"])
		probes = append(probes, "http://"+env["LINKIT_HTTP_ADDR"])
	}
	for range 2 {
		env := c.procEnv("LINKIT_WORKER_HTTP_ADDR", freeAddr(t))
		c.workers = append(c.workers, startLinkitProc(t, bin, env, "work"))
		probes = append(probes, "http://"+env["LINKIT_WORKER_HTTP_ADDR"])
	}
	for _, p := range probes {
		waitReady(t, p)
	}
	return c
}

// procEnv is the shared environment plus one process's own setting.
func (c *cluster) procEnv(key, value string) testEnv {
	env := testEnv{}
	for k, v := range c.env {
		env[k] = v
	}
	env[key] = value
	return env
}

// org creates an organization (directly in PostgreSQL, as an operator's
// `linkit org create` does) and returns its id and a client of each API
// process.
func (c *cluster) org(t *testing.T, name string) (string, []linkittest.Client) {
	t.Helper()
	k := createOrg(t, testEnv{"LINKIT_DATABASE_URL": c.direct}, name)
	var out []linkittest.Client
	for _, u := range c.apis {
		out = append(out, linkittest.Client{T: t, URL: u, Key: k.APIKey})
	}
	return k.OrganizationID, out
}

func (c *cluster) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := c.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// openPool connects the test itself to databaseURL until its end.
func openPool(t *testing.T, databaseURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// waitReady polls /readyz (PostgreSQL and Redis both answer) of a process.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz never answered 200: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// orgState renders an organization's live customers by identifiers and
// fields, without ids, to compare two runs.
func orgState(t *testing.T, pool *pgxpool.Pool, orgID string) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT c.first_name, c.company_name, c.email, c.phone,
			(SELECT string_agg(kind || ':' || value || ':' || is_primary, ' ' ORDER BY kind, value)
				FROM customer_identities i WHERE i.organization_id = c.organization_id AND i.customer_id = c.id)
		FROM customers c WHERE c.organization_id = $1 AND c.merged_into IS NULL`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var f [5]string
		if err := rows.Scan(&f[0], &f[1], &f[2], &f[3], &f[4]); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Join(f[:], "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// submitter sends upserts (wait=0) round-robin to the API processes and
// retries one that is not accepted (503 while Redis fails over, a refused
// connection), as a client would; it records every accepted job.
type submitter struct {
	mu       sync.Mutex
	accepted []string
	refused  int // answers other than 202 before a retry got through
	lost     []string
}

func (s *submitter) send(apis []string, key string, bodies []map[string]any, pace time.Duration) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(bodies); i += 8 {
				deadline := time.Now().Add(90 * time.Second)
				for attempt := 0; ; attempt++ {
					r := upsertAsync(apis[(i+attempt)%len(apis)], key, bodies[i])
					loc := r.Header.Get("Location")
					if r.Status == http.StatusAccepted && strings.HasPrefix(loc, "/api/v1/jobs/job_") {
						s.mu.Lock()
						s.accepted = append(s.accepted, strings.TrimPrefix(loc, "/api/v1/jobs/"))
						s.mu.Unlock()
						break
					}
					s.mu.Lock()
					s.refused++
					if time.Now().After(deadline) {
						s.lost = append(s.lost, fmt.Sprintf("upsert %d: %d %.200s", i, r.Status, r.Raw))
						s.mu.Unlock()
						break
					}
					s.mu.Unlock()
					time.Sleep(200 * time.Millisecond)
				}
				time.Sleep(pace)
			}
		}()
	}
	wg.Wait()
}

// TestSeveralProcesses runs the deployment docs/scaling.md describes — two
// API and two worker processes, PgBouncer in transaction mode, Redis with
// Sentinel — and, with upserts and an import in flight, SIGKILLs a worker
// and the Redis master. Every accepted job completes exactly once, the
// import ends as an undisturbed run does, and both APIs keep answering.
func TestSeveralProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PgBouncer, Redis with Sentinel and four linkit processes, then fails them (~1 min)")
	}
	t.Parallel()
	bin := buildLinkit(t)
	const chunkRows = 150
	file := importFile(6000)

	// The reference: the same file imported undisturbed, in-process.
	ref := linkittest.New(t, linkittest.WithNamespace("r"), linkittest.WithOrg("Reference"),
		linkittest.WithStore(postgres.Options{ChunkRows: chunkRows}))
	refImport := ref.ImportCSV("/api/v1/imports", file)
	if refImport["status"] != "completed" {
		t.Fatalf("undisturbed import: %v", refImport)
	}
	want := orgState(t, ref.Store.Pool(), ref.Org)

	c := startCluster(t, bin, chunkRows)
	shopOrg, shop := c.org(t, "Several Processes")
	importOrg, importer := c.org(t, "Several Processes Import")

	identities, _ := killIdentities(200)
	var bodies []map[string]any
	for _, id := range identities {
		bodies = append(bodies, id.bodies...)
	}
	half := len(bodies) / 2
	var sub submitter
	sub.send(c.apis, shop[0].Key, bodies[:half], 0)
	importID := str(importer[1].Upload("/api/v1/imports", "", "text/csv", file).Want(t, http.StatusAccepted).Data()["id"])

	// Catch both mid-way: some upserts done, the import's chunks started.
	deadline := time.Now().Add(60 * time.Second)
	for {
		im := importer[0].Do("GET", "/api/v1/imports/"+importID, nil).Want(t, http.StatusOK).Data()
		done, _ := im["chunks_done"].(float64)
		if c.count(t, "SELECT count(*) FROM jobs WHERE state = 'completed'") >= 15 && done >= 1 {
			if im["status"] != "processing" {
				t.Fatalf("the import ended before the faults: %v", im)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing progressed: import %v", im)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.workers[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.workers[0].done
	faults := time.Now()
	// Freeze the other worker and cut replication: the upserts accepted
	// now are tasks only the master holds, lost with it when it dies.
	if err := c.workers[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	c.redis.link.cut.Store(true)
	const window = 40
	before := len(sub.accepted)
	sub.send(c.apis, shop[0].Key, bodies[half:half+window], 0)
	unreplicated := append([]string(nil), sub.accepted[before:]...)
	// The rest straddles the failover.
	var sent sync.WaitGroup
	sent.Add(1)
	go func() { defer sent.Done(); sub.send(c.apis, shop[0].Key, bodies[half+window:], 20*time.Millisecond) }()
	took := c.redis.failover()
	if err := c.workers[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed worker 1 and the Redis master; sentinel promoted the replica in %s", took.Round(time.Millisecond))
	if n := c.count(t, "SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'queued'", unreplicated); n != len(unreplicated) || n == 0 {
		t.Fatalf("%d of the %d jobs accepted while replication was cut are queued", n, len(unreplicated))
	}
	// The promoted replica never saw their tasks (asynq's key layout: the
	// task hash is asynq:{queue}:t:<id>, the id being the job's).
	promoted := redis.NewClient(&redis.Options{Addr: c.redis.addrs[1]})
	defer promoted.Close()
	critical := queue.Names{Namespace: c.env["LINKIT_QUEUE_NAMESPACE"]}.Critical()
	for _, id := range unreplicated {
		if n, err := promoted.Exists(context.Background(), "asynq:{"+critical+"}:t:"+id).Result(); err != nil || n != 0 {
			t.Fatalf("the promoted replica holds task %s (%d, %v): replication was not cut", id, n, err)
		}
	}
	sent.Wait()
	if len(sub.lost) > 0 {
		t.Fatalf("%d upserts never accepted, first: %s", len(sub.lost), sub.lost[0])
	}
	t.Logf("%d upserts accepted (%d while replication was cut), %d answers asked for a retry",
		len(sub.accepted), len(unreplicated), sub.refused)

	// Every accepted job completes: tasks the failover lost are re-created
	// from PostgreSQL by the reconciler, the killed worker's are taken back.
	deadline = time.Now().Add(90 * time.Second)
	for {
		open := c.count(t, "SELECT count(*) FROM jobs WHERE id = ANY($1) AND state <> 'completed'", sub.accepted)
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d accepted jobs not completed %s after the faults", open, time.Since(faults).Round(time.Second))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("all accepted jobs completed %s after the faults", time.Since(faults).Round(time.Second))
	done := importer[0].WaitImport(importID, 90*time.Second)
	if done["status"] != "completed" {
		t.Fatalf("import after the faults: %v", done)
	}
	t.Logf("import completed %s after the faults", time.Since(faults).Round(time.Second))

	// The tasks the failover lost were re-created from the jobs table.
	if logs := c.workers[1].logs.String(); !strings.Contains(logs, `"requeued jobs whose tasks were lost"`) {
		t.Errorf("the surviving worker's log does not say it re-created lost tasks:\n%.3000s", logs)
	}

	// Exactly once: each accepted job completed one time and wrote one
	// audit event per change; one customer per identity.
	if n := c.count(t, `SELECT count(*) FROM jobs j WHERE j.id = ANY($1) AND (j.attempts <> 1 OR
			(SELECT count(*) FROM audit_events a WHERE a.job_id = j.id) <> CASE j.result->>'action' WHEN 'unchanged' THEN 0 ELSE 1 END)`,
		sub.accepted); n != 0 {
		t.Errorf("%d accepted jobs ran more or less than once", n)
	}
	shopID := shop[0].Do("GET", "/api/v1/customers?limit=1", nil).Want(t, http.StatusOK)
	if total, _ := shopID.Meta()["total"].(float64); int(total) != len(identities) {
		t.Errorf("%v customers for %d identities", shopID.Meta()["total"], len(identities))
	}
	if n := c.count(t, "SELECT count(*) FROM duplicate_suggestions WHERE organization_id = $1", shopOrg); n != 0 {
		t.Errorf("%d duplicate suggestions among distinct identities", n)
	}
	if got := orgState(t, c.pool, importOrg); got != want {
		t.Errorf("the disturbed import differs from the undisturbed run:\n%.1500s\n---\n%.1500s", got, want)
	}
	if fmt.Sprint(done["counts"]) != fmt.Sprint(refImport["counts"]) {
		t.Errorf("import counts %v, undisturbed %v", done["counts"], refImport["counts"])
	}

	// Both API processes still serve, and a new upsert is answered by a
	// worker through the promoted Redis (a reply, not a 202 to poll).
	for i, cl := range shop {
		body := map[string]any{"email": fmt.Sprintf("after.failover%d@example.com", i), "first_name": "After"}
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := cl.Do("POST", "/api/v1/customers/upsert?wait=10", body)
			// 200 when an earlier try's reply was lost (202) but its job ran.
			if r.Status == http.StatusCreated || r.Status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("API %d after the failover: %d %s", i+1, r.Status, r.Raw)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}
