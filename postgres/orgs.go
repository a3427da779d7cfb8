package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/linkitworks/customers/customer"
)

const (
	sqlInsertOrg = `INSERT INTO organizations (id, name, default_region) VALUES ($1, $2, $3)
		RETURNING created`
	sqlSelectOrg = `SELECT id, name, default_region, created FROM organizations WHERE id = $1`
	sqlInsertKey = `INSERT INTO api_keys (organization_id, id, secret_hash) VALUES ($1, $2, $3)`
	sqlRevokeKey = `UPDATE api_keys SET revoked = now() WHERE id = $1 AND revoked IS NULL`
	sqlSelectKey = `SELECT o.id, o.name, o.default_region, o.created, k.secret_hash
		FROM api_keys k JOIN organizations o ON o.id = k.organization_id
		WHERE k.id = $1 AND k.revoked IS NULL`
)

// apiKeyPrefix starts every API key so leaked keys are easy to grep for.
const apiKeyPrefix = "lk_"

// CreateOrganization stores a new organization; an empty id gets a fresh one.
func (s *Store) CreateOrganization(ctx context.Context, org *customer.Organization) error {
	if org.ID == "" {
		org.ID = customer.NewID(customer.PrefixOrg)
	}
	err := s.pool.QueryRow(ctx, sqlInsertOrg, org.ID, org.Name, org.DefaultRegion).Scan(&org.Created)
	if isUniqueViolation(err, "") {
		return &customer.Error{Code: customer.ECONFLICT, Message: "Organization already exists",
			Details: map[string]string{"id": org.ID}}
	}
	return interpretError(err, nil)
}

// FindOrganization returns one organization.
func (s *Store) FindOrganization(ctx context.Context, id string) (*customer.Organization, error) {
	var o customer.Organization
	err := s.pool.QueryRow(ctx, sqlSelectOrg, id).Scan(&o.ID, &o.Name, &o.DefaultRegion, &o.Created)
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Organization", id))
	}
	return &o, nil
}

// CreateAPIKey makes a key for org. The secret is returned once, in
// key.Secret, and only its SHA-256 is stored.
func (s *Store) CreateAPIKey(ctx context.Context, orgID string) (*customer.APIKey, error) {
	keyID := customer.NewID(customer.PrefixKey)
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("key secret: %w", err)
	}
	hexSecret := hex.EncodeToString(secret)
	sum := sha256.Sum256([]byte(hexSecret))
	if _, err := s.pool.Exec(ctx, sqlInsertKey, orgID, keyID, sum[:]); err != nil {
		if isForeignKeyViolation(err) {
			return nil, customer.NotFound("Organization", orgID)
		}
		return nil, interpretError(err, nil)
	}
	return &customer.APIKey{
		ID:             keyID,
		OrganizationID: orgID,
		Secret:         apiKeyPrefix + strings.TrimPrefix(keyID, customer.PrefixKey+"_") + "_" + hexSecret,
	}, nil
}

// RevokeAPIKey disables a key by id.
func (s *Store) RevokeAPIKey(ctx context.Context, keyID string) error {
	tag, err := s.pool.Exec(ctx, sqlRevokeKey, keyID)
	if err != nil {
		return interpretError(err, nil)
	}
	if tag.RowsAffected() == 0 {
		return customer.NotFound("API key", keyID)
	}
	return nil
}

// Authenticate returns the organization of a valid, unrevoked API key.
func (s *Store) Authenticate(ctx context.Context, apiKey string) (*customer.Organization, error) {
	rest, ok := strings.CutPrefix(apiKey, apiKeyPrefix)
	if !ok {
		return nil, errInvalidKey
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" {
		return nil, errInvalidKey
	}
	var o customer.Organization
	var stored []byte
	err := s.pool.QueryRow(ctx, sqlSelectKey, customer.PrefixKey+"_"+id).Scan(&o.ID, &o.Name, &o.DefaultRegion, &o.Created, &stored)
	if err != nil {
		return nil, interpretError(err, errInvalidKey)
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], stored) != 1 {
		return nil, errInvalidKey
	}
	return &o, nil
}

var errInvalidKey = &customer.Error{Code: customer.EUNAUTHORIZED, Message: "Invalid API key"}
