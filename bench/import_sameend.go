package main

// The import suite's second baseline (issue 24): the product's end state
// for the same file, written by set-based SQL on a copy of the loaded
// database.

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
)

const baseSameEndText = "import, same end state: on a copy of the loaded database (CREATE DATABASE … TEMPLATE), the same " +
	"file read and normalized in Go (dedupe's email, phone and name normalizers, one goroutine per core, as the upload " +
	"does; counted in the time) and COPYed into an unlogged staging table, then set-based statements (the writes in as " +
	"many sessions at once as the service merges chunks, each one transaction) writing what the product's import " +
	"writes for those rows: new customers (the columns the import sets; every index " +
	"of customers, the trigram GIN's pending list merged at the end as the product does), their email and phone " +
	"identity rows, matched customers updated (fill blanks), their before-images in import_changes and the created customers' ids in " +
	"import_created (arrays), audit events (creations as arrays), the error report of unusable rows, one imports row; the triggers (fuzzy pending " +
	"rows) fire. Repeats within the file join the first row sharing their email or phone (one level: this " +
	"generator's repeats carry one of the first row's keys)"

// sameEndStep is one timed statement of the baseline.
type sameEndStep struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Rows    int64   `json:"rows"`
}

// sameEndResolve decides, in one session, where each row goes; $org and
// $imp are replaced by literals (CREATE TABLE AS takes no parameters). The
// tables are unlogged (the product's staging is not: the baseline may be
// cheaper) and visible to the sessions that write.
var sameEndResolve = []struct{ name, sql string }{
	// The window sorts of a million rows in memory: the chunks' setting (postgres/import_chunk.go).
	{"work_mem", `SET work_mem = '256MB'`},
	{"imports row", `INSERT INTO imports (organization_id, id, status, file_name, started, read_done, finished,
		rows, invalid) SELECT $org, $imp, 'completed', 'customers.csv', now(), now(), now(), count(*),
		count(*) FILTER (WHERE NOT ok) FROM bench_stage`},
	// Each usable row with the existing customer its email, else its phone, names.
	{"match existing", `CREATE UNLOGGED TABLE bench_rows AS
		SELECT s.n, s.id, s.first_name, s.last_name, s.email, s.email_key, s.phone, s.phone_key, s.phone_valid,
			s.company, s.city, coalesce(ie.customer_id, ip.customer_id) AS existing
		FROM bench_stage s
		LEFT JOIN customer_identities ie ON ie.organization_id = $org AND ie.kind = 'email' AND ie.value = s.email_key
		LEFT JOIN customer_identities ip ON ip.organization_id = $org AND ip.kind = 'phone' AND ip.value = s.phone_key
		WHERE s.ok`},
	// A new person is the first row of the file with its email or phone.
	{"new people", `CREATE UNLOGGED TABLE bench_new AS
		SELECT * FROM (SELECT r.*, least(
				CASE WHEN email_key IS NOT NULL THEN min(n) OVER (PARTITION BY email_key) END,
				CASE WHEN phone_key IS NOT NULL THEN min(n) OVER (PARTITION BY phone_key) END) AS leader
			FROM bench_rows r WHERE existing IS NULL) x
		WHERE leader = n`},
	// Fill blanks: the first row naming a customer gives what it lacks.
	{"matched customers", `CREATE UNLOGGED TABLE bench_hit AS
		SELECT c.id, h.n, CASE WHEN c.company_name = '' THEN h.company ELSE c.company_name END AS company,
			CASE WHEN h.city <> '' AND NOT c.attributes ? 'City' THEN c.attributes || jsonb_build_object('City', h.city)
				ELSE c.attributes END AS attributes,
			jsonb_strip_nulls(jsonb_build_object(
				'company_name', CASE WHEN c.company_name = '' AND h.company <> '' THEN jsonb_build_object('from', '', 'to', h.company) END,
				'attributes', CASE WHEN h.city <> '' AND NOT c.attributes ? 'City'
					THEN jsonb_build_object('from', c.attributes, 'to', c.attributes || jsonb_build_object('City', h.city)) END)) AS changes
		FROM (SELECT DISTINCT ON (existing) existing, n, company, city FROM bench_rows WHERE existing IS NOT NULL
			ORDER BY existing, n) h
		JOIN customers c ON c.organization_id = $org AND c.id = h.existing`},
	{"analyze", `ANALYZE bench_new, bench_hit`},
}

// sameEndWrites are the writes, run by as many sessions at once as the
// service merges chunks, each one transaction over its part of the rows
// ($part of $parts, by the row's number: a new customer's first row, a
// matched customer's first row).
var sameEndWrites = []struct{ name, sql string }{
	// The product's chunk settings (postgres/import_chunk.go).
	{"work_mem", `SET LOCAL work_mem = '256MB'`},
	{"pending list limit", `SET LOCAL gin_pending_list_limit = '128MB'`},
	{"insert customers", `INSERT INTO customers (organization_id, id, first_name, last_name, name, email, phone,
			phone_valid, company_name, source, attributes)
		SELECT $org, id, first_name, last_name, trim(first_name || ' ' || last_name), coalesce(email, ''),
			coalesce(phone, ''), phone_valid, company,
			'import', CASE WHEN city <> '' THEN jsonb_build_object('City', city) ELSE '{}' END
		FROM bench_new WHERE n % $parts = $part ORDER BY n`},
	{"insert identities", `INSERT INTO customer_identities (organization_id, kind, value, customer_id, is_primary, display)
		SELECT $org, 'email', email_key, id, true, email FROM bench_new WHERE email_key IS NOT NULL AND n % $parts = $part
		UNION ALL
		SELECT $org, 'phone', phone_key, id, true, phone FROM bench_new WHERE phone_key IS NOT NULL AND n % $parts = $part`},
	{"before-images", `INSERT INTO import_changes (organization_id, import_id, customer_id, before)
		SELECT $org, $imp, c.id, jsonb_build_object(` + postgres.CustomerImageFields + `)
		FROM bench_hit h JOIN customers c ON c.organization_id = $org AND c.id = h.id WHERE h.n % $parts = $part`},
	{"update matched", `UPDATE customers c SET company_name = h.company, attributes = h.attributes, updated = now()
		FROM bench_hit h WHERE c.organization_id = $org AND c.id = h.id AND h.changes <> '{}' AND h.n % $parts = $part`},
	// The created customers as the product records them (migration 00039):
	// arrays of up to 4,000 ids (a revert batch).
	{"created marks", `INSERT INTO import_created (organization_id, import_id, first_id, customer_ids)
		SELECT $org, $imp, min(id), array_agg(id ORDER BY id)
		FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 4000 AS part FROM bench_new WHERE n % $parts = $part) x
		GROUP BY part`},
	// The creation events as the product keeps them (migration 00048):
	// arrays of 500 ids with their event ids.
	{"creation events", `INSERT INTO audit_created (organization_id, import_id, source, first_event, min_customer,
			max_customer, customer_ids, event_ids)
		SELECT $org, $imp, 'import', min(e), min(id), max(id), array_agg(id ORDER BY n), array_agg(e ORDER BY n)
		FROM (SELECT id, n, nextval('audit_events_id_seq') AS e, (row_number() OVER (ORDER BY n) - 1) / 500 AS part
			FROM bench_new WHERE n % $parts = $part ORDER BY n) x
		GROUP BY part`},
	{"audit events", `INSERT INTO audit_events (organization_id, customer_id, type, source, import_id, changes)
		SELECT $org, id, '` + postgres.EventUpdated + `', 'import', $imp, changes FROM bench_hit
		WHERE changes <> '{}' AND n % $parts = $part`},
	// Unusable rows are errors; phones kept although invalid, warnings.
	{"error report", `INSERT INTO import_errors (organization_id, import_id, row_num, severity, column_name, reason, raw)
		SELECT $org, $imp, n, CASE WHEN ok THEN 'warning' ELSE 'error' END, CASE WHEN ok THEN 'Phone' ELSE '' END,
			CASE WHEN ok THEN 'phone ' || phone || ' is not a valid number; it never replaces a valid phone'
				ELSE 'no valid email, phone or external id' END, raw
		FROM bench_stage WHERE (NOT ok OR (phone IS NOT NULL AND NOT phone_valid)) AND n % $parts = $part`},
	{"commit", `COMMIT`},
}

// sameEndBaseline writes the file's end state into the database at dbURL
// (a fresh copy of the loaded one) with parts sessions writing at once, and
// reports its seconds and steps (a write step's seconds are summed over the
// sessions).
func sameEndBaseline(ctx context.Context, dbURL, file, orgID string, parts int, cpu *cpuDelta) (float64, []sameEndStep, error) {
	conns := make([]*pgx.Conn, max(parts, 1))
	for i := range conns {
		c, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return 0, nil, err
		}
		defer c.Close(context.WithoutCancel(ctx))
		conns[i] = c
	}
	// CPU from here to the end, before the sessions (their backends) end.
	cpu0 := takeCPUSnapshot()
	defer func() { cpu.add(cpu0, takeCPUSnapshot()) }()
	conn := conns[0]
	if _, err := conn.Exec(ctx, `CREATE UNLOGGED TABLE bench_stage (n int, id text, first_name text, last_name text,
		email text, email_key text, phone text, phone_key text, phone_valid bool, company text, city text, ok bool, raw text[])`); err != nil {
		return 0, nil, fmt.Errorf("staging table: %w", err)
	}
	importID := customer.NewID(customer.PrefixImport)
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	sub := strings.NewReplacer("$org", lit(orgID), "$imp", lit(importID))

	start := time.Now()
	var steps []sameEndStep
	step := func(name string, t time.Time, rows int64) {
		steps = append(steps, sameEndStep{Name: name, Seconds: time.Since(t).Seconds(), Rows: rows})
	}
	t := time.Now()
	staged, err := stageNormalized(ctx, conn, file)
	if err != nil {
		return 0, nil, err
	}
	step(stepStaged, t, staged)
	t = time.Now()
	if _, err := conn.Exec(ctx, `ANALYZE bench_stage`); err != nil {
		return 0, nil, err
	}
	step("analyze staging", t, 0)
	for _, s := range sameEndResolve {
		t := time.Now()
		tag, err := conn.Exec(ctx, sub.Replace(s.sql))
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", s.name, err)
		}
		step(s.name, t, tag.RowsAffected())
	}

	t = time.Now()
	written := make([][]sameEndStep, len(conns))
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written[i], errs[i] = writePart(ctx, c, strings.NewReplacer("$parts", strconv.Itoa(len(conns)), "$part", strconv.Itoa(i)), sub)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, nil, err
	}
	step(fmt.Sprintf("writes, %d sessions at once", len(conns)), t, 0)
	for j := range written[0] {
		s := sameEndStep{Name: written[0][j].Name + " (summed)"}
		for _, w := range written {
			s.Seconds += w[j].Seconds
			s.Rows += w[j].Rows
		}
		steps = append(steps, s)
	}
	// Searchable: as the product, which merges the pending list as the import completes.
	t = time.Now()
	if _, err := conn.Exec(ctx, `SELECT gin_clean_pending_list('customers_search'::regclass)`); err != nil {
		return 0, nil, fmt.Errorf("merge pending list: %w", err)
	}
	step("merge pending list", t, 0)
	return time.Since(start).Seconds(), steps, nil
}

const stepStaged = "read, normalize (Go) and COPY"

// writePart runs the writes of one part in one transaction.
func writePart(ctx context.Context, c *pgx.Conn, part, sub *strings.Replacer) ([]sameEndStep, error) {
	if _, err := c.Exec(ctx, `BEGIN`); err != nil {
		return nil, err
	}
	var steps []sameEndStep
	for _, s := range sameEndWrites {
		t := time.Now()
		tag, err := c.Exec(ctx, part.Replace(sub.Replace(s.sql)))
		if err != nil {
			_, _ = c.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		steps = append(steps, sameEndStep{Name: s.name, Seconds: time.Since(t).Seconds(), Rows: tag.RowsAffected()})
	}
	return steps, nil
}

// stageNormalized reads the generated CSV, normalizes each row in Go as the
// upload does (one goroutine per core, a shared phone cache) and COPYs it
// into bench_stage. Rows with neither a valid email nor phone are staged
// with ok = false and their cells, for the error report.
func stageNormalized(ctx context.Context, conn *pgx.Conn, file string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	header, err := r.Read()
	if err != nil {
		return 0, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, h := range []string{"First Name", "Last Name", "Email", "Phone", "Company", "City"} {
		if _, ok := col[h]; !ok {
			return 0, fmt.Errorf("column %q missing", h)
		}
	}
	type batch struct {
		first int
		recs  [][]string
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	in := make(chan batch, 4)
	out := make(chan [][]any, 4)
	go func() {
		defer close(in)
		n := 2 // the file's line of the first row (1 is the header), as the product numbers rows
		for {
			b := batch{first: n}
			for len(b.recs) < 1000 {
				rec, err := r.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					cancel(fmt.Errorf("read: %w", err))
					return
				}
				b.recs = append(b.recs, rec)
			}
			if len(b.recs) == 0 {
				return
			}
			n += len(b.recs)
			select {
			case in <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	phones := dedupe.NewPhoneNormalizer(0)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range in {
				rows := make([][]any, len(b.recs))
				for i, rec := range b.recs {
					rows[i] = normalizedRow(b.first+i, rec, col, phones)
				}
				select {
				case out <- rows:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"bench_stage"},
		[]string{"n", "id", "first_name", "last_name", "email", "email_key", "phone", "phone_key", "phone_valid",
			"company", "city", "ok", "raw"}, &batchSource{ch: out})
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return 0, cause
	}
	if err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	return n, nil
}

// normalizedRow is one staged row: the product's normalizers (region US,
// the bench organization's), a customer id made as the engine makes them.
func normalizedRow(n int, rec []string, col map[string]int, phones *dedupe.PhoneNormalizer) []any {
	var email, emailKey, phone, phoneKey any
	valid := false
	if raw := rec[col["Email"]]; raw != "" {
		if e, err := dedupe.NormalizeEmail(raw); err == nil {
			email, emailKey = e, dedupe.EmailKey(e, false)
		}
	}
	if raw := rec[col["Phone"]]; raw != "" {
		if ph, err := phones.Normalize(raw, "US"); err == nil {
			phone, phoneKey, valid = ph.Number, dedupe.PhoneDigits(ph.Number), ph.Valid
		}
	}
	ok := emailKey != nil || phoneKey != nil
	var id any
	var raw []string
	if ok {
		id = customer.NewID(customer.PrefixCustomer)
	}
	if !ok || (phone != nil && !valid) { // an error or a warning: the report keeps the cells
		raw = rec
	}
	return []any{n, id, dedupe.NormalizeName(rec[col["First Name"]]), dedupe.NormalizeName(rec[col["Last Name"]]),
		email, emailKey, phone, phoneKey, valid, strings.TrimSpace(rec[col["Company"]]), strings.TrimSpace(rec[col["City"]]), ok, raw}
}

// batchSource feeds CopyFrom from batches of rows.
type batchSource struct {
	ch  <-chan [][]any
	cur [][]any
	i   int
}

func (s *batchSource) Next() bool {
	for s.i+1 >= len(s.cur) {
		b, ok := <-s.ch
		if !ok {
			return false
		}
		s.cur, s.i = b, -1
	}
	s.i++
	return true
}

func (s *batchSource) Values() ([]any, error) { return s.cur[s.i], nil }
func (s *batchSource) Err() error             { return nil }

// importReport is the import suite's figures beside its table rows: both
// baselines, the row-count comparison and the CPU scaling runs.
type importReport struct {
	Rows           int           `json:"rows"`
	NaiveSeconds   float64       `json:"naive_baseline_seconds"`
	SameEndSeconds float64       `json:"same_end_baseline_seconds,omitempty"`
	ProductSeconds float64       `json:"product_seconds"`
	RatioNaive     float64       `json:"ratio_to_naive"`
	RatioSameEnd   float64       `json:"ratio_to_same_end,omitempty"`
	SameEndSteps   []sameEndStep `json:"same_end_steps,omitempty"`
	RowCounts      []tableCount  `json:"row_counts,omitempty"`
	CountsDiffer   []string      `json:"row_counts_differ,omitempty"`
	CPUScaling     []cpuRun      `json:"cpu_scaling,omitempty"`
	// CPU µs per row of the file (this process and the database's
	// backends): on a loaded box steadier than the times.
	CPUPerRow        float64 `json:"cpu_us_per_row"`
	NaiveCPUPerRow   float64 `json:"naive_cpu_us_per_row,omitempty"`
	SameEndCPUPerRow float64 `json:"same_end_cpu_us_per_row,omitempty"`
	// ScalingRatio is the rows/s on the most CPUs ÷ on the fewest.
	ScalingRatio float64 `json:"cpu_scaling_ratio,omitempty"`
}

// sameEndRun is one run of the same-end-state baseline on its copy.
type sameEndRun struct {
	secs          float64
	steps         []sameEndStep
	before, after map[string]int64
	cpu           *cpuPerReq
	rows          int
}

func (r *sameEndRun) brief() string {
	var parts []string
	for _, s := range r.steps {
		if s.Seconds >= 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.1f s", s.Name, s.Seconds))
		}
	}
	return fmt.Sprintf("%.1f s: %s", r.secs, strings.Join(parts, ", "))
}

// runSameEnd runs the same-end-state baseline on a fresh copy of the
// snapshot, counting every table's rows before and after, and drops the copy.
func runSameEnd(ctx context.Context, snap *snapshot, file string, parts int, logf func(string, ...any)) (*sameEndRun, error) {
	name, dbURL, err := snap.copy(ctx, "sameend")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := dropDatabase(ctx, snap.url, name); err != nil {
			logf("import: %v", err)
		}
	}()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	out := &sameEndRun{}
	if out.before, err = countRows(ctx, conn); err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	// The copy's backends are the ones to count.
	prev := dbName
	dbName = name
	defer func() { dbName = prev }()
	var d cpuDelta
	if out.secs, out.steps, err = sameEndBaseline(ctx, dbURL, file, benchOrg, parts, &d); err != nil {
		return nil, err
	}
	for _, s := range out.steps {
		if s.Name == stepStaged {
			out.rows = int(s.Rows)
		}
	}
	out.cpu = d.perRequest(out.rows)
	if out.after, err = countRows(ctx, conn); err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	logf("import: same-end-state baseline %s", out.brief())
	return out, nil
}

// cpuText sets and says the CPU per row of the import and its baselines
// (this process plus the database's backends) and their ratios.
func (ir *importReport) cpuText(product, naive *cpuPerReq, same *sameEndRun) string {
	sum := func(c *cpuPerReq) float64 {
		if c == nil {
			return 0
		}
		return c.Go + c.Postgres
	}
	ir.CPUPerRow, ir.NaiveCPUPerRow = sum(product), sum(naive)
	if ir.CPUPerRow == 0 {
		return ""
	}
	t := fmt.Sprintf("CPU µs per row (this process + the database's backends): the service %.0f, naive baseline %.0f (%.2f× by CPU)",
		ir.CPUPerRow, ir.NaiveCPUPerRow, ir.NaiveCPUPerRow/ir.CPUPerRow)
	if same != nil {
		ir.SameEndCPUPerRow = sum(same.cpu)
		t += fmt.Sprintf(", same-end-state baseline %.0f (%.2f× by CPU)", ir.SameEndCPUPerRow, ir.SameEndCPUPerRow/ir.CPUPerRow)
	}
	return t
}
