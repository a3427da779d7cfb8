package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
)

const (
	sqlInsertWebSession = `INSERT INTO web_sessions (token_hash, organization_id, key_id, csrf_token, expires)
		VALUES ($1, $2, $3, $4, $5)`
	// The key must still be valid: revoking it ends its sessions at once.
	sqlSelectWebSession = `SELECT o.id, o.name, o.created, ` + sqlSettingsColumns + `, s.key_id, s.csrf_token, s.expires
		FROM web_sessions s
		JOIN api_keys k ON k.organization_id = s.organization_id AND k.id = s.key_id AND k.revoked IS NULL
		JOIN organizations o ON o.id = s.organization_id
		WHERE s.token_hash = $1 AND s.expires > now()`
	sqlDeleteWebSession  = `DELETE FROM web_sessions WHERE token_hash = $1`
	sqlDeleteOldSessions = `DELETE FROM web_sessions WHERE expires < now()`
)

// WebSession is a signed-in browser of the web app: the organization (with
// its settings, read afresh each time), the key it signed in with and the
// token its forms send back.
type WebSession struct {
	Org       *customer.Organization
	KeyID     string
	CSRFToken string
	Expires   time.Time
}

// CreateWebSession checks apiKey and opens a session of ttl for it. The
// returned token goes into the browser's cookie; only its hash is stored.
func (s *Store) CreateWebSession(ctx context.Context, apiKey string, ttl time.Duration) (token string, ws *WebSession, err error) {
	org, err := s.Authenticate(ctx, apiKey)
	if err != nil {
		return "", nil, err
	}
	// Authenticate accepted the key, so it has the lk_<id>_<secret> shape.
	id, _, _ := strings.Cut(strings.TrimPrefix(apiKey, apiKeyPrefix), "_")
	token, err = randomToken()
	if err != nil {
		return "", nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", nil, err
	}
	ws = &WebSession{Org: org, KeyID: customer.PrefixKey + "_" + id, CSRFToken: csrf, Expires: time.Now().Add(ttl).UTC()}
	// Expired sessions go when new ones come: sign-ins are rare, the
	// delete uses the expires index.
	if _, err := s.pool.Exec(ctx, sqlDeleteOldSessions); err != nil {
		return "", nil, interpretError(err, nil)
	}
	if _, err := s.pool.Exec(ctx, sqlInsertWebSession, tokenHash(token), org.ID, ws.KeyID, csrf, ws.Expires); err != nil {
		return "", nil, interpretError(err, nil)
	}
	return token, ws, nil
}

// FindWebSession returns the live session of token: not expired, its key
// not revoked. Anything else is 401.
func (s *Store) FindWebSession(ctx context.Context, token string) (*WebSession, error) {
	var o customer.Organization
	ws := &WebSession{Org: &o}
	err := scanOrg(s.pool.QueryRow(ctx, sqlSelectWebSession, tokenHash(token)), &o, &ws.KeyID, &ws.CSRFToken, &ws.Expires)
	if err != nil {
		return nil, interpretError(err, errNoSession)
	}
	return ws, nil
}

// DeleteWebSession signs a browser out; an unknown token is no error.
func (s *Store) DeleteWebSession(ctx context.Context, token string) error {
	_, err := s.pool.Exec(ctx, sqlDeleteWebSession, tokenHash(token))
	return interpretError(err, nil)
}

var errNoSession = &customer.Error{Code: customer.EUNAUTHORIZED, Message: "Not signed in, or the session ended"}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
