package postgres_test

import (
	"context"
	"io/fs"
	"maps"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/migrations"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// Two organizations holding the same 600 people get the same suggestions
// (pairs and reasons),
// but share no blocking key: a key's probe of the one GIN index over all
// organizations' keys finds only its own organization's customers.
// Migration 00049's Down gives back keys that depend on the person alone
// (what was written before it: the same for both organizations), and its
// Up mixes them again into exactly what the scorer writes.
func TestFuzzyKeysPerOrganization(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	pool := st.Pool()
	const other = "org_fz2"
	for _, sql := range []string{sqlFuzzyPeople, strings.ReplaceAll(sqlFuzzyPeople, "'org_fz'", "'"+other+"'")} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	suggested := map[string]map[string]string{}
	for _, org := range []string{"org_fz", other} {
		if _, err := st.ScanFuzzy(ctx, org, postgres.FuzzyScanOptions{}); err != nil {
			t.Fatal(err)
		}
		suggested[org] = orgPairs(t, st, org)
	}
	if len(suggested["org_fz"]) < 100 || !maps.Equal(suggested["org_fz"], suggested[other]) {
		t.Fatalf("suggestions differ: %d in org_fz, %d in %s", len(suggested["org_fz"]), len(suggested[other]), other)
	}

	// shared counts the customers of org_fz with a key of the other
	// organization, and those whose keys equal their namesake's there.
	shared := func() (overlapping, equal int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM fuzzy_keys a WHERE a.organization_id = 'org_fz' AND EXISTS (
					SELECT 1 FROM fuzzy_keys b WHERE b.organization_id = $1 AND b.keys && a.keys)),
				(SELECT count(*) FROM fuzzy_keys a JOIN fuzzy_keys b ON b.organization_id = $1
					AND b.customer_id = a.customer_id AND b.keys = a.keys WHERE a.organization_id = 'org_fz')`,
			other).Scan(&overlapping, &equal); err != nil {
			t.Fatal(err)
		}
		return overlapping, equal
	}
	keysText := func() map[string]string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT organization_id || '/' || customer_id, keys::text FROM fuzzy_keys`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		var id, k string
		if _, err := pgx.ForEachRow(rows, []any{&id, &k}, func() error { out[id] = k; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if o, e := shared(); o != 0 || e != 0 {
		t.Fatalf("%d customers of org_fz share a key with %s (%d all their keys)", o, other, e)
	}
	written := keysText()
	if len(written) != 1200 {
		t.Fatalf("%d customers keyed, want 1200", len(written))
	}

	up, down := migrationSections(t, "00049_fuzzy_keys_per_organization.sql")
	if _, err := pool.Exec(ctx, down); err != nil {
		t.Fatal(err)
	}
	if o, e := shared(); o != 600 || e != 600 {
		t.Fatalf("after Down: %d customers of org_fz share a key with %s, %d all their keys; want 600, 600", o, other, e)
	}
	if _, err := pool.Exec(ctx, up); err != nil {
		t.Fatal(err)
	}
	if again := keysText(); !maps.Equal(again, written) {
		t.Fatalf("Up did not give back the keys the scorer writes (%d keyed)", len(again))
	}
	// The index is back: a probe for a key finds its customer.
	var found int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM fuzzy_keys a WHERE a.organization_id = 'org_fz'
		AND EXISTS (SELECT 1 FROM fuzzy_keys b WHERE b.keys @> a.keys[1:1] AND b.organization_id = 'org_fz' AND b.customer_id = a.customer_id)`).Scan(&found); err != nil || found != 600 {
		t.Fatalf("probes by the first key found %d of 600 (%v)", found, err)
	}
}

// orgPairs reads an organization's fuzzy suggestions and their reasons
// (not their scores: each organization's model estimates its u
// probabilities from its own random pairs).
func orgPairs(t *testing.T, st *postgres.Store, org string) map[string]string {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT customer_a || '-' || customer_b, array_to_string(reasons, '|')
		FROM duplicate_suggestions WHERE organization_id = $1 AND source = 'fuzzy'`, org)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var pair, v string
	if _, err := pgx.ForEachRow(rows, []any{&pair, &v}, func() error { out[pair] = v; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// migrationSections splits a migration file into its Up and Down SQL.
func migrationSections(t *testing.T, name string) (up, down string) {
	t.Helper()
	b, err := fs.ReadFile(migrations.FS(), name)
	if err != nil {
		t.Fatal(err)
	}
	up, down, ok := strings.Cut(string(b), "-- +goose Down")
	if !ok {
		t.Fatalf("%s has no Down section", name)
	}
	return up, down
}
