package postgres

import (
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

// Merging customer $2 into $3 moves everything that hangs off it, then
// leaves $2 as a redirect to $3.
var sqlMergeCustomer = []string{
	`UPDATE customer_identities SET customer_id = $3, is_primary = false WHERE organization_id = $1 AND customer_id = $2`,
	`INSERT INTO customer_tags (organization_id, customer_id, location_id, tag, created)
		SELECT organization_id, $3, location_id, tag, created FROM customer_tags WHERE organization_id = $1 AND customer_id = $2
		ON CONFLICT DO NOTHING`,
	`DELETE FROM customer_tags WHERE organization_id = $1 AND customer_id = $2`,
	`INSERT INTO group_members (organization_id, group_id, customer_id, location_id, added)
		SELECT organization_id, group_id, $3, location_id, added FROM group_members WHERE organization_id = $1 AND customer_id = $2
		ON CONFLICT DO NOTHING`,
	`DELETE FROM group_members WHERE organization_id = $1 AND customer_id = $2`,
	`INSERT INTO customer_locations (organization_id, customer_id, location_id, first_seen, last_seen, source)
		SELECT organization_id, $3, location_id, first_seen, last_seen, source FROM customer_locations
		WHERE organization_id = $1 AND customer_id = $2
		ON CONFLICT (organization_id, customer_id, location_id) DO UPDATE
		SET first_seen = least(customer_locations.first_seen, EXCLUDED.first_seen),
			last_seen = greatest(customer_locations.last_seen, EXCLUDED.last_seen)`,
	`DELETE FROM customer_locations WHERE organization_id = $1 AND customer_id = $2`,
	`UPDATE customer_addresses SET customer_id = $3, is_default = false WHERE organization_id = $1 AND customer_id = $2`,
	`UPDATE customer_contacts SET customer_id = $3, is_primary = false WHERE organization_id = $1 AND customer_id = $2`,
	`UPDATE orders SET customer_id = $3, updated = now() WHERE organization_id = $1 AND customer_id = $2`,
	`UPDATE credit_checks SET customer_id = $3 WHERE organization_id = $1 AND customer_id = $2`,
	`UPDATE customers SET merged_into = $3, updated = now() WHERE organization_id = $1 AND (id = $2 OR merged_into = $2)`,
}

// queueMerge queues the statements that fold customer from into into; the
// orders that moved are then counted again on both customers.
func queueMerge(b *pgx.Batch, orgID, from, into string) {
	for _, q := range sqlMergeCustomer {
		if strings.Contains(q, "$3") {
			b.Queue(q, orgID, from, into)
		} else {
			b.Queue(q, orgID, from)
		}
	}
	queueRefreshCustomers(b, orgID, []string{into, from}, allTime)
}

// queueWorkspace queues the writes a workspace reports: merges, new and
// changed customers, and identity keys (see queueKeys for races).
func queueWorkspace(b *pgx.Batch, orgID string, w *dedupe.Workspace) {
	for _, m := range w.Merges() {
		queueMerge(b, orgID, m.From, m.Into)
	}
	for _, c := range w.Created() {
		c.OrganizationID = orgID
		b.Queue(sqlInsertCustomer, customerArgs(orgID, c)...)
	}
	for id := range w.Updated() {
		b.Queue(sqlUpdateCustomer, customerArgs(orgID, w.Customer(id))...)
	}
	queueKeys(b, orgID, w.Keys())
}

// queueKeys writes identity keys' final owners. A key claimed meanwhile by
// another transaction makes the statement fail (errIdentityRace), which
// aborts the transaction before anything after it runs.
func queueKeys(b *pgx.Batch, orgID string, keys []dedupe.KeyState) {
	if len(keys) == 0 {
		return
	}
	n := len(keys)
	kinds, values, owners, displays := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	primary := make([]bool, n)
	for i, k := range keys {
		kinds[i], values[i], owners[i], primary[i], displays[i] = k.Key.Kind, k.Key.Value, k.CustomerID, k.Primary, k.Display
	}
	b.Queue(sqlUpsertKeys, orgID, kinds, values, owners, primary, displays, n)
}
