package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/postgres"
)

// resetDatabase drops and recreates the benchmark database, then migrates it.
func resetDatabase(ctx context.Context, databaseURL string) error {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	name := cfg.Database
	if !strings.Contains(name, "bench") {
		return fmt.Errorf("refusing to drop database %q: its name must contain \"bench\"", name)
	}
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to maintenance database: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return postgres.Migrate(ctx, databaseURL)
}

// loadStats are the figures of the initial load.
type loadStats struct {
	Customers       int     `json:"customers"`
	Identities      int     `json:"identities"`
	RawCopySeconds  float64 `json:"raw_copy_seconds"`
	RawRowsPerSec   float64 `json:"raw_copy_rows_per_second"`
	CopySeconds     float64 `json:"copy_seconds"`
	IndexSeconds    float64 `json:"index_seconds"`
	AnalyzeSeconds  float64 `json:"vacuum_analyze_seconds"`
	LoadPerSec      float64 `json:"load_customers_per_second"`
	Ratio           float64 `json:"ratio_to_raw_copy"`
	RebuiltIndexes  int     `json:"rebuilt_indexes"`
	CustomersSizeMB float64 `json:"customers_size_mb"`
}

var customerCopyColumns = []string{"organization_id", "id", "first_name", "last_name", "name", "email",
	"phone", "phone_valid", "source", "created", "updated", "customer_since"}

// customerRows streams generated customers into CopyFrom.
type customerRows struct {
	g    *gen
	i, n int
	row  []any
}

func (r *customerRows) Next() bool { r.i++; return r.i <= r.n }
func (r *customerRows) Err() error { return nil }
func (r *customerRows) Values() ([]any, error) {
	p := r.g.person(r.i - 1)
	r.row = append(r.row[:0], r.g.orgID, p.ID, p.FirstName, p.LastName, p.Name, p.Email, p.Phone,
		r.g.valid(p), "bench", p.Created, p.Created, p.Created)
	return r.row, nil
}

var identityCopyColumns = []string{"organization_id", "kind", "value", "customer_id", "is_primary", "display", "created"}

// identityRows streams each customer's primary email and phone identities.
type identityRows struct {
	g    *gen
	i, n int // i counts rows: two per customer
	p    person
	row  []any
}

func (r *identityRows) Next() bool { r.i++; return r.i <= 2*r.n }
func (r *identityRows) Err() error { return nil }
func (r *identityRows) Values() ([]any, error) {
	k := r.i - 1
	if k%2 == 0 {
		r.p = r.g.person(k / 2)
		r.row = append(r.row[:0], r.g.orgID, "email", r.p.Email, r.p.ID, true, r.p.Email, r.p.Created)
	} else {
		r.row = append(r.row[:0], r.g.orgID, "phone", r.p.PhoneKey, r.p.ID, true, r.p.Phone, r.p.Created)
	}
	return r.row, nil
}

// loadCustomers fills customers and customer_identities with n generated
// customers the way a bulk loader would: the non-unique secondary indexes
// (as the migrations define them, read from pg_indexes) are dropped and
// rebuilt after the COPY, and foreign-key triggers are skipped for the COPY
// sessions (session_replication_role = replica; the generated data is
// consistent by construction). The baseline is a plain COPY of the same
// customer rows into a bare table.
func loadCustomers(ctx context.Context, pool *pgxpool.Pool, g *gen, logf func(string, ...any)) (*loadStats, error) {
	st := &loadStats{Customers: g.n, Identities: 2 * g.n}

	// Baseline: COPY the same rows into a table with no index, constraint
	// or generated column.
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_raw_customers (LIKE customers INCLUDING DEFAULTS)`); err != nil {
		return nil, fmt.Errorf("raw copy table: %w", err)
	}
	start := time.Now()
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"bench_raw_customers"}, customerCopyColumns, &customerRows{g: g, n: g.n}); err != nil {
		return nil, fmt.Errorf("raw copy: %w", err)
	}
	st.RawCopySeconds = time.Since(start).Seconds()
	st.RawRowsPerSec = float64(g.n) / st.RawCopySeconds
	if _, err := pool.Exec(ctx, `DROP TABLE bench_raw_customers`); err != nil {
		return nil, err
	}
	logf("raw COPY baseline: %d rows in %.1fs (%.0f rows/s)", g.n, st.RawCopySeconds, st.RawRowsPerSec)

	type index struct{ name, def string }
	var indexes []index
	rows, err := pool.Query(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		JOIN pg_index x ON x.indexrelid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass
		WHERE i.schemaname = current_schema() AND i.tablename IN ('customers', 'customer_identities')
		AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.indexname`)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.def); err != nil {
			return nil, err
		}
		indexes = append(indexes, ix)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	st.RebuiltIndexes = len(indexes)
	for _, ix := range indexes {
		if _, err := pool.Exec(ctx, "DROP INDEX "+pgx.Identifier{ix.name}.Sanitize()); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", ix.name, err)
		}
	}

	copyTable := func(table string, cols []string, src pgx.CopyFromSource) error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
			return fmt.Errorf("skip fk triggers: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), `RESET session_replication_role`) //nolint:errcheck // best effort
		_, err = conn.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		return nil
	}
	start = time.Now()
	if err := parallel(
		func() error { return copyTable("customers", customerCopyColumns, &customerRows{g: g, n: g.n}) },
		func() error {
			return copyTable("customer_identities", identityCopyColumns, &identityRows{g: g, n: g.n})
		},
	); err != nil {
		return nil, err
	}
	st.CopySeconds = time.Since(start).Seconds()
	logf("COPY customers + identities: %.1fs", st.CopySeconds)

	// Rebuild the indexes, the trigram index on one connection and the
	// b-trees on another.
	start = time.Now()
	var gin, other []index
	for _, ix := range indexes {
		if strings.Contains(strings.ToLower(ix.def), "using gin") {
			gin = append(gin, ix)
		} else {
			other = append(other, ix)
		}
	}
	build := func(list []index) error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, `SET maintenance_work_mem = '512MB'`); err != nil {
			return err
		}
		defer conn.Exec(context.WithoutCancel(ctx), `RESET maintenance_work_mem`) //nolint:errcheck // best effort
		for _, ix := range list {
			if _, err := conn.Exec(ctx, ix.def); err != nil {
				return fmt.Errorf("rebuild index %s: %w", ix.name, err)
			}
		}
		return nil
	}
	if err := parallel(func() error { return build(gin) }, func() error { return build(other) }); err != nil {
		return nil, err
	}
	st.IndexSeconds = time.Since(start).Seconds()
	logf("rebuilt %d indexes: %.1fs", len(indexes), st.IndexSeconds)
	st.LoadPerSec = float64(g.n) / (st.CopySeconds + st.IndexSeconds)
	st.Ratio = st.LoadPerSec / st.RawRowsPerSec

	start = time.Now()
	for _, q := range []string{`VACUUM (ANALYZE) customers`, `VACUUM (ANALYZE) customer_identities`, `CHECKPOINT`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	st.AnalyzeSeconds = time.Since(start).Seconds()
	var bytes int64
	if err := pool.QueryRow(ctx, `SELECT pg_total_relation_size('customers')`).Scan(&bytes); err != nil {
		return nil, err
	}
	st.CustomersSizeMB = float64(bytes) / (1 << 20)
	logf("VACUUM ANALYZE + CHECKPOINT: %.1fs", st.AnalyzeSeconds)
	return st, nil
}

// parallel runs fns at once and returns their errors joined.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
