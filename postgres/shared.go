package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	// Newest first; a carrier merged away or deleted no longer counts.
	sqlSharedList = `SELECT s.kind, coalesce((SELECT max(c.display) FROM shared_identifier_carriers c
			WHERE c.organization_id = s.organization_id AND c.kind = s.kind AND c.value = s.value AND c.display <> ''), s.value),
			s.reason, (SELECT count(*) FROM shared_identifier_carriers c JOIN customers u
				ON u.organization_id = c.organization_id AND u.id = c.customer_id AND u.merged_into IS NULL
				WHERE c.organization_id = s.organization_id AND c.kind = s.kind AND c.value = s.value), s.since
		FROM shared_identifiers s WHERE s.organization_id = $1
		ORDER BY s.since DESC, s.kind, s.value LIMIT $2 OFFSET $3`
	sqlSharedCount = `SELECT count(*) FROM shared_identifiers WHERE organization_id = $1`
)

// FindSharedIdentifiers lists an organization's shared identifiers with how
// many customers carry each, newest first.
func (s *Store) FindSharedIdentifiers(ctx context.Context, orgID string, page, limit int) ([]customer.SharedIdentifier, customer.Page, error) {
	list := []customer.SharedIdentifier{}
	var total int
	b := &pgx.Batch{}
	b.Queue(sqlSharedList, orgID, limit, (page-1)*limit).Query(func(rows pgx.Rows) error {
		var si customer.SharedIdentifier
		_, err := pgx.ForEachRow(rows, []any{&si.Kind, &si.Value, &si.Reason, &si.CustomerCount, &si.Since}, func() error {
			si.Since = si.Since.UTC()
			list = append(list, si)
			return nil
		})
		return err
	})
	b.Queue(sqlSharedCount, orgID).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list shared identifiers: %w", err), nil)
	}
	return list, customer.NewPage(total, page, limit), nil
}
