package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocarina/gocsv"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/customer"
)

// importRow is one line of the generated import file (gocsv writes the
// header from the tags).
type importRow struct {
	FirstName string `csv:"First Name"`
	LastName  string `csv:"Last Name"`
	Email     string `csv:"Email"`
	Phone     string `csv:"Phone"`
	Company   string `csv:"Company"`
	City      string `csv:"City"`
}

const baseImportText = "import: COPY of the same file (one stream, server-side CSV parsing, as psql \\copy) into an " +
	"unlogged table, then one set-based email-or-phone merge statement (the issue's baseline): rows deduplicated " +
	"by email else phone digits, joined to a table of the same existing customers (unique email index, phone-digits " +
	"index), matches updated (fill blanks) and the rest inserted — emails lower-cased in SQL, phones reduced to " +
	"digits (no phonenumbers), no identities table, aliases, tags, audit or trigram index"

// writeImportFile generates rows lines with a fixed seed: ~69% new
// identities, ~30% repeats of an identity seen before (half an existing
// customer, half an earlier row of the file) in messy formats, ~1% rows
// with no valid email or phone.
func writeImportFile(path string, g *gen, rows int, firstNew int, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	ch := make(chan any, 1024)
	errc := make(chan error, 1)
	go func() { errc <- gocsv.MarshalChan(ch, gocsv.DefaultCSVWriter(w)) }()
	rng := rand.New(rand.NewPCG(seed, 0x1b9))
	next := firstNew
	for i := range rows {
		var r importRow
		roll := rng.IntN(100)
		switch {
		case roll == 0: // invalid: no usable identifier
			r = importRow{FirstName: "Nobody", Email: "not-an-email", Phone: "12"}
		case roll <= 15 && g.n > 0: // an existing customer, typed differently
			p := g.person(rng.IntN(g.n))
			r = importRow{FirstName: p.FirstName, LastName: p.LastName, Email: emailVariant(p.Email, rng), Phone: g.phoneVariant(p, rng)}
		case roll <= 30 && next > firstNew: // an earlier row of this file
			p := g.person(firstNew + rng.IntN(next-firstNew))
			r = importRow{FirstName: p.FirstName, LastName: p.LastName, Email: emailVariant(p.Email, rng)}
			if rng.IntN(2) == 0 {
				r.Email, r.Phone = "", g.phoneVariant(p, rng)
			}
		default:
			p := g.person(next)
			next++
			r = importRow{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Phone: g.phoneVariant(p, rng)}
		}
		r.Company = "Co " + strconv.Itoa(i%97)
		r.City = "City " + strconv.Itoa(i%301)
		ch <- r
	}
	close(ch)
	if err := <-errc; err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// importSuite imports a generated file into the loaded organization end to
// end (upload → completed and searchable) and compares with COPY + one
// set-based merge.
func importSuite(ctx context.Context, cfg config, st *stack, pool *pgxpool.Pool, g *gen, rep *report, nextIndex *int64,
	snap *snapshot, logf func(string, ...any)) error {
	rep.Baselines = append(rep.Baselines, baseImportText)
	dir, err := os.MkdirTemp("", "linkit-bench-import")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "customers.csv")
	logf("import: generating %d rows", cfg.importRows)
	if err := writeImportFile(file, g, cfg.importRows, int(*nextIndex), cfg.seed); err != nil {
		return fmt.Errorf("generate import file: %w", err)
	}
	*nextIndex += int64(cfg.importRows)
	fi, _ := os.Stat(file)

	// Baseline first, so the service's import does not warm its caches.
	logf("import: baseline (COPY + one INSERT … ON CONFLICT)")
	cpuB0 := takeCPUSnapshot()
	baseSecs, err := importBaseline(ctx, pool, file)
	if err != nil {
		return fmt.Errorf("import baseline: %w", err)
	}
	var baseCPU cpuDelta
	baseCPU.add(cpuB0, takeCPUSnapshot())

	ir := &importReport{Rows: cfg.importRows, NaiveSeconds: baseSecs}
	rep.Import = ir
	var same *sameEndRun
	if snap != nil && cfg.importSameEnd {
		rep.Baselines = append(rep.Baselines, baseSameEndText)
		logf("import: same-end-state baseline (a copy of the loaded database, set-based SQL)")
		if same, err = runSameEnd(ctx, snap, file, cfg.importConcurrency, logf); err != nil {
			return fmt.Errorf("import same-end-state baseline: %w", err)
		}
		ir.SameEndSeconds, ir.SameEndSteps = same.secs, same.steps
	}
	var prodBefore map[string]int64
	if same != nil {
		if prodBefore, err = countRows(ctx, pool); err != nil {
			return fmt.Errorf("count rows: %w", err)
		}
	}

	// The worker starts after the baselines: what it still has to do (say,
	// fuzzy scoring after the upsert suite) must not slow them down.
	st.startWorker()
	logf("import: the service (%d rows, %.0f MB)", cfg.importRows, float64(fi.Size())/1e6)
	statements := resetStatements(ctx, pool)
	stopProfile := func() {}
	if cfg.importCPUProfile != "" {
		f, err := os.Create(cfg.importCPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		stopProfile = sync.OnceFunc(func() { pprof.StopCPUProfile(); f.Close() })
		defer stopProfile()
	}
	resetPeakRSS()
	cpu0 := takeCPUSnapshot()
	start := time.Now()
	id, err := st.uploadImport(ctx, file)
	if err != nil {
		return err
	}
	uploaded := time.Since(start)
	cpu1 := takeCPUSnapshot()
	if cfg.searchDuringImport {
		if err := searchDuringImport(ctx, cfg, st, pool, g, rep, id, nextIndex, logf); err != nil {
			return err
		}
	}
	im, err := st.waitImport(ctx, id, logf)
	if err != nil {
		return err
	}
	if im.Status != customer.ImportCompleted {
		return fmt.Errorf("import %s ended %s: %s", id, im.Status, im.Error)
	}
	secs := time.Since(start).Seconds()
	if im.Finished != nil && im.Finished.After(start) {
		secs = im.Finished.Sub(start).Seconds() // not rounded up to the next poll
	}
	// The import's customers are searchable once the trigram index's
	// pending list is merged: the worker starts that as the import
	// completes, and this flush waits for it (the index's metapage lock),
	// so the figure counts it — up to a poll interval (1 s) too much.
	if _, err := pool.Exec(ctx, `SELECT gin_clean_pending_list('customers_search'::regclass)`); err != nil {
		return fmt.Errorf("flush the search index: %w", err)
	}
	flushed := time.Since(start).Seconds()
	// Then the worker analyzes the customers table
	// (postgres.SettleImportedCustomers) for the searches that follow:
	// counted too, once an ANALYZE of it ends after the import did.
	if im.Finished != nil && im.Counts["created"]+im.Counts["updated"] >= 20000 {
		if err := waitSettled(ctx, pool, *im.Finished); err != nil {
			logf("import: %v", err)
			rep.Notes = append(rep.Notes, "import: "+err.Error())
		}
	}
	completed, searchable := secs, max(secs, time.Since(start).Seconds())
	secs = searchable
	cpu2 := takeCPUSnapshot()
	stopProfile()
	peak := peakRSSMB()
	var cpu cpuDelta
	cpu.add(cpu0, cpu2)
	api := stats{Requests: cfg.importRows, RPS: float64(cfg.importRows) / secs, P50: secs * 1000,
		CPU: cpu.perRequest(cfg.importRows)}
	base := stats{Requests: cfg.importRows, RPS: float64(cfg.importRows) / baseSecs, P50: baseSecs * 1000,
		CPU: baseCPU.perRequest(cfg.importRows)}
	r := newRow("import", fmt.Sprintf("import %d rows into %d customers (rows/s; p50 = total ms)", cfg.importRows, g.n), 1, api, base)
	r.Target = &target{Text: "≥ 0.35× the naive baseline and peak RSS < 256 MB (issue 24)",
		Pass: r.Ratio.RPS >= 0.35 && peak < 256}
	rep.Rows = append(rep.Rows, r)
	ir.ProductSeconds, ir.RatioNaive = secs, r.Ratio.RPS
	if same != nil {
		sr := newRow("import", fmt.Sprintf("import %d rows vs same end state", cfg.importRows), 1, api,
			stats{Requests: cfg.importRows, RPS: float64(cfg.importRows) / same.secs, P50: same.secs * 1000, CPU: same.cpu})
		sr.Target = &target{Text: "≥ 0.7× the same-end-state baseline (issue 24)", Pass: sr.Ratio.RPS >= 0.7}
		rep.Rows = append(rep.Rows, sr)
		ir.RatioSameEnd = sr.Ratio.RPS
		logf("import: vs same end state: %s", sr.brief())
		prodAfter, err := countRows(ctx, pool)
		if err != nil {
			return fmt.Errorf("count rows: %w", err)
		}
		ir.RowCounts = compareCounts(prodBefore, prodAfter, same.before, same.after)
		lines, differ := countsTable(ir.RowCounts)
		for _, l := range lines {
			logf("import:   %s", l)
		}
		ir.CountsDiffer = differ
		note := "import: rows added per table, product / same-end-state baseline: " + countsBrief(ir.RowCounts)
		if len(differ) > 0 {
			note = "WARNING: the same-end-state baseline does not write what the product does (>3% apart: " +
				strings.Join(differ, "; ") + "); its ratio is not like for like. " + note
			logf("import: WARNING: row counts differ by more than 3%%: %s", strings.Join(differ, "; "))
		}
		rep.Notes = append(rep.Notes, note)
		rep.Notes = append(rep.Notes, "import: same-end-state baseline "+same.brief())
	}
	if t := ir.cpuText(api.CPU, base.CPU, same); t != "" {
		logf("import: %s", t)
		rep.Notes = append(rep.Notes, "import: "+t)
	}
	// Where the time went, from the import's own timestamps: the plan ends
	// shortly before the first chunk does.
	var untilFirstChunk, merge float64
	if err := pool.QueryRow(ctx, `SELECT extract(epoch FROM min(c.finished) - i.read_done),
			extract(epoch FROM i.finished - i.read_done)
		FROM imports i JOIN import_chunks c ON c.organization_id = i.organization_id AND c.import_id = i.id
		WHERE i.organization_id = $1 AND i.id = $2 GROUP BY i.read_done, i.finished`, benchOrg, id).Scan(&untilFirstChunk, &merge); err != nil {
		return fmt.Errorf("import phases: %w", err)
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("import: upload (read, normalize, stage) %.1f s of %.1f s, then plan + first chunk %.1f s, "+
		"plan + merge %.1f s, completed at %.1f s, searchable (trigram pending list merged) at %.1f s, customers analyzed at %.1f s; "+
		"peak RSS of the server+worker process during the import %.0f MB; counts %+v",
		uploaded.Seconds(), secs, untilFirstChunk, merge, completed, max(completed, flushed), searchable, peak, im.Counts))
	rep.Notes = append(rep.Notes, "import: CPU seconds, upload / plan + merge: "+cpuSplit(cpu0, cpu1)+" / "+cpuSplit(cpu1, cpu2))
	rep.Notes = append(rep.Notes, fmt.Sprintf("import: chunks merged beside a busy API %.0f, import slots' wait for it %.1f s "+
		"(worker metrics, the whole run so far)",
		counterValue(st.Registry, "linkit_import_chunks_beside_requests_total"), counterValue(st.Registry, "linkit_import_yield_seconds_total")))
	if statements {
		rep.Notes = append(rep.Notes, "import: "+topStatements(ctx, pool, 16))
	}
	logf("import: %s", r.brief())
	if cfg.selected("search") {
		// Right after the import (issue 24), before any revert: the new
		// customers' heap pages are not yet all-visible, nor vacuumed.
		if err := lookupSuite(ctx, "search", cfg, st, pool, g, rep, logf); err != nil {
			return fmt.Errorf("search suite: %w", err)
		}
	}
	if cfg.revert {
		if err := revertImport(ctx, cfg, st, rep, id, secs, logf); err != nil {
			return err
		}
	}
	if len(cfg.importCPUs) > 0 {
		return cpuScaling(ctx, cfg, st, snap, file, rep, logf)
	}
	return nil
}

// resetStatements clears pg_stat_statements when the server loads it
// (shared_preload_libraries), so the import's statements can be listed
// after; it reports whether they can.
func resetStatements(ctx context.Context, pool *pgxpool.Pool) bool {
	var libs string
	if pool.QueryRow(ctx, `SELECT current_setting('shared_preload_libraries')`).Scan(&libs) != nil ||
		!strings.Contains(libs, "pg_stat_statements") {
		return false
	}
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return false
	}
	// This database's entries only: other runs on the server keep theirs.
	_, err := pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
	return err == nil
}

// topStatements lists the n statements that took the most time since
// resetStatements (summed over their calls, so concurrent chunks add up).
func topStatements(ctx context.Context, pool *pgxpool.Pool, n int) string {
	// This database's statements only: other databases on the server (the
	// baselines' copies, other runs) share the view.
	rows, err := pool.Query(ctx, `SELECT (total_exec_time + total_plan_time) / 1000, calls, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 60)
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time + total_plan_time DESC LIMIT $1`, n)
	if err != nil {
		return "statement times unavailable: " + err.Error()
	}
	var parts []string
	var secs float64
	var calls, nrows int64
	var query string
	_, err = pgx.ForEachRow(rows, []any{&secs, &calls, &nrows, &query}, func() error {
		parts = append(parts, fmt.Sprintf("%.1f s %s… (%d calls, %d rows)", secs, query, calls, nrows))
		return nil
	})
	if err != nil {
		return "statement times unavailable: " + err.Error()
	}
	return "statement time (pg_stat_statements, summed over calls): " + strings.Join(parts, "; ")
}

// cpuSplit says where the CPU went between two snapshots: this process
// (server and worker), the database's backends, and the rest of the machine
// (PostgreSQL's WAL writer and checkpointer, the kernel).
func cpuSplit(a, b cpuSnapshot) string {
	var d cpuDelta
	d.add(a, b)
	return fmt.Sprintf("go %.1f, postgres backends %.1f, other %.1f of %.1f available (%.0f%% busy)",
		d.self, d.pg, max(d.busy-d.self-d.pg-d.redis, 0), d.total, 100*d.busy/max(d.total, 1e-9))
}

// importView is the part of the import object the suite reads.
type importView struct {
	ID       string                `json:"id"`
	Status   customer.ImportStatus `json:"status"`
	Error    string                `json:"error"`
	Counts   map[string]int        `json:"counts"`
	Prog     float64               `json:"progress"`
	Finished *time.Time            `json:"finished"`
}

// viewOf is the suite's view of an import the API answered.
func viewOf(im client.Import) *importView {
	v := &importView{ID: im.Id, Status: customer.ImportStatus(im.Status), Finished: im.Finished, Counts: map[string]int{}}
	if im.Error != nil {
		v.Error = *im.Error
	}
	if im.Progress != nil {
		v.Prog = float64(*im.Progress)
	}
	c := im.Counts
	for k, n := range map[string]*int{"rows": c.Rows, "processed": c.Processed, "created": c.Created,
		"updated": c.Updated, "unchanged": c.Unchanged, "invalid": c.Invalid} {
		if n != nil {
			v.Counts[k] = *n
		}
	}
	maps.Copy(v.Counts, c.AdditionalProperties)
	return v
}

func (s *stack) uploadImport(ctx context.Context, file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// An upload of a big file may take longer than an ordinary call.
	up, err := client.New(s.baseURL, s.apiKey, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Minute}))
	if err != nil {
		return "", err
	}
	res, err := client.OK(up.CreateImportWithBodyWithResponse(ctx, nil, "text/csv", f))
	if err != nil {
		return "", fmt.Errorf("upload: %w", err)
	}
	if res.JSON202 == nil {
		return "", fmt.Errorf("upload: status %d: %s", res.StatusCode(), trunc(string(res.Body), 300))
	}
	return res.JSON202.Data.Id, nil
}

func (s *stack) waitImport(ctx context.Context, id string, logf func(string, ...any)) (*importView, error) {
	last := time.Now()
	for {
		res, err := client.OK(s.api.GetImportWithResponse(ctx, id))
		if err != nil {
			return nil, err
		}
		if res.JSON200 == nil {
			return nil, fmt.Errorf("import %s: unreadable answer: %s", id, trunc(string(res.Body), 300))
		}
		im := viewOf(res.JSON200.Data)
		switch im.Status {
		case customer.ImportCompleted, customer.ImportFailed, customer.ImportCancelled:
			return im, nil
		}
		if time.Since(last) > 5*time.Second {
			logf("import: %s %.0f%%", im.Status, im.Prog*100)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second): // as often as `linkit import` polls
		}
	}
}

// importBaseline times COPY of the file into an unlogged table plus one
// set-based merge into a table of the existing customers.
func importBaseline(ctx context.Context, pool *pgxpool.Pool, file string) (float64, error) {
	setup := []string{
		`DROP TABLE IF EXISTS bench_import_raw, bench_merge`,
		`CREATE UNLOGGED TABLE bench_import_raw (n bigserial, first_name text, last_name text, email text, phone text, company text, city text)`,
		`CREATE TABLE bench_merge (organization_id text NOT NULL, id bigserial, email text, phone text, first_name text,
			last_name text, company text, updated timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (organization_id, id))`,
		`INSERT INTO bench_merge (organization_id, email, phone, first_name, last_name, company)
			SELECT organization_id, nullif(email, ''), nullif(regexp_replace(phone, '[^0-9]', '', 'g'), ''),
				first_name, last_name, company_name FROM customers`,
		`CREATE UNIQUE INDEX ON bench_merge (organization_id, email)`,
		`CREATE INDEX ON bench_merge (organization_id, phone)`,
		`VACUUM ANALYZE bench_merge`,
	}
	for _, q := range setup {
		if _, err := pool.Exec(ctx, q); err != nil {
			return 0, fmt.Errorf("%s: %w", strings.Fields(q)[0], err)
		}
	}
	defer pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS bench_import_raw, bench_merge`) //nolint:errcheck
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	start := time.Now()
	if _, err := conn.Conn().PgConn().CopyFrom(ctx, bufio.NewReaderSize(f, 1<<20),
		`COPY bench_import_raw (first_name, last_name, email, phone, company, city) FROM STDIN (FORMAT csv, HEADER)`); err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	if _, err := conn.Exec(ctx, `
		WITH src AS (
			SELECT DISTINCT ON (coalesce(e, p)) n, e, p, first_name, last_name, company FROM (
				SELECT n, CASE WHEN email LIKE '%@%.%' THEN lower(trim(email)) END AS e,
					nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '') AS p, first_name, last_name, company
				FROM bench_import_raw) r
			WHERE e IS NOT NULL OR length(p) >= 7
			ORDER BY coalesce(e, p), n),
		m AS (
			SELECT s.*, coalesce(be.id, bp.id) AS cid FROM src s
			LEFT JOIN bench_merge be ON be.organization_id = $1 AND be.email = s.e
			LEFT JOIN bench_merge bp ON bp.organization_id = $1 AND bp.phone = s.p),
		u AS (
			UPDATE bench_merge t SET first_name = coalesce(nullif(t.first_name, ''), m.first_name),
				last_name = coalesce(nullif(t.last_name, ''), m.last_name),
				company = coalesce(nullif(t.company, ''), m.company),
				phone = coalesce(t.phone, m.p), updated = now()
			FROM m WHERE t.organization_id = $1 AND t.id = m.cid)
		INSERT INTO bench_merge (organization_id, email, phone, first_name, last_name, company)
		SELECT $1, e, p, first_name, last_name, company FROM m WHERE cid IS NULL
		ON CONFLICT DO NOTHING`, benchOrg); err != nil {
		return 0, fmt.Errorf("merge: %w", err)
	}
	return time.Since(start).Seconds(), nil
}

// resetPeakRSS restarts the kernel's peak-RSS counter of this process
// (Linux: writing 5 to clear_refs resets VmHWM).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB reads VmHWM, this process's peak resident memory.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// waitSettled waits until the customers table was analyzed after an
// import that finished at finished (the worker does it), at most five
// minutes.
func waitSettled(ctx context.Context, pool *pgxpool.Pool, finished time.Time) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var done bool
		if err := pool.QueryRow(ctx, `SELECT coalesce(last_analyze > $1, false) FROM pg_stat_user_tables
			WHERE relname = 'customers'`, finished).Scan(&done); err != nil {
			return fmt.Errorf("wait for the customers' ANALYZE: %w", err)
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("customers not analyzed 5 minutes after the import completed: searches measured before it")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

const suiteDuringImport = "search during import"

// searchDuringImport measures the search workloads while the import merges
// its chunks: the trigram index's pending list, which every organization's
// index probe scans, grows with the import's new customers between merges.
func searchDuringImport(ctx context.Context, cfg config, st *stack, pool *pgxpool.Pool, g *gen, rep *report,
	id string, nextIndex *int64, logf func(string, ...any)) error {
	// From its first merged chunk: the plan before is one statement.
	for {
		var done bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM import_chunks
			WHERE organization_id = $1 AND import_id = $2 AND done)`, benchOrg, id).Scan(&done); err != nil {
			return fmt.Errorf("import chunks: %w", err)
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	logf("import: searches while it merges (API only)")
	if err := lookupSuite(ctx, suiteDuringImport, cfg, st, pool, g, rep, logf); err != nil {
		return fmt.Errorf("search during import: %w", err)
	}
	// And a checkout's find-or-create (new people past the import file's).
	u := &upserts{cfg: cfg, st: st, pool: pool, g: g}
	u.next.Store(*nextIndex)
	api := measure(ctx, 16, window{warmup: cfg.warmup, duration: cfg.duration}, cfg.seed+90_016, u.apiOp)
	r := newRow("upsert during import", "upsert (checkout, half new)", 16, api, stats{})
	r.Target = &target{Text: "p99 < 25 ms (quiet, issue 24)", Pass: api.P99 < 25}
	logf("upsert during import c=16 %s", r.brief())
	rep.Rows = append(rep.Rows, r)
	*nextIndex = u.next.Load()
	var status string
	var pending int64
	if err := pool.QueryRow(ctx, `SELECT status FROM imports WHERE organization_id = $1 AND id = $2`, benchOrg, id).Scan(&status); err != nil {
		return fmt.Errorf("import status: %w", err)
	}
	// Only where pgstattuple is installed (not by the service).
	_ = pool.QueryRow(ctx, `SELECT pending_pages FROM pgstatginindex('customers_search'::regclass)`).Scan(&pending)
	note := fmt.Sprintf("search during import: the import was %s when the searches ended", status)
	if pending > 0 {
		note += fmt.Sprintf(" (trigram pending list %d pages then)", pending)
	}
	if status != string(customer.ImportProcessing) {
		note += "; the later measurements were not all during the import"
	}
	logf("%s", note)
	rep.Notes = append(rep.Notes, note)
	return nil
}

// counterValue is a counter's value in reg (0 when absent).
func counterValue(reg prometheus.Gatherer, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
