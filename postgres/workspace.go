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
	`INSERT INTO shared_identifier_carriers (organization_id, kind, value, customer_id, display, created)
		SELECT organization_id, kind, value, $3, display, created FROM shared_identifier_carriers
		WHERE organization_id = $1 AND customer_id = $2
		ON CONFLICT DO NOTHING`,
	`DELETE FROM shared_identifier_carriers WHERE organization_id = $1 AND customer_id = $2`,
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
func queueWorkspace(b *pgx.Batch, orgID string, w *dedupe.Workspace, owners map[dedupe.Key]string) {
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
	queueKeys(b, orgID, w, owners)
	queueSharedWrites(b, orgID, w)
}

// queueSharedWrites writes the keys that became shared and their new
// carriers.
func queueSharedWrites(b *pgx.Batch, orgID string, w *dedupe.Workspace) {
	if sk := w.SharedKeys(); len(sk) > 0 {
		kinds, values, reasons := make([]string, len(sk)), make([]string, len(sk)), make([]string, len(sk))
		for i, s := range sk {
			kinds[i], values[i], reasons[i] = s.Key.Kind, s.Key.Value, s.Reason
		}
		b.Queue(sqlInsertShared, orgID, kinds, values, reasons)
	}
	if cs := w.Carriers(); len(cs) > 0 {
		var kinds, values, ids, displays []string
		for _, c := range cs {
			kinds, values = append(kinds, c.Key.Kind), append(values, c.Key.Value)
			ids, displays = append(ids, c.CustomerID), append(displays, c.Display)
		}
		b.Queue(sqlInsertCarriers, orgID, kinds, values, ids, displays)
	}
}

// queueKeys writes identity keys' final owners. A key claimed meanwhile by
// another transaction makes the statement fail (errIdentityRace, or a
// unique violation for a key written as new), which aborts the transaction
// before anything after it runs; both retry.
//
// A key that had no owner when the candidates were read and now belongs to
// a customer this workspace created is a plain insert: the ON CONFLICT
// check probed the identity index once more per key, a tenth of an
// import's PostgreSQL time. After a merge every key takes the checked path:
// the merged customer's other keys move without having been probed.
func queueKeys(b *pgx.Batch, orgID string, w *dedupe.Workspace, owners map[dedupe.Key]string) {
	var known, fresh keyColumns
	merged := len(w.Merges()) > 0
	for _, k := range w.Keys() {
		if _, owned := owners[k.Key]; !owned && !merged && w.IsCreated(k.CustomerID) {
			fresh.add(k)
		} else {
			known.add(k)
		}
	}
	if n := len(known.kinds); n > 0 {
		b.Queue(sqlUpsertKeys, orgID, known.kinds, known.values, known.owners, known.primary, known.displays, n)
	}
	if len(fresh.kinds) > 0 {
		b.Queue(sqlInsertKeys, orgID, fresh.kinds, fresh.values, fresh.owners, fresh.primary, fresh.displays)
	}
}

// keyColumns lays identity keys out as the arrays of sqlUpsertKeys.
type keyColumns struct {
	kinds, values, owners, displays []string
	primary                         []bool
}

func (c *keyColumns) add(k dedupe.KeyState) {
	c.kinds, c.values, c.owners = append(c.kinds, k.Key.Kind), append(c.values, k.Key.Value), append(c.owners, k.CustomerID)
	c.primary, c.displays = append(c.primary, k.Primary), append(c.displays, k.Display)
}
