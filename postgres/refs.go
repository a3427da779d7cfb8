package postgres

import (
	"context"
	"fmt"
)

const (
	sqlMissingGroups = `SELECT g FROM unnest($2::text[]) AS g
		WHERE NOT EXISTS (SELECT 1 FROM customer_groups WHERE organization_id = $1 AND id = g)`
)

// MissingGroups returns the ids among ids that are not groups of the organization.
func (s *Store) MissingGroups(ctx context.Context, orgID string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, sqlMissingGroups, orgID, ids)
	if err != nil {
		return nil, interpretError(fmt.Errorf("check groups: %w", err), nil)
	}
	defer rows.Close()
	var missing []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		missing = append(missing, g)
	}
	return missing, interpretError(rows.Err(), nil)
}
