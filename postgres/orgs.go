package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// sqlSettingsColumns are customer.Settings in scanSettings' order.
const sqlSettingsColumns = `o.default_region, o.match_keys, o.email_canonicalization, o.default_merge_policy,
	o.name_check, o.blocklist_emails, o.blocklist_phones, o.rate_limit_default, o.rate_limit_upsert,
	o.rate_limit_import, o.settings_updated`

const (
	sqlInsertOrg = `INSERT INTO organizations (id, name, default_region, match_keys, email_canonicalization,
		default_merge_policy, name_check, blocklist_emails, blocklist_phones, rate_limit_default,
		rate_limit_upsert, rate_limit_import)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING created, settings_updated`
	sqlSelectOrg = `SELECT o.id, o.name, o.created, ` + sqlSettingsColumns + `
		FROM organizations o WHERE o.id = $1`
	sqlSelectSettings          = `SELECT ` + sqlSettingsColumns + ` FROM organizations o WHERE o.id = $1`
	sqlSelectSettingsForUpdate = sqlSelectSettings + ` FOR UPDATE`
	sqlUpdateSettings          = `UPDATE organizations SET default_region = $2, match_keys = $3,
		email_canonicalization = $4, default_merge_policy = $5, name_check = $6, blocklist_emails = $7,
		blocklist_phones = $8, rate_limit_default = $9, rate_limit_upsert = $10, rate_limit_import = $11,
		settings_updated = now(), updated = now()
		WHERE id = $1 RETURNING settings_updated`
	sqlInsertKey = `INSERT INTO api_keys (organization_id, id, secret_hash) VALUES ($1, $2, $3)`
	sqlRevokeKey = `UPDATE api_keys SET revoked = now() WHERE id = $1 AND revoked IS NULL RETURNING organization_id`
	sqlSelectKey = `SELECT o.id, o.name, o.created, ` + sqlSettingsColumns + `, k.secret_hash
		FROM api_keys k JOIN organizations o ON o.id = k.organization_id
		WHERE k.id = $1 AND k.revoked IS NULL`
)

// settingsDest are scan destinations for sqlSettingsColumns.
func settingsDest(st *customer.Settings) []any {
	return []any{&st.DefaultRegion, &st.MatchKeys, &st.EmailCanonicalization, &st.DefaultMergePolicy,
		&st.NameCheck, &st.Blocklist.Emails, &st.Blocklist.Phones,
		&st.RateLimit.Default, &st.RateLimit.Upsert, &st.RateLimit.Import, &st.Updated}
}

// scanOrg reads sqlSelectOrg's columns, then extra ones.
func scanOrg(row pgx.Row, o *customer.Organization, extra ...any) error {
	dest := append([]any{&o.ID, &o.Name, &o.Created}, settingsDest(&o.Settings)...)
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return err
	}
	o.DefaultRegion = o.Settings.DefaultRegion
	return nil
}

// nonNil keeps empty lists as [] in JSON.
func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// apiKeyPrefix starts every API key so leaked keys are easy to grep for.
const apiKeyPrefix = "lk_"

// CreateOrganization stores a new organization; an empty id gets a fresh
// one. Settings left zero become customer.DefaultSettings() with
// org.DefaultRegion (the region given at creation).
func (s *Store) CreateOrganization(ctx context.Context, org *customer.Organization) error {
	if org.ID == "" {
		org.ID = customer.NewID(customer.PrefixOrg)
	}
	if org.Settings.MatchKeys == nil {
		region := org.DefaultRegion
		org.Settings = customer.DefaultSettings()
		org.Settings.DefaultRegion = region
	}
	st := &org.Settings
	org.DefaultRegion = st.DefaultRegion
	st.Blocklist.Emails, st.Blocklist.Phones = nonNil(st.Blocklist.Emails), nonNil(st.Blocklist.Phones)
	err := s.pool.QueryRow(ctx, sqlInsertOrg, org.ID, org.Name, st.DefaultRegion, st.MatchKeys, st.EmailCanonicalization,
		st.DefaultMergePolicy, st.NameCheck, st.Blocklist.Emails, st.Blocklist.Phones,
		st.RateLimit.Default, st.RateLimit.Upsert, st.RateLimit.Import).Scan(&org.Created, &st.Updated)
	if isUniqueViolation(err, "") {
		return &customer.Error{Code: customer.ECONFLICT, Message: "Organization already exists",
			Details: map[string]string{"id": org.ID}}
	}
	return interpretError(err, nil)
}

// FindOrganization returns one organization.
func (s *Store) FindOrganization(ctx context.Context, id string) (*customer.Organization, error) {
	var o customer.Organization
	if err := scanOrg(s.pool.QueryRow(ctx, sqlSelectOrg, id), &o); err != nil {
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

// RevokeAPIKey disables a key by id and returns its organization's id,
// whose cached keys the API processes must drop.
func (s *Store) RevokeAPIKey(ctx context.Context, keyID string) (orgID string, err error) {
	err = s.pool.QueryRow(ctx, sqlRevokeKey, keyID).Scan(&orgID)
	return orgID, interpretError(err, customer.NotFound("API key", keyID))
}

// KeyID is the public id of an API key (key_…, as `linkit key revoke`
// takes it), false when apiKey is not shaped like one.
func KeyID(apiKey string) (string, bool) {
	id, _, ok := splitKey(apiKey)
	return customer.PrefixKey + "_" + id, ok
}

// splitKey parses lk_<id>_<secret>.
func splitKey(apiKey string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(apiKey, apiKeyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	return id, secret, ok && id != "" && secret != ""
}

// Authenticate returns the organization of a valid, unrevoked API key.
func (s *Store) Authenticate(ctx context.Context, apiKey string) (*customer.Organization, error) {
	id, secret, ok := splitKey(apiKey)
	if !ok {
		return nil, errInvalidKey
	}
	var o customer.Organization
	var stored []byte
	if err := scanOrg(s.pool.QueryRow(ctx, sqlSelectKey, customer.PrefixKey+"_"+id), &o, &stored); err != nil {
		return nil, interpretError(err, errInvalidKey)
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], stored) != 1 {
		return nil, errInvalidKey
	}
	return &o, nil
}

// OrganizationSettings reads one organization's settings: one primary-key
// lookup, for processes (workers) that have no Organization at hand.
func (s *Store) OrganizationSettings(ctx context.Context, orgID string) (customer.Settings, error) {
	var st customer.Settings
	if err := s.pool.QueryRow(ctx, sqlSelectSettings, orgID).Scan(settingsDest(&st)...); err != nil {
		return customer.Settings{}, interpretError(err, customer.NotFound("Organization", orgID))
	}
	return st, nil
}

// UpdateOrganizationSettings locks an organization's settings, lets fn
// change them and stores the result, so concurrent patches of different
// members do not undo each other.
func (s *Store) UpdateOrganizationSettings(ctx context.Context, orgID string, fn func(st *customer.Settings) error) (customer.Settings, error) {
	var st customer.Settings
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, sqlSelectSettingsForUpdate, orgID).Scan(settingsDest(&st)...); err != nil {
			return interpretError(err, customer.NotFound("Organization", orgID))
		}
		if err := fn(&st); err != nil {
			return err
		}
		st.Blocklist.Emails, st.Blocklist.Phones = nonNil(st.Blocklist.Emails), nonNil(st.Blocklist.Phones)
		err := tx.QueryRow(ctx, sqlUpdateSettings, orgID, st.DefaultRegion, st.MatchKeys, st.EmailCanonicalization,
			st.DefaultMergePolicy, st.NameCheck, st.Blocklist.Emails, st.Blocklist.Phones,
			st.RateLimit.Default, st.RateLimit.Upsert, st.RateLimit.Import).Scan(&st.Updated)
		return interpretError(err, nil)
	})
	if err != nil {
		return customer.Settings{}, err
	}
	return st, nil
}

var errInvalidKey = &customer.Error{Code: customer.EUNAUTHORIZED, Message: "Invalid API key"}
