package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/worker"
)

// baseUpsert is the SQL baseline: find-or-create by email or phone in one
// autocommitted statement on the same tables: read the identities (email
// first), and only when neither exists insert the customer and both
// identities. No job row, no queue, no audit, no locks beyond the keys.
const baseUpsert = `WITH found AS (
		SELECT customer_id FROM customer_identities
		WHERE organization_id = $1 AND ((kind = 'email' AND value = $2) OR (kind = 'phone' AND value = $3))
		ORDER BY kind LIMIT 1
	), new_customer AS (
		INSERT INTO customers (organization_id, id, first_name, last_name, name, email, phone, phone_valid, source)
		SELECT $1, $4, $5, $6, $7, $2, $8, $9, 'pos' WHERE NOT EXISTS (SELECT 1 FROM found)
		RETURNING id
	), new_keys AS (
		INSERT INTO customer_identities (organization_id, kind, value, customer_id, is_primary, display)
		SELECT $1, k.kind, k.value, n.id, true, k.display
		FROM new_customer n, (VALUES ('email', $2, $2), ('phone', $3, $8)) AS k(kind, value, display)
		WHERE k.value <> ''
		ON CONFLICT DO NOTHING
	)
	SELECT coalesce((SELECT customer_id FROM found), (SELECT id FROM new_customer))`

const baseUpsertText = "upsert: one autocommitted statement (CTE) on the same tables through pgxpool: " +
	"look up the email/phone identities by primary key (email first); if none, INSERT the customer and its " +
	"two identities (ON CONFLICT DO NOTHING). Keys are normalized by the client beforehand (no phonenumbers); " +
	"no job row, queue, audit event or read-back. Same pool size and concurrency as the API."

type upserts struct {
	cfg  config
	st   *stack
	pool *pgxpool.Pool
	g    *gen
	next atomic.Int64 // next generator index never used: a new identity
}

type upsertBody struct {
	Name   string `json:"name,omitempty"`
	Email  string `json:"email,omitempty"`
	Phone  string `json:"phone,omitempty"`
	Source string `json:"source,omitempty"`
}

// upsertCase is one drawn request with what the baseline needs.
type upsertCase struct {
	body               upsertBody
	isNew              bool
	p                  person
	emailKey, phoneKey string // "" when not sent
}

// draw picks half new identities, half existing customers matched by
// email, phone or both, spelled as people type them.
func (u *upserts) draw(rng *rand.Rand) upsertCase {
	if rng.IntN(2) == 0 {
		p := u.g.person(int(u.next.Add(1) - 1))
		return upsertCase{isNew: true, p: p, emailKey: p.Email, phoneKey: p.PhoneKey,
			body: upsertBody{Name: p.Name, Email: emailVariant(p.Email, rng), Phone: u.g.phoneVariant(p, rng), Source: "pos"}}
	}
	p := u.g.person(rng.IntN(u.g.n))
	c := upsertCase{p: p, body: upsertBody{Name: p.Name, Source: "pos"}}
	switch rng.IntN(3) {
	case 0:
		c.body.Email, c.emailKey = emailVariant(p.Email, rng), p.Email
	case 1:
		c.body.Phone, c.phoneKey = u.g.phoneVariant(p, rng), p.PhoneKey
	default:
		c.body.Email, c.emailKey = emailVariant(p.Email, rng), p.Email
		c.body.Phone, c.phoneKey = u.g.phoneVariant(p, rng), p.PhoneKey
	}
	return c
}

func (u *upserts) post(ctx context.Context, b upsertBody) (int, []byte) {
	body, _ := json.Marshal(b)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.st.baseURL+"/api/v1/customers/upsert", bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.st.apiKey)
	resp, err := u.st.http.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// apiOp is one upsert through HTTP: 201 for a new identity, 200 for a match.
func (u *upserts) apiOp(ctx context.Context, rng *rand.Rand) bool {
	c := u.draw(rng)
	status, _ := u.post(ctx, c.body)
	if c.isNew {
		return status == http.StatusCreated
	}
	return status == http.StatusOK
}

// sqlOp is the baseline statement for the same draw.
func (u *upserts) sqlOp(ctx context.Context, rng *rand.Rand) bool {
	c := u.draw(rng)
	newID := customer.NewID(customer.PrefixCustomer)
	phone := ""
	if c.phoneKey != "" {
		phone = c.p.Phone
	}
	var id string
	err := u.pool.QueryRow(ctx, baseUpsert, u.g.orgID, c.emailKey, c.phoneKey, newID,
		c.p.FirstName, c.p.LastName, c.p.Name, phone, u.g.valid(c.p)).Scan(&id)
	if err != nil {
		return false
	}
	if c.isNew {
		return id == newID
	}
	return id == c.p.ID
}

func (u *upserts) suite(ctx context.Context, rep *report, logf func(string, ...any)) error {
	u.st.startWorker()
	rep.Baselines = append(rep.Baselines, baseUpsertText)

	// Sanity: a new identity is created (201), a known one matched (200).
	rng := rand.New(rand.NewPCG(3, 4))
	p := u.g.person(int(u.next.Add(1) - 1))
	if status, body := u.post(ctx, upsertBody{Name: p.Name, Email: p.Email, Phone: p.Phone}); status != http.StatusCreated {
		return fmt.Errorf("upsert of a new customer: status %d: %s", status, body)
	}
	p = u.g.person(u.g.n / 3)
	if status, body := u.post(ctx, upsertBody{Name: p.Name, Phone: u.g.phoneVariant(p, rng)}); status != http.StatusOK {
		return fmt.Errorf("upsert of an existing customer: status %d: %s", status, body)
	}

	clients := u.cfg.upsertClients
	runs := make([][]runPair, len(clients)+1) // the last is the idle latency
	perTaskSum := make([]float64, len(clients))
	scoring := make([]scoringLag, len(clients)) // the largest of the runs
	w := window{warmup: u.cfg.warmup, duration: u.cfg.duration}
	idle := window{warmup: u.cfg.warmup, duration: u.cfg.duration, pause: u.cfg.idlePause}
	for r := range u.cfg.runs {
		for ci, c := range clients {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			seed := u.cfg.seed + 50_000 + uint64(r)*100 + uint64(ci)
			jobs0, tasks0 := u.jobsAndTasks(ctx)
			api, base := measurePair(ctx, c, w, seed, u.apiOp, u.sqlOp)
			runs[ci] = append(runs[ci], runPair{api, base})
			jobs1, tasks1 := u.jobsAndTasks(ctx)
			perTask := 0.0
			if tasks1 > tasks0 {
				perTask = float64(jobs1-jobs0) / float64(tasks1-tasks0)
				perTaskSum[ci] += perTask
			}
			waiting, took := u.drainScoring(ctx)
			if waiting > scoring[ci].waiting {
				scoring[ci] = scoringLag{waiting, took}
			}
			logf("upsert run %d/%d c=%-3d %s; %.1f upserts per task; %d customers left to score, scored %.1f s later",
				r+1, u.cfg.runs, c, newRow("", "", c, api, base).brief(), perTask, waiting, took.Seconds())
		}
		seed := u.cfg.seed + 60_000 + uint64(r)
		api, base := measurePair(ctx, 1, idle, seed, u.apiOp, u.sqlOp)
		runs[len(clients)] = append(runs[len(clients)], runPair{api, base})
		logf("upsert run %d/%d idle  %s", r+1, u.cfg.runs, newRow("", "", 1, api, base).brief())
	}

	if u.cfg.cpuprofile != "" {
		// A separate API-only measurement, so the profile holds no baseline.
		stop, err := startProfile(u.cfg.cpuprofile)
		if err != nil {
			return err
		}
		st := measure(ctx, 16, w, u.cfg.seed+70_000, u.apiOp)
		stop()
		logf("upsert profiled c=16 (API only) %.0f req/s p50 %.2f p99 %.2f ms → %s", st.RPS, st.P50, st.P99, u.cfg.cpuprofile)
		rep.Notes = append(rep.Notes, fmt.Sprintf("CPU profile of a separate 16-client API-only upsert measurement (%.0f req/s): %s; "+
			"load-generator goroutines carry the label side=client (go tool pprof -tagignore side=client …)", st.RPS, u.cfg.cpuprofile))
	}

	name := "upsert 50% new / 50% match"
	for ci, c := range clients {
		r := medianRow("upsert", name, c, runs[ci])
		if c == 16 {
			r.Target = &target{Text: "rate ≥ 25% of SQL and p99 < 25 ms", Pass: r.Ratio.RPS >= 0.25 && r.API.P99 < 25}
		}
		rep.Rows = append(rep.Rows, r)
	}
	r := medianRow("upsert", "upsert idle", 1, runs[len(clients)])
	r.Mode = fmt.Sprintf("(%s pauses)", u.cfg.idlePause)
	r.Target = &target{Text: "p50 < 8 ms", Pass: r.API.P50 < 8}
	rep.Rows = append(rep.Rows, r)
	var perTask []string
	for ci, c := range clients {
		perTask = append(perTask, fmt.Sprintf("%d clients %.1f", c, perTaskSum[ci]/float64(u.cfg.runs)))
	}
	rep.Notes = append(rep.Notes, "upserts per queue task (coalescing; jobs over tasks processed, mean of runs): "+strings.Join(perTask, ", "))
	var lags []string
	for ci, c := range clients {
		lags = append(lags, fmt.Sprintf("%d clients %d customers, scored %.1f s later", c, scoring[ci].waiting, scoring[ci].took.Seconds()))
	}
	rep.Notes = append(rep.Notes, "duplicate scoring left behind by the upserts (new customers not yet scored when a measurement "+
		"ended; the scorer rests while the API is busy; largest of the runs, each drained before the next): "+strings.Join(lags, ", "))
	if u.cfg.runs > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("upsert figures are medians of %d runs (each run's figures are in the JSON)", u.cfg.runs))
	}
	for ci, c := range append(slices.Clone(clients), 1) {
		for _, rp := range runs[ci] {
			if rp.API.Failed > 0 || rp.Baseline.Failed > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("upsert at %d clients: %d API requests and %d SQL statements failed or answered unexpectedly in one run",
					c, rp.API.Failed, rp.Baseline.Failed))
			}
		}
	}
	return u.breakdown(ctx, rep, r.API.P50, logf)
}

// scoringLag is the duplicate scoring a measurement left behind.
type scoringLag struct {
	waiting int           // customers waiting to be scored when it ended
	took    time.Duration // until none waited
}

// drainScoring waits, up to a minute, until no customer waits to be
// scored, so that the next measurement starts even; it says how many
// waited and how long the scorer took.
func (u *upserts) drainScoring(ctx context.Context) (waiting int, took time.Duration) {
	start := time.Now()
	waiting, err := u.st.store.SuggestPending(ctx, u.g.orgID)
	if u.cfg.suggestPoll >= time.Minute { // scoring off (-suggest-poll 1h): nothing drains
		return waiting, 0
	}
	for n := waiting; err == nil && n > 0 && time.Since(start) < time.Minute; n, err = u.st.store.SuggestPending(ctx, u.g.orgID) {
		time.Sleep(20 * time.Millisecond)
	}
	return waiting, time.Since(start)
}

// jobsAndTasks counts the upsert jobs recorded and the tasks the critical
// queue has processed today (this run's queue names are its own).
func (u *upserts) jobsAndTasks(ctx context.Context) (jobs, tasks int) {
	_ = u.st.store.Pool().QueryRow(ctx, "SELECT count(*) FROM jobs WHERE type = $1", queue.TypeUpsert).Scan(&jobs)
	if info, err := u.st.inspector.GetQueueInfo(u.st.names.Critical()); err == nil {
		tasks = info.Processed
	}
	return jobs, tasks
}

// medianRow reports the median of each figure over the runs.
func medianRow(suite, name string, clients int, runs []runPair) row {
	var api, base []stats
	for _, r := range runs {
		api, base = append(api, r.API), append(base, r.Baseline)
	}
	out := newRow(suite, name, clients, medianStats(api), medianStats(base))
	if len(runs) > 1 {
		out.Runs = runs
	}
	return out
}

func medianStats(ss []stats) stats {
	med := func(f func(stats) float64) float64 {
		v := make([]float64, 0, len(ss))
		for _, s := range ss {
			v = append(v, f(s))
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	out := stats{
		Requests: int(med(func(s stats) float64 { return float64(s.Requests) })),
		Failed:   int(med(func(s stats) float64 { return float64(s.Failed) })),
		RPS:      med(func(s stats) float64 { return s.RPS }),
		P50:      med(func(s stats) float64 { return s.P50 }),
		P90:      med(func(s stats) float64 { return s.P90 }),
		P99:      med(func(s stats) float64 { return s.P99 }),
		Max:      med(func(s stats) float64 { return s.Max }),
	}
	cpu := func(f func(*cpuPerReq) float64) float64 {
		return med(func(s stats) float64 {
			if s.CPU == nil {
				return 0
			}
			return f(s.CPU)
		})
	}
	if slices.ContainsFunc(ss, func(s stats) bool { return s.CPU != nil }) {
		out.CPU = &cpuPerReq{
			Go:          cpu(func(c *cpuPerReq) float64 { return c.Go }),
			Postgres:    cpu(func(c *cpuPerReq) float64 { return c.Postgres }),
			Redis:       cpu(func(c *cpuPerReq) float64 { return c.Redis }),
			Other:       cpu(func(c *cpuPerReq) float64 { return c.Other }),
			BusyPct:     cpu(func(c *cpuPerReq) float64 { return c.BusyPct }),
			OthersCores: cpu(func(c *cpuPerReq) float64 { return c.OthersCores }),
		}
	}
	return out
}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// request is the engine request the API builds for c's body.
func (u *upserts) request(c upsertCase) *dedupe.Request {
	req := &dedupe.Request{Source: "pos", Options: dedupe.Options{Policy: dedupe.FillBlanks}}
	first, last := dedupe.SplitName(c.p.Name)
	req.Record.Fields = customer.Customer{FirstName: first, LastName: last, Name: c.p.Name, Source: "pos"}
	if c.body.Email != "" {
		e, _ := dedupe.NormalizeEmail(c.body.Email)
		req.Record.Email, req.Record.EmailKey = e, dedupe.EmailKey(e, false)
	}
	if c.body.Phone != "" {
		ph, _ := dedupe.NormalizePhone(c.body.Phone, "US")
		req.Record.Phone, req.Record.PhoneValid, req.Record.PhoneKey = ph.Number, ph.Valid, dedupe.PhoneDigits(ph.Number)
	}
	return req
}

// breakdown times the stages of one upsert alone, sequentially on an idle
// system with the idle measurement's pauses, so the end-to-end idle
// latency can be read as a sum, and the CPU of each stage as a cost.
func (u *upserts) breakdown(ctx context.Context, rep *report, e2eP50 float64, logf func(string, ...any)) error {
	const iters = 200
	store := u.st.store
	org := u.g.orgID
	var sum float64
	stage := func(name string, weight float64, fn func(rng *rand.Rand) (time.Duration, error)) error {
		rng := rand.New(rand.NewPCG(u.cfg.seed, uint64(len(rep.Breakdown))))
		var lat []time.Duration
		var goSec, pgSec float64
		backends := takeCPUSnapshot().pgPids // the pool's connections persist
		for range iters {
			if err := ctx.Err(); err != nil {
				return err
			}
			pg0 := pgCPU(backends)
			go0 := selfCPU()
			d, err := fn(rng)
			go1 := selfCPU()
			pg1 := pgCPU(backends)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			goSec += go1 - go0
			pgSec += pg1 - pg0
			lat = append(lat, d)
			time.Sleep(u.cfg.idlePause)
		}
		slices.Sort(lat)
		st := step{Name: name, N: len(lat), P50: ms(lat[len(lat)/2]), P99: ms(lat[len(lat)*99/100]),
			GoCPU: goSec * 1e6 / iters, PGCPU: pgSec * 1e6 / iters}
		rep.Breakdown = append(rep.Breakdown, st)
		sum += weight * st.P50
		return nil
	}
	newJob := func(c upsertCase) (*customer.Job, *dedupe.Request, error) {
		req := u.request(c)
		payload, _ := json.Marshal(req)
		job := &customer.Job{OrganizationID: org, Type: queue.TypeUpsert, Payload: payload, RequestHash: "bench"}
		stored, _, err := store.CreateJob(ctx, job)
		return stored, req, err
	}
	drawKind := func(rng *rand.Rand, wantNew bool) upsertCase {
		for {
			if c := u.draw(rng); c.isNew == wantNew {
				return c
			}
		}
	}
	// A waiting call's job row is the worker's to write (api.findOrCreate).
	runUpsert := func(wantNew bool) func(rng *rand.Rand) (time.Duration, error) {
		return func(rng *rand.Rand) (time.Duration, error) {
			it := postgres.BatchItem{JobID: customer.NewID(customer.PrefixJob), Request: u.request(drawKind(rng, wantNew)),
				NewJob: &customer.Job{Type: queue.TypeUpsert, RequestHash: "bench"}}
			t0 := time.Now()
			_, err := store.RunUpsert(ctx, org, it)
			return time.Since(t0), err
		}
	}
	stages := []struct {
		name   string
		weight float64 // share in the sum of an average upsert
		fn     func(rng *rand.Rand) (time.Duration, error)
	}{
		{"HTTP round trip (GET /healthz, no I/O)", 1, func(rng *rand.Rand) (time.Duration, error) {
			t0 := time.Now()
			if s := u.st.get(ctx, "/healthz"); s != 200 {
				return 0, fmt.Errorf("status %d", s)
			}
			return time.Since(t0), nil
		}},
		{"API: INSERT job row (store.CreateJob, own commit; 202 or Idempotency-Key only)", 0, func(rng *rand.Rand) (time.Duration, error) {
			c := u.draw(rng)
			t0 := time.Now()
			_, _, err := newJob(c)
			return time.Since(t0), err
		}},
		{"API only: POST upsert with Prefer: respond-async (202)", 0, func(rng *rand.Rand) (time.Duration, error) {
			c := u.draw(rng)
			body, _ := json.Marshal(c.body)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.st.baseURL+"/api/v1/customers/upsert", bytes.NewReader(body))
			if err != nil {
				return 0, err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Prefer", "respond-async")
			t0 := time.Now()
			if s := u.st.do(ctx, req); s != http.StatusAccepted {
				return 0, fmt.Errorf("status %d", s)
			}
			return time.Since(t0), nil
		}},
		{"worker: RunUpsert transaction, new customer", 0.5, runUpsert(true)},
		{"worker: RunUpsert transaction, match (unchanged)", 0.5, runUpsert(false)},
		{"worker→API: Redis PUBLISH of the reply", 1, func(rng *rand.Rand) (time.Duration, error) {
			t0 := time.Now()
			err := u.st.rdb.Publish(ctx, "linkit:bench:nobody", "job\n{}").Err()
			return time.Since(t0), err
		}},
		{"API: read the customer back (store.FindSurvivor; replays only)", 0, func(rng *rand.Rand) (time.Duration, error) {
			id := u.g.customerID(rng.IntN(u.g.n))
			t0 := time.Now()
			_, err := store.FindSurvivor(ctx, org, id)
			return time.Since(t0), err
		}},
	}
	for i, s := range stages {
		if err := stage(s.name, s.weight, s.fn); err != nil {
			return err
		}
		if i == 2 {
			// The asynq hop, measured alone on a scratch queue.
			hop, err := u.queueHop(ctx, iters)
			if err != nil {
				return err
			}
			hop.Name = fmt.Sprintf("API→worker: asynq enqueue → handler start (the upserts' pool polls every %s)", cmp.Or(u.cfg.upsertPoll, worker.DefaultUpsertPoll))
			rep.Breakdown = append(rep.Breakdown, hop)
			sum += hop.P50
		}
	}
	rep.Breakdown = append(rep.Breakdown,
		step{Name: "sum of the stages' p50 (RunUpsert: mean of new and match)", P50: sum},
		step{Name: "measured end-to-end idle upsert p50 (median of runs)", P50: e2eP50},
		step{Name: "rest: HTTP/JSON, validation, phonenumbers, reply routing, scheduling", P50: e2eP50 - sum})
	logf("upsert breakdown done")
	return nil
}

// queueHop measures asynq alone: enqueue on an idle queue until a no-op
// handler starts, with the worker's upsert poll, on a scratch queue.
func (u *upserts) queueHop(ctx context.Context, iters int) (step, error) {
	names := queue.Names{Namespace: u.st.names.Namespace + "hop"}
	var mu sync.Mutex
	started := map[string]chan time.Time{}
	mux := asynq.NewServeMux()
	mux.HandleFunc("bench:hop", func(ctx context.Context, t *asynq.Task) error {
		now := time.Now()
		id, _ := asynq.GetTaskID(ctx)
		mu.Lock()
		ch := started[id]
		mu.Unlock()
		if ch != nil {
			ch <- now
		}
		return nil
	})
	// As the worker's upserts' pool: their queue alone, its poll.
	srv := asynq.NewServer(u.st.opt, asynq.Config{
		Concurrency: u.cfg.workerConcurrency, Queues: map[string]int{names.Critical(): 1},
		TaskCheckInterval: cmp.Or(u.cfg.upsertPoll, worker.DefaultUpsertPoll), Logger: nopLogger{}, LogLevel: asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		return step{}, err
	}
	defer func() {
		srv.Shutdown()
		for _, q := range names.All() {
			_ = u.st.inspector.DeleteQueue(q, true)
		}
	}()
	client := asynq.NewClient(u.st.opt)
	defer client.Close()
	time.Sleep(200 * time.Millisecond)
	var lat []time.Duration
	for i := range iters {
		id := fmt.Sprintf("hop-%d-%d", time.Now().UnixNano(), i)
		ch := make(chan time.Time, 1)
		mu.Lock()
		started[id] = ch
		mu.Unlock()
		t0 := time.Now()
		if _, err := client.EnqueueContext(ctx, asynq.NewTask("bench:hop", []byte(`{}`)), asynq.TaskID(id),
			asynq.Queue(names.Critical())); err != nil {
			return step{}, fmt.Errorf("enqueue: %w", err)
		}
		select {
		case t := <-ch:
			lat = append(lat, t.Sub(t0))
		case <-time.After(5 * time.Second):
			return step{}, fmt.Errorf("task %s not started within 5 s", id)
		case <-ctx.Done():
			return step{}, ctx.Err()
		}
		time.Sleep(u.cfg.idlePause)
	}
	slices.Sort(lat)
	return step{N: len(lat), P50: ms(lat[len(lat)/2]), P99: ms(lat[len(lat)*99/100])}, nil
}

// nopLogger silences the scratch asynq server.
type nopLogger struct{}

func (nopLogger) Debug(...any) {}
func (nopLogger) Info(...any)  {}
func (nopLogger) Warn(...any)  {}
func (nopLogger) Error(...any) {}
func (nopLogger) Fatal(...any) {}
