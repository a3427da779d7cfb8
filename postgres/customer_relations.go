// A customer's relations (tags, groups, visits, aliases): read in one
// batched round trip, or as JSON columns of a page's own statement.

package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// loadRelations fills tags, groups, visits and aliases of customers with one
// batched round trip.
func (s *Store) loadRelations(ctx context.Context, orgID string, cs []*customer.Customer) error {
	if len(cs) == 0 {
		return nil
	}
	byID := make(map[string]*customer.Customer, len(cs))
	ids := make([]string, len(cs))
	for i, c := range cs {
		byID[c.ID], ids[i] = c, c.ID
	}
	b := &pgx.Batch{}
	// A generic plan (the batch is its own transaction, the setting ends
	// with it): for an array of ids PostgreSQL would plan every read anew.
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	queueRelations(b, orgID, ids, byID)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return interpretError(fmt.Errorf("load relations: %w", err), nil)
	}
	return nil
}

// queueRelations queues the relation reads of ids, one statement; rows are
// attached to byID's customers when the batch runs (earlier queries may
// fill byID).
func queueRelations(b *pgx.Batch, orgID string, ids []string, byID map[string]*customer.Customer) {
	var q *pgx.QueuedQuery
	if len(ids) == 1 {
		q = b.Queue(sqlSelectRelationsOne, orgID, ids[0])
	} else {
		q = b.Queue(sqlSelectRelations, orgID, ids)
	}
	q.Query(func(rows pgx.Rows) error {
		var id string
		var rel relations
		_, err := pgx.ForEachRow(rows, []any{&id, &rel.aliases, &rel.tags, &rel.groups, &rel.visits}, func() error {
			if c := byID[id]; c != nil {
				return rel.attach(c)
			}
			return nil
		})
		return err
	})
}

// sqlSelectRelations reads the relations of customers $2 of organization
// $1; sqlSelectRelationsOne those of customer $2, the usual case, whose
// plan PostgreSQL caches (for an array it planned every read anew: the
// array's size changes the estimates).
const (
	sqlSelectRelations = `SELECT c.id, ` + relationColumns + `
	FROM (SELECT $1::text AS organization_id, unnest($2::text[]) AS id) c`
	sqlSelectRelationsOne = `SELECT c.id, ` + relationColumns + `
	FROM (SELECT $1::text AS organization_id, $2::text AS id) c`
)

// relationColumns are customer c's aliases (with every shared identifier
// it carries, flagged), tags, groups and visits, each a JSON array in its
// order or NULL when empty, for relations to scan: a page's statement
// carries its customers' relations (no second round trip, issue 24).
const relationColumns = relAliases + `,
	` + relTags + `,
	` + relGroups + `,
	` + relVisits

// pageRelationColumns are relationColumns in a statement whose $1 is the
// organization: each relation is read per row only when the organization
// has any such row at all (checked once per statement: an InitPlan), so a
// search page of an organization without tags, groups, visits or aliases
// costs four index probes, not four per customer (~0.1–0.2 ms of a common
// term's search, issue 24).
const pageRelationColumns = `CASE WHEN ` + orgHasAliases + ` THEN ` + relAliases + ` END,
	CASE WHEN ` + orgHasTags + ` THEN ` + relTags + ` END,
	CASE WHEN ` + orgHasGroups + ` THEN ` + relGroups + ` END,
	CASE WHEN ` + orgHasVisits + ` THEN ` + relVisits + ` END`

// pageRelationsGuard stands for pageRelationColumns in a search page of an
// organization not known to have relations (relationOrgs): one column,
// whether organization $1 has any relation row at all (one InitPlan). The
// relation subqueries, never run there, still cost PostgreSQL their
// executor set-up in every statement (~0.1 ms a search page, issue 24).
const pageRelationsGuard = `(` + orgHasAliases + ` OR ` + orgHasTags + ` OR ` + orgHasGroups + ` OR ` + orgHasVisits + `)`

// Whether organization $1 has rows of each relation.
const (
	orgHasAliases = `(EXISTS (SELECT 1 FROM customer_identities i WHERE i.organization_id = $1 AND NOT i.is_primary)
		OR EXISTS (SELECT 1 FROM shared_identifier_carriers s WHERE s.organization_id = $1))`
	orgHasTags   = `EXISTS (SELECT 1 FROM customer_tags t WHERE t.organization_id = $1)`
	orgHasGroups = `EXISTS (SELECT 1 FROM group_members m WHERE m.organization_id = $1)`
	orgHasVisits = `EXISTS (SELECT 1 FROM customer_locations v WHERE v.organization_id = $1)`
)

// The relations of relationColumns, one column each.
const (
	relAliases = `(SELECT json_agg(json_build_array(a.kind, a.display, a.shared) ORDER BY a.created, a.value) FROM (
		SELECT i.kind, i.display, false AS shared, i.created, i.value FROM customer_identities i
		WHERE i.organization_id = c.organization_id AND i.customer_id = c.id AND NOT i.is_primary AND NOT EXISTS (
			SELECT 1 FROM shared_identifier_carriers s WHERE s.organization_id = i.organization_id AND s.kind = i.kind
				AND s.value = i.value AND s.customer_id = i.customer_id)
		UNION ALL
		SELECT s.kind, s.display, true, s.created, s.value FROM shared_identifier_carriers s
		WHERE s.organization_id = c.organization_id AND s.customer_id = c.id) a)`
	relTags = `(SELECT json_agg(json_build_array(t.location_id, t.tag) ORDER BY t.created, t.tag_key) FROM customer_tags t
		WHERE t.organization_id = c.organization_id AND t.customer_id = c.id)`
	relGroups = `(SELECT json_agg(m.group_id ORDER BY m.added, m.group_id) FROM group_members m
		WHERE m.organization_id = c.organization_id AND m.customer_id = c.id)`
	relVisits = `(SELECT json_agg(json_build_object('l', v.location_id, 'f', v.first_seen, 't', v.last_seen, 's', v.source)
		ORDER BY v.first_seen, v.location_id) FROM customer_locations v
		WHERE v.organization_id = c.organization_id AND v.customer_id = c.id)`
)

// relations are the JSON columns of relationColumns of one customer, or
// in a bare page (pageRelationsGuard) whether its organization has any.
type relations struct {
	aliases, tags, groups, visits []byte
	bare, some                    bool
}

// dest appends the relations' scan destinations to dest.
func (rel *relations) dest(dest []any) []any {
	if rel.bare {
		return append(dest, &rel.some)
	}
	return append(dest, &rel.aliases, &rel.tags, &rel.groups, &rel.visits)
}

// attach adds the relations to c (its lists initialized).
func (rel *relations) attach(c *customer.Customer) error {
	if rel.aliases != nil {
		var as [][3]any
		if err := json.Unmarshal(rel.aliases, &as); err != nil {
			return fmt.Errorf("aliases: %w", err)
		}
		for _, a := range as {
			kind, _ := a[0].(string)
			display, _ := a[1].(string)
			shared, _ := a[2].(bool)
			c.Aliases = append(c.Aliases, customer.Alias{Kind: kind, Value: display, Shared: shared})
		}
	}
	if rel.tags != nil {
		var ts [][2]string
		if err := json.Unmarshal(rel.tags, &ts); err != nil {
			return fmt.Errorf("tags: %w", err)
		}
		for _, t := range ts {
			loc, tag := t[0], t[1]
			if loc == "" {
				loc = customer.OrgWideTags
			}
			c.TagsByLocation[loc] = append(c.TagsByLocation[loc], tag)
			if !containsFold(c.Tags, tag) {
				c.Tags = append(c.Tags, tag)
			}
		}
	}
	if rel.groups != nil {
		if err := json.Unmarshal(rel.groups, &c.Groups); err != nil {
			return fmt.Errorf("groups: %w", err)
		}
	}
	if rel.visits != nil {
		var vs []struct {
			L  string    `json:"l"`
			FS time.Time `json:"f"`
			TS time.Time `json:"t"`
			S  string    `json:"s"`
		}
		if err := json.Unmarshal(rel.visits, &vs); err != nil {
			return fmt.Errorf("visits: %w", err)
		}
		for _, v := range vs {
			// Local, as pgx reads a timestamptz column.
			c.Locations = append(c.Locations, customer.Visit{LocationID: v.L, FirstSeen: v.FS.Local(), LastSeen: v.TS.Local(), Source: v.S})
		}
	}
	return nil
}
