package postgres_test

import (
	"context"
	"testing"

	"github.com/linkitworks/customers/postgres/postgrestest"
)

// TestIdempotencyKeysExpire: a key past 24 hours is taken over by a new
// request, with another body too, and purged; a fresh one stays.
func TestIdempotencyKeysExpire(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO idempotency_keys (organization_id, key, request_hash, status, body, created)
		VALUES ('org_a', 'old', 'h1', 201, '{}', now() - interval '25 hours'),
		       ('org_a', 'old2', 'h1', 201, '{}', now() - interval '25 hours'),
		       ('org_a', 'fresh', 'h1', 201, '{}', now())`); err != nil {
		t.Fatal(err)
	}
	// A live key answers its stored response; a stale one is claimed anew.
	if prev, err := st.ClaimIdempotencyKey(ctx, "org_a", "fresh", "h2"); err != nil || prev == nil || prev.RequestHash != "h1" || prev.Status != 201 {
		t.Fatalf("fresh key: %+v, %v", prev, err)
	}
	if prev, err := st.ClaimIdempotencyKey(ctx, "org_a", "old", "h2"); err != nil || prev != nil {
		t.Fatalf("stale key not taken over: %+v, %v", prev, err)
	}
	// The same key in another organization is another key.
	if prev, err := st.ClaimIdempotencyKey(ctx, "org_b", "fresh", "h1"); err != nil || prev != nil {
		t.Fatalf("org_b's key: %+v, %v", prev, err)
	}
	n, err := st.PurgeIdempotencyKeys(ctx, 100)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1 (old2)", n, err)
	}
	var left int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&left); err != nil || left != 3 {
		t.Fatalf("%d keys left, %v; want 3", left, err)
	}
}
