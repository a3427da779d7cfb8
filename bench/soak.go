package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
)

// The soak (make soak): `bin/linkit all` as a subprocess, so its RSS is its
// own, under checkout upserts, reads, an import every so often and a hostile
// client at once, for a long time. It reports latency and memory every
// interval and fails when they leave their bounds, when any legitimate
// request meets a 5xx or a timeout, when a hostile request is not refused
// (4xx) or cut, or when an accepted job or import never completes.

type soakConfig struct {
	duration       time.Duration
	interval       time.Duration
	binary         string
	databaseURL    string
	redisURL       string
	customers      int
	upsertClients  int
	readClients    int
	importRows     int
	importEvery    time.Duration
	serverTimeout  time.Duration
	drain          time.Duration
	maxUpsertP99   time.Duration
	maxReadP99     time.Duration
	maxRSSMB       float64
	maxRSSGrowthMB float64
	noHostile      bool
	migrated       bool // tests: the database is a fresh migrated clone; no reset
}

func soakFlags(fs *flag.FlagSet, c *soakConfig, env func(name, def string) string) {
	fs.DurationVar(&c.duration, "soak", 0, "run the mixed-load soak for this long instead of the suites (make soak)")
	fs.DurationVar(&c.interval, "soak-interval", time.Minute, "soak: report a line this often")
	fs.StringVar(&c.binary, "soak-binary", "bin/linkit", "soak: the linkit binary run as `linkit all` (make build)")
	fs.StringVar(&c.databaseURL, "soak-database-url", env("LINKIT_SOAK_DATABASE_URL",
		"postgres://postgres@127.0.0.1:5432/linkit_bench_soak?sslmode=disable"),
		"soak: database, dropped and recreated (its name must contain \"bench\") (LINKIT_SOAK_DATABASE_URL)")
	fs.StringVar(&c.redisURL, "soak-redis-url", env("LINKIT_SOAK_REDIS_URL", "redis://127.0.0.1:6379/11"),
		"soak: Redis of the service (LINKIT_SOAK_REDIS_URL)")
	fs.IntVar(&c.customers, "soak-customers", 100_000, "soak: customers loaded before the run")
	fs.IntVar(&c.upsertClients, "soak-upsert-clients", 8, "soak: concurrent checkout (upsert) clients")
	fs.IntVar(&c.readClients, "soak-read-clients", 4, "soak: concurrent read clients (lookup, search, get, history)")
	fs.IntVar(&c.importRows, "soak-import-rows", 30_000, "soak: rows of each import")
	fs.DurationVar(&c.importEvery, "soak-import-every", time.Minute, "soak: an import starts this often (or when the last ends)")
	fs.DurationVar(&c.serverTimeout, "soak-server-timeout", 10*time.Second,
		"soak: the service's read, read-header, idle and upload-progress timeouts (short, so hostile connections cycle)")
	fs.DurationVar(&c.drain, "soak-drain", 3*time.Minute, "soak: how long accepted jobs and imports may take to finish after the load")
	fs.DurationVar(&c.maxUpsertP99, "soak-max-upsert-p99", time.Second, "soak: fail above this overall upsert p99")
	fs.DurationVar(&c.maxReadP99, "soak-max-read-p99", time.Second, "soak: fail above this overall read p99")
	fs.Float64Var(&c.maxRSSMB, "soak-max-rss-mb", 384, "soak: fail when the service's peak RSS (VmHWM) passes this")
	fs.Float64Var(&c.maxRSSGrowthMB, "soak-max-rss-growth-mb", 64, "soak: fail when RSS at the last interval exceeds the first by more")
	fs.BoolVar(&c.noHostile, "soak-no-hostile", false, "soak: without the hostile client")
}

const (
	soakOrg        = "org_soak"
	soakHostileOrg = "org_soak_hostile"
	soakAdminToken = "soak-admin"
)

// latencies gathers one class of requests: the current interval and the run.
type latencies struct {
	mu        sync.Mutex
	cur, all  []time.Duration
	e5xx, tmo int
	unexp     int
	curErr    [2]int
}

func (l *latencies) record(d time.Duration, status int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cur = append(l.cur, d)
	switch {
	case err != nil:
		l.tmo++
		l.curErr[1]++
	case status >= 500:
		l.e5xx++
		l.curErr[0]++
	case status >= 300:
		l.unexp++
	}
}

// take ends an interval: its latencies and errors.
func (l *latencies) take() ([]time.Duration, [2]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, errs := l.cur, l.curErr
	l.all = append(l.all, cur...)
	l.cur, l.curErr = nil, [2]int{}
	return cur, errs
}

// quantiles returns p50 and p99 in ms (sorting d).
func quantiles(d []time.Duration) (float64, float64) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	q := func(p float64) float64 { return ms(d[min(max(int(p*float64(len(d))+0.5)-1, 0), len(d)-1)]) }
	return q(0.50), q(0.99)
}

// soakRun holds the running soak.
type soakRun struct {
	cfg     config
	sc      soakConfig
	g       *gen
	st      *stack // the legitimate client (baseURL, key, http)
	proc    *linkitProcess
	pool    *pgxpool.Pool
	upserts latencies
	reads   latencies
	byKind  [len(readKinds)]latencies // the reads again, by kind
	u       *upserts                  // the upsert draw; its next is the next unused generator index (imports take from it too)
	host    *hostile

	importsStarted, importsCompleted atomic.Int64
	importMu                         sync.Mutex
	importProblems                   []string
	maxRSS, maxHeap                  atomic.Uint64 // bytes
}

func runSoak(ctx context.Context, cfg config, stdout io.Writer, logf func(string, ...any)) (*soakSummary, error) {
	sc := cfg.soak
	if sc.customers < 1000 {
		return nil, fmt.Errorf("-soak-customers must be at least 1000")
	}
	r := &soakRun{cfg: cfg, sc: sc, g: newGen(cfg.seed, soakOrg, sc.customers)}
	for _, n := range r.g.checkFormats("US", 2000) {
		logf("%s", n)
	}
	keys, err := r.prepare(ctx, logf)
	if err != nil {
		return nil, err
	}
	defer r.pool.Close()

	logDir, err := os.MkdirTemp("", "linkit-soak")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(logDir)
	logPath := filepath.Join(logDir, "linkit.log")
	r.proc, err = startLinkit(ctx, sc, logPath)
	if err != nil {
		return nil, err
	}
	defer r.proc.stop()
	r.st = &stack{baseURL: r.proc.baseURL, apiKey: keys[0], http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 5 * time.Second, DisableCompression: true},
	}}
	if err := r.st.connectAPI(); err != nil {
		return nil, err
	}
	r.host = newHostile(r.proc.addr, keys[1], sc.serverTimeout)
	logf("soak: linkit all (pid %d) on %s, %d customers, %v; log %s", r.proc.cmd.Process.Pid, r.proc.addr, sc.customers, sc.duration, logPath)

	sum := &soakSummary{}
	start := time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, sc.duration)
	defer stopLoad()
	var load, background sync.WaitGroup
	r.u = &upserts{st: r.st, g: r.g}
	r.u.next.Store(int64(sc.customers))
	for c := range sc.upsertClients {
		load.Go(func() { r.upsertLoop(ctx, loadCtx, rand.New(rand.NewPCG(cfg.seed+7, uint64(c)))) })
	}
	for c := range sc.readClients {
		load.Go(func() { r.readLoop(ctx, loadCtx, rand.New(rand.NewPCG(cfg.seed+11, uint64(c)))) })
	}
	background.Go(func() { r.importLoop(ctx, loadCtx, logDir); logf("soak: imports done") })
	if !sc.noHostile {
		background.Go(func() { r.host.run(loadCtx); logf("soak: hostile client done") })
	}
	memDone := make(chan struct{})
	go func() { defer close(memDone); r.sampleMemory(loadCtx) }()

	// One line per interval.
	fmt.Fprintf(stdout, "soak: %v, %d upsert + %d read clients, a %d-row import every %v, hostile client %v; bounds: upsert/read p99 %v/%v, peak RSS %.0f MB, growth %.0f MB\n",
		sc.duration, sc.upsertClients, sc.readClients, sc.importRows, sc.importEvery, !sc.noHostile, sc.maxUpsertP99, sc.maxReadP99, sc.maxRSSMB, sc.maxRSSGrowthMB)
	fmt.Fprintln(stdout, "elapsed   upserts/s  upsert p50/p99 ms   reads/s  read p50/p99 ms   imports  5xx  timeouts  hostile(bad)  RSS MB (peak)  heap MB")
	tick := time.NewTicker(sc.interval)
	last := start
	for done := false; !done; {
		select {
		case <-tick.C:
		case <-loadCtx.Done():
			done = true
		}
		if done && time.Since(last) < sc.interval/4 && len(sum.Intervals) > 0 {
			break // a sliver of an interval says nothing; its requests count in the summary
		}
		iv := r.interval(ctx, time.Since(start), time.Since(last))
		last = time.Now()
		sum.Intervals = append(sum.Intervals, iv)
		fmt.Fprintf(stdout, "%7s  %9.1f  %7.1f / %-7.1f  %8.1f  %6.1f / %-7.1f  %7d  %3d  %8d  %6d (%d)  %5.0f (%4.0f)  %7.0f\n",
			iv.Elapsed.Round(time.Second), iv.UpsertRPS, iv.UpsertP50, iv.UpsertP99, iv.ReadRPS,
			iv.ReadP50, iv.ReadP99, iv.ImportsDone, iv.Errors5xx, iv.Timeouts, iv.HostileN, iv.HostileBad, iv.RSSMB, iv.HWMMB, iv.HeapMB)
	}
	tick.Stop()
	load.Wait()
	<-memDone
	sum.Duration = time.Since(start).Round(time.Second)
	// Latencies that completed after the last line still count.
	r.upserts.take()
	r.reads.take()
	logf("soak: load stopped; waiting for the running import, hostile connections and accepted jobs (up to %v)", sc.drain)
	drainCtx, stopDrain := context.WithTimeout(ctx, sc.drain)
	defer stopDrain()
	waited := make(chan struct{})
	go func() { background.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-drainCtx.Done():
		r.importProblem("the last import or a hostile connection did not end within the drain")
	}
	if err := r.drainJobs(drainCtx, sum); err != nil {
		return nil, err
	}

	logf("soak: drained; stopping the service")
	r.summarize(ctx, sum)
	// VmHWM is updated lazily: a sampled VmRSS can be a little above it.
	sum.PeakRSSMB = max(r.proc.memory().hwm, sum.MaxRSSMB)
	r.proc.stop()
	logf("soak: stopped")
	if fi, err := os.Stat(logPath); err == nil {
		sum.LogMB = float64(fi.Size()) / (1 << 20)
	}
	printSoakSummary(stdout, sc, sum)
	return sum, nil
}

// prepare recreates the soak database with its customers, the organization
// under load and the hostile one; it returns their keys.
func (r *soakRun) prepare(ctx context.Context, logf func(string, ...any)) ([2]string, error) {
	var keys [2]string
	if !r.sc.migrated {
		logf("soak: recreating the database")
		if err := resetDatabase(ctx, r.sc.databaseURL); err != nil {
			return keys, err
		}
	}
	pc, err := pgxpool.ParseConfig(r.sc.databaseURL)
	if err != nil {
		return keys, err
	}
	pc.MaxConns = 4
	if r.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return keys, err
	}
	store, err := postgres.Open(ctx, r.sc.databaseURL, postgres.Options{MaxConns: 2})
	if err != nil {
		return keys, err
	}
	defer store.Close()
	for i, org := range []*customer.Organization{
		{ID: soakOrg, Name: "Soak Retail", DefaultRegion: "US"},
		{ID: soakHostileOrg, Name: "Soak Hostile", DefaultRegion: "US"},
	} {
		if err := store.CreateOrganization(ctx, org); err != nil {
			return keys, err
		}
		k, err := store.CreateAPIKey(ctx, org.ID)
		if err != nil {
			return keys, err
		}
		keys[i] = k.Secret
	}
	logf("soak: loading %d customers", r.sc.customers)
	if _, err := loadCustomers(ctx, r.pool, r.g, func(string, ...any) {}); err != nil {
		return keys, fmt.Errorf("load: %w", err)
	}
	return keys, nil
}

// upsertLoop is one checkout client: half new people, half returning ones
// typed differently (the upsert suite's draw). It stops when load ends but
// lets its request in flight finish (ctx): a checkout cut between the job's
// row and its task would wait for the reconciler and stretch the drain.
func (r *soakRun) upsertLoop(ctx, load context.Context, rng *rand.Rand) {
	for load.Err() == nil {
		c := r.u.draw(rng)
		t0 := time.Now()
		status, body := r.u.post(ctx, c.body)
		if ctx.Err() != nil {
			return // interrupted, not the service's doing
		}
		var err error
		if status == 0 {
			err = fmt.Errorf("%s", body)
		}
		r.upserts.record(time.Since(t0), status, err)
	}
}

// readLoop is one reading client: lookups by email and phone, a search,
// a customer and its history, over the loaded customers.
func (r *soakRun) readLoop(ctx, load context.Context, rng *rand.Rand) {
	for load.Err() == nil {
		p := r.g.person(rng.IntN(r.g.n))
		var path string
		kind := rng.IntN(len(readKinds))
		switch kind {
		case 0:
			path = "/api/v1/customers/lookup?email=" + url.QueryEscape(emailVariant(p.Email, rng))
		case 1:
			path = "/api/v1/customers/lookup?phone=" + url.QueryEscape(r.g.phoneVariant(p, rng))
		case 2:
			path = "/api/v1/customers?limit=20&search=" + url.QueryEscape(searchTerm(p, rng))
		case 3:
			path = "/api/v1/customers/" + p.ID
		default:
			path = "/api/v1/customers/" + p.ID + "/history"
		}
		t0 := time.Now()
		status := r.st.get(ctx, path)
		if ctx.Err() != nil {
			return
		}
		var err error
		if status == 0 {
			err = fmt.Errorf("GET %s: transport error", path)
		}
		r.reads.record(time.Since(t0), status, err)
		r.byKind[kind].record(time.Since(t0), status, err)
	}
}

// readKinds name readLoop's requests, in its order.
var readKinds = [...]string{"lookup-email", "lookup-phone", "search", "get", "history"}

func (r *soakRun) importProblem(s string) {
	r.importMu.Lock()
	r.importProblems = append(r.importProblems, s)
	r.importMu.Unlock()
}

// importLoop uploads a generated file (fixed seed, new rows and repeats of
// loaded customers) every importEvery until the load stops, each waited for
// to complete; the last one may finish during the drain.
func (r *soakRun) importLoop(ctx, loadCtx context.Context, dir string) {
	for k := 0; loadCtx.Err() == nil; k++ {
		t0 := time.Now()
		first := r.u.next.Add(int64(r.sc.importRows)) - int64(r.sc.importRows)
		file := filepath.Join(dir, "import.csv")
		if err := writeImportFile(file, r.g, r.sc.importRows, int(first), r.cfg.seed+uint64(k)); err != nil {
			r.importProblem("generate import: " + err.Error())
			return
		}
		r.importsStarted.Add(1)
		id, err := r.st.uploadImport(ctx, file)
		if err != nil {
			r.importProblem(fmt.Sprintf("import %d: %v", k, err))
		} else if im, err := r.st.waitImport(ctx, id, func(string, ...any) {}); err != nil {
			r.importProblem(fmt.Sprintf("import %s: %v", id, err))
		} else if im.Status != customer.ImportCompleted {
			r.importProblem(fmt.Sprintf("import %s ended %s: %s", id, im.Status, im.Error))
		} else {
			r.importsCompleted.Add(1)
		}
		select {
		case <-loadCtx.Done():
		case <-time.After(time.Until(t0.Add(r.sc.importEvery))):
		}
	}
}

// sampleMemory keeps the largest RSS and Go heap seen, every second.
func (r *soakRun) sampleMemory(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		m := r.proc.memory()
		if b := uint64(m.rss * (1 << 20)); b > r.maxRSS.Load() {
			r.maxRSS.Store(b)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// interval closes one reporting interval.
func (r *soakRun) interval(ctx context.Context, elapsed, length time.Duration) soakInterval {
	ul, ue := r.upserts.take()
	rl, re := r.reads.take()
	iv := soakInterval{Elapsed: elapsed, Upserts: len(ul), Reads: len(rl),
		UpsertRPS: float64(len(ul)) / length.Seconds(), ReadRPS: float64(len(rl)) / length.Seconds(),
		ImportsDone: int(r.importsCompleted.Load()), Errors5xx: ue[0] + re[0], Timeouts: ue[1] + re[1]}
	iv.UpsertP50, iv.UpsertP99 = quantiles(ul)
	iv.ReadP50, iv.ReadP99 = quantiles(rl)
	iv.HostileN, iv.HostileBad = r.host.totals()
	m := r.proc.memory()
	iv.RSSMB, iv.HWMMB = m.rss, m.hwm
	prom, _ := r.proc.metrics(ctx)
	iv.HeapMB, iv.PromRSS = prom["go_memstats_heap_inuse_bytes"]/(1<<20), prom["process_resident_memory_bytes"]/(1<<20)
	if b := uint64(iv.HeapMB * (1 << 20)); b > r.maxHeap.Load() {
		r.maxHeap.Store(b)
	}
	return iv
}

// drainJobs waits for every job and import of the organization under load
// to leave the queue, then counts what did not complete.
func (r *soakRun) drainJobs(ctx context.Context, sum *soakSummary) error {
	for {
		var pending int
		err := r.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM jobs WHERE organization_id = $1 AND state = 'queued')
			+ (SELECT count(*) FROM imports WHERE organization_id = $1 AND status IN ('queued', 'reading', 'processing'))`, soakOrg).Scan(&pending)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("count pending jobs: %w", err)
		}
		if pending == 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	qctx := context.WithoutCancel(ctx)
	if err := r.pool.QueryRow(qctx, `SELECT count(*), count(*) FILTER (WHERE state <> 'completed') FROM jobs WHERE organization_id = $1`,
		soakOrg).Scan(&sum.JobsAccepted, &sum.JobsIncomplete); err != nil {
		return fmt.Errorf("count jobs: %w", err)
	}
	rows, err := r.pool.Query(qctx, `SELECT id, status, error FROM imports WHERE organization_id = $1 AND status <> 'completed'`, soakOrg)
	if err != nil {
		return fmt.Errorf("list imports: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, status, msg string
		if err := rows.Scan(&id, &status, &msg); err != nil {
			return err
		}
		r.importProblem(fmt.Sprintf("import %s is %s %s", id, status, trunc(msg, 200)))
	}
	return rows.Err()
}

func (r *soakRun) summarize(ctx context.Context, sum *soakSummary) {
	sum.Upserts, sum.Reads = len(r.upserts.all), len(r.reads.all)
	sum.UpsertP50, sum.UpsertP99 = quantiles(r.upserts.all)
	sum.ReadP50, sum.ReadP99 = quantiles(r.reads.all)
	for i := range r.byKind {
		l, _ := r.byKind[i].take()
		p50, p99 := quantiles(l)
		sum.ReadKinds = append(sum.ReadKinds, fmt.Sprintf("%s %d p50 %.1f p99 %.1f ms", readKinds[i], len(l), p50, p99))
	}
	sum.Errors5xx = r.upserts.e5xx + r.reads.e5xx
	sum.Timeouts = r.upserts.tmo + r.reads.tmo
	sum.Unexpected = r.upserts.unexp + r.reads.unexp
	sum.ImportsStarted, sum.ImportsCompleted = int(r.importsStarted.Load()), int(r.importsCompleted.Load())
	r.importMu.Lock()
	sum.ImportProblems = slices.Clone(r.importProblems)
	r.importMu.Unlock()
	sum.Hostile, sum.HostileBad = r.host.snapshot()
	sum.MaxRSSMB = float64(r.maxRSS.Load()) / (1 << 20)
	sum.MaxHeapMB = float64(r.maxHeap.Load()) / (1 << 20)
	if n := len(sum.Intervals); n > 0 {
		sum.FirstRSSMB, sum.LastRSSMB = sum.Intervals[0].RSSMB, sum.Intervals[n-1].RSSMB
	}
	if b, err := r.proc.metricsText(ctx); err == nil {
		sum.MetricsKB = float64(len(b)) / 1024
	}
}
