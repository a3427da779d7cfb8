package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

// queueWorkspace queues the writes a workspace reports: merges, new and
// changed customers, and identity keys (see queueKeys for races).
func queueWorkspace(b *pgx.Batch, orgID string, ac auditContext, w *dedupe.Workspace, owners map[dedupe.Key]string) []string {
	var merges []string
	for _, m := range w.Merges() {
		merges = append(merges, queueMerge(b, orgID, ac, m.From, m.Into))
	}
	for _, c := range w.Created() {
		c.OrganizationID = orgID
		b.Queue(sqlInsertCustomer, customerArgs(orgID, c)...)
	}
	for id := range w.Updated() {
		b.Queue(sqlUpdateCustomer, customerArgs(orgID, w.Customer(id))...)
	}
	queueMergesDone(b, orgID, merges)
	queueKeys(b, orgID, w, owners)
	queueSharedWrites(b, orgID, w)
	return merges
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
	keys := w.Keys()
	merged := len(w.Merges()) > 0
	var known, fresh keyColumns
	if merged {
		known = newKeyColumns(len(keys))
	} else {
		fresh = newKeyColumns(len(keys)) // most of an import chunk's keys
	}
	for _, k := range keys {
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

func newKeyColumns(n int) keyColumns {
	return keyColumns{kinds: make([]string, 0, n), values: make([]string, 0, n), owners: make([]string, 0, n),
		displays: make([]string, 0, n), primary: make([]bool, 0, n)}
}

func (c *keyColumns) add(k dedupe.KeyState) {
	c.kinds, c.values, c.owners = append(c.kinds, k.Key.Kind), append(c.values, k.Key.Value), append(c.owners, k.CustomerID)
	c.primary, c.displays = append(c.primary, k.Primary), append(c.displays, k.Display)
}
