// The export of everything held about a person (GET /customers/{id}/export).

package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// ExportLimit bounds each list of an export (orders, history…): an answer
// stays a bounded document; a list cut short is named in Truncated.
const ExportLimit = 10000

// Export is everything the service holds about one person. Rows other
// than the customer are given as stored (to_jsonb), so a column added to a
// table is exported without a change here.
type Export struct {
	// Customer is the record with its aliases, tags by location, groups
	// and visits.
	Customer *customer.Customer `json:"customer"`
	// Identifiers are every identity row: primary and alias emails and
	// phones, external ids with their source records.
	Identifiers []json.RawMessage `json:"identifiers"`
	// SharedIdentifiers are the identifiers several people carry that this
	// person carries.
	SharedIdentifiers []json.RawMessage `json:"shared_identifiers"`
	Addresses         []json.RawMessage `json:"addresses"`
	Contacts          []json.RawMessage `json:"contacts"`
	// Orders, with their lines.
	Orders       []json.RawMessage `json:"orders"`
	CreditChecks []json.RawMessage `json:"credit_checks"`
	// History is the audit trail, oldest first.
	History []json.RawMessage `json:"history"`
	// MergedRecords are the records merged into this one, as stored.
	MergedRecords []json.RawMessage `json:"merged_records"`
	// Truncated names the lists cut at ExportLimit.
	Truncated []string `json:"truncated"`
}

// exportLists are the export's lists: each query takes $1 organization,
// $2 customer id, $3 limit, and returns one jsonb per row.
var exportLists = []struct {
	name string
	sql  string
	dest func(e *Export) *[]json.RawMessage
}{
	{"identifiers", `SELECT to_jsonb(i) - 'organization_id' FROM customer_identities i
		WHERE i.organization_id = $1 AND i.customer_id = $2 ORDER BY i.created, i.kind, i.value LIMIT $3`,
		func(e *Export) *[]json.RawMessage { return &e.Identifiers }},
	{"shared_identifiers", `SELECT to_jsonb(c) - 'organization_id' FROM shared_identifier_carriers c
		WHERE c.organization_id = $1 AND c.customer_id = $2 ORDER BY c.created, c.kind, c.value LIMIT $3`,
		func(e *Export) *[]json.RawMessage { return &e.SharedIdentifiers }},
	{"addresses", `SELECT to_jsonb(a) - 'organization_id' FROM customer_addresses a
		WHERE a.organization_id = $1 AND a.customer_id = $2 ORDER BY a.created, a.id LIMIT $3`,
		func(e *Export) *[]json.RawMessage { return &e.Addresses }},
	{"contacts", `SELECT to_jsonb(c) - 'organization_id' FROM customer_contacts c
		WHERE c.organization_id = $1 AND c.customer_id = $2 ORDER BY c.created, c.id LIMIT $3`,
		func(e *Export) *[]json.RawMessage { return &e.Contacts }},
	{"orders", `SELECT to_jsonb(o) - 'organization_id' || jsonb_build_object('items', coalesce((
			SELECT jsonb_agg(to_jsonb(i) - 'organization_id' - 'order_id' ORDER BY i.line) FROM order_items i
			WHERE i.organization_id = o.organization_id AND i.order_id = o.id), '[]'))
		FROM orders o WHERE o.organization_id = $1 AND o.customer_id = $2 ORDER BY o.order_date, o.id LIMIT $3`,
		func(e *Export) *[]json.RawMessage { return &e.Orders }},
	{"credit_checks", `SELECT to_jsonb(c) - 'organization_id' FROM credit_checks c
		WHERE c.organization_id = $1 AND c.customer_id = $2 ORDER BY c.checked, c.id LIMIT $3`,
		func(e *Export) *[]json.RawMessage { return &e.CreditChecks }},
	{"history", `SELECT to_jsonb(a) - 'organization_id' FROM ` + auditTrail(exportRecords("customer_id"), exportRecords("c.id")) + ` a
		ORDER BY a.created, a.id LIMIT $3`,
		func(e *Export) *[]json.RawMessage { return &e.History }},
	{"merged_records", `SELECT to_jsonb(c) - 'organization_id' - 'search_text' FROM customers c
		WHERE c.organization_id = $1 AND c.merged_into = $2 ORDER BY c.created, c.id LIMIT $3`,
		func(e *Export) *[]json.RawMessage { return &e.MergedRecords }},
}

// exportRecords matches the customer $2 and the records merged into it.
func exportRecords(col string) string {
	return col + ` = ANY(ARRAY[$2] || ARRAY(SELECT id FROM customers WHERE organization_id = $1 AND merged_into = $2))`
}

// ExportCustomer gathers everything held about a customer: a merged one is
// EMOVED, an erased one EGONE, as for reads. The lists are read in one
// snapshot.
func (s *Store) ExportCustomer(ctx context.Context, orgID, id string) (*Export, error) {
	c, err := s.FindCustomerByID(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	e := &Export{Customer: c, Truncated: []string{}}
	err = s.inSnapshot(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, l := range exportLists {
			dest := l.dest(e)
			*dest = []json.RawMessage{}
			b.Queue(l.sql, orgID, id, ExportLimit+1).Query(func(rows pgx.Rows) error {
				list, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
				if len(list) > ExportLimit {
					list = list[:ExportLimit]
					e.Truncated = append(e.Truncated, l.name)
				}
				*dest = append(*dest, list...)
				return err
			})
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, interpretError(fmt.Errorf("export %s: %w", id, err), nil)
	}
	return e, nil
}
