package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// leaseStore is a store on a fresh database with org_fz's people and a
// short scan lease (renewed every 0.5 s).
func leaseStore(t *testing.T) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), postgrestest.NewURL(t), postgres.Options{MaxConns: 8, FuzzyScanLease: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Pool().Exec(context.Background(), sqlFuzzyPeople); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitFor polls cond until it holds (10 s at most).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two scans of one organization at once: the second waits until the first
// ends (its lease renewed meanwhile, incremental batches kept out), then
// runs; nothing is left held.
func TestFuzzyScanLeaseOneAtATime(t *testing.T) {
	t.Parallel()
	st := leaseStore(t)
	ctx := context.Background()
	lease := func() (holder string, expires time.Time) {
		_ = st.Pool().QueryRow(ctx, `SELECT holder, expires_at FROM fuzzy_scan_leases WHERE organization_id = 'org_fz'`).Scan(&holder, &expires)
		return holder, expires
	}
	scans := postgrestest.StartHeldScans(t, st, "org_fz")
	holder, expires := lease()
	if holder == "" {
		t.Fatal("a running scan holds no lease")
	}
	if b, err := st.ScoreSuggestPending(ctx, "org_fz", 500, dedupe.DefaultMinScore); err != nil || !b.Busy {
		t.Fatalf("a batch during a scan: %+v %v", b, err)
	}
	// The heartbeat renews the lease past its first expiry; the second
	// scan still waits.
	waitFor(t, "the lease renewed", func() bool {
		h, e := lease()
		return h == holder && e.After(expires.Add(200*time.Millisecond))
	})
	waitFor(t, "the first expiry to pass", func() bool {
		var past bool
		_ = st.Pool().QueryRow(ctx, `SELECT clock_timestamp() > $1`, expires).Scan(&past)
		return past
	})
	if h, _ := lease(); h != holder || scans.SecondEarly() {
		t.Fatalf("the second scan ran beside the first (lease %q, was %q)", h, holder)
	}
	scans.Finish(t)
	if h, _ := lease(); h != "" {
		t.Fatalf("lease %q left after both scans", h)
	}
	if b, err := st.ScoreSuggestPending(ctx, "org_fz", 500, dedupe.DefaultMinScore); err != nil || b.Busy {
		t.Fatalf("a batch after the scans: %+v %v", b, err)
	}
}

// A holder that died leaves its lease: batches and scans wait until it
// expires, then the next scan takes it over and runs.
func TestFuzzyScanLeaseTakenOverWhenExpired(t *testing.T) {
	t.Parallel()
	st := leaseStore(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO fuzzy_scan_leases (organization_id, holder, expires_at)
		VALUES ('org_fz', 'killed-worker', clock_timestamp() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	if b, err := st.ScoreSuggestPending(ctx, "org_fz", 500, dedupe.DefaultMinScore); err != nil || !b.Busy {
		t.Fatalf("a batch under a live lease: %+v %v", b, err)
	}
	type outcome struct {
		res *postgres.FuzzyScanResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := st.ScanFuzzy(ctx, "org_fz", postgres.FuzzyScanOptions{KeepModel: true})
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		t.Fatalf("a scan ran under another holder's live lease: %+v %v", o.res, o.err)
	case <-time.After(time.Second): // four polls
	}
	// The dead holder's lease runs out.
	if _, err := st.Pool().Exec(ctx, `UPDATE fuzzy_scan_leases SET expires_at = clock_timestamp() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil || o.res.Customers != 600 || o.res.PendingCleared == 0 || o.res.LockSeconds < 1 {
		t.Fatalf("scan after the expiry: %+v %v", o.res, o.err)
	}
	var left int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM fuzzy_scan_leases`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d leases left (%v)", left, err)
	}
}
