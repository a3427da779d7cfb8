-- +goose Up
-- The organization a duplicate scan holds (postgres/fuzzy_lease.go). It was
-- a session-level advisory lock, which PgBouncer in transaction mode leaves
-- on whatever server connection ran it: the unlock could run on another
-- one (the lock then outlives its scan, and every later batch and scan of
-- the organization waits forever), and a second scan whose statement
-- landed on the same server connection took it again at once. A row is
-- the same wherever the statement runs: taken by a conditional upsert,
-- renewed by the scan's heartbeat, deleted at its end, taken over once
-- expired (a holder that died). Times are the database's clock, so
-- processes' clocks never disagree about an expiry.
CREATE TABLE fuzzy_scan_leases (
    organization_id text PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    holder          text NOT NULL,
    expires_at      timestamptz NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS fuzzy_scan_leases;
