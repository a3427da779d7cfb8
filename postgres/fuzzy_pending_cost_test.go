package postgres

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestScorerCost measures the incremental scorer's CPU per customer on a
// bench database (LINKIT_SCORER_BENCH_URL, e.g. the upsert suite's kept with
// -reuse): the organization with most customers, every live customer keyed
// first, then LINKIT_SCORER_BENCH_N of them (default 2,000, a fixed sample)
// scored 25 at a time as new ones are (their keys dropped before each
// batch), each statement's backend CPU read from /proc (one connection).
func TestScorerCost(t *testing.T) {
	url := os.Getenv("LINKIT_SCORER_BENCH_URL")
	if url == "" {
		t.Skip("LINKIT_SCORER_BENCH_URL not set")
	}
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("LINKIT_SCORER_BENCH_N")); err == nil {
		n = v
	}
	ctx := context.Background()
	tr := &stmtCPU{byStmt: map[string]*stmtCost{}}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns, cfg.MinConns = 1, 1
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error { return registerTextArray(c.TypeMap()) }
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := &Store{pool: pool, stage: pool}
	var org string
	if err := pool.QueryRow(ctx, `SELECT organization_id FROM customers GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`).Scan(&org); err != nil {
		t.Fatal(err)
	}
	var keyed, live int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM fuzzy_keys WHERE organization_id = $1),
		(SELECT count(*) FROM customers WHERE organization_id = $1 AND merged_into IS NULL)`, org).Scan(&keyed, &live); err != nil {
		t.Fatal(err)
	}
	if keyed < live*9/10 {
		t.Logf("keying %d customers of %s", live, org)
		if err := writeFuzzyKeys(ctx, pool, org, 5000, func(time.Duration) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, sqlFuzzyTidy); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT id FROM customers WHERE organization_id = $1 AND merged_into IS NULL
		ORDER BY md5(id) LIMIT $2`, org, n)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var goCPU, pgCPU, wall time.Duration
	var compared, suggested int
	tr.reset()
	for i := 0; i < len(ids); i += 25 {
		batch := ids[i:min(i+25, len(ids))]
		tr.off = true
		if _, err := pool.Exec(ctx, `DELETE FROM fuzzy_keys WHERE organization_id = $1 AND customer_id = ANY($2)`, org, batch); err != nil {
			t.Fatal(err)
		}
		tr.off = false
		pg0, go0, t0 := tr.total, selfCPU(), time.Now()
		b, err := s.ScoreCustomers(ctx, org, batch, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		wall += time.Since(t0)
		goCPU += selfCPU() - go0
		pgCPU += tr.total - pg0
		compared += b.Compared
		suggested += b.Suggested
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(len(ids)) }
	t.Logf("org %s: %d customers scored 25 at a time: %.1f pairs compared and %.2f suggested a customer", org,
		len(ids), float64(compared)/float64(len(ids)), float64(suggested)/float64(len(ids)))
	t.Logf("per customer: go %.0f µs, pg %.0f µs, wall %.0f µs", per(goCPU), per(pgCPU), per(wall))
	t.Log(tr.report(len(ids)))
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stmtCPU is a tracer summing each statement's backend CPU
// (/proc/<pid>/schedstat around it).
type stmtCPU struct {
	mu     sync.Mutex
	byStmt map[string]*stmtCost
	total  time.Duration
	off    bool
}

type stmtCost struct {
	n   int
	cpu time.Duration
}

type stmtKey struct{}

type stmtStart struct {
	sql string
	cpu time.Duration
	pid uint32
}

func backendCPU(pid uint32) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	ns, _ := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns)
}

func (s *stmtCPU) reset() {
	s.byStmt, s.total = map[string]*stmtCost{}, 0
}

func (s *stmtCPU) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	pid := c.PgConn().PID()
	return context.WithValue(ctx, stmtKey{}, stmtStart{sql: d.SQL, cpu: backendCPU(pid), pid: pid})
}

func (s *stmtCPU) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	st, ok := ctx.Value(stmtKey{}).(stmtStart)
	if !ok || s.off {
		return
	}
	d := backendCPU(st.pid) - st.cpu
	name := strings.Join(strings.Fields(st.sql), " ")
	if len(name) > 70 {
		name = name[:70]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.byStmt[name]
	if c == nil {
		c = &stmtCost{}
		s.byStmt[name] = c
	}
	c.n++
	c.cpu += d
	s.total += d
}

func (s *stmtCPU) report(customers int) string {
	type row struct {
		name string
		c    *stmtCost
	}
	var rs []row
	for k, v := range s.byStmt {
		rs = append(rs, row{k, v})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].c.cpu > rs[j].c.cpu })
	var b strings.Builder
	b.WriteString("backend CPU by statement, µs a customer (calls):\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "  %7.1f (%5d) %s\n", float64(r.c.cpu.Microseconds())/float64(customers), r.c.n, r.name)
	}
	return b.String()
}
