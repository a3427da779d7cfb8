package main

// The search suite's small organization (issue 24): a tenant of 2,000
// customers beside the loaded one, whose search terms the large one
// shares. The trigram index is one for all organizations, so this is
// where one tenant's size could set another's search latency.

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/postgres"
)

const (
	smallOrg       = "org_bench_small"
	smallCustomers = 2000
)

// smallOrganization makes (once per database) the small organization: a
// copy of the loaded organization's first smallCustomers people, so that
// g.person(i) for i < smallCustomers describes them and their common
// terms are the large organization's common terms. It returns an API key
// of the small organization.
func smallOrganization(ctx context.Context, cfg config, pool *pgxpool.Pool, g *gen) (string, error) {
	ids := make([]string, smallCustomers)
	for i := range ids {
		ids[i] = g.customerID(i)
	}
	tag, err := pool.Exec(ctx, `WITH o AS (
			INSERT INTO organizations (id, name) VALUES ($1, 'Bench small') ON CONFLICT DO NOTHING RETURNING id)
		INSERT INTO customers (organization_id, id, first_name, last_name, name, email, phone, phone_valid,
			company_name, source, attributes, created, updated)
		SELECT o.id, c.id, c.first_name, c.last_name, c.name, c.email, c.phone, c.phone_valid, c.company_name,
			c.source, c.attributes, c.created, c.updated
		FROM o, customers c WHERE c.organization_id = $2 AND c.id = ANY($3)`, smallOrg, benchOrg, ids)
	if err != nil {
		return "", fmt.Errorf("small organization: %w", err)
	}
	if tag.RowsAffected() > 0 {
		if _, err := pool.Exec(ctx, `ANALYZE customers`); err != nil {
			return "", fmt.Errorf("small organization: %w", err)
		}
	}
	store, err := postgres.Open(ctx, cfg.databaseURL, postgres.Options{MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer store.Close()
	key, err := store.CreateAPIKey(ctx, smallOrg)
	if err != nil {
		return "", fmt.Errorf("small organization's key: %w", err)
	}
	return key.Secret, nil
}

// getAs is a GET of path with another organization's API key.
func (s *stack) getAs(ctx context.Context, apiKey, path string) int {
	req, err := http.NewRequest(http.MethodGet, s.baseURL+path, nil)
	if err != nil {
		return 0
	}
	return s.doAs(ctx, apiKey, req)
}
