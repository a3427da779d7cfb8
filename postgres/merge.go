// Merging one customer into another: the engine's merges (merge_conflicts)
// and duplicate review's manual merge share these statements, and each
// merge records what unmerge needs (customer_merges, see unmerge.go).

package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// sqlMergeSnapshot records merge $4 of $2 into $3 before anything moves:
// both rows, and the child rows of $2 with, for those the survivor may
// already have (tags, groups, visits, carriers), whether it had them. A
// source that is not (yet) in the database — created and merged within one
// import chunk — records nothing.
const sqlMergeSnapshot = `INSERT INTO customer_merges (organization_id, id, survivor_id, source_id,
		source_before, survivor_before, moved, source, job_id, import_id)
	SELECT $1, $4, $3, $2, to_jsonb(s) - 'search_text', to_jsonb(v) - 'search_text', jsonb_build_object(
		'identities', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', i.kind, 'value', i.value,
				'is_primary', i.is_primary, 'display', i.display, 'source', i.source, 'created', i.created))
			FROM customer_identities i WHERE i.organization_id = $1 AND i.customer_id = $2), '[]'),
		'carriers', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', x.kind, 'value', x.value,
				'display', x.display, 'created', x.created, 'had', EXISTS (SELECT 1 FROM shared_identifier_carriers y
					WHERE y.organization_id = $1 AND y.kind = x.kind AND y.value = x.value AND y.customer_id = $3)))
			FROM shared_identifier_carriers x WHERE x.organization_id = $1 AND x.customer_id = $2), '[]'),
		'tags', coalesce((SELECT jsonb_agg(jsonb_build_object('location_id', t.location_id, 'tag', t.tag,
				'created', t.created, 'had', EXISTS (SELECT 1 FROM customer_tags u WHERE u.organization_id = $1
					AND u.customer_id = $3 AND u.location_id = t.location_id AND u.tag_key = t.tag_key)))
			FROM customer_tags t WHERE t.organization_id = $1 AND t.customer_id = $2), '[]'),
		'groups', coalesce((SELECT jsonb_agg(jsonb_build_object('group_id', g.group_id, 'location_id', g.location_id,
				'added', g.added, 'had', EXISTS (SELECT 1 FROM group_members h WHERE h.organization_id = $1
					AND h.customer_id = $3 AND h.group_id = g.group_id)))
			FROM group_members g WHERE g.organization_id = $1 AND g.customer_id = $2), '[]'),
		'locations', coalesce((SELECT jsonb_agg(jsonb_build_object('location_id', l.location_id,
				'first_seen', l.first_seen, 'last_seen', l.last_seen, 'source', l.source,
				'had', h.location_id IS NOT NULL, 'had_first', h.first_seen, 'had_last', h.last_seen))
			FROM customer_locations l LEFT JOIN customer_locations h ON h.organization_id = $1
				AND h.customer_id = $3 AND h.location_id = l.location_id
			WHERE l.organization_id = $1 AND l.customer_id = $2), '[]'),
		'addresses', coalesce((SELECT jsonb_agg(jsonb_build_object('id', a.id, 'is_default', a.is_default))
			FROM customer_addresses a WHERE a.organization_id = $1 AND a.customer_id = $2), '[]'),
		'contacts', coalesce((SELECT jsonb_agg(jsonb_build_object('id', k.id, 'is_primary', k.is_primary))
			FROM customer_contacts k WHERE k.organization_id = $1 AND k.customer_id = $2), '[]'),
		'orders', coalesce((SELECT jsonb_agg(jsonb_build_object('id', o.id, 'updated', o.updated))
			FROM orders o WHERE o.organization_id = $1 AND o.customer_id = $2), '[]'),
		'credit_checks', coalesce((SELECT jsonb_agg(cc.id)
			FROM credit_checks cc WHERE cc.organization_id = $1 AND cc.customer_id = $2), '[]'),
		'redirects', coalesce((SELECT jsonb_agg(jsonb_build_object('id', r.id, 'updated', r.updated))
			FROM customers r WHERE r.organization_id = $1 AND r.merged_into = $2), '[]'),
		'pairs', coalesce((SELECT jsonb_agg(d.id) FROM duplicate_suggestions d
			WHERE d.organization_id = $1 AND d.status = 'open' AND (d.customer_a = $2 OR d.customer_b = $2)), '[]')),
		$5, NULLIF($6, ''), NULLIF($7, '')
	FROM customers s JOIN customers v ON v.organization_id = $1 AND v.id = $3
	WHERE s.organization_id = $1 AND s.id = $2 AND s.merged_into IS NULL`

// Merging customer $2 into $3 moves everything that hangs off it, then
// leaves $2 as a redirect to $3. Its open pairs leave the review queue:
// the source is no longer a customer of its own.
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
	`UPDATE duplicate_suggestions SET status = 'merged', resolved = now(), updated = now()
		WHERE organization_id = $1 AND status = 'open' AND (customer_a = $2 OR customer_b = $2)`,
}

// sqlMergeEvents writes customer.merged on the survivor (always, as the
// engine did) and on the source (when the merge was recorded), both naming
// the merge so that a history can offer to undo it.
const sqlMergeEvents = `INSERT INTO audit_events (organization_id, customer_id, type, source, job_id, import_id, location_id, changes)
	SELECT $1, c, '` + EventMerged + `', $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''),
		jsonb_build_object('merged', jsonb_build_object('from', $2::text, 'to', $3::text), 'merge_id', m.id)
	FROM unnest(ARRAY[$3::text, $2::text]) AS c
	LEFT JOIN customer_merges m ON m.organization_id = $1 AND m.id = $4
	WHERE c = $3 OR m.id IS NOT NULL`

// sqlMergeAfter records the survivors as their merges' transaction left
// them: unmerge restores a field only while it still holds that value.
const sqlMergeAfter = `UPDATE customer_merges m SET survivor_after = to_jsonb(c) - 'search_text'
	FROM customers c WHERE m.organization_id = $1 AND m.id = ANY($2) AND c.organization_id = $1 AND c.id = m.survivor_id`

// queueMerge queues the statements that fold customer from into into,
// recorded as a merge (its id is returned) with its audit events; the
// orders that moved are then counted again on both customers.
func queueMerge(b *pgx.Batch, orgID string, ac auditContext, from, into string) string {
	id := customer.NewID(customer.PrefixMerge)
	b.Queue(sqlMergeSnapshot, orgID, from, into, id, ac.source, ac.jobID, ac.importID)
	for _, q := range sqlMergeCustomer {
		if strings.Contains(q, "$3") {
			b.Queue(q, orgID, from, into)
		} else {
			b.Queue(q, orgID, from)
		}
	}
	queueRefreshCustomers(b, orgID, []string{into, from}, allTime)
	b.Queue(sqlMergeEvents, orgID, from, into, id, ac.source, ac.jobID, ac.importID, ac.locationID)
	return id
}

// queueMergesDone records the survivors of merges once their own writes
// are queued.
func queueMergesDone(b *pgx.Batch, orgID string, ids []string) {
	if len(ids) > 0 {
		b.Queue(sqlMergeAfter, orgID, ids)
	}
}

// MaxMergeSources bounds the customers one merge request folds in.
const MaxMergeSources = 20

// MergeRef names one recorded merge.
type MergeRef struct {
	ID       string `json:"merge_id"`
	SourceID string `json:"source_id"`
	Survivor string `json:"survivor_id"`
}

const (
	// Customers are locked in id order, so overlapping merges queue up
	// instead of deadlocking.
	sqlLockMergeCustomers = `SELECT ` + customerColumns + ` FROM customers c
		WHERE c.organization_id = $1 AND c.id = ANY($2) ORDER BY c.id FOR UPDATE`
	sqlMergeKeys = `SELECT kind, value, customer_id FROM customer_identities
		WHERE organization_id = $1 AND customer_id = ANY($2)`
)

// MergeCustomers folds sources into survivor (SPEC §10.2) by policy, in one
// transaction: fields by the dedupe merge policies, identifiers, tags,
// groups, visits, addresses, contacts, orders and credit checks move to the
// survivor, each source redirects to it, and every merge is recorded for
// unmerge. An unknown id is a 404 naming it; a merged one a 409.
// The survivor is returned as the transaction left it.
func (s *Store) MergeCustomers(ctx context.Context, orgID, survivor string, sources []string, policy dedupe.Policy, canonicalEmails bool) (*customer.Customer, []MergeRef, error) {
	var out *customer.Customer
	refs, err := retryTx(ctx, s, func(tx pgx.Tx) ([]MergeRef, error) {
		byID := map[string]*customer.Customer{}
		refs, err := mergeInTx(ctx, tx, orgID, survivor, sources, policy, canonicalEmails, auditContext{source: "api"}, byID)
		out = byID[survivor]
		return refs, err
	})
	return out, refs, err
}

// queueReadBack reads customers back in a writing batch, so that an answer
// shows them as its transaction left them (a merge committed a moment later
// may redirect them already).
func queueReadBack(b *pgx.Batch, orgID string, ids []string, byID map[string]*customer.Customer) {
	for _, id := range ids {
		b.Queue(sqlSelectCustomer, orgID, id).QueryRow(func(row pgx.Row) error {
			c, err := scanCustomer(row)
			if err != nil {
				return err
			}
			byID[c.ID] = c
			return nil
		})
	}
	queueRelations(b, orgID, ids, byID)
}

// mergeInTx is MergeCustomers within tx; with readBack non-nil the
// survivor is read back into it.
func mergeInTx(ctx context.Context, tx pgx.Tx, orgID, survivor string, sources []string, policy dedupe.Policy, canonical bool,
	ac auditContext, readBack map[string]*customer.Customer) ([]MergeRef, error) {
	ids := append([]string{survivor}, sources...)
	locked := map[string]*customer.Customer{}
	rows, err := tx.Query(ctx, sqlLockMergeCustomers, orgID, ids)
	if err != nil {
		return nil, interpretError(fmt.Errorf("lock customers: %w", err), nil)
	}
	var moved *customer.Error
	for rows.Next() {
		c, err := scanCustomer(rows)
		if customer.ErrorCode(err) == customer.EMOVED {
			moved = customer.AsError(err)
			continue
		}
		if err != nil {
			rows.Close()
			return nil, interpretError(fmt.Errorf("read customer: %w", err), nil)
		}
		locked[c.ID] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, interpretError(fmt.Errorf("lock customers: %w", err), nil)
	}
	if moved != nil {
		d, _ := moved.Details.(map[string]string)
		return nil, &customer.Error{Code: customer.ECONFLICT, Message: "Customer " + d["id"] + " is already merged",
			Details: map[string]string{"id": d["id"], "merged_into": d["merged_into"]}}
	}
	for _, id := range ids {
		if locked[id] == nil {
			return nil, customer.NotFound("Customer", id)
		}
	}
	w := dedupe.NewWorkspace(func() string { return customer.NewID(customer.PrefixCustomer) }, canonical)
	owned := map[string][]dedupe.Key{}
	owners := map[dedupe.Key]string{}
	krows, err := tx.Query(ctx, sqlMergeKeys, orgID, ids)
	if err != nil {
		return nil, interpretError(fmt.Errorf("read identities: %w", err), nil)
	}
	var k dedupe.Key
	var owner string
	if _, err := pgx.ForEachRow(krows, []any{&k.Kind, &k.Value, &owner}, func() error {
		owned[owner], owners[k] = append(owned[owner], k), owner
		return nil
	}); err != nil {
		return nil, interpretError(fmt.Errorf("read identities: %w", err), nil)
	}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range locked {
			if !yield(id) {
				return
			}
		}
	}) {
		w.Load(locked[id], owned[id]...)
	}
	for _, src := range sources {
		w.MergeInto(survivor, src, policy)
	}
	b := &pgx.Batch{}
	mergeIDs := queueWorkspace(b, orgID, ac, w, owners)
	queueAudit(b, orgID, ac, w, dedupe.Result{CustomerID: survivor, Action: dedupe.ActionUpdated}, nil)
	if readBack != nil {
		queueReadBack(b, orgID, []string{survivor}, readBack)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("merge customers: %w", err), nil)
	}
	refs := make([]MergeRef, len(sources))
	for i, src := range sources {
		refs[i] = MergeRef{ID: mergeIDs[i], SourceID: src, Survivor: survivor}
	}
	return refs, nil
}
