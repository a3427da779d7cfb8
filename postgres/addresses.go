package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	addressColumns = `id, customer_id, label, address_line1, address_line2, city, state, country,
		postal_code, is_default, created, updated`

	sqlLockCustomer     = `SELECT id FROM customers WHERE organization_id = $1 AND id = $2 AND merged_into IS NULL FOR UPDATE`
	sqlCustomerExists   = `SELECT id FROM customers WHERE organization_id = $1 AND id = $2 AND merged_into IS NULL`
	sqlSelectAddresses  = `SELECT ` + addressColumns + ` FROM customer_addresses WHERE organization_id = $1 AND customer_id = $2 ORDER BY created, id`
	sqlSelectAddress    = `SELECT ` + addressColumns + ` FROM customer_addresses WHERE organization_id = $1 AND customer_id = $2 AND id = $3`
	sqlCountAddresses   = `SELECT count(*) FROM customer_addresses WHERE organization_id = $1 AND customer_id = $2`
	sqlUnsetDefaultAddr = `UPDATE customer_addresses SET is_default = false, updated = now()
		WHERE organization_id = $1 AND customer_id = $2 AND is_default AND id <> $3`
	sqlInsertAddress = `INSERT INTO customer_addresses (organization_id, id, customer_id, label, address_line1,
		address_line2, city, state, country, postal_code, is_default)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING created, updated`
	sqlUpdateAddress = `UPDATE customer_addresses SET label = $4, address_line1 = $5, address_line2 = $6,
		city = $7, state = $8, country = $9, postal_code = $10, is_default = $11, updated = now()
		WHERE organization_id = $1 AND id = $2 AND customer_id = $3 RETURNING created, updated`
	sqlDeleteAddress = `DELETE FROM customer_addresses WHERE organization_id = $1 AND customer_id = $2 AND id = $3
		RETURNING ` + addressColumns
	// Deleting the default address promotes the oldest remaining one.
	sqlPromoteOldestAddress = `UPDATE customer_addresses SET is_default = true, updated = now()
		WHERE organization_id = $1 AND id = (SELECT id FROM customer_addresses
		WHERE organization_id = $1 AND customer_id = $2 ORDER BY created, id LIMIT 1)`
)

func scanAddress(row pgx.Row) (*customer.Address, error) {
	var a customer.Address
	err := row.Scan(&a.ID, &a.CustomerID, &a.Label, &a.AddressLine1, &a.AddressLine2, &a.City,
		&a.State, &a.Country, &a.PostalCode, &a.IsDefault, &a.Created, &a.Updated)
	return &a, err
}

// FindAddresses lists a customer's addresses, oldest first.
func (s *Store) FindAddresses(ctx context.Context, orgID, customerID string) ([]*customer.Address, error) {
	var id string
	if err := s.pool.QueryRow(ctx, sqlCustomerExists, orgID, customerID).Scan(&id); err != nil {
		return nil, interpretError(err, customer.NotFound("Customer", customerID))
	}
	rows, err := s.pool.Query(ctx, sqlSelectAddresses, orgID, customerID)
	if err != nil {
		return nil, interpretError(fmt.Errorf("list addresses: %w", err), nil)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*customer.Address, error) { return scanAddress(row) })
	if err != nil {
		return nil, interpretError(fmt.Errorf("list addresses: %w", err), nil)
	}
	return list, nil
}

// CreateAddress adds an address. The first address becomes the default;
// a new default unsets the others in the same transaction.
func (s *Store) CreateAddress(ctx context.Context, orgID string, a *customer.Address) error {
	a.ID = customer.NewID(customer.PrefixAddress)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCustomer(ctx, tx, orgID, a.CustomerID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, sqlCountAddresses, orgID, a.CustomerID).Scan(&n); err != nil {
			return interpretError(fmt.Errorf("count addresses: %w", err), nil)
		}
		a.IsDefault = a.IsDefault || n == 0
		if err := unsetOtherDefaults(ctx, tx, orgID, a); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, sqlInsertAddress, orgID, a.ID, a.CustomerID, a.Label, a.AddressLine1,
			a.AddressLine2, a.City, a.State, a.Country, a.PostalCode, a.IsDefault).Scan(&a.Created, &a.Updated)
		if err != nil {
			return interpretError(err, nil)
		}
		return auditAddress(ctx, tx, orgID, a.CustomerID, nil, a)
	})
}

// UpdateAddress changes an address: fn gets it as stored, under the
// customer's lock, and changes it in place (PUT replaces, PATCH merges).
func (s *Store) UpdateAddress(ctx context.Context, orgID, customerID, addressID string, fn func(a *customer.Address) error) (*customer.Address, error) {
	var a *customer.Address
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCustomer(ctx, tx, orgID, customerID); err != nil {
			return err
		}
		var err error
		a, err = scanAddress(tx.QueryRow(ctx, sqlSelectAddress, orgID, customerID, addressID))
		if err != nil {
			return interpretError(err, customer.NotFound("Address", addressID))
		}
		before := *a
		if err := fn(a); err != nil {
			return err
		}
		a.ID, a.CustomerID = addressID, customerID
		if err := unsetOtherDefaults(ctx, tx, orgID, a); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, sqlUpdateAddress, orgID, a.ID, a.CustomerID, a.Label, a.AddressLine1,
			a.AddressLine2, a.City, a.State, a.Country, a.PostalCode, a.IsDefault).Scan(&a.Created, &a.Updated)
		if err != nil {
			return interpretError(err, customer.NotFound("Address", a.ID))
		}
		return auditAddress(ctx, tx, orgID, customerID, &before, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DeleteAddress removes an address; removing the default promotes the oldest.
func (s *Store) DeleteAddress(ctx context.Context, orgID, customerID, addressID string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCustomer(ctx, tx, orgID, customerID); err != nil {
			return err
		}
		gone, err := scanAddress(tx.QueryRow(ctx, sqlDeleteAddress, orgID, customerID, addressID))
		if err != nil {
			return interpretError(err, customer.NotFound("Address", addressID))
		}
		wasDefault := gone.IsDefault
		if err := auditAddress(ctx, tx, orgID, customerID, gone, nil); err != nil {
			return err
		}
		if wasDefault {
			if _, err := tx.Exec(ctx, sqlPromoteOldestAddress, orgID, customerID); err != nil {
				return interpretError(fmt.Errorf("promote address: %w", err), nil)
			}
		}
		return nil
	})
}

// auditAddress records an address added (from nil), changed or deleted (to
// nil) through the API as a customer.updated event, the address before and
// after; a change that changes nothing records none.
func auditAddress(ctx context.Context, tx pgx.Tx, orgID, customerID string, from, to *customer.Address) error {
	type shown struct {
		ID           string `json:"id"`
		Label        string `json:"label"`
		AddressLine1 string `json:"address_line1"`
		AddressLine2 string `json:"address_line2"`
		City         string `json:"city"`
		State        string `json:"state"`
		Country      string `json:"country"`
		PostalCode   string `json:"postal_code"`
		IsDefault    bool   `json:"is_default"`
	}
	view := func(a *customer.Address) *shown {
		if a == nil {
			return nil
		}
		return &shown{a.ID, a.Label, a.AddressLine1, a.AddressLine2, a.City, a.State, a.Country, a.PostalCode, a.IsDefault}
	}
	if from != nil && to != nil && *view(from) == *view(to) {
		return nil
	}
	return audit(ctx, tx, orgID, customerID, EventUpdated, "api", map[string]Change{"address": {From: view(from), To: view(to)}})
}

// lockCustomer serializes changes to one customer's dependent rows.
func lockCustomer(ctx context.Context, tx pgx.Tx, orgID, customerID string) error {
	var id string
	err := tx.QueryRow(ctx, sqlLockCustomer, orgID, customerID).Scan(&id)
	return interpretError(err, customer.NotFound("Customer", customerID))
}

func unsetOtherDefaults(ctx context.Context, tx pgx.Tx, orgID string, a *customer.Address) error {
	if !a.IsDefault {
		return nil
	}
	_, err := tx.Exec(ctx, sqlUnsetDefaultAddr, orgID, a.CustomerID, a.ID)
	return interpretError(err, nil)
}

const sqlSelectDefaultAddresses = `SELECT ` + addressColumns + ` FROM customer_addresses
	WHERE organization_id = $1 AND customer_id = ANY($2) AND is_default`

// FindDefaultAddresses returns the default address of each of customerIDs
// that has one, by customer id.
func (s *Store) FindDefaultAddresses(ctx context.Context, orgID string, customerIDs []string) (map[string]*customer.Address, error) {
	out := map[string]*customer.Address{}
	if len(customerIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, sqlSelectDefaultAddresses, orgID, customerIDs)
	if err != nil {
		return nil, interpretError(fmt.Errorf("default addresses: %w", err), nil)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*customer.Address, error) { return scanAddress(row) })
	if err != nil {
		return nil, interpretError(fmt.Errorf("default addresses: %w", err), nil)
	}
	for _, a := range list {
		out[a.CustomerID] = a
	}
	return out, nil
}
