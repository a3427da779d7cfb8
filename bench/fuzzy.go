package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
)

// The fuzzy suite: an organization of its own (org_fuzzy) with
// -fuzzy-customers generated people, one in ten a corrupted copy of an
// earlier one (typos, nicknames, swapped date parts, abbreviated streets,
// another email and phone), scanned in full; then single new customers
// scored incrementally.

const fuzzyOrg = "org_fuzzy"

var streetNames = []string{"Hill", "Park", "Oak", "Maple", "Cedar", "Elm", "Pine", "Lake", "River", "Church",
	"Mill", "Station", "Victoria", "King", "Queen", "George", "High", "Bridge", "Spring", "Forest", "Garden",
	"Meadow", "Sunset", "Highland", "Valley", "Willow", "Chestnut", "Walnut", "Birch", "Ash", "Poplar",
	"Beacon", "Harbour", "Market", "Castle", "Abbey", "Orchard", "Railway", "Albert", "Windsor"}
var streetTypes = []string{"Street", "Road", "Avenue", "Drive", "Lane", "Court", "Place", "Crescent", "Way", "Terrace"}
var surnameSyllables = []string{"bar", "ker", "lin", "son", "dal", "mor", "ven", "tas", "ric", "hol", "nes",
	"win", "gar", "ton", "ley", "ford", "man", "sel", "ber", "cott", "ash", "wood", "rid", "ham"}

// fuzzyPerson generates person i of the suite (pure function of seed, i).
// dupOf is the index of the person it copies, or -1.
func fuzzyPerson(seed uint64, i int) (r dedupe.FuzzyRecord, dupOf int) {
	h := mix(seed^0xf022, uint64(i))
	if i >= 10 && i%10 == 9 {
		j := i - 1 - int(h%uint64(min(i-1, 5000)))
		if j%10 == 9 {
			j--
		}
		base, _ := fuzzyPerson(seed, j)
		return corrupt(base, i, rand.New(rand.NewPCG(seed, uint64(i)))), j
	}
	first := firstNames[h%uint64(len(firstNames))]
	var last string
	if (h>>8)%10 < 6 {
		last = lastNames[(h>>16)%uint64(len(lastNames))]
	} else { // the long tail of family names
		s := h >> 16
		last = ""
		for k := range 2 + int(s%2) {
			last += surnameSyllables[(s>>(4+5*k))%uint64(len(surnameSyllables))]
		}
		last = strings.ToUpper(last[:1]) + last[1:]
	}
	birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int((h>>24)%(65*365)))
	city := int((h >> 36) % 300)
	street := fmt.Sprintf("%d %s %s", 1+(h>>44)%400, streetNames[(h>>50)%uint64(len(streetNames))],
		streetTypes[(h>>56)%uint64(len(streetTypes))])
	r = dedupe.FuzzyRecord{
		ID: fuzzyID(i), First: first, Last: last, Birthdate: birth.Format("2006-01-02"), Street: street,
		City: "City " + strconv.Itoa(city), Postcode: strconv.Itoa(10000 + city*20 + int((h>>40)%20)),
		Email: fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(asciiFold.Replace(first)), strings.ToLower(asciiFold.Replace(last)), i),
		Phone: fmt.Sprintf("+1415%07d", i),
	}
	return r, -1
}

func fuzzyID(i int) string { return fmt.Sprintf("cust_fz%09d", i) }

var nicknames = map[string]string{"William": "Bill", "Robert": "Bob", "Richard": "Dick", "Elizabeth": "Liz",
	"Jennifer": "Jen", "Michael": "Mike", "Joseph": "Joe", "Thomas": "Tom", "Daniel": "Dan", "James": "Jim",
	"Patricia": "Pat", "Susan": "Sue", "Jessica": "Jess", "David": "Dave", "Abdullah": "Abdul"}

// corrupt is a second record of the same person, as a merchant gets one.
func corrupt(r dedupe.FuzzyRecord, i int, rng *rand.Rand) dedupe.FuzzyRecord {
	typo := func(s string) string {
		rs := []rune(s)
		if len(rs) < 3 {
			return s
		}
		k := 1 + rng.IntN(len(rs)-1)
		switch rng.IntN(3) {
		case 0: // drop a letter
			return string(append(rs[:k:k], rs[k+1:]...))
		case 1: // swap two
			rs[k-1], rs[k] = rs[k], rs[k-1]
			return string(rs)
		default: // a wrong letter
			rs[k] = rune('a' + rng.IntN(26))
			return string(rs)
		}
	}
	r.ID = fuzzyID(i)
	if rng.IntN(2) == 0 {
		r.Last = typo(r.Last)
	}
	switch x := rng.IntN(10); {
	case x < 2:
		if n, ok := nicknames[r.First]; ok {
			r.First = n
		}
	case x < 4:
		r.First = typo(r.First)
	case x == 4:
		r.First, r.Last = r.Last, r.First
	}
	switch x := rng.IntN(10); {
	case x < 1:
		r.Birthdate = r.Birthdate[:5] + r.Birthdate[8:] + "-" + r.Birthdate[5:7] // day and month swapped
		if _, err := time.Parse("2006-01-02", r.Birthdate); err != nil {
			r.Birthdate = ""
		}
	case x < 2:
		r.Birthdate = ""
	}
	if rng.IntN(2) == 0 {
		for long, short := range map[string]string{"Street": "St", "Road": "Rd", "Avenue": "Ave", "Drive": "Dr"} {
			r.Street = strings.Replace(r.Street, long, short, 1)
		}
	}
	if rng.IntN(10) == 0 {
		r.Street, r.City, r.Postcode = "", "", "" // moved, or no address given
	}
	r.Email = fmt.Sprintf("%s%d@example.org", strings.ToLower(asciiFold.Replace(r.First)), i)
	if rng.IntN(3) == 0 {
		r.Phone = "" // another phone or none
	} else {
		r.Phone = fmt.Sprintf("+1415%07d", i)
	}
	return r
}

type fuzzyRows struct {
	seed       uint64
	i, n       int
	addresses  bool
	cur        dedupe.FuzzyRecord
	created    time.Time
	orgID      string
	duplicates *int
}

func (r *fuzzyRows) Next() bool {
	r.i++
	for r.i < r.n {
		var dup int
		r.cur, dup = fuzzyPerson(r.seed, r.i)
		if dup >= 0 && r.duplicates != nil {
			*r.duplicates++
		}
		if !r.addresses || r.cur.Street != "" {
			return true
		}
		r.i++
	}
	return false
}
func (r *fuzzyRows) Err() error { return nil }
func (r *fuzzyRows) Values() ([]any, error) {
	c := r.cur
	if r.addresses {
		return []any{r.orgID, "addr" + c.ID[4:], c.ID, "Home", c.Street, c.City, "", "US", c.Postcode, true}, nil
	}
	var bd any
	if t, err := time.Parse("2006-01-02", c.Birthdate); err == nil {
		bd = t
	}
	return []any{r.orgID, c.ID, c.First, c.Last, c.First + " " + c.Last, c.Email, c.Phone, bd, r.created}, nil
}

// loadFuzzy copies the suite's people and their addresses, bypassing the
// triggers (replica role): the scan, not the incremental scorer, reads them.
func loadFuzzy(ctx context.Context, pool *pgxpool.Pool, seed uint64, n int, reuse bool) (dups int, err error) {
	if reuse {
		// A kept database (-reuse) that holds this suite's people: drop the
		// incremental measure's customers of an earlier run and keep the rest.
		var have int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE organization_id = $1 AND id < $2`,
			fuzzyOrg, fuzzyID(n)).Scan(&have); err != nil {
			return 0, err
		}
		if have > 0 {
			if _, err := pool.Exec(ctx, `DELETE FROM customers WHERE organization_id = $1 AND id >= $2`, fuzzyOrg, fuzzyID(n)); err != nil {
				return 0, err
			}
			for i := range n {
				if _, j := fuzzyPerson(seed, i); j >= 0 {
					dups++
				}
			}
			return dups, nil
		}
	}
	store, err := postgres.Open(ctx, pool.Config().ConnString(), postgres.Options{MaxConns: 2})
	if err != nil {
		return 0, err
	}
	err = store.CreateOrganization(ctx, &customer.Organization{ID: fuzzyOrg, Name: "Fuzzy Bench", DefaultRegion: "US"})
	store.Close()
	if err != nil {
		return 0, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		return 0, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET session_replication_role`) //nolint:errcheck // best effort
	now := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"customers"}, []string{"organization_id", "id", "first_name",
		"last_name", "name", "email", "phone", "birthdate", "created"},
		&fuzzyRows{seed: seed, i: -1, n: n, created: now, orgID: fuzzyOrg, duplicates: &dups}); err != nil {
		return 0, fmt.Errorf("copy fuzzy customers: %w", err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"customer_addresses"}, []string{"organization_id", "id",
		"customer_id", "label", "address_line1", "city", "state", "country", "postal_code", "is_default"},
		&fuzzyRows{seed: seed, i: -1, n: n, addresses: true, orgID: fuzzyOrg}); err != nil {
		return 0, fmt.Errorf("copy fuzzy addresses: %w", err)
	}
	_, err = conn.Exec(ctx, `ANALYZE customers; ANALYZE customer_addresses`)
	return dups, err
}

// fuzzyBaseline is the same-run baseline: one pg_trgm self-join on a
// blocking key (family name trigram similarity within a birth year), with
// the GiST index it needs (year and trigrams, btree_gist) built first,
// counting the pairs it finds. Above 100,000 customers it runs on the
// customers born in years divisible by 20 ($2; 4 of the generator's 65) and
// its time and pairs are scaled by all customers with a birthdate over
// those: the join is within a year, its work linear in years, and the
// whole join at a million ran for more than 15 minutes on this machine.
const fuzzyBaseline = `CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TEMP TABLE bench_fz AS
	SELECT id, lower(last_name) AS ln, extract(year FROM birthdate)::int AS y FROM customers
	WHERE organization_id = $1 AND birthdate IS NOT NULL AND extract(year FROM birthdate)::int % $2 = 0;
CREATE INDEX ON bench_fz USING gist (y, ln gist_trgm_ops);
ANALYZE bench_fz`

func fuzzySuite(ctx context.Context, cfg config, pool *pgxpool.Pool, st *stack, rep *report, logf func(string, ...any)) error {
	n := cfg.fuzzyCustomers
	logf("fuzzy: loading %d customers (one in ten a corrupted copy)", n)
	dups, err := loadFuzzy(ctx, pool, cfg.seed, n, cfg.reuse)
	if err != nil {
		return err
	}

	// Baseline first: one trigram self-join.
	baseSeconds, basePairs, err := fuzzyBaselineRun(ctx, cfg, pool, logf)
	if err != nil {
		return err
	}

	// The scan, with the Go heap sampled.
	var peakHeap atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peakHeap.Load() {
					peakHeap.Store(ms.HeapInuse)
				}
			}
		}
	}()
	runtime.GC()
	if cfg.fuzzyCPUProfile != "" {
		f, err := os.Create(cfg.fuzzyCPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	res, err := st.store.ScanFuzzy(ctx, fuzzyOrg, postgres.FuzzyScanOptions{})
	if cfg.fuzzyCPUProfile != "" {
		pprof.StopCPUProfile()
	}
	close(stop)
	<-done
	if err != nil {
		return fmt.Errorf("fuzzy scan: %w", err)
	}
	logf("fuzzy scan: %d customers, %d candidate pairs, %d suggested in %.1fs (keys %.1fs, records %.1fs in %d passes, model %.1fs, scoring %.1fs), peak Go heap %.0f MB",
		res.Customers, res.CandidatePairs, res.Suggested, res.Seconds, res.KeysSeconds, res.RecordsSeconds, res.Passes, res.EstimateSeconds, res.ScoreSeconds,
		float64(peakHeap.Load())/(1<<20))

	// Quality against the generator's truth: records copying one person are
	// that person (two copies of one original are a true pair too).
	root := make([]int32, n)
	groups := map[int32]int{}
	for i := range n {
		root[i] = int32(i)
		if _, j := fuzzyPerson(cfg.seed, i); j >= 0 {
			root[i] = int32(j)
		}
		groups[root[i]]++
	}
	truePairs := 0
	for _, k := range groups {
		truePairs += k * (k - 1) / 2
	}
	rootOf := func(id string) int32 {
		i, err := strconv.Atoi(strings.TrimPrefix(id, "cust_fz"))
		if err != nil || i < 0 || i >= n {
			return -1
		}
		return root[i]
	}
	var suggested, correct int
	rows, err := pool.Query(ctx, `SELECT customer_a, customer_b FROM duplicate_suggestions
		WHERE organization_id = $1 AND source = 'fuzzy' AND score >= $2`, fuzzyOrg, res.MinScore)
	if err != nil {
		return err
	}
	var a, b string
	if _, err := pgx.ForEachRow(rows, []any{&a, &b}, func() error {
		suggested++
		if ra := rootOf(a); ra >= 0 && ra == rootOf(b) {
			correct++
		}
		return nil
	}); err != nil {
		return err
	}
	precision, recall := div(float64(correct), float64(suggested)), div(float64(correct), float64(truePairs))
	logf("fuzzy quality: %d true pairs, %d suggested, precision %.3f, recall %.3f", truePairs, suggested, precision, recall)

	// Incremental: new corrupted copies scored one at a time.
	var lat []float64
	rng := rand.New(rand.NewPCG(cfg.seed, 77))
	for k := range 300 {
		base, _ := fuzzyPerson(cfg.seed, rng.IntN(n))
		rec := corrupt(base, n+k, rng)
		if _, err := pool.Exec(ctx, `INSERT INTO customers (organization_id, id, first_name, last_name, name, email, birthdate)
			VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, '')::date)`, fuzzyOrg, rec.ID, rec.First, rec.Last,
			rec.First+" "+rec.Last, rec.Email, rec.Birthdate); err != nil {
			return err
		}
		t0 := time.Now()
		if _, err := st.store.ScoreCustomers(ctx, fuzzyOrg, []string{rec.ID}, res.MinScore); err != nil {
			return err
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	_, _ = pool.Exec(ctx, `DELETE FROM suggest_pending WHERE organization_id = $1`, fuzzyOrg)
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	logf("fuzzy incremental: one new customer scored p50 %.1f ms, p99 %.1f ms", p50, p99)

	// Change to scored, as the service does it: the insert's trigger queues
	// the customer, the worker's poll finds it and its task scores it; the
	// time until its pending row is gone (the scoring transaction committed).
	st.startWorker()
	var waits []float64
	for k := range 200 {
		base, _ := fuzzyPerson(cfg.seed, rng.IntN(n))
		rec := corrupt(base, n+300+k, rng)
		if _, err := pool.Exec(ctx, `INSERT INTO customers (organization_id, id, first_name, last_name, name, email, birthdate)
			VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, '')::date)`, fuzzyOrg, rec.ID, rec.First, rec.Last,
			rec.First+" "+rec.Last, rec.Email, rec.Birthdate); err != nil {
			return err
		}
		t0 := time.Now()
		for pending := true; pending; {
			if time.Since(t0) > 30*time.Second {
				return fmt.Errorf("fuzzy incremental: customer %s not scored in 30 s", rec.ID)
			}
			time.Sleep(time.Millisecond)
			if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM suggest_pending WHERE organization_id = $1 AND $2 = ANY(customer_ids))`,
				fuzzyOrg, rec.ID).Scan(&pending); err != nil {
				return err
			}
		}
		waits = append(waits, float64(time.Since(t0).Microseconds())/1000)
	}
	slices.Sort(waits)
	w50, w99 := waits[len(waits)/2], waits[len(waits)*99/100]
	logf("fuzzy incremental: change to scored (trigger, poll, task) p50 %.1f ms, p99 %.1f ms", w50, w99)

	rep.Fuzzy = &fuzzyReport{Customers: res.Customers, Duplicates: dups, CandidatePairs: res.CandidatePairs,
		Suggested: res.Suggested, Precision: precision, Recall: recall, ScanSeconds: res.Seconds,
		KeysSeconds: res.KeysSeconds, RecordsSeconds: res.RecordsSeconds, EstimateSeconds: res.EstimateSeconds, ScoreSeconds: res.ScoreSeconds,
		PairsPerSecond: res.PairsPerSecond, PeakHeapMB: float64(peakHeap.Load()) / (1 << 20),
		BaselineSeconds: baseSeconds, BaselinePairs: basePairs, IncrementalP50: p50, IncrementalP99: p99,
		ChangeToScoredP50: w50, ChangeToScoredP99: w99}
	rep.Baselines = append(rep.Baselines, "fuzzy scan: one pg_trgm self-join on a blocking key (lower(last_name) % "+
		"within a birth year, GiST index on (year, trigrams) built first), counting pairs, no scoring")
	return nil
}

// fuzzyReport is the fuzzy suite's figures.
type fuzzyReport struct {
	Customers       int     `json:"customers"`
	Duplicates      int     `json:"generated_duplicates"`
	CandidatePairs  int     `json:"candidate_pairs"`
	Suggested       int     `json:"suggested"`
	Precision       float64 `json:"precision"`
	Recall          float64 `json:"recall"`
	ScanSeconds     float64 `json:"scan_seconds"`
	KeysSeconds     float64 `json:"keys_seconds"`
	RecordsSeconds  float64 `json:"records_seconds"`
	EstimateSeconds float64 `json:"estimate_seconds"`
	ScoreSeconds    float64 `json:"score_seconds"`
	PairsPerSecond  float64 `json:"pairs_per_second"`
	PeakHeapMB      float64 `json:"peak_heap_mb"`
	BaselineSeconds float64 `json:"baseline_seconds"`
	BaselinePairs   int     `json:"baseline_pairs"`
	IncrementalP50  float64 `json:"incremental_p50_ms"`
	IncrementalP99  float64 `json:"incremental_p99_ms"`
	// From the insert's commit to the worker's scoring committed.
	ChangeToScoredP50 float64 `json:"change_to_scored_p50_ms"`
	ChangeToScoredP99 float64 `json:"change_to_scored_p99_ms"`
}

func (f *fuzzyReport) print(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprintf(w, "\nfuzzy duplicates (%d customers, %d generated duplicates)\n", f.Customers, f.Duplicates)
	fmt.Fprintf(w, "  full scan        %.1f s (keys %.1f, records and blocks %.1f, model %.1f, scoring %.1f), %d candidate pairs, %.0f pairs/s, peak Go heap %.0f MB\n",
		f.ScanSeconds, f.KeysSeconds, f.RecordsSeconds, f.EstimateSeconds, f.ScoreSeconds, f.CandidatePairs, f.PairsPerSecond, f.PeakHeapMB)
	fmt.Fprintf(w, "  same-run baseline %.1f s: one pg_trgm self-join, %d pairs (%.2f× the scan's time)\n",
		f.BaselineSeconds, f.BaselinePairs, div(f.ScanSeconds, f.BaselineSeconds))
	fmt.Fprintf(w, "  quality          %d suggested, precision %.3f, recall %.3f\n", f.Suggested, f.Precision, f.Recall)
	fmt.Fprintf(w, "  incremental      one new customer p50 %.1f ms, p99 %.1f ms (target p99 < 50 ms: %s)\n",
		f.IncrementalP50, f.IncrementalP99, map[bool]string{true: "PASS", false: "FAIL"}[f.IncrementalP99 < 50])
	fmt.Fprintf(w, "  change to scored insert → trigger → poll → task → committed: p50 %.1f ms, p99 %.1f ms\n",
		f.ChangeToScoredP50, f.ChangeToScoredP99)
}

// fuzzyBaselineRun times the same-run baseline (skipped with -fuzzy-baseline=false).
func fuzzyBaselineRun(ctx context.Context, cfg config, pool *pgxpool.Pool, logf func(string, ...any)) (float64, int, error) {
	if !cfg.fuzzyBaseline {
		logf("fuzzy baseline: skipped (-fuzzy-baseline=false)")
		return 0, 0, nil
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, err
	}
	if _, err := conn.Exec(ctx, `SET jit = off`); err != nil { // as the scan runs
		conn.Release()
		return 0, 0, err
	}
	slice := 1
	if cfg.fuzzyCustomers > 100_000 {
		slice = 20
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, strings.NewReplacer("$1", "'"+fuzzyOrg+"'", "$2", strconv.Itoa(slice)).Replace(fuzzyBaseline)); err != nil {
		conn.Release()
		return 0, 0, fmt.Errorf("fuzzy baseline: %w", err)
	}
	var basePairs int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM bench_fz a JOIN bench_fz b ON b.ln % a.ln AND b.y = a.y AND b.id > a.id`).Scan(&basePairs)
	baseSeconds := time.Since(start).Seconds()
	_, _ = conn.Exec(ctx, `DROP TABLE IF EXISTS bench_fz; RESET jit`)
	conn.Release()
	if err != nil {
		return 0, 0, fmt.Errorf("fuzzy baseline: %w", err)
	}
	scale := 1.0
	if slice > 1 {
		var all, part float64
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM customers WHERE organization_id = $1 AND birthdate IS NOT NULL),
			(SELECT count(*) FROM customers WHERE organization_id = $1 AND extract(year FROM birthdate)::int % $2 = 0)`,
			fuzzyOrg, slice).Scan(&all, &part); err != nil {
			return 0, 0, err
		}
		scale = div(all, part)
	}
	logf("fuzzy baseline: trigram self-join found %d pairs in %.1fs (birth years divisible by %d: ×%.1f)", basePairs, baseSeconds, slice, scale)
	return baseSeconds * scale, int(float64(basePairs) * scale), nil
}

// scanBeside starts a duplicate scan of the bench organization, as a
// backlog's (the model kept) and as the worker runs it (making way for a
// busy API), and returns once it compares its first pass's pairs (keys:
// at once, as it writes its keys); the function returned waits for its
// end and logs it.
func scanBeside(ctx context.Context, st *stack, keys bool, logf func(string, ...any)) func() error {
	first := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	var cpu0 time.Duration
	if d, err := processCPU(); err == nil {
		cpu0 = d
	}
	sctx, cancel := context.WithCancel(ctx)
	go func() {
		res, err := st.store.ScanFuzzy(sctx, benchOrg, postgres.FuzzyScanOptions{KeepModel: true, Yield: st.Deps.ScanYield,
			Progress: func(pass, passes int) { once.Do(func() { close(first) }) }})
		if err == nil {
			cpu, _ := processCPU()
			logf("scan beside: %d customers, %d pairs, %d passes in %.1f s (keys %.1f, records %.1f, scoring %.1f; waited for the API %.1f); this process's CPU %.1f s",
				res.Customers, res.CandidatePairs, res.Passes, res.Seconds, res.KeysSeconds, res.RecordsSeconds, res.ScoreSeconds,
				res.YieldSeconds, (cpu - cpu0).Seconds())
		} else {
			logf("scan beside: %v", err)
		}
		once.Do(func() { close(first) })
		done <- err
	}()
	if keys {
		// Only the searches are measured: the scan stops with them.
		logf("scan beside: writing its keys; searches start")
		return func() error {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		}
	}
	<-first
	logf("scan beside: comparing its first pass; searches start")
	return func() error {
		defer cancel()
		return <-done
	}
}

// processCPU is this process's user and system CPU time.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
