package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"
)

// An organization's duplicate scan holds a lease row (migration 00045)
// instead of a session-level advisory lock, which PgBouncer in transaction
// mode leaves on whatever server connection ran it. Every statement here
// is its own transaction, so it means the same through any pooler.
const (
	// sqlFuzzyTakeLease takes the organization's lease when nobody holds
	// it or its holder's expired, and then — in the same transaction —
	// waits for the incremental batches already running (they hold the
	// organization's transaction-level advisory lock shared): once it
	// returns 1, no batch is scoring and every later one sees the lease.
	sqlFuzzyTakeLease = `WITH took AS (
			INSERT INTO fuzzy_scan_leases AS l (organization_id, holder, expires_at)
			VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
			ON CONFLICT (organization_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
				WHERE l.expires_at < clock_timestamp()
			RETURNING 1)
		SELECT count(pg_advisory_xact_lock(hashtextextended($4, 0))) FROM took`
	sqlFuzzyRenewLease = `UPDATE fuzzy_scan_leases SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
		WHERE organization_id = $1 AND holder = $2`
	sqlFuzzyDropLease = `DELETE FROM fuzzy_scan_leases WHERE organization_id = $1 AND holder = $2`
	// An incremental batch holds the lock shared for its transaction, then
	// looks for a live lease in a statement of its own: its snapshot is
	// taken after the lock, so it sees a lease whose scan waited for it.
	sqlSuggestLockShared = `SELECT pg_try_advisory_xact_lock_shared(hashtextextended($1, 0))`
	// Scoring yields to a scan (it covers these customers) and to a merging
	// import of the organization (issue 24: scored beside the import, its
	// new customers took one of the box's two cores for the whole merge).
	// They wait in suggest_pending and are scored once it ends
	// (imports_active finds the import).
	sqlSuggestFree = `SELECT NOT EXISTS (SELECT 1 FROM fuzzy_scan_leases WHERE organization_id = $1 AND expires_at > clock_timestamp())
		AND NOT EXISTS (SELECT 1 FROM imports WHERE organization_id = $1 AND status = 'processing')`
)

// DefaultFuzzyScanLease is how long a scan's lease lasts unrenewed: a
// holder renews it every third of that, so only a holder gone (killed,
// frozen, cut from the database) that long loses it to the next scan.
const DefaultFuzzyScanLease = 30 * time.Second

// fuzzyLeasePoll is how often a scan waiting for the organization asks
// again (no LISTEN through a transaction pooler).
const fuzzyLeasePoll = 250 * time.Millisecond

// ErrFuzzyLeaseLost ends a scan whose lease another scan took over (its
// holder went unrenewed for the lease's length): the scan stops rather
// than writing beside the new holder.
var ErrFuzzyLeaseLost = errors.New("duplicate scan: the organization's lease was taken over")

func (s *Store) fuzzyLeaseMillis() int64 {
	d := s.opts.FuzzyScanLease
	if d <= 0 {
		d = DefaultFuzzyScanLease
	}
	return d.Milliseconds()
}

// fuzzyHolder names a lease's holder: host and process for an operator
// reading the table, random so that two scans never share one.
func fuzzyHolder() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// takeFuzzyLease waits until the scan holds the organization, then renews
// the lease until release is called; the returned context ends if the lease
// is lost (its cause ErrFuzzyLeaseLost). release deletes the lease.
func (s *Store) takeFuzzyLease(ctx context.Context, orgID string) (context.Context, func(), error) {
	holder, ttl := fuzzyHolder(), s.fuzzyLeaseMillis()
	for {
		var took int
		if err := s.pool.QueryRow(ctx, sqlFuzzyTakeLease, orgID, holder, ttl, fuzzyLockKey(orgID)).Scan(&took); err != nil {
			return nil, nil, interpretError(fmt.Errorf("take scan lease: %w", err), nil)
		}
		if took == 1 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(fuzzyLeasePoll):
		}
	}
	scanCtx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(time.Duration(ttl) * time.Millisecond / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-scanCtx.Done():
				return
			case <-t.C:
			}
			tag, err := s.pool.Exec(scanCtx, sqlFuzzyRenewLease, orgID, holder, ttl)
			if err == nil && tag.RowsAffected() == 0 {
				cancel(ErrFuzzyLeaseLost)
				return
			}
			// An error is retried at the next tick: the lease outlasts
			// two missed renewals.
		}
	}()
	release := func() {
		close(stop)
		<-beat
		cancel(nil)
		_, _ = s.pool.Exec(context.WithoutCancel(ctx), sqlFuzzyDropLease, orgID, holder) // or it expires
	}
	return scanCtx, release, nil
}
