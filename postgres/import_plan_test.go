package postgres_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// The import's reads must not hinge on statistics: on tables never
// analyzed (a young organization, autovacuum behind) the join form became
// a nested loop over every identity of the organization per staged row
// (34 s for 3,000 rows against 26,000 customers). A small import probes
// the identities' primary key per key; a large one joins without nested
// loops.
func TestImportReadPlans(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	explain := func(q pgx.Tx, sql string) string {
		t.Helper()
		var plan []map[string]any
		if err := q.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, "org_x", "imp_x", []string{}, []string{}).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(plan)
		return string(b)
	}

	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	probe := explain(tx, postgres.SQLRowsByOwnerProbe)
	// Three probes, each parameterized by the staged row's key.
	if strings.Count(probe, `"Index Name":"customer_identities_pkey"`) != 3 || strings.Count(probe, `AND (value = r`) != 3 {
		t.Errorf("small import's owner read is not one key probe per row:\n%s", probe)
	}

	// A chunk's moved-in rows: one primary-key probe of the staged rows per
	// move, not a scan of the import's rows per move — also when the
	// statistics predate the import (they say it has no rows).
	for _, q := range []string{
		`INSERT INTO import_rows (organization_id, import_id, row_num, chunk)
			SELECT 'org_x', 'imp_old', n, n / 4000 FROM generate_series(2, 20001) n`,
		`ANALYZE import_rows`,
		`INSERT INTO import_rows (organization_id, import_id, row_num, chunk)
			SELECT 'org_x', 'imp_x', n, n / 4000 FROM generate_series(2, 20001) n`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var plan []map[string]any
	if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+postgres.SQLChunkRows, "org_x", "imp_x", 3).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(plan); !strings.Contains(string(b), `AND (row_num = m.row_num))","Index Name":"import_rows_pkey"`) {
		t.Errorf("a chunk's moved-in rows are not read by key:\n%s", b)
	}
	// Its staged rows: a range of the primary key (no index by chunk).
	if b, _ := json.Marshal(plan); !strings.Contains(string(b), `(row_num \u003e= $`) || !strings.Contains(string(b), `(row_num \u003c $`) ||
		strings.Count(string(b), `"Index Name":"import_rows_pkey"`) != 2 {
		t.Errorf("a chunk's staged rows are not a range of the primary key:\n%s", b)
	}

	// Fat rows (nearly always none) are read through their partial index
	// once staging has analyzed the file, not by a scan of every staged row.
	// (The ANALYZE above covered every column; staging's own is all a
	// fresh file gets.)
	for _, q := range []string{`DELETE FROM pg_statistic WHERE starelid = 'import_rows'::regclass`, postgres.SQLAnalyzeStaging} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+postgres.SQLFatRows, "org_x", "imp_x").Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(plan); !strings.Contains(string(b), `"Index Name":"import_rows_fat"`) {
		t.Errorf("the fat rows are not read through their index:\n%s", b)
	}

	big, err := st.Pool().BeginTx(ctx, pgx.TxOptions{BeginQuery: postgres.SQLBeginNoNestLoop})
	if err != nil {
		t.Fatal(err)
	}
	defer big.Rollback(ctx)
	if join := explain(big, postgres.SQLRowsByOwner); strings.Contains(join, `"Nested Loop"`) || !strings.Contains(join, `Join"`) {
		t.Errorf("large import's owner read uses a nested loop:\n%s", join)
	}
}
