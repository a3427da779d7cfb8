package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// CustomerColumns is the column list of customer reads (alias c), exported
// so benchmarks' SQL baselines read the same columns.
const CustomerColumns = customerColumns

// customerColumns is the one column list every customer read uses, in the
// order scanCustomer expects.
const customerColumns = `c.id, c.organization_id, c.first_name, c.last_name, c.name, c.email,
	c.phone, c.phone_valid, c.phone_ext, coalesce(to_char(c.birthdate, 'YYYY-MM-DD'), ''),
	c.gender, c.type, c.status, c.company_name, c.avatar_url, c.source, c.notes, c.attributes,
	c.website, c.tax_id, c.fax, c.billing_address, c.shipping_address, c.payment_terms,
	c.currency, c.credit_limit, c.current_balance, c.discount_rate, c.preferred_shipping,
	c.lifetime_value, c.total_orders, c.customer_since, c.merged_into, c.created, c.updated`

// insertCustomerColumns are the columns a new customer's row is written
// with, in customerArgs' order.
const insertCustomerColumns = `(organization_id, id, first_name, last_name, name,
		email, phone, phone_valid, phone_ext, birthdate, gender, type, status, company_name,
		avatar_url, source, notes, attributes, website, tax_id, fax, billing_address,
		shipping_address, payment_terms, currency, credit_limit, discount_rate,
		preferred_shipping, customer_since)`

const (
	sqlInsertCustomer = `INSERT INTO customers ` + insertCustomerColumns + `
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, '')::date, $11, $12, $13, $14,
		$15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, coalesce($29, now()))
		RETURNING created, updated, customer_since`

	sqlUpdateCustomer = `UPDATE customers SET first_name = $3, last_name = $4, name = $5,
		email = $6, phone = $7, phone_valid = $8, phone_ext = $9, birthdate = NULLIF($10, '')::date,
		gender = $11, type = $12, status = $13, company_name = $14, avatar_url = $15, source = $16,
		notes = $17, attributes = $18, website = $19, tax_id = $20, fax = $21,
		billing_address = $22, shipping_address = $23, payment_terms = $24, currency = $25,
		credit_limit = $26, discount_rate = $27, preferred_shipping = $28,
		customer_since = coalesce($29, customer_since), updated = now()
		WHERE organization_id = $1 AND id = $2
		RETURNING updated`

	sqlSelectCustomer          = `SELECT ` + customerColumns + ` FROM customers c WHERE c.organization_id = $1 AND c.id = $2`
	sqlSelectCustomerForUpdate = sqlSelectCustomer + ` FOR UPDATE`

	sqlInsertIdentity = `INSERT INTO customer_identities (organization_id, kind, value, customer_id, is_primary, display)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (organization_id, kind, value) DO UPDATE SET is_primary = EXCLUDED.is_primary, display = EXCLUDED.display
		WHERE customer_identities.customer_id = EXCLUDED.customer_id
		RETURNING customer_id`
	sqlLookupCustomer = `SELECT ` + customerColumns + ` FROM customers c WHERE c.organization_id = $1 AND c.id = coalesce(
		(SELECT customer_id FROM customer_identities WHERE organization_id = $1 AND kind = 'email' AND value = $2),
		(SELECT customer_id FROM customer_identities WHERE organization_id = $1 AND kind = 'phone' AND value = $3))`
	sqlIdentityOwner = `SELECT customer_id FROM customer_identities
		WHERE organization_id = $1 AND kind = $2 AND value = $3`
	// An edit never loses an identifier (SPEC §10.1): the replaced primary
	// stays as an alias, removed only through DELETE …/aliases/{value}.
	sqlDemoteIdentities = `UPDATE customer_identities SET is_primary = false
		WHERE organization_id = $1 AND customer_id = $2 AND kind = $3 AND is_primary AND value <> $4`

	// An alias is an identity row of the customer or, for a shared
	// identifier, a carrier row (its first owner has both). The customer's
	// row is locked first, so the two reads need no lock of their own.
	sqlSelectAlias = `SELECT value, is_primary, display FROM (
			SELECT value, is_primary, display FROM customer_identities
			WHERE organization_id = $1 AND customer_id = $2 AND kind = $3 AND (value = $4 OR display = $5)
			UNION ALL
			SELECT value, false, display FROM shared_identifier_carriers
			WHERE organization_id = $1 AND customer_id = $2 AND kind = $3 AND (value = $4 OR display = $5)
		) a ORDER BY value = $4 DESC, is_primary DESC LIMIT 1`
	sqlDeleteAlias = `DELETE FROM customer_identities
		WHERE organization_id = $1 AND customer_id = $2 AND kind = $3 AND value = $4`
	sqlDeleteCarrierAlias = `DELETE FROM shared_identifier_carriers
		WHERE organization_id = $1 AND customer_id = $2 AND kind = $3 AND value = $4`

	sqlDeleteCustomer    = `DELETE FROM customers WHERE organization_id = $1 AND id = $2`
	sqlDeleteIdentities  = `DELETE FROM customer_identities WHERE organization_id = $1 AND customer_id = $2`
	sqlCustomerHasOrders = `SELECT EXISTS (SELECT 1 FROM orders WHERE organization_id = $1 AND customer_id = $2)`

	// A customer given an identifier another owns carries it when it is
	// shared (SPEC §10.1: no 409): listed, or on the blocklist (listed now,
	// its owner a carrier too). No row means it is not shared.
	sqlCarryShared = `WITH blocked AS (
			SELECT 1 FROM organizations o WHERE o.id = $1 AND (
				($2 = 'phone' AND $3 IN (SELECT regexp_replace(p, '[^0-9]', '', 'g') FROM unnest(o.blocklist_phones) p))
				OR ($2 = 'email' AND $3 = ANY(o.blocklist_emails)))),
		listed AS (
			INSERT INTO shared_identifiers (organization_id, kind, value, reason)
			SELECT $1, $2, $3, '` + dedupe.ReasonBlocklist + `' FROM blocked
			ON CONFLICT DO NOTHING RETURNING 1),
		owner AS (
			INSERT INTO shared_identifier_carriers (organization_id, kind, value, customer_id, display)
			SELECT $1, $2, $3, i.customer_id, i.display FROM customer_identities i, listed
			WHERE i.organization_id = $1 AND i.kind = $2 AND i.value = $3
			ON CONFLICT DO NOTHING)
		INSERT INTO shared_identifier_carriers (organization_id, kind, value, customer_id, display)
		SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM listed) OR EXISTS (
			SELECT 1 FROM shared_identifiers WHERE organization_id = $1 AND kind = $2 AND value = $3)
		ON CONFLICT (organization_id, kind, value, customer_id) DO UPDATE SET display = EXCLUDED.display
		RETURNING true`
	sqlDeleteCarriers    = `DELETE FROM shared_identifier_carriers WHERE organization_id = $1 AND customer_id = $2`
	sqlSelectMemberships = `SELECT customer_id, group_id FROM group_members
		WHERE organization_id = $1 AND customer_id = ANY($2) ORDER BY added, group_id`
)

func scanCustomer(row pgx.Row) (*customer.Customer, error) {
	var c customer.Customer
	var mergedInto *string
	err := row.Scan(customerDest(make([]any, 0, customerColumnCount), &c, &mergedInto)...)
	return scannedCustomer(&c, mergedInto, err)
}

// customerColumnCount is the number of customerColumns.
const customerColumnCount = 35

// customerDest appends to dest the scan destinations of customerColumns
// into c and mergedInto.
func customerDest(dest []any, c *customer.Customer, mergedInto **string) []any {
	return append(dest, &c.ID, &c.OrganizationID, &c.FirstName, &c.LastName, &c.Name, &c.Email,
		&c.Phone, &c.PhoneValid, &c.PhoneExtension, &c.Birthdate,
		&c.Gender, &c.Type, &c.Status, &c.CompanyName, &c.AvatarURL, &c.Source, &c.Notes, &c.Attributes,
		&c.Website, &c.TaxID, &c.Fax, &c.BillingAddress, &c.ShippingAddress, &c.PaymentTerms,
		&c.Currency, &c.CreditLimit, &c.CurrentBalance, &c.DiscountRate, &c.PreferredShipping,
		&c.LifetimeValue, &c.TotalOrders, &c.CustomerSince, mergedInto, &c.Created, &c.Updated)
}

// scannedCustomer is c as read by customerDest's destinations (err: the
// scan's).
func scannedCustomer(c *customer.Customer, mergedInto *string, err error) (*customer.Customer, error) {
	if err != nil {
		return nil, err
	}
	if mergedInto != nil {
		// Merged customers redirect to their survivor; callers see EMOVED.
		return c, movedOrErased(c.ID, *mergedInto)
	}
	initCollections(c)
	return c, nil
}

// initCollections makes empty lists render as [] and maps as {}.
func initCollections(c *customer.Customer) {
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	c.Tags, c.Groups, c.Locations, c.Aliases = []string{}, []string{}, []customer.Visit{}, []customer.Alias{}
	c.TagsByLocation = map[string][]string{}
}

func customerArgs(orgID string, c *customer.Customer) []any {
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	return []any{orgID, c.ID, c.FirstName, c.LastName, c.Name, c.Email, c.Phone, c.PhoneValid,
		c.PhoneExtension, c.Birthdate, c.Gender, c.Type, c.Status, c.CompanyName, c.AvatarURL,
		c.Source, c.Notes, c.Attributes, c.Website, c.TaxID, c.Fax, c.BillingAddress,
		c.ShippingAddress, c.PaymentTerms, c.Currency, c.CreditLimit, c.DiscountRate,
		c.PreferredShipping, c.CustomerSince}
}

// Identity is one match key of a customer.
type identity struct {
	kind, value, display string
}

// primaryIdentities are the match keys of a customer's own email and phone.
func primaryIdentities(c *customer.Customer) []identity {
	var ids []identity
	if c.Email != "" {
		ids = append(ids, identity{"email", dedupe.EmailKey(c.Email, false), c.Email})
	}
	if c.Phone != "" {
		ids = append(ids, identity{"phone", dedupe.PhoneDigits(c.Phone), c.Phone})
	}
	return ids
}

// CreateCustomer stores a new customer and claims its email and phone. A
// taken email or phone is a conflict naming the customer that owns it.
func (s *Store) CreateCustomer(ctx context.Context, orgID string, c *customer.Customer) error {
	return s.CreateCustomerWithContacts(ctx, orgID, c, nil)
}

// CreateCustomerWithContacts is CreateCustomer that also stores the
// customer's contacts (ERP view) in the same transaction: either all of it
// exists afterwards or none.
func (s *Store) CreateCustomerWithContacts(ctx context.Context, orgID string, c *customer.Customer, contacts []*customer.Contact) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := insertCustomer(ctx, tx, orgID, c, ""); err != nil {
			return err
		}
		for _, ct := range contacts {
			ct.CustomerID = c.ID
			if err := insertContact(ctx, tx, orgID, ct); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	initCollections(c)
	return nil
}

// insertCustomer stores c and claims its email and phone within tx.
func insertCustomer(ctx context.Context, tx pgx.Tx, orgID string, c *customer.Customer, locationID string) error {
	if c.ID == "" {
		c.ID = customer.NewID(customer.PrefixCustomer)
	}
	c.OrganizationID = orgID
	if err := tx.QueryRow(ctx, sqlInsertCustomer, customerArgs(orgID, c)...).
		Scan(&c.Created, &c.Updated, &c.CustomerSince); err != nil {
		if isForeignKeyViolation(err) {
			return customer.NotFound("Organization", orgID)
		}
		return interpretError(fmt.Errorf("insert customer: %w", err), nil)
	}
	if err := claimIdentities(ctx, tx, orgID, c.ID, primaryIdentities(c)); err != nil {
		return err
	}
	return auditAt(ctx, tx, orgID, c.ID, EventCreated, cmpOr(c.Source, "api"), locationID, map[string]any{})
}

// claimIdentities makes each identity point at customerID as its primary,
// or fails with a conflict when another customer owns one. ON CONFLICT waits
// for a concurrent claim of the same key to finish, so exactly one wins.
func claimIdentities(ctx context.Context, tx pgx.Tx, orgID, customerID string, ids []identity) error {
	for _, id := range ids {
		var owner string
		err := tx.QueryRow(ctx, sqlInsertIdentity, orgID, id.kind, id.value, customerID, true, id.display).Scan(&owner)
		if err == pgx.ErrNoRows {
			var carried bool
			err := tx.QueryRow(ctx, sqlCarryShared, orgID, id.kind, id.value, customerID, id.display).Scan(&carried)
			if err == nil {
				continue
			}
			if err != pgx.ErrNoRows {
				return interpretError(fmt.Errorf("carry shared %s: %w", id.kind, err), nil)
			}
			if err := tx.QueryRow(ctx, sqlIdentityOwner, orgID, id.kind, id.value).Scan(&owner); err != nil {
				return interpretError(fmt.Errorf("identity owner: %w", err), nil)
			}
			return identityConflict(id, owner)
		}
		if err != nil {
			return interpretError(fmt.Errorf("claim %s: %w", id.kind, err), nil)
		}
		if _, err := tx.Exec(ctx, sqlDemoteIdentities, orgID, customerID, id.kind, id.value); err != nil {
			return interpretError(fmt.Errorf("release old %s: %w", id.kind, err), nil)
		}
	}
	return nil
}

func identityConflict(id identity, owner string) error {
	return &customer.Error{
		Code:    customer.ECONFLICT,
		Message: "Customer with this " + id.kind + " already exists",
		Details: map[string]string{id.kind: id.display, "customer_id": owner},
	}
}

// releaseIdentities turns into aliases the primary identities of kinds the
// customer no longer has (an email or phone cleared by an update).
func releaseIdentities(ctx context.Context, tx pgx.Tx, orgID string, c *customer.Customer) error {
	for kind, value := range map[string]string{"email": c.Email, "phone": c.Phone} {
		if value != "" {
			continue
		}
		if _, err := tx.Exec(ctx, sqlDemoteIdentities, orgID, c.ID, kind, ""); err != nil {
			return interpretError(fmt.Errorf("release %s: %w", kind, err), nil)
		}
	}
	return nil
}

// FindCustomerByID returns one customer with its tags, groups, visits and
// aliases, in one round trip.
func (s *Store) FindCustomerByID(ctx context.Context, orgID, id string) (*customer.Customer, error) {
	byID := map[string]*customer.Customer{}
	b := &pgx.Batch{}
	b.Queue(sqlSelectCustomer, orgID, id).QueryRow(func(row pgx.Row) error {
		c, err := scanCustomer(row)
		if err != nil {
			return err
		}
		byID[c.ID] = c
		return nil
	})
	queueRelations(b, orgID, []string{id}, byID)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(err, customer.NotFound("Customer", id))
	}
	return byID[id], nil
}

// FindSurvivor returns a customer, following merges to the customer it was
// merged into (used where a result must name a live record).
func (s *Store) FindSurvivor(ctx context.Context, orgID, id string) (*customer.Customer, error) {
	for range 8 {
		c, err := s.FindCustomerByID(ctx, orgID, id)
		var e *customer.Error
		if !errors.As(err, &e) || e.Code != customer.EMOVED {
			return c, err
		}
		id = e.Details.(map[string]string)["merged_into"]
	}
	return nil, customer.NotFound("Customer", id)
}

// UpdateCustomer applies fn to the locked current record and stores the
// result; a new email or phone owned by someone else is a conflict.
func (s *Store) UpdateCustomer(ctx context.Context, orgID, id string, fn func(c *customer.Customer) error) (*customer.Customer, error) {
	var c *customer.Customer
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = updateCustomer(ctx, tx, orgID, id, "", fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.loadRelations(ctx, orgID, []*customer.Customer{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// updateCustomer locks the customer, applies fn and stores the result
// within tx; relations are not loaded.
func updateCustomer(ctx context.Context, tx pgx.Tx, orgID, id, locationID string, fn func(c *customer.Customer) error) (*customer.Customer, error) {
	c, err := scanCustomer(tx.QueryRow(ctx, sqlSelectCustomerForUpdate, orgID, id))
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Customer", id))
	}
	prev := *c
	if err := fn(c); err != nil {
		return nil, err
	}
	if err := tx.QueryRow(ctx, sqlUpdateCustomer, customerArgs(orgID, c)...).Scan(&c.Updated); err != nil {
		return nil, interpretError(fmt.Errorf("update customer: %w", err), nil)
	}
	if err := releaseIdentities(ctx, tx, orgID, c); err != nil {
		return nil, err
	}
	if err := claimIdentities(ctx, tx, orgID, c.ID, primaryIdentities(c)); err != nil {
		return nil, err
	}
	changes := diffCustomers(&prev, c)
	// The history says where a replaced email or phone went.
	for _, old := range primaryIdentities(&prev) {
		kept := slices.ContainsFunc(primaryIdentities(c), func(id identity) bool { return id.kind == old.kind && id.value == old.value })
		if !kept {
			changes["alias_"+old.kind] = Change{To: old.display}
		}
	}
	if len(changes) > 0 {
		return c, auditAt(ctx, tx, orgID, c.ID, EventUpdated, "api", locationID, changes)
	}
	return c, nil
}

// DeleteCustomer removes a customer and everything hanging off it. Customers
// with orders or an open balance are kept: deleting them would rewrite history.
func (s *Store) DeleteCustomer(ctx context.Context, orgID, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return deleteCustomer(ctx, tx, orgID, id) })
}

func deleteCustomer(ctx context.Context, tx pgx.Tx, orgID, id string) error {
	c, err := scanCustomer(tx.QueryRow(ctx, sqlSelectCustomerForUpdate, orgID, id))
	if err != nil {
		return interpretError(err, customer.NotFound("Customer", id))
	}
	// Cancelled and returned orders count toward no total but are
	// history too (and their rows reference the customer).
	var hasOrders bool
	if err := tx.QueryRow(ctx, sqlCustomerHasOrders, orgID, id).Scan(&hasOrders); err != nil {
		return interpretError(fmt.Errorf("check orders: %w", err), nil)
	}
	if hasOrders || c.TotalOrders > 0 || c.CurrentBalance != 0 {
		return &customer.Error{Code: customer.ECONFLICT,
			Message: "Customer has orders or a balance; set status to inactive instead",
			Details: map[string]any{"id": id, "total_orders": c.TotalOrders, "current_balance": c.CurrentBalance}}
	}
	// No foreign key cascades to the identities (see migration 00011).
	if _, err := tx.Exec(ctx, sqlDeleteIdentities, orgID, id); err != nil {
		return interpretError(fmt.Errorf("delete identities: %w", err), nil)
	}
	if _, err := tx.Exec(ctx, sqlDeleteCarriers, orgID, id); err != nil {
		return interpretError(fmt.Errorf("delete shared identifiers: %w", err), nil)
	}
	if _, err := tx.Exec(ctx, sqlDeleteCustomer, orgID, id); err != nil {
		return interpretError(fmt.Errorf("delete customer: %w", err), nil)
	}
	if err := dropOpenPairs(ctx, tx, orgID, id); err != nil {
		return err
	}
	// The event outlives the row: the trail of what was removed and when.
	return audit(ctx, tx, orgID, id, EventDeleted, "api", map[string]any{"email": c.Email, "phone": c.Phone})
}

// DeleteAlias removes one alias (kind email or phone) of a customer, found
// by its match key or its stored form: lookups and matching stop finding
// the customer through it. The primary is not an alias: it changes by
// editing the customer.
func (s *Store) DeleteAlias(ctx context.Context, orgID, customerID, kind, key, display string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := scanCustomer(tx.QueryRow(ctx, sqlSelectCustomerForUpdate, orgID, customerID))
		if err != nil {
			return interpretError(err, customer.NotFound("Customer", customerID))
		}
		var primary bool
		var value, stored string
		err = tx.QueryRow(ctx, sqlSelectAlias, orgID, customerID, kind, key, display).Scan(&value, &primary, &stored)
		if err == pgx.ErrNoRows {
			return &customer.Error{Code: customer.ENOTFOUND, Message: "Customer has no " + kind + " alias " + display,
				Details: map[string]string{kind: display}}
		}
		if err != nil {
			return interpretError(fmt.Errorf("select alias: %w", err), nil)
		}
		// A shared primary has only a carrier row: the customer's own field says.
		if primary || (kind == "email" && stored == c.Email) || (kind == "phone" && stored == c.Phone) {
			return &customer.Error{Code: customer.EINVALID,
				Message: display + " is the customer's primary " + kind + ", not an alias: edit the customer to change it",
				Details: map[string]string{kind: "is the primary " + kind + "; edit the customer instead"}}
		}
		if _, err := tx.Exec(ctx, sqlDeleteAlias, orgID, customerID, kind, value); err != nil {
			return interpretError(fmt.Errorf("delete alias: %w", err), nil)
		}
		if _, err := tx.Exec(ctx, sqlDeleteCarrierAlias, orgID, customerID, kind, value); err != nil {
			return interpretError(fmt.Errorf("delete shared alias: %w", err), nil)
		}
		return audit(ctx, tx, orgID, customerID, EventUpdated, "api",
			map[string]Change{"alias_" + kind: {From: stored, To: nil}})
	})
}

// LookupCustomer finds a customer by normalized email, else phone, aliases
// included (one query), then loads its relations.
func (s *Store) LookupCustomer(ctx context.Context, orgID, emailKey, phoneKey string) (*customer.Customer, error) {
	c, err := scanCustomer(s.pool.QueryRow(ctx, sqlLookupCustomer, orgID, emailKey, phoneKey))
	if err != nil {
		return nil, interpretError(err, &customer.Error{Code: customer.ENOTFOUND, Message: "Customer not found"})
	}
	if err := s.loadRelations(ctx, orgID, []*customer.Customer{c}); err != nil {
		return nil, err
	}
	return c, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
