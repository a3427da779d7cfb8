package postgres_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// sqlFuzzyPeople makes 600 customers of org_fz, every fourth a copy of the
// one before with a typo in the family name, another email and an
// abbreviated street: names, birthdates and addresses shared enough for
// blocks of every rule.
const sqlFuzzyPeople = `INSERT INTO organizations (id, name) VALUES ('org_fz', 'Fz');
INSERT INTO customers (organization_id, id, first_name, last_name, name, email, birthdate)
	SELECT 'org_fz', 'cust_' || lpad(n::text, 4, '0'), fn,
		CASE WHEN n % 4 = 3 THEN overlay(ln PLACING 'x' FROM 3 FOR 1) ELSE ln END, fn || ' ' || ln,
		'p' || n || '@example.com', date '1950-01-01' + (b * 37) % 4000
	FROM (SELECT n, b,
		(ARRAY['Anna','Bruno','Clara','Diego','Emma','Felix','Greta','Hugo','Ida','Jon','Karl','Lena'])[1 + (b * 7) % 12] AS fn,
		(ARRAY['Sommer','Steiner','Baker','Dietz','Evans','Fischer','Garcia','Hoffman','Jansen','Lopez','Miller','Novak',
			'Olsen','Price'])[1 + (b * 11) % 14] AS ln
		FROM (SELECT n, CASE WHEN n % 4 = 3 THEN n - 1 ELSE n END AS b FROM generate_series(1, 600) n) g) p;
INSERT INTO customer_addresses (organization_id, id, customer_id, label, address_line1, city, state, country, postal_code, is_default)
	SELECT 'org_fz', 'addr_' || n, 'cust_' || lpad(n::text, 4, '0'), 'home',
		(1 + b % 40) || ' ' || (ARRAY['Hill','Park','Oak','Maple'])[1 + b % 4] || CASE WHEN n % 4 = 3 THEN ' St' ELSE ' Street' END,
		'City ' || b % 9, 'CA', 'US', (90000 + b % 9)::text, true
	FROM (SELECT n, CASE WHEN n % 4 = 3 THEN n - 1 ELSE n END AS b FROM generate_series(1, 600) n) g`

// scannedPairs reads org_fz's fuzzy suggestions, then forgets them.
func scannedPairs(t *testing.T, st *postgres.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := st.Pool().Query(ctx, `SELECT customer_a, customer_b, score::text, array_to_string(reasons, '|')
		FROM duplicate_suggestions WHERE organization_id = 'org_fz' AND source = 'fuzzy'`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var a, b, score, reasons string
	if _, err := pgx.ForEachRow(rows, []any{&a, &b, &score, &reasons}, func() error {
		out[a+"-"+b] = score + " " + reasons
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `DELETE FROM duplicate_suggestions WHERE organization_id = 'org_fz'`); err != nil {
		t.Fatal(err)
	}
	return out
}

// A scan under a small memory budget reads its blocks in many passes and
// finds exactly the pairs of one pass: each compared once, the same
// suggestions with the same scores and reasons.
func TestFuzzyScanPassesSamePairs(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, sqlFuzzyPeople); err != nil {
		t.Fatal(err)
	}
	scanWith := func(budget int64, keep bool) (*postgres.FuzzyScanResult, map[string]string) {
		res, err := st.ScanFuzzy(ctx, "org_fz", postgres.FuzzyScanOptions{KeepModel: keep, MemoryBudget: budget})
		if err != nil {
			t.Fatal(err)
		}
		return res, scannedPairs(t, st)
	}
	one, onePairs := scanWith(0, true)
	if one.Passes != 1 || one.Customers != 600 || one.CandidatePairs < 600 || len(onePairs) < 100 {
		t.Fatalf("one pass: %+v, %d suggested", one, len(onePairs))
	}
	if _, ok := onePairs["cust_0002-cust_0003"]; !ok {
		t.Fatalf("the copy of cust_0002 with a typo not suggested: %v", onePairs)
	}
	many, manyPairs := scanWith(32<<10, true)
	if many.Passes < 5 {
		t.Fatalf("a 32 KB budget: %d passes, want several", many.Passes)
	}
	if many.CandidatePairs != one.CandidatePairs || many.Suggested != one.Suggested || len(manyPairs) != len(onePairs) {
		t.Fatalf("%d passes: %d pairs compared, %d suggested (%d rows); one pass: %d, %d (%d rows)", many.Passes,
			many.CandidatePairs, many.Suggested, len(manyPairs), one.CandidatePairs, one.Suggested, len(onePairs))
	}
	for p, v := range onePairs {
		if manyPairs[p] != v {
			t.Fatalf("pair %s: %q in %d passes, %q in one", p, manyPairs[p], many.Passes, v)
		}
	}
	// The model's estimate reads the passes too (its sample of the
	// candidate pairs, the same in any number of passes).
	est, estPairs := scanWith(32<<10, false)
	if est.Passes != many.Passes || est.CandidatePairs != one.CandidatePairs || len(estPairs) == 0 {
		t.Fatalf("estimating in %d passes: %+v, %d suggested", est.Passes, est, len(estPairs))
	}
	t.Logf("%d customers, %d pairs compared, %d suggested, %d passes", one.Customers, one.CandidatePairs, one.Suggested, many.Passes)
}

// A scan writes its keys in batches of customers, each its own statement,
// and after each long statement (a batch of keys, a pass's records) hands
// over to Yield, which may wait: the keys are those of one batch, the pairs
// those of an unpaced scan; an error from Yield ends the scan.
func TestFuzzyScanKeysInBatchesYields(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, sqlFuzzyPeople); err != nil {
		t.Fatal(err)
	}
	keys := func() map[string]string {
		rows, err := st.Pool().Query(ctx, `SELECT customer_id, keys::text FROM fuzzy_keys WHERE organization_id = 'org_fz'`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		var id, k string
		if _, err := pgx.ForEachRow(rows, []any{&id, &k}, func() error { out[id] = k; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Pool().Exec(ctx, `DELETE FROM fuzzy_keys WHERE organization_id = 'org_fz'`); err != nil {
			t.Fatal(err)
		}
		return out
	}
	whole, err := st.ScanFuzzy(ctx, "org_fz", postgres.FuzzyScanOptions{KeepModel: true})
	if err != nil {
		t.Fatal(err)
	}
	wholeKeys, wholePairs := keys(), scannedPairs(t, st)
	yields := 0
	paced, err := st.ScanFuzzy(ctx, "org_fz", postgres.FuzzyScanOptions{KeepModel: true, KeysBatch: 50, MemoryBudget: 32 << 10,
		Yield: func(ctx context.Context, spent time.Duration) error {
			if spent <= 0 {
				t.Errorf("yield after a statement of %v", spent)
			}
			yields++
			time.Sleep(time.Millisecond) // a wait, as the worker's while the API is busy
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	pacedKeys, pacedPairs := keys(), scannedPairs(t, st)
	// 600 customers in batches of 50, then one call per pass.
	if want := 600/50 + paced.Passes; yields != want || paced.YieldSeconds < float64(want)/1000 {
		t.Fatalf("%d yields (%.3f s) for 12 batches of keys and %d passes, want %d", yields, paced.YieldSeconds, paced.Passes, want)
	}
	if len(pacedKeys) != 600 || !maps.Equal(pacedKeys, wholeKeys) {
		t.Fatalf("keys in batches: %d customers, differ from one statement's %d", len(pacedKeys), len(wholeKeys))
	}
	if paced.CandidatePairs != whole.CandidatePairs || !maps.Equal(pacedPairs, wholePairs) {
		t.Fatalf("paced scan: %d pairs compared, %d suggested; unpaced: %d, %d", paced.CandidatePairs, len(pacedPairs),
			whole.CandidatePairs, len(wholePairs))
	}
	stop := errors.New("stop")
	if _, err := st.ScanFuzzy(ctx, "org_fz", postgres.FuzzyScanOptions{KeepModel: true, KeysBatch: 50,
		Yield: func(context.Context, time.Duration) error { return stop }}); !errors.Is(err, stop) {
		t.Fatalf("a scan whose Yield fails: %v, want its error", err)
	}
}
