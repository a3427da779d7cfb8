package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// locationColumns is the column list of every location read, in
// scanLocation's order.
const locationColumns = `l.id, l.name, l.code, l.default_region, l.timezone, l.default_tags, l.default_group_ids,
	l.created, l.updated`

const (
	sqlInsertLocation = `INSERT INTO locations (organization_id, id, name, code, default_region, timezone,
		default_tags, default_group_ids)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created, updated`
	sqlSelectLocation  = `SELECT ` + locationColumns + ` FROM locations l WHERE l.organization_id = $1 AND l.id = $2`
	sqlSelectLocations = `SELECT ` + locationColumns + ` FROM locations l WHERE l.organization_id = $1
		ORDER BY lower(l.name), l.id LIMIT $2 OFFSET $3`
	sqlCountLocations = `SELECT count(*) FROM locations WHERE organization_id = $1`
	sqlUpdateLocation = `UPDATE locations l SET name = $3, code = $4, default_region = $5, timezone = $6,
		default_tags = $7, default_group_ids = $8, updated = now()
		WHERE l.organization_id = $1 AND l.id = $2 AND l.updated = $9 RETURNING ` + locationColumns
	sqlDeleteLocation = `DELETE FROM locations WHERE organization_id = $1 AND id = $2`
	// What a deleted location leaves behind (see docs/decisions.md): visits
	// and tags applied there go, memberships stay but forget where they
	// were applied.
	sqlDeleteLocationVisits = `DELETE FROM customer_locations WHERE organization_id = $1 AND location_id = $2`
	sqlDeleteLocationTags   = `DELETE FROM customer_tags WHERE organization_id = $1 AND location_id = $2`
	sqlForgetMemberLocation = `UPDATE group_members SET location_id = NULL WHERE organization_id = $1 AND location_id = $2`
	sqlSelectLocationRegion = `SELECT default_region FROM locations WHERE organization_id = $1 AND id = $2`
	sqlLockLocation         = sqlSelectLocationRegion + ` FOR KEY SHARE`

	locationCodeConstraint = "locations_code"
)

func scanLocation(row pgx.Row) (*customer.Location, error) {
	var l customer.Location
	err := row.Scan(&l.ID, &l.Name, &l.Code, &l.DefaultRegion, &l.Timezone, &l.DefaultTags, &l.DefaultGroupIDs,
		&l.Created, &l.Updated)
	return &l, err
}

func locationArgs(orgID string, l *customer.Location) []any {
	if l.DefaultTags == nil {
		l.DefaultTags = []string{}
	}
	if l.DefaultGroupIDs == nil {
		l.DefaultGroupIDs = []string{}
	}
	return []any{orgID, l.ID, l.Name, l.Code, l.DefaultRegion, l.Timezone, l.DefaultTags, l.DefaultGroupIDs}
}

func locationCodeConflict(code string) error {
	return &customer.Error{Code: customer.ECONFLICT, Message: "Location with same code already exists",
		Details: map[string]string{"code": code}}
}

// CreateLocation stores a new location. Its default groups must be groups of
// the organization; its code, when set, must be free (case-insensitively).
func (s *Store) CreateLocation(ctx context.Context, orgID string, l *customer.Location) error {
	l.ID = customer.NewID(customer.PrefixLocation)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkDefaultGroups(ctx, tx, orgID, l.DefaultGroupIDs); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, sqlInsertLocation, locationArgs(orgID, l)...).Scan(&l.Created, &l.Updated)
		switch {
		case isUniqueViolation(err, locationCodeConstraint):
			return locationCodeConflict(l.Code)
		case isForeignKeyViolation(err):
			return customer.NotFound("Organization", orgID)
		case err != nil:
			return interpretError(fmt.Errorf("insert location: %w", err), nil)
		}
		return nil
	})
}

// FindLocationByID returns one location.
func (s *Store) FindLocationByID(ctx context.Context, orgID, id string) (*customer.Location, error) {
	l, err := scanLocation(s.pool.QueryRow(ctx, sqlSelectLocation, orgID, id))
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Location", id))
	}
	return l, nil
}

// FindLocations returns one page of locations ordered by name.
func (s *Store) FindLocations(ctx context.Context, orgID string, page, limit int) ([]*customer.Location, customer.Page, error) {
	list := []*customer.Location{}
	var total int
	b := &pgx.Batch{}
	b.Queue(sqlSelectLocations, orgID, limit, (page-1)*limit).Query(func(rows pgx.Rows) error {
		var err error
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*customer.Location, error) { return scanLocation(row) })
		return err
	})
	b.Queue(sqlCountLocations, orgID).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list locations: %w", err), nil)
	}
	return list, customer.NewPage(total, page, limit), nil
}

// FindLocationRegion returns a location's default region: the cheap
// existence check of the location-scoped API.
func (s *Store) FindLocationRegion(ctx context.Context, orgID, id string) (string, error) {
	var region string
	err := s.pool.QueryRow(ctx, sqlSelectLocationRegion, orgID, id).Scan(&region)
	return region, interpretError(err, customer.NotFound("Location", id))
}

// UpdateLocation changes a location: fn gets it as stored and changes its
// writable fields in place (PUT replaces, PATCH merges). The location is
// read unlocked and written only if unchanged since, else read again:
// locking it first would take the store's locks out of their order (groups
// before locations), which a group's deletion, which edits locations,
// follows.
func (s *Store) UpdateLocation(ctx context.Context, orgID, id string, fn func(l *customer.Location) error) (*customer.Location, error) {
	for range 5 {
		var l *customer.Location
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			cur, err := scanLocation(tx.QueryRow(ctx, sqlSelectLocation, orgID, id))
			if err != nil {
				return interpretError(err, customer.NotFound("Location", id))
			}
			read := cur.Updated
			if err := fn(cur); err != nil {
				return err
			}
			cur.ID = id
			if err := checkDefaultGroups(ctx, tx, orgID, cur.DefaultGroupIDs); err != nil {
				return err
			}
			l, err = scanLocation(tx.QueryRow(ctx, sqlUpdateLocation, append(locationArgs(orgID, cur), read)...))
			switch {
			case isUniqueViolation(err, locationCodeConstraint):
				return locationCodeConflict(cur.Code)
			case errors.Is(err, pgx.ErrNoRows):
				l = nil // changed or deleted since read: read again
				return nil
			case err != nil:
				return interpretError(fmt.Errorf("update location: %w", err), nil)
			}
			return nil
		})
		if err != nil || l != nil {
			return l, err
		}
	}
	return nil, fmt.Errorf("update location %s: changed concurrently 5 times", id)
}

// DeleteLocation removes a location. Its customers stay; their visits and
// the tags applied there go, and memberships forget the location.
func (s *Store) DeleteLocation(ctx context.Context, orgID, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Deleting first waits for writes holding the location (FOR KEY
		// SHARE), so the cleanup below also sees what they recorded.
		tag, err := tx.Exec(ctx, sqlDeleteLocation, orgID, id)
		if err != nil {
			return interpretError(fmt.Errorf("delete location: %w", err), nil)
		}
		if tag.RowsAffected() == 0 {
			return customer.NotFound("Location", id)
		}
		for _, q := range []string{sqlDeleteLocationVisits, sqlDeleteLocationTags, sqlForgetMemberLocation} {
			if _, err := tx.Exec(ctx, q, orgID, id); err != nil {
				return interpretError(fmt.Errorf("clean up location: %w", err), nil)
			}
		}
		return nil
	})
}

// checkDefaultGroups fails with a validation error naming default_group_ids
// when one is not a group of the organization.
func checkDefaultGroups(ctx context.Context, tx pgx.Tx, orgID string, ids []string) error {
	found, err := lockGroups(ctx, tx, orgID, ids)
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return customer.Invalid(map[string]string{"default_group_ids": "unknown group id(s): " + strings.Join(missing, ", ")})
}

// lockLocation returns the location's default region and keeps the location
// from being deleted until the transaction ends.
func lockLocation(ctx context.Context, tx pgx.Tx, orgID, id string) (region string, err error) {
	err = tx.QueryRow(ctx, sqlLockLocation, orgID, id).Scan(&region)
	return region, interpretError(err, customer.NotFound("Location", id))
}

// invalidLocation turns a missing location named in a request body into a
// validation error of its location_id field.
func invalidLocation(err error) error {
	if customer.ErrorCode(err) == customer.ENOTFOUND {
		return customer.Invalid(map[string]string{"location_id": "no such location"})
	}
	return err
}
