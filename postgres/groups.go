package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// groupColumns is the column list of every group read, in scanGroup's order.
const groupColumns = `g.id, g.name, g.description,
	(SELECT count(*) FROM group_members m WHERE m.organization_id = g.organization_id AND m.group_id = g.id),
	g.created, g.updated`

const (
	sqlInsertGroup = `INSERT INTO customer_groups (organization_id, id, name, description)
		VALUES ($1, $2, $3, $4) RETURNING created, updated`
	sqlSelectGroup          = `SELECT ` + groupColumns + ` FROM customer_groups g WHERE g.organization_id = $1 AND g.id = $2`
	sqlSelectGroupForUpdate = sqlSelectGroup + ` FOR NO KEY UPDATE OF g` // renames must not wait for KEY SHARE holders
	sqlSelectGroups         = `SELECT ` + groupColumns + ` FROM customer_groups g WHERE g.organization_id = $1
		ORDER BY lower(g.name), g.id LIMIT $2 OFFSET $3`
	sqlCountGroups = `SELECT count(*) FROM customer_groups WHERE organization_id = $1`
	sqlUpdateGroup = `UPDATE customer_groups g SET name = $3, description = $4, updated = now()
		WHERE g.organization_id = $1 AND g.id = $2 RETURNING ` + groupColumns
	sqlDeleteGroup = `DELETE FROM customer_groups WHERE organization_id = $1 AND id = $2`
	// A deleted group stops being a location default too.
	sqlForgetDefaultGroup = `UPDATE locations SET default_group_ids = array_remove(default_group_ids, $2), updated = now()
		WHERE organization_id = $1 AND $2 = ANY(default_group_ids)`

	// FOR KEY SHARE keeps the group from being deleted until the transaction
	// ends without blocking renames.
	sqlLockGroup  = `SELECT id FROM customer_groups WHERE organization_id = $1 AND id = $2 FOR KEY SHARE`
	sqlLockGroups = `SELECT id FROM customer_groups WHERE organization_id = $1 AND id = ANY($2)
		ORDER BY id FOR KEY SHARE`

	// sqlAddMembers adds every known customer or, when any id is unknown in
	// the organization, none. Rows are inserted in id order so concurrent
	// adds of overlapping sets wait on each other instead of deadlocking.
	sqlAddMembers = `WITH wanted AS (
			SELECT DISTINCT unnest($3::text[]) AS id
		), known AS (
			SELECT c.id FROM customers c JOIN wanted w ON w.id = c.id
			WHERE c.organization_id = $1 AND c.merged_into IS NULL
		), missing AS (
			SELECT w.id FROM wanted w WHERE NOT EXISTS (SELECT 1 FROM known k WHERE k.id = w.id)
		), added AS (
			INSERT INTO group_members (organization_id, group_id, customer_id, location_id)
			SELECT $1::text, $2::text, k.id, $4::text FROM known k
			WHERE NOT EXISTS (SELECT 1 FROM missing)
			ORDER BY k.id
			ON CONFLICT (organization_id, group_id, customer_id) DO NOTHING
			RETURNING customer_id
		), audited AS (
			-- Each customer that joined gets the event an upsert writes.
			INSERT INTO audit_events (organization_id, customer_id, type, source, location_id, changes)
			SELECT $1::text, a.customer_id, 'customer.tagged', 'api', $4::text,
				jsonb_build_object('group_id', jsonb_build_object('from', NULL, 'to', $2::text))
			FROM added a
		)
		SELECT (SELECT count(*) FROM known), (SELECT count(*) FROM added),
			coalesce((SELECT array_agg(id ORDER BY id) FROM missing), '{}')`
	sqlCountMembers = `SELECT count(*) FROM group_members WHERE organization_id = $1 AND group_id = $2`
	sqlRemoveMember = `DELETE FROM group_members WHERE organization_id = $1 AND group_id = $2 AND customer_id = $3
		RETURNING coalesce(location_id, '')`
)

func scanGroup(row pgx.Row) (*customer.Group, error) {
	var g customer.Group
	err := row.Scan(&g.ID, &g.Name, &g.Description, &g.CustomerCount, &g.Created, &g.Updated)
	return &g, err
}

// groupNameConflict is the seed 002 answer to a taken name.
func groupNameConflict(name string) error {
	return &customer.Error{Code: customer.ECONFLICT, Message: "Group with same name already exists",
		Details: map[string]string{"name": name}}
}

// CreateGroup stores a new group; its name must be free in the organization
// (case-insensitively).
func (s *Store) CreateGroup(ctx context.Context, orgID string, g *customer.Group) error {
	g.ID = customer.NewID(customer.PrefixGroup)
	err := s.pool.QueryRow(ctx, sqlInsertGroup, orgID, g.ID, g.Name, g.Description).Scan(&g.Created, &g.Updated)
	switch {
	case isUniqueViolation(err, "customer_groups_name"):
		return groupNameConflict(g.Name)
	case isForeignKeyViolation(err):
		return customer.NotFound("Organization", orgID)
	case err != nil:
		return interpretError(fmt.Errorf("insert group: %w", err), nil)
	}
	return nil
}

// FindGroupByID returns one group with its member count.
func (s *Store) FindGroupByID(ctx context.Context, orgID, id string) (*customer.Group, error) {
	g, err := scanGroup(s.pool.QueryRow(ctx, sqlSelectGroup, orgID, id))
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Group", id))
	}
	return g, nil
}

// FindGroups returns one page of groups ordered by name.
func (s *Store) FindGroups(ctx context.Context, orgID string, page, limit int) ([]*customer.Group, customer.Page, error) {
	list := []*customer.Group{}
	var total int
	b := &pgx.Batch{}
	b.Queue(sqlSelectGroups, orgID, limit, (page-1)*limit).Query(func(rows pgx.Rows) error {
		var err error
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*customer.Group, error) { return scanGroup(row) })
		return err
	})
	b.Queue(sqlCountGroups, orgID).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list groups: %w", err), nil)
	}
	return list, customer.NewPage(total, page, limit), nil
}

// UpdateGroup changes a group: fn gets it as stored, locked, and changes
// its name and description in place (PUT replaces, PATCH merges).
func (s *Store) UpdateGroup(ctx context.Context, orgID, id string, fn func(g *customer.Group) error) (*customer.Group, error) {
	var g *customer.Group
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanGroup(tx.QueryRow(ctx, sqlSelectGroupForUpdate, orgID, id))
		if err != nil {
			return interpretError(err, customer.NotFound("Group", id))
		}
		if err := fn(cur); err != nil {
			return err
		}
		g, err = scanGroup(tx.QueryRow(ctx, sqlUpdateGroup, orgID, id, cur.Name, cur.Description))
		switch {
		case isUniqueViolation(err, "customer_groups_name"):
			return groupNameConflict(cur.Name)
		case err != nil:
			return interpretError(err, customer.NotFound("Group", id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// DeleteGroup removes a group and its memberships; the customers stay.
func (s *Store) DeleteGroup(ctx context.Context, orgID, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlDeleteGroup, orgID, id)
		if err != nil {
			return interpretError(fmt.Errorf("delete group: %w", err), nil)
		}
		if tag.RowsAffected() == 0 {
			return customer.NotFound("Group", id)
		}
		if _, err := tx.Exec(ctx, sqlForgetDefaultGroup, orgID, id); err != nil {
			return interpretError(fmt.Errorf("forget default group: %w", err), nil)
		}
		return nil
	})
}

// AddGroupMembers adds customers to a group in one statement, recording the
// location it happened at ("" for none). It is idempotent: members already
// in the group keep their original record. Unknown customer ids fail the
// whole call with a validation error naming them.
func (s *Store) AddGroupMembers(ctx context.Context, orgID, groupID string, customerIDs []string, locationID string) (*customer.MembershipChange, error) {
	ch := &customer.MembershipChange{GroupID: groupID}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Locks in the store's fixed order: group, location, customers.
		if err := lockGroup(ctx, tx, orgID, groupID); err != nil {
			return err
		}
		var loc *string
		if locationID != "" {
			if _, err := lockLocation(ctx, tx, orgID, locationID); err != nil {
				return invalidLocation(err)
			}
			loc = &locationID
		}
		var known int
		var missing []string
		err := tx.QueryRow(ctx, sqlAddMembers, orgID, groupID, customerIDs, loc).Scan(&known, &ch.Added, &missing)
		switch {
		case isForeignKeyViolation(err): // a customer was deleted meanwhile
			return customer.Invalid(map[string]string{"customer_ids": "a customer was deleted while being added; retry"})
		case err != nil:
			return interpretError(fmt.Errorf("add group members: %w", err), nil)
		case len(missing) > 0:
			return &customer.Error{Code: customer.EINVALID, Message: "Validation error", Details: map[string]any{
				"customer_ids": fmt.Sprintf("%d unknown customer id(s); nothing was added", len(missing)),
				"missing_ids":  missing,
			}}
		}
		ch.AlreadyMembers = known - ch.Added
		if err := tx.QueryRow(ctx, sqlCountMembers, orgID, groupID).Scan(&ch.CustomerCount); err != nil {
			return interpretError(fmt.Errorf("count group members: %w", err), nil)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// RemoveGroupMember takes a customer out of a group.
func (s *Store) RemoveGroupMember(ctx context.Context, orgID, groupID, customerID string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockGroup(ctx, tx, orgID, groupID); err != nil {
			return err
		}
		var at string
		err := tx.QueryRow(ctx, sqlRemoveMember, orgID, groupID, customerID).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return &customer.Error{Code: customer.ENOTFOUND, Message: "Customer is not a member of this group",
				Details: map[string]string{"customer_id": customerID}}
		}
		if err != nil {
			return interpretError(fmt.Errorf("remove group member: %w", err), nil)
		}
		// The request names no location: the event has none either.
		return audit(ctx, tx, orgID, customerID, EventTagged, "api", map[string]Change{"group_id": {From: groupID, To: nil}})
	})
}

func lockGroup(ctx context.Context, tx pgx.Tx, orgID, groupID string) error {
	var id string
	err := tx.QueryRow(ctx, sqlLockGroup, orgID, groupID).Scan(&id)
	return interpretError(err, customer.NotFound("Group", groupID))
}

// lockGroups returns which of ids are groups of the organization, locking
// them against deletion until the transaction ends.
func lockGroups(ctx context.Context, tx pgx.Tx, orgID string, ids []string) (map[string]bool, error) {
	found := map[string]bool{}
	if len(ids) == 0 {
		return found, nil
	}
	rows, err := tx.Query(ctx, sqlLockGroups, orgID, ids)
	if err != nil {
		return nil, interpretError(fmt.Errorf("lock groups: %w", err), nil)
	}
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { found[id] = true; return nil }); err != nil {
		return nil, interpretError(fmt.Errorf("lock groups: %w", err), nil)
	}
	return found, nil
}
