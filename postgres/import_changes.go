// Before-images: what an import chunk records so that the import can be
// reverted (SPEC §10.3; table import_changes, migrations 00028 and 00036).

package postgres

import (
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

// customerImageFields is an existing customer as the import found it: its
// row and everything hanging off it that an import writes. c is the customer.
const customerImageFields = `'row', to_jsonb(c) - 'search_text', 'xmin', c.xmin::text,
	'identities', (SELECT coalesce(jsonb_agg(to_jsonb(i)), '[]') FROM customer_identities i
		WHERE i.organization_id = c.organization_id AND i.customer_id = c.id),
	'carriers', (SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]') FROM shared_identifier_carriers s
		WHERE s.organization_id = c.organization_id AND s.customer_id = c.id),
	'tags', (SELECT coalesce(jsonb_agg(to_jsonb(t) - 'tag_key'), '[]') FROM customer_tags t
		WHERE t.organization_id = c.organization_id AND t.customer_id = c.id),
	'groups', (SELECT coalesce(jsonb_agg(to_jsonb(g)), '[]') FROM group_members g
		WHERE g.organization_id = c.organization_id AND g.customer_id = c.id),
	'addresses', (SELECT coalesce(jsonb_agg(to_jsonb(a)), '[]') FROM customer_addresses a
		WHERE a.organization_id = c.organization_id AND a.customer_id = c.id),
	'visits', (SELECT coalesce(jsonb_agg(to_jsonb(v)), '[]') FROM customer_locations v
		WHERE v.organization_id = c.organization_id AND v.customer_id = c.id)`

// CustomerImageFields is customerImageFields for the benchmark's
// same-end-state import baseline (bench/), which writes the same
// before-images by hand: one definition, so the two stay alike.
const CustomerImageFields = customerImageFields

// mergedImageFields is what a merge moves besides (merge.go
// sqlMergeCustomer): contacts, orders, credit checks, the customers merged
// into it before (redirects) and its duplicate pairs. Taken only for the
// customers a merge of the chunk involves.
const mergedImageFields = `,
	'contacts', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', k.id, 'is_primary', k.is_primary)), '[]')
		FROM customer_contacts k WHERE k.organization_id = c.organization_id AND k.customer_id = c.id),
	'orders', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'updated', o.updated)), '[]')
		FROM orders o WHERE o.organization_id = c.organization_id AND o.customer_id = c.id),
	'credit_checks', (SELECT coalesce(jsonb_agg(cc.id), '[]')
		FROM credit_checks cc WHERE cc.organization_id = c.organization_id AND cc.customer_id = c.id),
	'redirects', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'updated', r.updated)), '[]')
		FROM customers r WHERE r.organization_id = c.organization_id AND r.merged_into = c.id),
	'pairs', (SELECT coalesce(jsonb_agg(to_jsonb(d)), '[]') FROM duplicate_suggestions d
		WHERE d.organization_id = c.organization_id AND (d.customer_a = c.id OR d.customer_b = c.id))`

const (
	// Before the chunk writes: the existing customers it is about to change
	// (locked as candidates). A customer already recorded by this import (a
	// retried row) keeps its first image, the state before the import, and
	// takes the new chunk's transaction (written).
	sqlImportBefore = `INSERT INTO import_changes (organization_id, import_id, customer_id, before)
		SELECT $1, $2, c.id, jsonb_build_object(` + customerImageFields + `)
		FROM customers c WHERE c.organization_id = $1 AND c.id = ANY($3)
		ON CONFLICT (organization_id, import_id, customer_id) DO UPDATE SET written = EXCLUDED.written`
	// The existing customers the chunk's merges involve, with their merge
	// group ($4, aligned with $3).
	sqlImportBeforeMerged = `INSERT INTO import_changes (organization_id, import_id, customer_id, merged, merge_group, before)
		SELECT $1, $2, c.id, true, u.grp, jsonb_build_object(` + customerImageFields + mergedImageFields + `)
		FROM unnest($3::text[], $4::text[]) AS u(id, grp)
		JOIN customers c ON c.organization_id = $1 AND c.id = u.id
		ON CONFLICT (organization_id, import_id, customer_id) DO UPDATE SET written = EXCLUDED.written,
			merged = true, merge_group = coalesce(import_changes.merge_group, EXCLUDED.merge_group)`
	// The customers the chunk created that a merge involved: their ids and
	// merge groups, one row each (the merged batch reverts them by group).
	sqlImportCreated = `INSERT INTO import_changes (organization_id, import_id, customer_id, created, merged, merge_group)
		SELECT $1, $2, u, true, true, g FROM unnest($3::text[], $4::text[]) AS x(u, g)
		ON CONFLICT (organization_id, import_id, customer_id) DO UPDATE SET written = EXCLUDED.written,
			created = true, merged = true, merge_group = coalesce(import_changes.merge_group, EXCLUDED.merge_group)`
	// The others: their ids are enough, as arrays (migration 00039).
	sqlImportCreatedIDs = `INSERT INTO import_created (organization_id, import_id, first_id, customer_ids)
		VALUES ($1, $2, $3, $4)`
)

// imageSets are the customers a chunk's before-images cover.
type imageSets struct {
	existing []string          // touched customers that existed before the chunk, no merge involved
	merged   []string          // existing customers a merge of the chunk involved
	created  []string          // customers the chunk created
	group    map[string]string // merged customer (existing or created) → its merge group
}

func (m *chunkMerge) imageSets(w *dedupe.Workspace) imageSets {
	s := imageSets{group: mergeGroups(w.Merges())}
	seen := map[string]bool{}
	add := func(id string) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		switch {
		case w.IsCreated(id):
			// One created and merged away in the chunk is never written.
			if w.Customer(id) != nil {
				s.created = append(s.created, id)
			}
		case s.group[id] != "":
			s.merged = append(s.merged, id)
		default:
			s.existing = append(s.existing, id)
		}
	}
	for _, mg := range w.Merges() {
		add(mg.From)
		add(mg.Into)
	}
	for _, id := range m.touched {
		add(id)
	}
	for _, c := range w.Created() {
		add(c.ID)
	}
	slices.Sort(s.existing)
	slices.Sort(s.merged)
	return s
}

// mergeGroups joins the customers of merges that share one (union-find):
// each customer maps to the smallest id of its group.
func mergeGroups(merges []dedupe.MergeOp) map[string]string {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		p, ok := parent[x]
		if !ok || p == x {
			parent[x] = x
			return x
		}
		r := find(p)
		parent[x] = r
		return r
	}
	for _, mg := range merges {
		a, b := find(mg.From), find(mg.Into)
		if a != b {
			parent[max(a, b)] = min(a, b)
		}
	}
	out := make(map[string]string, len(parent))
	for x := range parent {
		out[x] = find(x)
	}
	return out
}

// queueBeforeImages records the existing customers the chunk's writes are
// about to change, and the customers it creates (as arrays of up to perRow
// ids: a revert batch's); queued before the writes.
func queueBeforeImages(b *pgx.Batch, orgID, importID string, s imageSets, perRow int) {
	if len(s.existing) > 0 {
		b.Queue(sqlImportBefore, orgID, importID, s.existing)
	}
	if len(s.merged) > 0 {
		groups := make([]string, len(s.merged))
		for i, id := range s.merged {
			groups[i] = s.group[id]
		}
		b.Queue(sqlImportBeforeMerged, orgID, importID, s.merged, groups)
	}
	var merged, groups, plain []string
	for _, id := range s.created {
		if g := s.group[id]; g != "" {
			merged, groups = append(merged, id), append(groups, g)
		} else {
			plain = append(plain, id)
		}
	}
	if len(merged) > 0 {
		b.Queue(sqlImportCreated, orgID, importID, merged, groups)
	}
	slices.Sort(plain)
	for ids := range slices.Chunk(plain, max(perRow, 1)) {
		b.Queue(sqlImportCreatedIDs, orgID, importID, ids[0], ids)
	}
}
