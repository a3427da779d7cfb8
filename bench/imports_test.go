package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/postgres/postgrestest"
)

// The row-count comparison flags a table the baseline writes too little or
// too much of, and leaves the product's staging and queues out.
func TestCompareCounts(t *testing.T) {
	t.Parallel()
	before := map[string]int64{"customers": 1000, "customer_identities": 2000, "audit_events": 10, "import_rows": 0,
		"orders": 5, "import_errors": 0}
	prod := map[string]int64{"customers": 1700, "customer_identities": 3400, "audit_events": 850, "import_rows": 1000,
		"orders": 5, "import_errors": 40}
	baseAfter := map[string]int64{"customers": 1690, "customer_identities": 3400, "audit_events": 510, "import_rows": 0,
		"orders": 5, "import_errors": 43}
	got := compareCounts(before, prod, before, baseAfter)
	want := map[string]tableCount{
		"audit_events":        {Table: "audit_events", Product: 840, Baseline: 500, Differs: true},
		"customer_identities": {Table: "customer_identities", Product: 1400, Baseline: 1400},
		"customers":           {Table: "customers", Product: 700, Baseline: 690},   // 1.4% apart
		"import_errors":       {Table: "import_errors", Product: 40, Baseline: 43}, // 3 rows apart: within 5
		"import_rows":         {Table: "import_rows", Product: 1000, Skip: "product staging"},
	}
	if len(got) != len(want) { // orders: unchanged by both, left out
		t.Fatalf("got %d tables, want %d: %+v", len(got), len(want), got)
	}
	for i, c := range got {
		if c != want[c.Table] {
			t.Errorf("%s: got %+v, want %+v", c.Table, c, want[c.Table])
		}
		if i > 0 && got[i-1].Table >= c.Table {
			t.Errorf("not sorted by table: %s before %s", got[i-1].Table, c.Table)
		}
	}
	lines, differ := countsTable(got)
	if len(lines) != len(got)+1 || len(differ) != 1 || differ[0] != "audit_events 840 vs 500" {
		t.Fatalf("table %q, differ %q", lines, differ)
	}
	if b := countsBrief(got); !strings.Contains(b, "audit_events 840/500 DIFFERS") || !strings.Contains(b, "import_rows 1000/0 (not compared)") {
		t.Fatalf("brief %q", b)
	}
}

func TestImportCPUsFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		arg     string
		avail   int
		want    []int
		wantErr bool
	}{
		{"", 2, nil, false},
		{"2,1", 2, []int{2, 1}, false},
		{" 1 ", 4, []int{1}, false},
		{"3,1", 2, nil, true},
		{"1,1", 2, nil, true},
		{"0", 2, nil, true},
		{"two", 2, nil, true},
	} {
		got, err := cpuCounts(tc.arg, tc.avail)
		if (err != nil) != tc.wantErr || !equalInts(got, tc.want) {
			t.Errorf("cpuCounts(%q, %d) = %v, %v", tc.arg, tc.avail, got, err)
		}
	}
	cfg, err := parseConfig([]string{"-import-cpus", "1", "-import-same-end=false"}, func(string) string { return "" }, io.Discard)
	if err != nil || !equalInts(cfg.importCPUs, []int{1}) || cfg.importSameEnd {
		t.Fatalf("parseConfig: %+v, %v", cfg.importCPUs, err)
	}
	if cfg, err = parseConfig(nil, func(string) string { return "" }, io.Discard); err != nil || cfg.importCPUs != nil || !cfg.importSameEnd {
		t.Fatalf("defaults: cpus %v, same end %v, %v", cfg.importCPUs, cfg.importSameEnd, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestScalingRatio(t *testing.T) {
	t.Parallel()
	ratio, text := scalingRatio([]cpuRun{{CPUs: 2, RowsPerSec: 3000, Seconds: 10}, {CPUs: 1, RowsPerSec: 2000, Seconds: 15}})
	if ratio != 1.5 || !strings.Contains(text, "2 CPUs ÷ 1 CPUs = 1.50×") {
		t.Fatalf("got %v %q", ratio, text)
	}
	// A count that could not be pinned gives no ratio.
	if ratio, _ := scalingRatio([]cpuRun{{CPUs: 2, RowsPerSec: 3000}, {CPUs: 1, Skipped: "pin: operation not permitted"}}); ratio != 0 {
		t.Fatalf("ratio with a skipped run: %v", ratio)
	}
}

func TestCopiesNameTheirDatabase(t *testing.T) {
	t.Parallel()
	got, err := withDatabase("postgres://postgres@127.0.0.1:5432/linkit_bench?sslmode=disable", "linkit_bench_cpu1")
	if err != nil || got != "postgres://postgres@127.0.0.1:5432/linkit_bench_cpu1?sslmode=disable" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := withDatabase("host=127.0.0.1 dbname=linkit_bench", "x"); err == nil {
		t.Fatal("a key=value DSN: want an error")
	}
}

// The staged rows feed COPY whatever the batch sizes.
func TestBatchSource(t *testing.T) {
	t.Parallel()
	ch := make(chan [][]any, 3)
	ch <- [][]any{{1}, {2}}
	ch <- [][]any{}
	ch <- [][]any{{3}}
	close(ch)
	s := &batchSource{ch: ch}
	var got []any
	for s.Next() {
		v, _ := s.Values()
		got = append(got, v[0])
	}
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("got %v", got)
	}
}

// The import suite end to end on a small database: the same-end-state
// baseline writes what the service's import writes (row counts per table
// within 3%), both ratios reach the JSON, and -import-cpus runs or says why
// it could not pin.
func TestImportSuiteShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("an import suite of 2,000 rows; skipped with -short")
	}
	t.Parallel()
	name := "linkit_bench_test_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	dbURL, err := withDatabase(postgrestest.AdminURL(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dropDatabase(context.Background(), dbURL, name) })
	redisURL := "redis://127.0.0.1:6379/11"
	if v := os.Getenv("LINKIT_TEST_REDIS_URL"); v != "" {
		redisURL = v // the queues are named after the database: no collision
	}
	out := filepath.Join(t.TempDir(), "results.json")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"-database-url", dbURL, "-redis-url", redisURL, "-customers", "1000",
		"-import-rows", "2000", "-only", "import", "-revert=false", "-import-cpus", "1", "-out", out},
		func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	ir := rep.Import
	if ir == nil || ir.RatioNaive <= 0 || ir.RatioSameEnd <= 0 || ir.SameEndSeconds <= 0 || ir.CPUPerRow <= 0 || ir.SameEndCPUPerRow <= 0 {
		t.Fatalf("import figures missing: %+v", ir)
	}
	if len(ir.CountsDiffer) > 0 {
		t.Fatalf("the baseline's rows differ from the import's: %v\n%s", ir.CountsDiffer, stderr.String())
	}
	counted := map[string]int64{}
	for _, c := range ir.RowCounts {
		counted[c.Table] = c.Baseline
	}
	for _, table := range []string{"customers", "customer_identities", "audit_events", "import_changes", "import_errors"} {
		if counted[table] == 0 {
			t.Errorf("the baseline added no rows to %s: %+v", table, ir.RowCounts)
		}
	}
	if len(ir.CPUScaling) != 1 || (ir.CPUScaling[0].RowsPerSec <= 0 && ir.CPUScaling[0].Skipped == "") {
		t.Fatalf("cpu scaling: %+v", ir.CPUScaling)
	}
	if !strings.Contains(stdout.String(), "vs same end state") {
		t.Fatalf("the table lacks the same-end-state row:\n%s", stdout.String())
	}
	// The copies are gone.
	conn, err := pgx.Connect(ctx, postgrestest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE $1 || '\_%'`, name).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d copies of %s left (%v)", left, name, err)
	}
}
