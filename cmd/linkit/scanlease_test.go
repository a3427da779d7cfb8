package main

import (
	"context"
	"testing"
	"time"

	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// Behind PgBouncer in transaction mode with one server connection (every
// statement of every client runs on it), a duplicate scan still holds its
// organization alone: a second scan waits for it, an incremental batch is
// kept out, and nothing stays held afterwards. With a session-level
// advisory lock the second scan's lock ran on the same server session and
// was granted at once, and the batch's shared lock too.
func TestScanLeaseThroughPgBouncer(t *testing.T) {
	t.Parallel()
	direct := postgrestest.NewURL(t)
	pooled := startPgBouncer(t, direct, 1)
	ctx := context.Background()
	db := openPool(t, direct)
	if _, err := db.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ('org_pb', 'Pb');
		INSERT INTO customers (organization_id, id, first_name, last_name, name, email, birthdate)
		SELECT 'org_pb', 'cust_' || n, fn, 'Quigley', fn || ' Quigley', 'q' || n || '@example.com', date '1966-02-17'
		FROM generate_series(1, 40) n, LATERAL (SELECT (ARRAY['Bart', 'Bartholomew'])[1 + n % 2] AS fn) f`); err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(ctx, pooled, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scans := postgrestest.StartHeldScans(t, st, "org_pb")
	if b, err := st.ScoreSuggestPending(ctx, "org_pb", 500, dedupe.DefaultMinScore); err != nil || !b.Busy {
		t.Errorf("a batch during a scan: %+v %v", b, err)
	}
	// The second scan reads 40 customers in milliseconds once it holds
	// the organization; a second (four of its polls) and it still waits.
	time.Sleep(time.Second)
	if scans.SecondEarly() {
		t.Fatal("the second scan ran while the first held the organization")
	}
	scans.Finish(t)
	if b, err := st.ScoreSuggestPending(ctx, "org_pb", 500, dedupe.DefaultMinScore); err != nil || b.Busy {
		t.Fatalf("a batch after the scans: %+v %v", b, err)
	}
	var held int
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
		+ (SELECT count(*) FROM fuzzy_scan_leases)`).Scan(&held); err != nil || held != 0 {
		t.Fatalf("%d locks or leases held after the scans (%v)", held, err)
	}
}
