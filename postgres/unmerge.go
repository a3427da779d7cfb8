// Undoing a recorded merge (SPEC §10.2): the source comes back as it was,
// with what it brought; what happened to the survivor since is kept.

package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// restoredColumns are every column of customers a source gets back from
// its snapshot (merged_into aside: it becomes NULL).
var restoredColumns = []string{"first_name", "last_name", "name", "email", "phone", "phone_valid", "phone_ext",
	"birthdate", "gender", "type", "status", "company_name", "avatar_url", "source", "notes", "attributes",
	"website", "tax_id", "fax", "billing_address", "shipping_address", "payment_terms", "currency",
	"credit_limit", "current_balance", "discount_rate", "preferred_shipping", "lifetime_value",
	"total_orders", "customer_since", "created", "updated"}

// mergedColumns are the survivor's columns a merge can fill from the
// source (dedupe.MergeFields, and a blank email or phone).
var mergedColumns = []string{"first_name", "last_name", "name", "email", "phone", "phone_valid", "phone_ext",
	"birthdate", "gender", "company_name", "avatar_url", "source", "notes", "attributes", "website", "tax_id",
	"fax", "billing_address", "shipping_address", "payment_terms", "currency", "preferred_shipping"}

// The merge row is m, bound by $1 (organization) and $2 (merge id).
const mergeRow = `customer_merges m WHERE m.organization_id = $1 AND m.id = $2`

var (
	sqlRestoreSource = func() string {
		var set, val []string
		for _, c := range restoredColumns {
			set, val = append(set, c), append(val, "r."+c)
		}
		return `UPDATE customers c SET (` + strings.Join(set, ", ") + `, merged_into) = (SELECT ` + strings.Join(val, ", ") + `, NULL::text
			FROM jsonb_populate_record(NULL::customers, m.source_before) r)
		FROM ` + mergeRow + ` AND c.organization_id = $1 AND c.id = m.source_id`
	}()

	// A survivor's column goes back to its value before the merge when the
	// merge changed it, to the source's value, and it still holds what the
	// merge left (nobody changed it since). Attributes are a union of both
	// customers' keys, never the source's alone: they go back when they
	// still are what the merge left.
	sqlRestoreSurvivor = func() string {
		var set []string
		for _, c := range mergedColumns {
			cond := `to_jsonb(c.` + c + `) = m.survivor_after->'` + c + `' AND m.survivor_after->'` + c +
				`' IS DISTINCT FROM m.survivor_before->'` + c + `'`
			if c != "attributes" {
				cond += ` AND m.survivor_after->'` + c + `' = m.source_before->'` + c + `'`
			}
			set = append(set, c+` = CASE WHEN `+cond+` THEN r.`+c+` ELSE c.`+c+` END`)
		}
		return `UPDATE customers c SET ` + strings.Join(set, ", ") + `
		FROM customer_merges m, jsonb_populate_record(NULL::customers, m.survivor_before) r
		WHERE m.organization_id = $1 AND m.id = $2 AND c.organization_id = $1 AND c.id = m.survivor_id`
	}()

	// An unmerge changes both customers: their updated time moves on, so an
	// incremental sync (sort=updated, a cursor) sees the source come back
	// and the survivor lose what it brought.
	sqlUnmergeTouch = `UPDATE customers c SET updated = now()
		FROM ` + mergeRow + ` AND c.organization_id = $1 AND c.id IN (m.source_id, m.survivor_id)`

	// Children that moved go back while the survivor still holds them; what
	// the survivor had already (a tag, a group, a visit, a carrier) stays.
	sqlUnmergeChildren = []string{
		`UPDATE customer_identities i SET customer_id = m.source_id, is_primary = s.is_primary, display = s.display
		FROM customer_merges m, jsonb_to_recordset(m.moved->'identities') s(kind text, value text, is_primary bool, display text)
		WHERE m.organization_id = $1 AND m.id = $2 AND i.organization_id = $1 AND i.kind = s.kind AND i.value = s.value
			AND i.customer_id = m.survivor_id`,
		// An identifier the survivor dropped since, and nobody took, comes back too.
		`INSERT INTO customer_identities (organization_id, kind, value, customer_id, is_primary, display, source, created)
		SELECT $1, s.kind, s.value, m.source_id, s.is_primary, s.display, s.source, s.created
		FROM customer_merges m, jsonb_to_recordset(m.moved->'identities')
			s(kind text, value text, is_primary bool, display text, source jsonb, created timestamptz)
		WHERE m.organization_id = $1 AND m.id = $2
		ON CONFLICT DO NOTHING`,
		`INSERT INTO shared_identifier_carriers (organization_id, kind, value, customer_id, display, created)
		SELECT $1, s.kind, s.value, m.source_id, s.display, s.created
		FROM customer_merges m, jsonb_to_recordset(m.moved->'carriers') s(kind text, value text, display text, created timestamptz)
		WHERE m.organization_id = $1 AND m.id = $2 AND EXISTS (SELECT 1 FROM shared_identifiers x
			WHERE x.organization_id = $1 AND x.kind = s.kind AND x.value = s.value)
		ON CONFLICT DO NOTHING`,
		`DELETE FROM shared_identifier_carriers x
		USING customer_merges m, jsonb_to_recordset(m.moved->'carriers') s(kind text, value text, had bool)
		WHERE m.organization_id = $1 AND m.id = $2 AND NOT s.had AND x.organization_id = $1
			AND x.customer_id = m.survivor_id AND x.kind = s.kind AND x.value = s.value`,
		`INSERT INTO customer_tags (organization_id, customer_id, location_id, tag, created)
		SELECT $1, m.source_id, s.location_id, s.tag, s.created
		FROM customer_merges m, jsonb_to_recordset(m.moved->'tags') s(location_id text, tag text, created timestamptz)
		WHERE m.organization_id = $1 AND m.id = $2
		ON CONFLICT DO NOTHING`,
		`DELETE FROM customer_tags t
		USING customer_merges m, jsonb_to_recordset(m.moved->'tags') s(location_id text, tag text, had bool)
		WHERE m.organization_id = $1 AND m.id = $2 AND NOT s.had AND t.organization_id = $1
			AND t.customer_id = m.survivor_id AND t.location_id = s.location_id AND t.tag_key = lower(s.tag)`,
		`INSERT INTO group_members (organization_id, group_id, customer_id, location_id, added)
		SELECT $1, s.group_id, m.source_id, s.location_id, s.added
		FROM customer_merges m, jsonb_to_recordset(m.moved->'groups') s(group_id text, location_id text, added timestamptz)
		WHERE m.organization_id = $1 AND m.id = $2 AND EXISTS (SELECT 1 FROM customer_groups g
			WHERE g.organization_id = $1 AND g.id = s.group_id)
		ON CONFLICT DO NOTHING`,
		`DELETE FROM group_members g
		USING customer_merges m, jsonb_to_recordset(m.moved->'groups') s(group_id text, had bool)
		WHERE m.organization_id = $1 AND m.id = $2 AND NOT s.had AND g.organization_id = $1
			AND g.customer_id = m.survivor_id AND g.group_id = s.group_id`,
		`INSERT INTO customer_locations (organization_id, customer_id, location_id, first_seen, last_seen, source)
		SELECT $1, m.source_id, s.location_id, s.first_seen, s.last_seen, s.source
		FROM customer_merges m, jsonb_to_recordset(m.moved->'locations')
			s(location_id text, first_seen timestamptz, last_seen timestamptz, source text)
		WHERE m.organization_id = $1 AND m.id = $2
		ON CONFLICT DO NOTHING`,
		`DELETE FROM customer_locations l
		USING customer_merges m, jsonb_to_recordset(m.moved->'locations') s(location_id text, had bool)
		WHERE m.organization_id = $1 AND m.id = $2 AND NOT s.had AND l.organization_id = $1
			AND l.customer_id = m.survivor_id AND l.location_id = s.location_id`,
		// A visit both had: its first and last seen go back unless a later
		// visit moved them.
		`UPDATE customer_locations l SET
			first_seen = CASE WHEN l.first_seen = least(s.had_first, s.first_seen) THEN s.had_first ELSE l.first_seen END,
			last_seen = CASE WHEN l.last_seen = greatest(s.had_last, s.last_seen) THEN s.had_last ELSE l.last_seen END
		FROM customer_merges m, jsonb_to_recordset(m.moved->'locations')
			s(location_id text, first_seen timestamptz, last_seen timestamptz, had bool, had_first timestamptz, had_last timestamptz)
		WHERE m.organization_id = $1 AND m.id = $2 AND s.had AND l.organization_id = $1
			AND l.customer_id = m.survivor_id AND l.location_id = s.location_id`,
		`UPDATE customer_addresses a SET customer_id = m.source_id, is_default = s.is_default
		FROM customer_merges m, jsonb_to_recordset(m.moved->'addresses') s(id text, is_default bool)
		WHERE m.organization_id = $1 AND m.id = $2 AND a.organization_id = $1 AND a.id = s.id AND a.customer_id = m.survivor_id`,
		`UPDATE customer_contacts k SET customer_id = m.source_id, is_primary = s.is_primary
		FROM customer_merges m, jsonb_to_recordset(m.moved->'contacts') s(id text, is_primary bool)
		WHERE m.organization_id = $1 AND m.id = $2 AND k.organization_id = $1 AND k.id = s.id AND k.customer_id = m.survivor_id`,
		// The merge stamped the orders it moved; untouched since, they get
		// their own time back.
		`UPDATE orders o SET customer_id = m.source_id,
			updated = CASE WHEN o.updated = m.created THEN s.updated ELSE o.updated END
		FROM customer_merges m, jsonb_to_recordset(m.moved->'orders') s(id text, updated timestamptz)
		WHERE m.organization_id = $1 AND m.id = $2 AND o.organization_id = $1 AND o.id = s.id AND o.customer_id = m.survivor_id`,
		`UPDATE credit_checks cc SET customer_id = m.source_id
		FROM customer_merges m, jsonb_array_elements_text(m.moved->'credit_checks') s(id)
		WHERE m.organization_id = $1 AND m.id = $2 AND cc.organization_id = $1 AND cc.id = s.id AND cc.customer_id = m.survivor_id`,
		`UPDATE customers r SET merged_into = m.source_id,
			updated = CASE WHEN r.updated = m.created THEN s.updated ELSE r.updated END
		FROM customer_merges m, jsonb_to_recordset(m.moved->'redirects') s(id text, updated timestamptz)
		WHERE m.organization_id = $1 AND m.id = $2 AND r.organization_id = $1 AND r.id = s.id AND r.merged_into = m.survivor_id`,
		// The pairs the merge closed are open again, but not the merged pair
		// itself: unmerging says "not one person", so it is dismissed.
		`UPDATE duplicate_suggestions d SET status = 'open', resolved = NULL, updated = now()
		FROM customer_merges m, jsonb_array_elements_text(m.moved->'pairs') p(id)
		WHERE m.organization_id = $1 AND m.id = $2 AND d.organization_id = $1 AND d.id = p.id AND d.status = 'merged'
			AND NOT (d.customer_a = least(m.source_id, m.survivor_id) AND d.customer_b = greatest(m.source_id, m.survivor_id))`,
		`INSERT INTO duplicate_suggestions (organization_id, customer_a, customer_b, reasons, score, status, resolved)
		SELECT $1, least(m.source_id, m.survivor_id), greatest(m.source_id, m.survivor_id), ARRAY['unmerged'], 0, 'dismissed', now()
		FROM ` + mergeRow + `
		ON CONFLICT (organization_id, customer_a, customer_b) DO UPDATE
		SET status = 'dismissed', resolved = now(), updated = now()`,
		`UPDATE customer_merges SET unmerged = now() WHERE organization_id = $1 AND id = $2`,
	}

	sqlUnmergeEvents = `INSERT INTO audit_events (organization_id, customer_id, type, source, changes)
		SELECT $1, c, '` + EventUnmerged + `', 'api', jsonb_build_object('unmerged',
			jsonb_build_object('from', m.survivor_id, 'to', m.source_id), 'merge_id', m.id)
		FROM customer_merges m, unnest(ARRAY[m.survivor_id, m.source_id]) AS c
		WHERE m.organization_id = $1 AND m.id = $2`
)

const (
	sqlLockPair = `SELECT c.id, c.merged_into FROM customers c
		WHERE c.organization_id = $1 AND c.id = ANY($2) ORDER BY c.id FOR UPDATE`
	// The latest merge of source into survivor that is not undone yet.
	sqlFindMerge = `SELECT id FROM customer_merges
		WHERE organization_id = $1 AND source_id = $2 AND survivor_id = $3 AND unmerged IS NULL
		ORDER BY created DESC LIMIT 1 FOR UPDATE`
)

// UnmergeResult is an undone merge and both customers as it left them.
type UnmergeResult struct {
	MergeID  string             `json:"merge_id"`
	Survivor *customer.Customer `json:"survivor"`
	Source   *customer.Customer `json:"source"`
}

// Unmerge undoes the latest merge of source into survivor (SPEC §10.2):
// the source's row comes back as it was, the child rows it brought move
// back (those the survivor still holds), the survivor's fields the merge
// filled from the source go back unless changed since, and both customers'
// order totals are recounted. 404 for unknown ids, 409 when source is not
// merged into survivor or the merge was not recorded.
func (s *Store) Unmerge(ctx context.Context, orgID, survivor, source string) (*UnmergeResult, error) {
	return retryTx(ctx, s, func(tx pgx.Tx) (*UnmergeResult, error) {
		merged := map[string]*string{}
		rows, err := tx.Query(ctx, sqlLockPair, orgID, []string{survivor, source})
		if err != nil {
			return nil, interpretError(fmt.Errorf("lock customers: %w", err), nil)
		}
		var id string
		var into *string
		if _, err := pgx.ForEachRow(rows, []any{&id, &into}, func() error {
			merged[id] = into
			return nil
		}); err != nil {
			return nil, interpretError(fmt.Errorf("lock customers: %w", err), nil)
		}
		for _, id := range []string{survivor, source} {
			if _, ok := merged[id]; !ok {
				return nil, customer.NotFound("Customer", id)
			}
		}
		if into := merged[survivor]; into != nil {
			return nil, &customer.Error{Code: customer.ECONFLICT, Message: "Customer " + survivor + " is merged itself; unmerge it from " + *into + " first",
				Details: map[string]string{"id": survivor, "merged_into": *into}}
		}
		if into := merged[source]; into == nil || *into != survivor {
			return nil, &customer.Error{Code: customer.ECONFLICT, Message: "Customer " + source + " is not merged into " + survivor,
				Details: map[string]string{"source_id": "is not merged into " + survivor}}
		}
		var mergeID string
		if err := tx.QueryRow(ctx, sqlFindMerge, orgID, source, survivor).Scan(&mergeID); err != nil {
			return nil, interpretError(err, &customer.Error{Code: customer.ECONFLICT,
				Message: "This merge was not recorded (it predates merge history); it cannot be undone",
				Details: map[string]string{"source_id": "merge not recorded"}})
		}
		b := &pgx.Batch{}
		b.Queue(sqlRestoreSource, orgID, mergeID)
		b.Queue(sqlRestoreSurvivor, orgID, mergeID)
		for _, q := range sqlUnmergeChildren {
			b.Queue(q, orgID, mergeID)
		}
		queueRefreshCustomers(b, orgID, []string{survivor, source}, allTime)
		b.Queue(sqlUnmergeTouch, orgID, mergeID)
		b.Queue(sqlUnmergeEvents, orgID, mergeID)
		byID := map[string]*customer.Customer{}
		queueReadBack(b, orgID, []string{survivor, source}, byID)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, interpretError(fmt.Errorf("unmerge %s: %w", mergeID, err), nil)
		}
		return &UnmergeResult{MergeID: mergeID, Survivor: byID[survivor], Source: byID[source]}, nil
	})
}
