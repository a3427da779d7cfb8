package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/linkitworks/customers/postgres/postgrestest"
)

// The jobs purge reads only the blocks that can hold expired jobs, also
// where autovacuum never summarized the BRIN index (off, or behind): with
// nothing expired a tick touched every block of the table.
func TestPurgeJobsReadsOnlyOldBlocks(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO organizations (id, name) VALUES ('org_a', 'A')`,
		// 30,000 finished jobs of the last hour (~1,000 blocks) and 10 of last year.
		`INSERT INTO jobs (organization_id, id, type, state, payload, result, created, completed)
			SELECT 'org_a', 'job_new' || i, 'upsert', 'completed', '{"email":"someone@example.com"}',
				'{"customer_id":"cust_x","action":"created"}', now() - interval '1 hour' + i * interval '1 ms', now()
			FROM generate_series(1, 30000) i`,
		`INSERT INTO jobs (organization_id, id, type, state, payload, created, completed)
			SELECT 'org_a', 'job_old' || i, 'upsert', 'failed', '{}', now() - interval '400 days', now() - interval '400 days'
			FROM generate_series(1, 10) i`,
	} {
		if _, err := st.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	blocksRead := func() int {
		t.Helper()
		var plan []map[string]any
		tx, err := st.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		// The purge's own settings, the table without statistics (no ANALYZE ran).
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRow(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
			SELECT ctid FROM jobs WHERE created < now() - interval '30 days' AND state <> 'queued'`).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		p := plan[0]["Plan"].(map[string]any)
		return int(p["Shared Hit Blocks"].(float64) + p["Shared Read Blocks"].(float64))
	}
	before := blocksRead()
	n, err := st.PurgeJobs(ctx, time.Now().Add(-30*24*time.Hour), 1000)
	if err != nil || n != 10 {
		t.Fatalf("purged %d jobs, %v; want the 10 of last year", n, err)
	}
	var left int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM jobs`).Scan(&left); err != nil || left != 30000 {
		t.Fatalf("%d jobs left, %v; want the 30,000 recent ones", left, err)
	}
	// The old jobs sat in the first blocks; the rest of the table is
	// summarized now and skipped: one range (128 blocks) or two at most.
	if after := blocksRead(); after > 200 || before < 500 {
		t.Fatalf("the purge's scan read %d blocks (before the first purge: %d); want < 200 after, > 500 before (the table holds ~700)", after, before)
	}
}
