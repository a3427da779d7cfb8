// Command bench runs the reproducible benchmarks of `make bench`: generated
// data (fixed seeds) in its own database, the real API and worker started
// in-process, and every figure printed next to a baseline measured in the
// same run. See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// suites are the known suites in the order they run.
var suites = []string{"lookup", "upsert", "import", "search", "fuzzy"}

type config struct {
	customers          int
	duration, warmup   time.Duration
	only               []string
	runs               int
	seed               uint64
	databaseURL        string
	redisURL           string
	out                string
	cpuprofile         string
	dbMaxConns         int
	workerConcurrency  int
	lookupClients      []int
	upsertClients      []int
	idlePause          time.Duration
	reuse              bool
	noRateLimit        bool
	upsertLinger       time.Duration
	suggestPoll        time.Duration
	upsertPoll         time.Duration
	pgMaxWALSize       string
	importRows         int
	importConcurrency  int
	importChunkRows    int
	soak               soakConfig
	fuzzyCustomers     int
	fuzzyCPUProfile    string
	searchCPUProfile   string
	fuzzyBaseline      bool
	fuzzyScanMemoryMB  int
	fuzzyScanWorkers   int
	searchBesideScan   bool
	searchDuringImport bool
	besideScanKeys     bool
	fuzzyScanYield     int
	importYield        int
	fuzzyScanNice      int
	importSameEnd      bool
	importCPUs         []int
	importCPUProfile   string

	revert bool
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var c config
	var only, lookupClients, upsertClients, importCPUs string
	var seed int64
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.customers, "customers", 1_000_000, "customers loaded into one organization")
	fs.IntVar(&c.importRows, "import-rows", 1_000_000, "rows of the generated import file")
	fs.IntVar(&c.importConcurrency, "import-concurrency", 2, "import chunks merged at once (LINKIT_IMPORT_CONCURRENCY)")
	fs.BoolVar(&c.revert, "revert", true, "after the import suite, revert its import (POST /imports/{id}/revert) and time it")
	fs.BoolVar(&c.importSameEnd, "import-same-end", true, "also time the same-end-state baseline of the import (set-based SQL writing what the import writes, on a copy of the loaded database)")
	fs.StringVar(&importCPUs, "import-cpus", "", "after the import suite, import the same file once per CPU count listed (e.g. 2,1), each on a fresh copy of the loaded database with this process and PostgreSQL pinned to that many CPUs; prints rows/s per count and the ratio most ÷ fewest")
	fs.StringVar(&c.importCPUProfile, "import-cpuprofile", "", "write a CPU profile of the service's import (upload to completed: server and worker)")
	fs.IntVar(&c.importChunkRows, "import-chunk-rows", postgres.DefaultChunkRows, "target rows per import chunk (LINKIT_IMPORT_CHUNK_ROWS)")
	fs.IntVar(&c.fuzzyCustomers, "fuzzy-customers", 100_000, "customers of the fuzzy suite's own organization (one in ten a corrupted copy)")
	fs.StringVar(&c.fuzzyCPUProfile, "fuzzy-cpuprofile", "", "write a CPU profile of the fuzzy suite's full scan (the scorer's side; PostgreSQL's is EXPLAIN's)")
	fs.StringVar(&c.searchCPUProfile, "search-cpuprofile", "", "write a CPU profile of separate API-only measurements of the common and rare searches at 16 clients (the search suite; load-generator goroutines labelled side=client)")
	fs.IntVar(&c.fuzzyScanMemoryMB, "fuzzy-scan-memory", 0, "memory budget of a duplicate scan's records and blocks, MB (LINKIT_SUGGEST_SCAN_MEMORY_MB; 0: the default)")
	fs.IntVar(&c.fuzzyScanWorkers, "fuzzy-scan-workers", 0, "goroutines comparing a duplicate scan's pairs (LINKIT_SUGGEST_SCAN_WORKERS; 0: all cores but one)")
	fs.IntVar(&c.fuzzyScanNice, "fuzzy-scan-nice", 0, "nice value of a duplicate scan's comparing threads (LINKIT_SUGGEST_SCAN_NICE; 0: the default, -1: not lowered)")
	fs.BoolVar(&c.searchDuringImport, "search-during-import", false, "import suite: measure the search suite's workloads while the import merges (after its upload; the trigram index's pending list is every organization's), which slows the import: its figure is then not comparable")
	fs.BoolVar(&c.searchBesideScan, "search-beside-scan", false, "search suite: measure while a duplicate scan of the organization (a backlog's: model kept) compares its pairs (started first; the searches begin with its first pass)")
	fs.BoolVar(&c.besideScanKeys, "search-beside-scan-keys", false, "with -search-beside-scan: the searches begin as the scan starts writing its keys (where a backlog's scan right after an import is), not with its first pass")
	fs.IntVar(&c.importYield, "import-yield", 0, "while the API is busy, an import's slot waits up to this many times each chunk's time (LINKIT_IMPORT_YIELD; 0: the default, -1: never)")
	fs.IntVar(&c.fuzzyScanYield, "fuzzy-scan-yield", 0, "while the API is busy, a duplicate scan waits up to this many times each long statement's time (LINKIT_SUGGEST_SCAN_YIELD; 0: the default, -1: never)")
	fs.BoolVar(&c.fuzzyBaseline, "fuzzy-baseline", true, "run the fuzzy suite's same-run baseline (off: development runs of the scan alone)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time of each measurement")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unrecorded warm-up before each measurement")
	fs.StringVar(&only, "only", strings.Join(suites, ","), "comma-separated suites to run: "+strings.Join(suites, ", "))
	fs.IntVar(&c.runs, "runs", 3, "repetitions of the upsert suite (the median is reported)")
	fs.Int64Var(&seed, "seed", 20240611, "seed of the generated data and request mix")
	fs.StringVar(&c.databaseURL, "database-url", env("LINKIT_BENCH_DATABASE_URL",
		"postgres://postgres@127.0.0.1:5432/linkit_bench?sslmode=disable"),
		"benchmark database, dropped and recreated (its name must contain \"bench\") (LINKIT_BENCH_DATABASE_URL)")
	fs.StringVar(&c.redisURL, "redis-url", env("LINKIT_BENCH_REDIS_URL", env("LINKIT_REDIS_URL", "redis://127.0.0.1:6379/0")),
		"Redis for the queue; the run uses its own queue names (LINKIT_BENCH_REDIS_URL)")
	fs.StringVar(&c.out, "out", "bench/out/results.json", "where the JSON results go")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of a separate API-only upsert measurement at 16 clients (server, worker and load generator, the latter labelled side=client)")
	fs.IntVar(&c.dbMaxConns, "db-max-conns", 20, "pool size of the service and of the SQL baselines (LINKIT_DB_MAX_CONNS default)")
	fs.IntVar(&c.workerConcurrency, "worker-concurrency", 16, "worker concurrency (LINKIT_WORKER_CONCURRENCY default)")
	fs.StringVar(&lookupClients, "lookup-clients", "1,16", "concurrent clients of the lookup suite")
	fs.StringVar(&upsertClients, "upsert-clients", "1,4,16,64", "concurrent clients of the upsert suite")
	fs.DurationVar(&c.idlePause, "idle-pause", 25*time.Millisecond, "pause between the sequential requests of the idle upsert latency")
	fs.StringVar(&c.pgMaxWALSize, "pg-max-wal-size", "", "set PostgreSQL's max_wal_size for the run (e.g. 16GB; ALTER SYSTEM, restored at the end; needs a superuser); default: the server as it is")
	fs.DurationVar(&c.suggestPoll, "suggest-poll", 0, "how often the worker polls for changed customers to score as fuzzy duplicates (0: the worker's default; 1h: scoring effectively off, to measure what it costs the upserts)")
	fs.DurationVar(&c.upsertPoll, "upsert-poll", 0, "how often an idle worker looks for upserts (worker.Config.UpsertPoll; 0: the worker's default)")
	fs.DurationVar(&c.upsertLinger, "upsert-linger", 0, "how long an upsert waits for others to travel with it (LINKIT_UPSERT_LINGER; 0: the default, negative: off, one task per upsert)")
	fs.BoolVar(&c.noRateLimit, "no-rate-limit", false, "serve without the per-key rate limiter (no Redis call per request), to measure what it costs")
	soakFlags(fs, &c.soak, env)
	fs.BoolVar(&c.reuse, "reuse", false, "development: keep the database when it already holds this seed's load")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.seed = uint64(seed)
	for _, s := range strings.Split(only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(suites, s) {
			return c, fmt.Errorf("unknown suite %q (have %s)", s, strings.Join(suites, ", "))
		}
		c.only = append(c.only, s)
	}
	var err error
	if c.lookupClients, err = intList(lookupClients); err != nil {
		return c, fmt.Errorf("-lookup-clients: %w", err)
	}
	if c.upsertClients, err = intList(upsertClients); err != nil {
		return c, fmt.Errorf("-upsert-clients: %w", err)
	}
	if c.importCPUs, err = cpuCounts(importCPUs, runtime.NumCPU()); err != nil {
		return c, fmt.Errorf("-import-cpus: %w", err)
	}
	switch {
	case c.customers < 1000:
		return c, errors.New("-customers must be at least 1000")
	case c.runs < 1:
		return c, errors.New("-runs must be at least 1")
	case c.duration <= 0:
		return c, errors.New("-duration must be positive")
	}
	pc, err := pgx.ParseConfig(c.databaseURL)
	if err != nil {
		return c, fmt.Errorf("-database-url: %w", err)
	}
	dbName = pc.Database
	return c, nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func (c config) selected(suite string) bool { return slices.Contains(c.only, suite) }

const benchOrg = "org_bench"

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
	}
	rep := &report{
		Started: time.Now().UTC(),
		Config: reportConfig{Customers: cfg.customers, Duration: cfg.duration.String(), Warmup: cfg.warmup.String(),
			Runs: cfg.runs, Seed: cfg.seed, Suites: cfg.only, DBMaxConns: cfg.dbMaxConns,
			WorkerConcurrency: cfg.workerConcurrency, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
	}
	if cfg.soak.duration > 0 {
		sum, err := runSoak(ctx, cfg, stdout, logf)
		if err != nil {
			return err
		}
		if fails := sum.failures(cfg.soak); len(fails) > 0 {
			return fmt.Errorf("soak failed: %s", strings.Join(fails, "; "))
		}
		return nil
	}
	if len(cfg.only) == 0 {
		return errors.New("no suite selected")
	}

	g := newGen(cfg.seed, benchOrg, cfg.customers)
	rep.Notes = append(rep.Notes, g.checkFormats("US", 2000)...)

	// The database: dropped, recreated, migrated and loaded (or reused).
	pool, nextIndex, err := prepareDatabase(ctx, cfg, g, rep, logf)
	if err != nil {
		return err
	}
	defer func() { pool.Close() }() // pool and st are replaced when the import suite takes a snapshot
	if cfg.pgMaxWALSize != "" {
		restore, err := setMaxWALSize(ctx, pool, cfg.pgMaxWALSize)
		if err != nil {
			return err
		}
		defer restore()
	}
	if rep.Config.Postgres, err = readPGSettings(ctx, pool); err != nil {
		return err
	}

	store, err := postgres.Open(ctx, cfg.databaseURL, postgres.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	key, err := store.CreateAPIKey(ctx, benchOrg)
	store.Close()
	if err != nil {
		return err
	}
	st, err := startStack(ctx, cfg, key.Secret, dbName)
	if err != nil {
		return err
	}
	defer func() { st.close() }()

	if cfg.selected("lookup") {
		if err := lookupSuite(ctx, "lookup", cfg, st, pool, g, rep, logf); err != nil {
			return fmt.Errorf("lookup suite: %w", err)
		}
	}
	if cfg.selected("upsert") {
		u := &upserts{cfg: cfg, st: st, pool: pool, g: g}
		u.next.Store(nextIndex)
		err := u.suite(ctx, rep, logf)
		if _, serr := pool.Exec(context.WithoutCancel(ctx), `UPDATE bench_state SET next_index = $1`, u.next.Load()); serr != nil && err == nil {
			err = serr
		}
		if err != nil {
			return fmt.Errorf("upsert suite: %w", err)
		}
	}
	if cfg.selected("import") {
		next := nextIndex
		if err := pool.QueryRow(ctx, `SELECT next_index FROM bench_state`).Scan(&next); err != nil {
			return err
		}
		var snap *snapshot
		if cfg.importSameEnd || len(cfg.importCPUs) > 0 {
			// Copies of the database as the import finds it: the service and
			// the pool close while the snapshot is taken (a template must
			// have no connections), then start again.
			st.close()
			pool.Close()
			s, err := takeSnapshot(ctx, cfg.databaseURL, logf)
			if err != nil {
				return err
			}
			snap = s
			defer func() {
				if err := s.drop(ctx); err != nil {
					logf("%v", err)
				}
			}()
			if pool, err = openPool(ctx, cfg); err != nil {
				return err
			}
			if st, err = startStack(ctx, cfg, key.Secret, dbName); err != nil {
				return err
			}
		}
		err := importSuite(ctx, cfg, st, pool, g, rep, &next, snap, logf)
		if _, serr := pool.Exec(context.WithoutCancel(ctx), `UPDATE bench_state SET next_index = $1`, next); serr != nil && err == nil {
			err = serr
		}
		if err != nil {
			return fmt.Errorf("import suite: %w", err)
		}
	}
	if cfg.selected("search") && !cfg.selected("import") { // else right after the import
		wait := func() error { return nil }
		if cfg.searchBesideScan {
			wait = scanBeside(ctx, st, cfg.besideScanKeys, logf)
		}
		if err := lookupSuite(ctx, "search", cfg, st, pool, g, rep, logf); err != nil {
			return fmt.Errorf("search suite: %w", err)
		}
		if err := wait(); err != nil {
			return fmt.Errorf("scan beside the searches: %w", err)
		}
	}
	if cfg.selected("fuzzy") {
		if err := fuzzySuite(ctx, cfg, pool, st, rep, logf); err != nil {
			return fmt.Errorf("fuzzy suite: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.Finished = time.Now().UTC()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		rep.PeakRSSMB = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	rep.noteNoise()
	rep.print(stdout)
	if err := rep.write(cfg.out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nresults:", cfg.out)
	return nil
}

// prepareDatabase returns a pool on the loaded benchmark database and the
// first generator index no customer uses yet.
func prepareDatabase(ctx context.Context, cfg config, g *gen, rep *report, logf func(string, ...any)) (*pgxpool.Pool, int64, error) {
	open := func() (*pgxpool.Pool, error) { return openPool(ctx, cfg) }
	if cfg.reuse {
		// Pending migrations (the code moves on) still apply to a kept database.
		if err := postgres.Migrate(ctx, cfg.databaseURL); err != nil {
			return nil, 0, err
		}
		if pool, err := open(); err == nil {
			var seed, n, next int64
			err := pool.QueryRow(ctx, `SELECT seed, customers, next_index FROM bench_state`).Scan(&seed, &n, &next)
			if err == nil && uint64(seed) == cfg.seed && int(n) == cfg.customers {
				logf("reusing the loaded database (-reuse)")
				rep.Notes = append(rep.Notes, "database reused (-reuse): no load figures; earlier upsert runs left extra customers")
				return pool, next, nil
			}
			pool.Close()
		}
	}
	logf("recreating the benchmark database")
	if err := resetDatabase(ctx, cfg.databaseURL); err != nil {
		return nil, 0, err
	}
	pool, err := open()
	if err != nil {
		return nil, 0, err
	}
	store, err := postgres.Open(ctx, cfg.databaseURL, postgres.Options{MaxConns: 2})
	if err != nil {
		pool.Close()
		return nil, 0, err
	}
	err = store.CreateOrganization(ctx, &customer.Organization{ID: benchOrg, Name: "Bench Retail", DefaultRegion: "US"})
	store.Close()
	if err != nil {
		pool.Close()
		return nil, 0, err
	}
	logf("loading %d customers", cfg.customers)
	ls, err := loadCustomers(ctx, pool, g, logf)
	if err != nil {
		pool.Close()
		return nil, 0, fmt.Errorf("load: %w", err)
	}
	rep.Load = ls
	rep.Baselines = append(rep.Baselines, "load: COPY of the same generated customer rows into a bare table "+
		"(LIKE customers INCLUDING DEFAULTS: no index, key or generated column), one stream; the load counts customers "+
		"(each with 2 identity rows) through COPY and the index rebuild")
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_state (seed bigint, customers int, next_index bigint)`); err != nil {
		pool.Close()
		return nil, 0, err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO bench_state VALUES ($1, $2, $3)`, int64(cfg.seed), cfg.customers, cfg.customers); err != nil {
		pool.Close()
		return nil, 0, err
	}
	return pool, int64(cfg.customers), nil
}

// openPool is the bench's own pool on the benchmark database.
func openPool(ctx context.Context, cfg config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.databaseURL)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(cfg.dbMaxConns)
	return pgxpool.NewWithConfig(ctx, pc)
}
