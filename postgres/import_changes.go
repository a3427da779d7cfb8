// Before-images: what an import chunk records so that the import can be
// reverted (SPEC §10.3; table import_changes, migration 00028).

package postgres

import (
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

// customerImage is an existing customer as the import found it: its row
// and everything hanging off it that an import writes. c is the customer.
const customerImage = `jsonb_build_object(
	'row', to_jsonb(c) - 'search_text',
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
		WHERE v.organization_id = c.organization_id AND v.customer_id = c.id))`

const (
	// Before the chunk writes: the existing customers it is about to change
	// (locked as candidates). A customer already recorded by this import (a
	// retried row) keeps its first image, the state before the import, and
	// takes the new chunk's transaction (written).
	sqlImportBefore = `INSERT INTO import_changes (organization_id, import_id, customer_id, merged, before)
		SELECT $1, $2, c.id, coalesce(c.id = ANY($4), false), ` + customerImage + `
		FROM customers c WHERE c.organization_id = $1 AND c.id = ANY($3)
		ON CONFLICT (organization_id, import_id, customer_id) DO UPDATE SET written = EXCLUDED.written,
			merged = import_changes.merged OR EXCLUDED.merged`
	// The customers the chunk created: their ids are enough.
	sqlImportCreated = `INSERT INTO import_changes (organization_id, import_id, customer_id, created, merged)
		SELECT $1, $2, u, true, coalesce(u = ANY($4), false) FROM unnest($3::text[]) AS u
		ON CONFLICT (organization_id, import_id, customer_id) DO UPDATE SET written = EXCLUDED.written,
			created = true, merged = import_changes.merged OR EXCLUDED.merged`
)

// imageSets are the customers a chunk's before- and after-images cover.
type imageSets struct {
	existing []string // touched customers that existed before the chunk
	created  []string
	merged   []string // both sides of the chunk's merges
}

func (m *chunkMerge) imageSets(w *dedupe.Workspace) imageSets {
	var s imageSets
	seen := map[string]bool{}
	add := func(id string) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		if w.IsCreated(id) {
			s.created = append(s.created, id)
		} else {
			s.existing = append(s.existing, id)
		}
	}
	for _, mg := range w.Merges() {
		add(mg.From)
		add(mg.Into)
		s.merged = append(s.merged, mg.From, mg.Into)
	}
	for _, id := range m.touched {
		add(id)
	}
	for _, c := range w.Created() {
		add(c.ID)
	}
	slices.Sort(s.existing)
	return s
}

// queueBeforeImages records the existing customers the chunk's writes are
// about to change, and the customers it creates; queued before the writes.
func queueBeforeImages(b *pgx.Batch, orgID, importID string, s imageSets) {
	if len(s.existing) > 0 {
		b.Queue(sqlImportBefore, orgID, importID, s.existing, s.merged)
	}
	if len(s.created) > 0 {
		b.Queue(sqlImportCreated, orgID, importID, s.created, s.merged)
	}
}
