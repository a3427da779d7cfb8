package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	// The source of a visit is how the customer first arrived there; later
	// sightings only move last_seen.
	sqlRecordVisit = `INSERT INTO customer_locations (organization_id, customer_id, location_id, source)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (organization_id, customer_id, location_id) DO UPDATE
		SET last_seen = greatest(customer_locations.last_seen, EXCLUDED.last_seen),
			source = CASE WHEN customer_locations.source = '' THEN EXCLUDED.source ELSE customer_locations.source END`
	sqlVisitExists = `SELECT EXISTS (SELECT 1 FROM customer_locations
		WHERE organization_id = $1 AND customer_id = $2 AND location_id = $3)`

	sqlUpdateDefaultAddress = `UPDATE customer_addresses SET label = CASE WHEN $3 = '' THEN label ELSE $3 END,
		address_line1 = $4, address_line2 = $5, city = $6, state = $7, country = $8, postal_code = $9, updated = now()
		WHERE organization_id = $1 AND customer_id = $2 AND is_default
		RETURNING ` + addressColumns
)

// CreateCustomerAt stores a new customer met at p.LocationID (none: org-wide)
// in one transaction: the customer and its identities, its address (as the
// default), p.Tags, and at a location also the location's default tags and
// groups and the visit.
func (s *Store) CreateCustomerAt(ctx context.Context, orgID string, c *customer.Customer, p customer.Placement, addr *customer.Address) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if p.LocationID != "" {
			if _, err := lockLocation(ctx, tx, orgID, p.LocationID); err != nil {
				return err
			}
		}
		if err := insertCustomer(ctx, tx, orgID, c, p.LocationID); err != nil {
			return err
		}
		if addr != nil {
			if err := setDefaultAddress(ctx, tx, orgID, c.ID, addr); err != nil {
				return err
			}
		}
		if err := applyTags(ctx, tx, orgID, c.ID, p); err != nil {
			return err
		}
		return recordVisit(ctx, tx, orgID, c.ID, p)
	})
	if err != nil {
		return err
	}
	initCollections(c)
	return s.loadRelations(ctx, orgID, []*customer.Customer{c})
}

// FindCustomerAt returns a customer seen at a location; any other is not
// found there.
func (s *Store) FindCustomerAt(ctx context.Context, orgID, locationID, id string) (*customer.Customer, error) {
	c, err := s.FindCustomerByID(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	for _, v := range c.Locations {
		if v.LocationID == locationID {
			return c, nil
		}
	}
	return nil, customer.NotFound("Customer", id)
}

// UpdateCustomerAt changes a customer seen at p.LocationID: fn edits the
// locked record, addr (when set) replaces its default address, p.Tags (when
// set) are applied there, and the visit's last_seen moves.
func (s *Store) UpdateCustomerAt(ctx context.Context, orgID, id string, p customer.Placement, addr *customer.Address, fn func(c *customer.Customer) error) (*customer.Customer, error) {
	var c *customer.Customer
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := requireVisit(ctx, tx, orgID, p.LocationID, id); err != nil {
			return err
		}
		var err error
		if c, err = updateCustomer(ctx, tx, orgID, id, p.LocationID, fn); err != nil {
			return err
		}
		if addr != nil {
			if err := setDefaultAddress(ctx, tx, orgID, id, addr); err != nil {
				return err
			}
		}
		if err := applyTags(ctx, tx, orgID, id, p); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sqlRecordVisit, orgID, id, p.LocationID, p.Source)
		return interpretError(err, nil)
	})
	if err != nil {
		return nil, err
	}
	initCollections(c)
	if err := s.loadRelations(ctx, orgID, []*customer.Customer{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteCustomerAt deletes a customer seen at a location, by the rules of
// DeleteCustomer.
func (s *Store) DeleteCustomerAt(ctx context.Context, orgID, locationID, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := requireVisit(ctx, tx, orgID, locationID, id); err != nil {
			return err
		}
		return deleteCustomer(ctx, tx, orgID, id)
	})
}

// requireVisit locks the location against deletion and fails with not found
// unless the customer was seen there.
func requireVisit(ctx context.Context, tx pgx.Tx, orgID, locationID, customerID string) error {
	if _, err := lockLocation(ctx, tx, orgID, locationID); err != nil {
		return err
	}
	var seen bool
	if err := tx.QueryRow(ctx, sqlVisitExists, orgID, customerID, locationID).Scan(&seen); err != nil {
		return interpretError(fmt.Errorf("check visit: %w", err), nil)
	}
	if !seen {
		return customer.NotFound("Customer", customerID)
	}
	return nil
}

// recordVisit applies the location's default tags and groups to a customer
// seen at p.LocationID and records the visit; no location, no visit.
func recordVisit(ctx context.Context, tx pgx.Tx, orgID, customerID string, p customer.Placement) error {
	if p.LocationID == "" {
		return nil
	}
	for _, q := range []string{sqlApplyDefaultTags, sqlApplyDefaultGroups} {
		if _, err := tx.Exec(ctx, q, orgID, customerID, p.LocationID); err != nil {
			return interpretError(fmt.Errorf("apply location defaults: %w", err), nil)
		}
	}
	if _, err := tx.Exec(ctx, sqlRecordVisit, orgID, customerID, p.LocationID, p.Source); err != nil {
		return interpretError(fmt.Errorf("record visit: %w", err), nil)
	}
	return nil
}

// setDefaultAddress replaces the customer's default address with a's fields
// (an empty label keeps the current one) or, when it has none, adds a as
// its default.
func setDefaultAddress(ctx context.Context, tx pgx.Tx, orgID, customerID string, a *customer.Address) error {
	a.CustomerID, a.IsDefault = customerID, true
	got, err := scanAddress(tx.QueryRow(ctx, sqlUpdateDefaultAddress, orgID, customerID, a.Label,
		a.AddressLine1, a.AddressLine2, a.City, a.State, a.Country, a.PostalCode))
	if err == nil {
		*a = *got
		return nil
	}
	if err != pgx.ErrNoRows {
		return interpretError(fmt.Errorf("update default address: %w", err), nil)
	}
	a.ID = customer.NewID(customer.PrefixAddress)
	if a.Label == "" {
		a.Label = customer.DefaultAddressLabel
	}
	err = tx.QueryRow(ctx, sqlInsertAddress, orgID, a.ID, customerID, a.Label, a.AddressLine1,
		a.AddressLine2, a.City, a.State, a.Country, a.PostalCode, true).Scan(&a.Created, &a.Updated)
	return interpretError(err, nil)
}
