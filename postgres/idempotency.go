// Idempotency-Key: the first answer to a creating POST, kept to replay it.

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// StoredResponse is what the store knows of an Idempotency-Key: the hash of
// the request that claimed it and, once answered, the answer.
type StoredResponse struct {
	RequestHash string
	Done        bool // false while the first request is being answered
	Status      int
	Location    string
	Body        []byte
}

const (
	// A key is claimed by inserting it; a key older than 24 hours, or one
	// whose request has been pending for 2 minutes (its process died before
	// answering), is taken over.
	sqlClaimIdemKey = `INSERT INTO idempotency_keys (organization_id, key, request_hash) VALUES ($1, $2, $3)
		ON CONFLICT (organization_id, key) DO UPDATE
		SET request_hash = EXCLUDED.request_hash, status = NULL, location = NULL, body = NULL, created = now()
		WHERE idempotency_keys.created < now() - interval '24 hours'
		   OR (idempotency_keys.status IS NULL AND idempotency_keys.created < now() - interval '2 minutes')
		RETURNING true`
	sqlSelectIdemKey = `SELECT request_hash, status IS NOT NULL, coalesce(status, 0), coalesce(location, ''), coalesce(body, '')
		FROM idempotency_keys WHERE organization_id = $1 AND key = $2`
	sqlSaveIdemKey = `UPDATE idempotency_keys SET status = $3, location = $4, body = $5
		WHERE organization_id = $1 AND key = $2 AND status IS NULL`
	sqlSaveIdemUpload = `UPDATE idempotency_keys SET status = $3, location = $4, body = $5, request_hash = $6
		WHERE organization_id = $1 AND key = $2 AND status IS NULL`
	sqlReleaseIdemKey = `DELETE FROM idempotency_keys WHERE organization_id = $1 AND key = $2 AND status IS NULL`
	// Keys past 24 hours answer nothing any more (a claim takes them over);
	// they are deleted in batches along idempotency_keys_created.
	sqlPurgeIdemKeys = `DELETE FROM idempotency_keys WHERE (organization_id, key) IN (
		SELECT organization_id, key FROM idempotency_keys
		WHERE created < now() - interval '24 hours' ORDER BY created LIMIT $1)`
)

// PurgeIdempotencyKeys deletes up to batch keys older than 24 hours and
// returns how many.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, batch int) (int64, error) {
	tag, err := s.pool.Exec(ctx, sqlPurgeIdemKeys, batch)
	if err != nil {
		return 0, interpretError(fmt.Errorf("purge idempotency keys: %w", err), nil)
	}
	return tag.RowsAffected(), nil
}

// ClaimIdempotencyKey claims key for a request whose hash is hash. It
// returns nil when the caller now owns the key and must answer, else what
// is stored under it (another request's hash, or one pending or answered).
func (s *Store) ClaimIdempotencyKey(ctx context.Context, orgID, key, hash string) (*StoredResponse, error) {
	// A key released between the insert and the read is claimed again.
	for range 3 {
		var claimed bool
		err := s.pool.QueryRow(ctx, sqlClaimIdemKey, orgID, key, hash).Scan(&claimed)
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, interpretError(fmt.Errorf("claim idempotency key: %w", err), nil)
		}
		var r StoredResponse
		err = s.pool.QueryRow(ctx, sqlSelectIdemKey, orgID, key).Scan(&r.RequestHash, &r.Done, &r.Status, &r.Location, &r.Body)
		if err == nil {
			return &r, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, interpretError(fmt.Errorf("read idempotency key: %w", err), nil)
		}
	}
	return nil, fmt.Errorf("claim idempotency key: released and taken again repeatedly")
}

// SaveIdempotentResponse stores the answer of the request that claimed key.
func (s *Store) SaveIdempotentResponse(ctx context.Context, orgID, key string, status int, location string, body []byte) error {
	if _, err := s.pool.Exec(ctx, sqlSaveIdemKey, orgID, key, status, location, body); err != nil {
		return interpretError(fmt.Errorf("save idempotent response: %w", err), nil)
	}
	return nil
}

// SaveIdempotentUpload stores the answer of the upload that claimed key
// with the request hash known only once its file was read.
func (s *Store) SaveIdempotentUpload(ctx context.Context, orgID, key, hash string, status int, location string, body []byte) error {
	if _, err := s.pool.Exec(ctx, sqlSaveIdemUpload, orgID, key, status, location, body, hash); err != nil {
		return interpretError(fmt.Errorf("save idempotent upload: %w", err), nil)
	}
	return nil
}

// ReleaseIdempotencyKey frees a claimed key whose request got no final
// answer (a server error, a 202), so that a retry does the work.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, orgID, key string) error {
	if _, err := s.pool.Exec(ctx, sqlReleaseIdemKey, orgID, key); err != nil {
		return interpretError(fmt.Errorf("release idempotency key: %w", err), nil)
	}
	return nil
}
