// Before-images: what an import chunk records so that the import can be
// reverted (SPEC §10.3; table import_changes, migration 00028).

package postgres

import (
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

// customerImage is one customer as revert sees it: its row and everything
// hanging off it that an import writes, each list in a fixed order so that
// the same state always gives the same text (and md5). c is the customer.
// Visits are left out: an import's or a checkout's later visit only moves
// last_seen, which is no reason to keep a customer.
const customerImage = `jsonb_build_object(
	'row', to_jsonb(c) - 'search_text',
	'identities', (SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY i.kind, i.value), '[]') FROM customer_identities i
		WHERE i.organization_id = c.organization_id AND i.customer_id = c.id),
	'carriers', (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.kind, s.value), '[]') FROM shared_identifier_carriers s
		WHERE s.organization_id = c.organization_id AND s.customer_id = c.id),
	'tags', (SELECT coalesce(jsonb_agg(to_jsonb(t) - 'tag_key' ORDER BY t.location_id, t.tag_key), '[]') FROM customer_tags t
		WHERE t.organization_id = c.organization_id AND t.customer_id = c.id),
	'groups', (SELECT coalesce(jsonb_agg(to_jsonb(g) ORDER BY g.group_id), '[]') FROM group_members g
		WHERE g.organization_id = c.organization_id AND g.customer_id = c.id),
	'addresses', (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.id), '[]') FROM customer_addresses a
		WHERE a.organization_id = c.organization_id AND a.customer_id = c.id))`

// customerVisits are the visits of customer c, kept with the before-image.
const customerVisits = `(SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY v.location_id), '[]') FROM customer_locations v
	WHERE v.organization_id = c.organization_id AND v.customer_id = c.id)`

const (
	// Before the chunk writes: the existing customers it is about to change
	// (locked as candidates). A customer already recorded by this import (a
	// retried row) keeps its first image: the state before the import.
	sqlImportBefore = `INSERT INTO import_changes (organization_id, import_id, customer_id, before, before_hash)
		SELECT $1, $2, c.id, x.img || jsonb_build_object('visits', ` + customerVisits + `), md5(x.img::text)
		FROM customers c CROSS JOIN LATERAL (SELECT ` + customerImage + ` AS img) x
		WHERE c.organization_id = $1 AND c.id = ANY($3)
		ON CONFLICT DO NOTHING`
	// After the chunk wrote: the hash of every customer it created or
	// touched. created and merged only ever become true.
	sqlImportAfter = `INSERT INTO import_changes (organization_id, import_id, customer_id, created, merged, after_hash)
		SELECT $1, $2, c.id, coalesce(c.id = ANY($4), false), coalesce(c.id = ANY($5), false), md5(` + customerImage + `::text)
		FROM customers c WHERE c.organization_id = $1 AND c.id = ANY($3)
		ON CONFLICT (organization_id, import_id, customer_id) DO UPDATE SET after_hash = EXCLUDED.after_hash,
			created = import_changes.created OR EXCLUDED.created, merged = import_changes.merged OR EXCLUDED.merged`
)

// imageSets are the customers a chunk's before- and after-images cover.
type imageSets struct {
	existing []string // touched customers that existed before the chunk
	all      []string // existing and created
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
		s.all = append(s.all, id)
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
// about to change; queued before those writes.
func queueBeforeImages(b *pgx.Batch, orgID, importID string, s imageSets) {
	if len(s.existing) > 0 {
		b.Queue(sqlImportBefore, orgID, importID, s.existing)
	}
}

// queueAfterImages records the state the chunk left; queued after its writes.
func queueAfterImages(b *pgx.Batch, orgID, importID string, s imageSets) {
	if len(s.all) > 0 {
		b.Queue(sqlImportAfter, orgID, importID, s.all, s.created, s.merged)
	}
}
