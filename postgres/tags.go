package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	// Tags are unique per customer and location by their lowercase key; the
	// first spelling applied is kept.
	sqlAddTags = `INSERT INTO customer_tags (organization_id, customer_id, location_id, tag)
		SELECT $1::text, $2::text, $3::text, u.tag FROM unnest($4::text[]) WITH ORDINALITY AS u(tag, n) ORDER BY u.n
		ON CONFLICT (organization_id, customer_id, location_id, tag_key) DO NOTHING`
	sqlDropOtherTags = `DELETE FROM customer_tags
		WHERE organization_id = $1 AND customer_id = $2 AND location_id = $3
		AND tag_key <> ALL (SELECT lower(t) FROM unnest($4::text[]) AS t)`
	sqlRemoveTag = `DELETE FROM customer_tags
		WHERE organization_id = $1 AND customer_id = $2 AND location_id = $3 AND tag_key = lower($4)`

	// A location's defaults, applied to a customer seen there.
	sqlApplyDefaultTags = `INSERT INTO customer_tags (organization_id, customer_id, location_id, tag)
		SELECT l.organization_id, $2, l.id, t.tag FROM locations l, unnest(l.default_tags) WITH ORDINALITY AS t(tag, n)
		WHERE l.organization_id = $1 AND l.id = $3 ORDER BY t.n
		ON CONFLICT (organization_id, customer_id, location_id, tag_key) DO NOTHING`
	sqlApplyDefaultGroups = `INSERT INTO group_members (organization_id, group_id, customer_id, location_id)
		SELECT g.organization_id, g.id, $2, l.id FROM locations l
		JOIN customer_groups g ON g.organization_id = l.organization_id AND g.id = ANY(l.default_group_ids)
		WHERE l.organization_id = $1 AND l.id = $3 ORDER BY g.id
		ON CONFLICT (organization_id, group_id, customer_id) DO NOTHING`

	// Tag counts group spellings by key and show the first spelling used.
	sqlTagCounts = `SELECT (array_agg(tag ORDER BY created, tag))[1], count(DISTINCT customer_id) AS n
		FROM customer_tags
		WHERE organization_id = $1 AND ($2 = '' OR location_id = $2) AND tag_key LIKE lower($3)
		GROUP BY tag_key ORDER BY n DESC, tag_key LIMIT $4 OFFSET $5`
	sqlCountTags = `SELECT count(DISTINCT tag_key) FROM customer_tags
		WHERE organization_id = $1 AND ($2 = '' OR location_id = $2) AND tag_key LIKE lower($3)`
)

// TagCustomer applies p.Tags to a customer at p.LocationID ("" for
// org-wide), adding them or, with p.ReplaceTags, replacing that location's
// tags. It returns the customer as it now is.
func (s *Store) TagCustomer(ctx context.Context, orgID, customerID string, p customer.Placement) (*customer.Customer, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Locks in the store's fixed order: group, location, customer.
		if p.LocationID != "" {
			if _, err := lockLocation(ctx, tx, orgID, p.LocationID); err != nil {
				return invalidLocation(err)
			}
		}
		if err := lockCustomer(ctx, tx, orgID, customerID); err != nil {
			return err
		}
		before, err := tagsAt(ctx, tx, orgID, customerID, p.LocationID)
		if err != nil {
			return err
		}
		if err := applyTags(ctx, tx, orgID, customerID, p); err != nil {
			return err
		}
		return auditTags(ctx, tx, orgID, customerID, p.LocationID, before)
	})
	if err != nil {
		return nil, err
	}
	return s.FindCustomerByID(ctx, orgID, customerID)
}

// UntagCustomer removes one tag (any spelling) at a location ("" for org-wide).
func (s *Store) UntagCustomer(ctx context.Context, orgID, customerID, locationID, tag string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCustomer(ctx, tx, orgID, customerID); err != nil {
			return err
		}
		before, err := tagsAt(ctx, tx, orgID, customerID, locationID)
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, sqlRemoveTag, orgID, customerID, locationID, tag)
		if err != nil {
			return interpretError(fmt.Errorf("remove tag: %w", err), nil)
		}
		if res.RowsAffected() == 0 {
			return &customer.Error{Code: customer.ENOTFOUND, Message: "Tag not found",
				Details: map[string]string{"tag": tag, "location_id": locationID}}
		}
		return auditTags(ctx, tx, orgID, customerID, locationID, before)
	})
}

const sqlTagsAt = `SELECT coalesce(array_agg(tag ORDER BY created, tag_key), '{}') FROM customer_tags
	WHERE organization_id = $1 AND customer_id = $2 AND location_id = $3`

// tagsAt lists a customer's tags at a location ("" for org-wide).
func tagsAt(ctx context.Context, tx pgx.Tx, orgID, customerID, locationID string) ([]string, error) {
	var tags []string
	err := tx.QueryRow(ctx, sqlTagsAt, orgID, customerID, locationID).Scan(&tags)
	return tags, interpretError(err, nil)
}

// auditTags records a tag change made through the API as upserts record
// theirs: customer.tagged (announced as customer.updated) with the tags at
// the location before and after, and the location. No change, no event.
func auditTags(ctx context.Context, tx pgx.Tx, orgID, customerID, locationID string, before []string) error {
	after, err := tagsAt(ctx, tx, orgID, customerID, locationID)
	if err != nil || slices.Equal(before, after) {
		return err
	}
	return auditAt(ctx, tx, orgID, customerID, EventTagged, "api", locationID, map[string]Change{"tags": {From: before, To: after}})
}

// applyTags adds or replaces tags at a location within tx; a nil p.Tags
// changes nothing.
func applyTags(ctx context.Context, tx pgx.Tx, orgID, customerID string, p customer.Placement) error {
	if p.Tags == nil {
		return nil
	}
	if p.ReplaceTags {
		if _, err := tx.Exec(ctx, sqlDropOtherTags, orgID, customerID, p.LocationID, p.Tags); err != nil {
			return interpretError(fmt.Errorf("replace tags: %w", err), nil)
		}
	}
	if len(p.Tags) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, sqlAddTags, orgID, customerID, p.LocationID, p.Tags); err != nil {
		return interpretError(fmt.Errorf("add tags: %w", err), nil)
	}
	return nil
}

// FindTags counts the distinct customers carrying each tag, most used first.
func (s *Store) FindTags(ctx context.Context, orgID string, f customer.TagFilter) ([]customer.TagCount, customer.Page, error) {
	list := []customer.TagCount{}
	var total int
	prefix := likePrefix(f.Prefix)
	b := &pgx.Batch{}
	b.Queue(sqlTagCounts, orgID, f.LocationID, prefix, f.Limit, (f.Page-1)*f.Limit).Query(func(rows pgx.Rows) error {
		var t customer.TagCount
		_, err := pgx.ForEachRow(rows, []any{&t.Tag, &t.Count}, func() error {
			list = append(list, t)
			return nil
		})
		return err
	})
	b.Queue(sqlCountTags, orgID, f.LocationID, prefix).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list tags: %w", err), nil)
	}
	return list, customer.NewPage(total, f.Page, f.Limit), nil
}

// likePrefix is a LIKE pattern matching strings that start with prefix.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}
