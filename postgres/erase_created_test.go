package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// Erasing a customer an import created opens only the arrays of its chunk
// (its customer.created event's import and transaction), not every array
// of the organization: 40 arrays of 300 ids (each stored out of line) of
// one import, the person in one of them. The event is a row of
// audit_events (before migration 00048) or, as a chunk now writes it, in
// an audit_created row.
func TestEraseImportCreatedOpensItsArrays(t *testing.T) {
	t.Parallel()
	for _, form := range []string{"row", "array"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			eraseOpensItsArrays(t, form == "array")
		})
	}
}

func eraseOpensItsArrays(t *testing.T, arrays bool) {
	st := postgrestest.New(t)
	ctx := context.Background()
	db := st.Pool()
	// One connection throughout: its statistics are the only ones that
	// count (another backend's writes could be flushed meanwhile).
	conn, err := db.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ('org_er', 'Er')`); err != nil {
		t.Fatal(err)
	}
	const target = "cust_erase_me"
	for i := range 40 {
		// One chunk transaction each; the person's chunk writes its event.
		sql := `INSERT INTO import_created (organization_id, import_id, first_id, customer_ids)
			SELECT 'org_er', 'imp_big', min(id), array_agg(id ORDER BY id)
			FROM (SELECT 'cust_' || md5($1 || ':' || n) AS id FROM generate_series(1, 300) n
				UNION ALL SELECT $2 WHERE $3) ids`
		if i == 17 && !arrays {
			sql = `WITH ev AS (INSERT INTO audit_events (organization_id, customer_id, type, source, import_id)
				VALUES ('org_er', $2, 'customer.created', 'import', 'imp_big')) ` + sql
		}
		if i == 17 && arrays {
			sql = `WITH c AS (INSERT INTO customers (organization_id, id, first_name) VALUES ('org_er', $2, 'Er')),
				ev AS (` + postgres.SQLCreatedEvent + `) ` + sql
		}
		if _, err := conn.Exec(ctx, sql, fmt.Sprint(i), target, i == 17); err != nil {
			t.Fatal(err)
		}
	}
	// The table's out-of-line blocks this backend has read, its statistics
	// flushed first (pg_stat_force_next_flush: at the statement's end).
	toastBlocks := func() int64 {
		t.Helper()
		if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := conn.QueryRow(ctx, `SELECT pg_stat_clear_snapshot(), coalesce(toast_blks_read, 0) + coalesce(toast_blks_hit, 0)
			FROM pg_statio_user_tables WHERE relname = 'import_created'`).Scan(nil, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := toastBlocks()
	var changed int64
	empty := []string{}
	if err := conn.QueryRow(ctx, postgres.SQLEraseImportCreated, "org_er", []string{target}, empty, empty, empty, empty, empty, empty).Scan(&changed); err != nil {
		t.Fatal(err)
	}
	read := toastBlocks() - before
	var left, ids int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE u = $1), count(*) FROM import_created, unnest(customer_ids) u
		WHERE organization_id = 'org_er'`, target).Scan(&left, &ids); err != nil {
		t.Fatal(err)
	}
	if changed != 1 || left != 0 || ids != 40*300 {
		t.Fatalf("erased from %d arrays, %d of the person's ids left, %d ids in all", changed, left, ids)
	}
	// Every array read: 126 block reads (measured); the person's read twice
	// and rewritten: about 30.
	if read > 60 {
		t.Fatalf("the erasure read %d out-of-line blocks of import_created: it opened arrays that cannot hold the person", read)
	}
	// An event whose transaction no array carries (rewritten since, e.g.
	// by a repack): every array of its import is searched.
	if _, err := conn.Exec(ctx, `UPDATE import_created SET customer_ids = customer_ids || 'cust_repacked'::text
			WHERE organization_id = 'org_er' AND first_id = (SELECT min(first_id) FROM import_created);
		INSERT INTO audit_events (organization_id, customer_id, type, source, import_id)
		VALUES ('org_er', 'cust_repacked', 'customer.created', 'import', 'imp_big')`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, postgres.SQLEraseImportCreated, "org_er", []string{"cust_repacked"}, empty, empty, empty, empty, empty, empty).Scan(&changed); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM import_created, unnest(customer_ids) u
		WHERE organization_id = 'org_er' AND u = 'cust_repacked'`).Scan(&left); err != nil || changed != 1 || left != 0 {
		t.Fatalf("erased from %d arrays, %d of the person's ids left (%v)", changed, left, err)
	}
}
