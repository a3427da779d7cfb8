package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres/postgrestest"
	"github.com/linkitworks/customers/worker"
)

// faultIdentity is one real customer and the upsert bodies that describe it.
type faultIdentity struct {
	email, phone string
	bodies       []map[string]any
}

// faultIdentities alternates email-only, phone-only and both; every third
// identity is sent twice, the second time in other formats.
func faultIdentities(prefix string, n int) []faultIdentity {
	var out []faultIdentity
	for i := range n {
		email := fmt.Sprintf("%s%03d@example.com", prefix, i)
		digits := fmt.Sprintf("415555%04d", 2000+i)
		var id faultIdentity
		first := map[string]any{"first_name": fmt.Sprintf("F%03d", i)}
		again := map[string]any{}
		switch i % 3 {
		case 0:
			id.email = email
			first["email"], again["email"] = email, " "+strings.ToUpper(email)
		case 1:
			id.phone = "+1" + digits
			first["phone"], again["phone"] = "+1 "+digits, "001-"+digits
		default:
			id.email, id.phone = email, "+1"+digits
			first["email"], first["phone"] = email, "+1"+digits
			again["email"], again["phone"] = strings.ToUpper(email), "+1 ("+digits[:3]+") "+digits[3:]
		}
		id.bodies = append(id.bodies, first)
		if i%3 == 0 {
			id.bodies = append(id.bodies, again)
		}
		out = append(out, id)
	}
	return out
}

// submitAsync posts every body with wait=0 and returns the accepted job ids.
func submitAsync(e *env, ids []faultIdentity) []string {
	e.t.Helper()
	var jobs []string
	for _, id := range ids {
		for _, b := range id.bodies {
			r := e.do("POST", "/api/v1/customers/upsert?wait=0", b).want(e.t, http.StatusAccepted)
			loc := r.Header.Get("Location")
			if !strings.HasPrefix(loc, "/api/v1/jobs/job_") || r.data()["state"] != "queued" {
				e.t.Fatalf("accepted upsert: Location %q, body %s", loc, r.Raw)
			}
			jobs = append(jobs, strings.TrimPrefix(loc, "/api/v1/jobs/"))
		}
	}
	return jobs
}

// awaitJobs polls GET /api/v1/jobs/{id} until every job is completed.
func awaitJobs(e *env, jobs []string, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for _, id := range jobs {
		r := e.client().WaitJob(id, max(time.Until(deadline), time.Second))
		if r["state"] != "completed" {
			e.t.Fatalf("job %s %s: %v", id, r["state"], r)
		}
		res, _ := r["result"].(map[string]any)
		if c, _ := res["customer"].(map[string]any); str(c["id"]) == "" {
			e.t.Fatalf("completed job without its customer: %v", r)
		}
	}
}

// checkIdentities asserts, through the API and the tables, that each
// identity is exactly one customer and each job wrote its audit event once.
// before are identities that existed before the jobs ran.
func checkIdentities(e *env, ids []faultIdentity, jobs []string, before ...faultIdentity) {
	e.t.Helper()
	t, ctx, pool := e.t, context.Background(), e.store.Pool()
	for _, id := range append(append([]faultIdentity(nil), ids...), before...) {
		var want string
		if id.email != "" {
			r := e.do("GET", "/api/v1/customers/lookup?email="+url.QueryEscape(id.email), nil).want(t, http.StatusOK)
			want = str(r.data()["id"])
			var n int
			_ = pool.QueryRow(ctx, "SELECT count(*) FROM customers WHERE email = $1", id.email).Scan(&n)
			if n != 1 {
				t.Errorf("email %s: %d customers", id.email, n)
			}
		}
		if id.phone != "" {
			r := e.do("GET", "/api/v1/customers/lookup?phone="+url.QueryEscape(id.phone), nil).want(t, http.StatusOK)
			if want != "" && str(r.data()["id"]) != want {
				t.Errorf("%s and %s are different customers", id.email, id.phone)
			}
			var n int
			_ = pool.QueryRow(ctx, "SELECT count(*) FROM customers WHERE phone = $1", id.phone).Scan(&n)
			if n != 1 {
				t.Errorf("phone %s: %d customers", id.phone, n)
			}
		}
	}
	list := e.do("GET", "/api/v1/customers?limit=1", nil).want(t, http.StatusOK)
	if list.meta()["total"] != float64(len(ids)+len(before)) {
		t.Errorf("%v customers listed for %d identities", list.meta()["total"], len(ids)+len(before))
	}
	var failed, created int
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE state <> 'completed'").Scan(&failed)
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM audit_events WHERE type = 'customer.created' AND job_id IS NOT NULL").Scan(&created)
	if failed != 0 || created != len(ids) {
		t.Errorf("%d jobs not completed; %d customer.created events for %d identities", failed, created, len(ids))
	}
	for _, id := range jobs {
		var action string
		var attempts, events int
		err := pool.QueryRow(ctx, `SELECT result->>'action', attempts, (SELECT count(*) FROM audit_events WHERE job_id = $1)
			FROM jobs WHERE id = $1`, id).Scan(&action, &attempts, &events)
		want := map[string]int{"created": 1, "updated": 1, "unchanged": 0}
		if w, ok := want[action]; err != nil || !ok || events != w || attempts != 1 {
			t.Errorf("job %s: action %q, %d audit events, completed %d times (%v)", id, action, events, attempts, err)
		}
	}
}

// TestRedisFlushedWhileQueued: PostgreSQL is the system of record, so a
// Redis that loses every task (flush, failover) delays upserts but loses
// none: the worker's reconciler re-enqueues what PostgreSQL holds as queued.
// It runs on its own Redis database, the only one it may flush.
func TestRedisFlushedWhileQueued(t *testing.T) {
	t.Parallel()
	flushURL := linkittest.RedisDBURL(14)
	e := newQueueEnv(t, queueOpts{redisURL: flushURL, noWorker: true})
	ids := faultIdentities("flushed", 30)
	jobs := submitAsync(e.env, ids)

	insp := asynq.NewInspector(e.opt)
	defer insp.Close()
	if info, err := insp.GetQueueInfo(e.names.Critical()); err != nil || info.Pending != len(jobs) {
		t.Fatalf("before the flush: %+v, %v; want %d pending", info, err, len(jobs))
	}
	opt, err := redis.ParseURL(flushURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if info, err := insp.GetQueueInfo(e.names.Critical()); err == nil && info.Pending != 0 {
		t.Fatalf("tasks survived the flush: %+v", info)
	}
	// Still queued as far as the API knows.
	if r := e.do("GET", "/api/v1/jobs/"+jobs[0], nil).want(t, http.StatusOK); r.data()["state"] != "queued" {
		t.Fatalf("job after flush: %s", r.Raw)
	}

	e.startWorker(200 * time.Millisecond)
	awaitJobs(e.env, jobs, 30*time.Second)
	checkIdentities(e.env, ids, jobs)
}

// pgProxy stands between the store and PostgreSQL so a test can take
// "PostgreSQL" down and bring it back without touching the shared server.
type pgProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	p := &pgProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	p.listen("127.0.0.1:0")
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.down)
	return p
}

func (p *pgProxy) listen(addr string) {
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *pgProxy) pipe(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns[client], p.conns[server] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(server, client); server.Close() }()
	_, _ = io.Copy(client, server)
	client.Close()
}

// down refuses new connections and cuts the open ones, like a crash.
func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *pgProxy) up() { p.listen(p.addr) }

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPostgresOutage: with PostgreSQL unreachable the API answers 503 in
// the documented error shape (never 500, never driver text), /readyz names
// postgres, queued upserts wait, and everything completes exactly once when
// PostgreSQL returns. The logs of all that hold no email or phone.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL, err := url.Parse(postgrestest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, dbURL.Host)
	dbURL.Host = proxy.addr
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stack := linkittest.New(t, linkittest.WithDatabaseURL(dbURL.String()), linkittest.WithLogger(log),
		linkittest.WithoutWorker(), linkittest.WithOrg("Outage Co"))
	store := stack.Store
	e := wrap(t, stack)

	const email, phone = "outage.person@privacy-test.example", "+966501239876"
	e.createCustomer(map[string]any{"email": email, "phone": phone})
	ids := faultIdentities("outage", 12)
	jobs := submitAsync(e, ids)

	proxy.down()
	start := time.Now()
	e.do("GET", "/healthz", nil).want(t, http.StatusOK)
	ready := e.do("GET", "/readyz", nil).want(t, http.StatusServiceUnavailable)
	if checks, _ := ready.Body["checks"].(map[string]any); checks["postgres"] != "unavailable" || checks["redis"] != "ok" {
		t.Fatalf("/readyz while PostgreSQL is down: %s", ready.Raw)
	}
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/customers", nil},
		{"GET", "/api/v1/customers/lookup?email=" + url.QueryEscape(email), nil},
		{"POST", "/api/v1/customers", map[string]any{"first_name": "A", "last_name": "B", "email": "new." + email}},
		{"POST", "/api/v1/customers/upsert", map[string]any{"email": email, "phone": phone}},
		{"POST", "/api/v1/customers/upsert?wait=0", map[string]any{"phone": phone}},
		{"GET", "/api/v1/jobs/" + jobs[0], nil},
	} {
		r := e.do(req.method, req.path, req.body).wantError(t, http.StatusServiceUnavailable)
		for _, leak := range []string{"dial", "connect", "127.0.0.1", "SQL", "pgx", "postgres"} {
			if strings.Contains(r.Raw, leak) {
				t.Errorf("%s %s answer leaks %q: %s", req.method, req.path, leak, r.Raw)
			}
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("503 answers took %s: requests hang while PostgreSQL is down", took)
	}

	// The worker starts during the outage: its attempts fail and are retried.
	stack.StartWorker(worker.Config{Concurrency: 4, ReconcileEvery: 200 * time.Millisecond, ReconcileAge: 200 * time.Millisecond})
	time.Sleep(1500 * time.Millisecond)
	var n int
	if err := store.Pool().QueryRow(ctx, "SELECT 1").Scan(&n); err == nil {
		t.Fatal("the proxy let a query through while down")
	}

	proxy.up()
	e.do("GET", "/readyz", nil).want(t, http.StatusOK)
	awaitJobs(e, jobs, 45*time.Second)
	checkIdentities(e, ids, jobs, faultIdentity{email: email, phone: phone})

	if err := stack.StopWorker(); err != nil {
		t.Error(err)
	}
	out := strings.ToLower(logs.String())
	if !strings.Contains(out, `"status":503`) {
		t.Errorf("the outage left no trace in the logs:\n%s", out)
	}
	secrets := []string{email, "outage.person", phone[1:], "501239876"}
	for _, id := range ids {
		secrets = append(secrets, id.email, strings.TrimPrefix(id.phone, "+"))
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, strings.ToLower(s)) {
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, strings.ToLower(s)) {
					t.Errorf("log leaks %q: %s", s, line)
					break
				}
			}
		}
	}
}
