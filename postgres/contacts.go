package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	contactColumns = `id, customer_id, name, title, email, phone, is_primary, created, updated`

	sqlSelectContacts = `SELECT ` + contactColumns + ` FROM customer_contacts
		WHERE organization_id = $1 AND customer_id = ANY($2) ORDER BY created, id`
	sqlSelectContactPage = `SELECT ` + contactColumns + ` FROM customer_contacts
		WHERE organization_id = $1 AND customer_id = $2 ORDER BY created, id LIMIT $3 OFFSET $4`
	sqlCountContacts = `SELECT count(*) FROM customer_contacts WHERE organization_id = $1 AND customer_id = $2`
	sqlSelectContact = `SELECT ` + contactColumns + ` FROM customer_contacts
		WHERE organization_id = $1 AND customer_id = $2 AND id = $3`
	sqlInsertContact = `INSERT INTO customer_contacts (organization_id, id, customer_id, name, title, email, phone, is_primary)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created, updated`
	sqlUpdateContact = `UPDATE customer_contacts SET name = $4, title = $5, email = $6, phone = $7,
		is_primary = $8, updated = now()
		WHERE organization_id = $1 AND customer_id = $2 AND id = $3 RETURNING created, updated`
	sqlUnsetPrimaryContact = `UPDATE customer_contacts SET is_primary = false, updated = now()
		WHERE organization_id = $1 AND customer_id = $2 AND is_primary AND id <> $3`
	sqlDeleteContact = `DELETE FROM customer_contacts WHERE organization_id = $1 AND customer_id = $2 AND id = $3`
)

func scanContact(row pgx.Row) (*customer.Contact, error) {
	var c customer.Contact
	err := row.Scan(&c.ID, &c.CustomerID, &c.Name, &c.Title, &c.Email, &c.Phone, &c.IsPrimary, &c.Created, &c.Updated)
	return &c, err
}

// FindContacts lists one page of a customer's contacts, oldest first.
func (s *Store) FindContacts(ctx context.Context, orgID, customerID string, page, limit int) ([]*customer.Contact, customer.Page, error) {
	meta := customer.Page{Page: page, Limit: limit}
	var id string
	if err := s.pool.QueryRow(ctx, sqlCustomerExists, orgID, customerID).Scan(&id); err != nil {
		return nil, meta, interpretError(err, customer.NotFound("Customer", customerID))
	}
	if err := s.pool.QueryRow(ctx, sqlCountContacts, orgID, customerID).Scan(&meta.Total); err != nil {
		return nil, meta, interpretError(fmt.Errorf("count contacts: %w", err), nil)
	}
	rows, err := s.pool.Query(ctx, sqlSelectContactPage, orgID, customerID, limit, (page-1)*limit)
	if err != nil {
		return nil, meta, interpretError(fmt.Errorf("list contacts: %w", err), nil)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*customer.Contact, error) { return scanContact(row) })
	if err != nil {
		return nil, meta, interpretError(fmt.Errorf("list contacts: %w", err), nil)
	}
	meta.HasMore = (page-1)*limit+len(list) < meta.Total
	return list, meta, nil
}

// FindContactsOf returns the contacts of several customers in one query;
// every requested id has a (possibly empty, never nil) list.
func (s *Store) FindContactsOf(ctx context.Context, orgID string, customerIDs []string) (map[string][]*customer.Contact, error) {
	out := make(map[string][]*customer.Contact, len(customerIDs))
	for _, id := range customerIDs {
		out[id] = []*customer.Contact{}
	}
	if len(customerIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, sqlSelectContacts, orgID, customerIDs)
	if err != nil {
		return nil, interpretError(fmt.Errorf("list contacts: %w", err), nil)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*customer.Contact, error) { return scanContact(row) })
	if err != nil {
		return nil, interpretError(fmt.Errorf("list contacts: %w", err), nil)
	}
	for _, c := range list {
		out[c.CustomerID] = append(out[c.CustomerID], c)
	}
	return out, nil
}

// CreateContact adds a contact; a primary contact unsets the others in the
// same transaction.
func (s *Store) CreateContact(ctx context.Context, orgID string, c *customer.Contact) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCustomer(ctx, tx, orgID, c.CustomerID); err != nil {
			return err
		}
		return insertContact(ctx, tx, orgID, c)
	})
}

// insertContact stores c under an already locked customer.
func insertContact(ctx context.Context, tx pgx.Tx, orgID string, c *customer.Contact) error {
	c.ID = customer.NewID(customer.PrefixContact)
	if err := unsetOtherPrimaries(ctx, tx, orgID, c); err != nil {
		return err
	}
	err := tx.QueryRow(ctx, sqlInsertContact, orgID, c.ID, c.CustomerID, c.Name, c.Title, c.Email, c.Phone, c.IsPrimary).
		Scan(&c.Created, &c.Updated)
	if err != nil {
		return interpretError(fmt.Errorf("insert contact: %w", err), nil)
	}
	return nil
}

// UpdateContact applies fn to the current contact and stores the result.
// Making it primary unsets the customer's other primary contact atomically.
func (s *Store) UpdateContact(ctx context.Context, orgID, customerID, contactID string, fn func(c *customer.Contact) error) (*customer.Contact, error) {
	var c *customer.Contact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCustomer(ctx, tx, orgID, customerID); err != nil {
			return err
		}
		var err error
		c, err = scanContact(tx.QueryRow(ctx, sqlSelectContact, orgID, customerID, contactID))
		if err != nil {
			return interpretError(err, customer.NotFound("Contact", contactID))
		}
		if err := fn(c); err != nil {
			return err
		}
		if err := unsetOtherPrimaries(ctx, tx, orgID, c); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, sqlUpdateContact, orgID, customerID, contactID, c.Name, c.Title, c.Email, c.Phone, c.IsPrimary).
			Scan(&c.Created, &c.Updated)
		return interpretError(err, customer.NotFound("Contact", contactID))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteContact removes a contact of a customer.
func (s *Store) DeleteContact(ctx context.Context, orgID, customerID, contactID string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockCustomer(ctx, tx, orgID, customerID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sqlDeleteContact, orgID, customerID, contactID)
		if err != nil {
			return interpretError(fmt.Errorf("delete contact: %w", err), nil)
		}
		if tag.RowsAffected() == 0 {
			return customer.NotFound("Contact", contactID)
		}
		return nil
	})
}

// unsetOtherPrimaries runs before c is written, so the partial unique index
// customer_contacts_one_primary never sees two primaries.
func unsetOtherPrimaries(ctx context.Context, tx pgx.Tx, orgID string, c *customer.Contact) error {
	if !c.IsPrimary {
		return nil
	}
	if _, err := tx.Exec(ctx, sqlUnsetPrimaryContact, orgID, c.CustomerID, c.ID); err != nil {
		return interpretError(fmt.Errorf("unset primary contact: %w", err), nil)
	}
	return nil
}
