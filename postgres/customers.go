package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

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

const (
	sqlInsertCustomer = `INSERT INTO customers (organization_id, id, first_name, last_name, name,
		email, phone, phone_valid, phone_ext, birthdate, gender, type, status, company_name,
		avatar_url, source, notes, attributes, website, tax_id, fax, billing_address,
		shipping_address, payment_terms, currency, credit_limit, discount_rate,
		preferred_shipping, customer_since)
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
	sqlDemoteIdentities = `DELETE FROM customer_identities
		WHERE organization_id = $1 AND customer_id = $2 AND kind = $3 AND is_primary AND value <> $4`

	sqlDeleteCustomer    = `DELETE FROM customers WHERE organization_id = $1 AND id = $2`
	sqlDeleteIdentities  = `DELETE FROM customer_identities WHERE organization_id = $1 AND customer_id = $2`
	sqlCustomerHasOrders = `SELECT EXISTS (SELECT 1 FROM orders WHERE organization_id = $1 AND customer_id = $2)`

	sqlSelectAliases = `SELECT customer_id, kind, display FROM customer_identities
		WHERE organization_id = $1 AND customer_id = ANY($2) AND NOT is_primary ORDER BY created, value`
	sqlSelectTags = `SELECT customer_id, location_id, tag FROM customer_tags
		WHERE organization_id = $1 AND customer_id = ANY($2) ORDER BY created, tag_key`
	sqlSelectMemberships = `SELECT customer_id, group_id FROM group_members
		WHERE organization_id = $1 AND customer_id = ANY($2) ORDER BY added, group_id`
	sqlSelectVisits = `SELECT customer_id, location_id, first_seen, last_seen, source FROM customer_locations
		WHERE organization_id = $1 AND customer_id = ANY($2) ORDER BY first_seen, location_id`
)

func scanCustomer(row pgx.Row) (*customer.Customer, error) {
	var c customer.Customer
	var mergedInto *string
	err := row.Scan(&c.ID, &c.OrganizationID, &c.FirstName, &c.LastName, &c.Name, &c.Email,
		&c.Phone, &c.PhoneValid, &c.PhoneExtension, &c.Birthdate,
		&c.Gender, &c.Type, &c.Status, &c.CompanyName, &c.AvatarURL, &c.Source, &c.Notes, &c.Attributes,
		&c.Website, &c.TaxID, &c.Fax, &c.BillingAddress, &c.ShippingAddress, &c.PaymentTerms,
		&c.Currency, &c.CreditLimit, &c.CurrentBalance, &c.DiscountRate, &c.PreferredShipping,
		&c.LifetimeValue, &c.TotalOrders, &c.CustomerSince, &mergedInto, &c.Created, &c.Updated)
	if err != nil {
		return nil, err
	}
	if mergedInto != nil {
		// Merged customers redirect to their survivor; callers see EMOVED.
		return &c, &customer.Error{Code: customer.EMOVED, Message: "Customer was merged",
			Details: map[string]string{"id": c.ID, "merged_into": *mergedInto}}
	}
	initCollections(&c)
	return &c, nil
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
		if err := insertCustomer(ctx, tx, orgID, c); err != nil {
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
func insertCustomer(ctx context.Context, tx pgx.Tx, orgID string, c *customer.Customer) error {
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
	return audit(ctx, tx, orgID, c.ID, EventCreated, cmpOr(c.Source, "api"), map[string]any{})
}

// claimIdentities makes each identity point at customerID as its primary,
// or fails with a conflict when another customer owns one. ON CONFLICT waits
// for a concurrent claim of the same key to finish, so exactly one wins.
func claimIdentities(ctx context.Context, tx pgx.Tx, orgID, customerID string, ids []identity) error {
	for _, id := range ids {
		var owner string
		err := tx.QueryRow(ctx, sqlInsertIdentity, orgID, id.kind, id.value, customerID, true, id.display).Scan(&owner)
		if err == pgx.ErrNoRows {
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

// releaseIdentities drops the primary identities of kinds the customer no
// longer has (an email or phone cleared by an update).
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
		c, err = updateCustomer(ctx, tx, orgID, id, fn)
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
func updateCustomer(ctx context.Context, tx pgx.Tx, orgID, id string, fn func(c *customer.Customer) error) (*customer.Customer, error) {
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
	if changes := diffCustomers(&prev, c); len(changes) > 0 {
		return c, audit(ctx, tx, orgID, c.ID, EventUpdated, "api", changes)
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
	if _, err := tx.Exec(ctx, sqlDeleteCustomer, orgID, id); err != nil {
		return interpretError(fmt.Errorf("delete customer: %w", err), nil)
	}
	// The event outlives the row: the trail of what was removed and when.
	return audit(ctx, tx, orgID, id, EventDeleted, "api", map[string]any{"email": c.Email, "phone": c.Phone})
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
	queueRelations(b, orgID, ids, byID)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return interpretError(fmt.Errorf("load relations: %w", err), nil)
	}
	return nil
}

// queueRelations queues the relation reads of ids; rows are attached to
// byID's customers when the batch runs (earlier queries may fill byID).
func queueRelations(b *pgx.Batch, orgID string, ids []string, byID map[string]*customer.Customer) {
	each := func(id string, fn func(c *customer.Customer)) {
		if c := byID[id]; c != nil {
			fn(c)
		}
	}
	b.Queue(sqlSelectAliases, orgID, ids).Query(func(rows pgx.Rows) error {
		var id, kind, display string
		_, err := pgx.ForEachRow(rows, []any{&id, &kind, &display}, func() error {
			each(id, func(c *customer.Customer) { c.Aliases = append(c.Aliases, customer.Alias{Kind: kind, Value: display}) })
			return nil
		})
		return err
	})
	b.Queue(sqlSelectTags, orgID, ids).Query(func(rows pgx.Rows) error {
		var id, loc, tag string
		_, err := pgx.ForEachRow(rows, []any{&id, &loc, &tag}, func() error {
			each(id, func(c *customer.Customer) {
				c.TagsByLocation[loc] = append(c.TagsByLocation[loc], tag)
				if !containsFold(c.Tags, tag) {
					c.Tags = append(c.Tags, tag)
				}
			})
			return nil
		})
		return err
	})
	b.Queue(sqlSelectMemberships, orgID, ids).Query(func(rows pgx.Rows) error {
		var id, group string
		_, err := pgx.ForEachRow(rows, []any{&id, &group}, func() error {
			each(id, func(c *customer.Customer) { c.Groups = append(c.Groups, group) })
			return nil
		})
		return err
	})
	b.Queue(sqlSelectVisits, orgID, ids).Query(func(rows pgx.Rows) error {
		var v customer.Visit
		var id string
		_, err := pgx.ForEachRow(rows, []any{&id, &v.LocationID, &v.FirstSeen, &v.LastSeen, &v.Source}, func() error {
			each(id, func(c *customer.Customer) { c.Locations = append(c.Locations, v) })
			return nil
		})
		return err
	})
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Totals are exact while counting is cheap: up to exactCountBelow estimated
// matches, counted with a cap of countCap. Beyond, the page says
// total_estimated and gives the planner's figure; hasMore is always exact.
const (
	exactCountBelow = 5000
	countCap        = 20000
)

// Search plans (see searchCustomers): a first walk of searchWalkRows rows
// along the sort order settles the terms that more than 0.7% of the
// customers match; the trigram index serves terms with at most
// searchProbeCap candidates, whose totals are exact; a walk's total is an
// estimate, checked by a count only below searchCommonAbove (see
// searchRun.total). A walk reads rows in the table's order of creation,
// pages at a time, for about a tenth of what a fetch by the trigram index
// costs (searchWalkCost): the cap sits where both plans cost about the
// same among two million customers.
const (
	searchWalkRows    = 3000
	searchProbeCap    = 3000
	searchCommonAbove = 4 * searchProbeCap
	searchCountBelow  = searchProbeCap / 2
	searchWalkCost    = 10
)

// customers_search (migration 00010) indexes the trigrams of
// translate(search_text, searchFold): the separators of search_text become
// letters of their own, so a term's trigrams span them ("a.sm" has the
// trigrams "aǁs" and "ǁsm" where pg_trgm alone, splitting words, would
// keep "a" and "sm" apart and look up every word starting with "sm").
const (
	searchSeparators = ` .@-_'`
	searchFold       = `' .@-_''', 'ǂǁʘǃǀʗ'`
)

// customerOrders maps Filter.Sort to ORDER BY keys over customers c; each
// is the order of an index (customers_created, customers_name).
var customerOrders = map[string]string{
	"created":  "c.created, c.id",
	"-created": "c.created DESC, c.id DESC",
	"name":     "lower(c.name), c.id",
	"-name":    "lower(c.name) DESC, c.id DESC",
}

// FindCustomers returns one page of customers matching f and the total.
func (s *Store) FindCustomers(ctx context.Context, orgID string, f customer.Filter) ([]*customer.Customer, customer.Page, error) {
	order := customerOrders[f.Sort]
	if order == "" {
		order = customerOrders["-created"]
	}
	var list []*customer.Customer
	var page customer.Page
	var err error
	if term := searchTerm(f.Search); term != "" {
		list, page, err = s.searchCustomers(ctx, orgID, f, term, order)
	} else {
		list, page, err = s.listCustomers(ctx, orgID, f, order)
	}
	if err != nil {
		return nil, customer.Page{}, err
	}
	if len(list) > f.Limit {
		list = list[:f.Limit]
	}
	page.Page, page.Limit = f.Page, f.Limit
	if err := s.loadRelations(ctx, orgID, list); err != nil {
		return nil, customer.Page{}, err
	}
	if list == nil {
		list = []*customer.Customer{}
	}
	return list, page, nil
}

// listCustomers pages through customers without a search term: the sort
// order's index finds a page quickly whatever the filters. One round trip
// fetches the page (one row more, to know hasMore) and the planner's
// estimate of the matches; only small result sets are counted.
func (s *Store) listCustomers(ctx context.Context, orgID string, f customer.Filter, order string) ([]*customer.Customer, customer.Page, error) {
	where, args := customerWhere(orgID, f)
	limitArg := strconv.Itoa(len(args) + 1)
	offsetArg := strconv.Itoa(len(args) + 2)
	query := `SELECT ` + customerColumns + ` FROM customers c WHERE ` + where +
		` ORDER BY ` + order + ` LIMIT $` + limitArg + ` OFFSET $` + offsetArg
	matches := `SELECT 1 FROM customers c WHERE ` + where
	offset := (f.Page - 1) * f.Limit

	var list []*customer.Customer
	var estimate int
	b := &pgx.Batch{}
	b.Queue(query, append(args, f.Limit+1, offset)...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanCustomer(rows)
			if err != nil {
				return err
			}
			list = append(list, c)
		}
		return rows.Err()
	})
	b.Queue(`EXPLAIN (FORMAT JSON) `+matches, args...).QueryRow(func(row pgx.Row) error {
		var err error
		estimate, err = planRows(row)
		return err
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list customers: %w", err), nil)
	}
	hasMore := len(list) > f.Limit
	seen := offset + min(len(list), f.Limit)
	var page customer.Page
	switch {
	case !hasMore && (len(list) > 0 || offset == 0):
		page = customer.Page{Total: seen} // the last page: the total is known
	case estimate < exactCountBelow:
		var total int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (`+matches+` LIMIT `+strconv.Itoa(countCap+1)+`) capped`, args...).Scan(&total)
		if err != nil {
			return nil, customer.Page{}, interpretError(fmt.Errorf("count customers: %w", err), nil)
		}
		page = customer.Page{Total: total, Estimated: total > countCap}
	default:
		page = customer.Page{Total: max(estimate, seen+1), Estimated: true}
	}
	page.HasMore = hasMore
	return list, page, nil
}

// searchCustomers pages through the customers whose search_text contains
// a term. A LIKE '%term%' has two good plans and the planner cannot tell
// which one applies (it guesses about the same selectivity for "7345", 30
// matches, and "smith", 25,000): a rare term wants the trigram index, while
// walking the sort order's index would read the whole organization; a
// common term wants that walk, which fills a page after a few hundred rows,
// while the trigram index would hand it 25,000 matches to fetch and sort.
// So the plan is not left to the planner (planner settings local to a
// read-only transaction):
//
//  1. Walk the first searchWalkRows rows of the sort order (index scan
//     only, nothing sorted). A full page there is the page: the term is
//     common.
//  2. Otherwise count the trigram index's candidates for the term (see
//     trigramCandidates; no table row is read): the matches, and a few
//     more, of all organizations before the other filters.
//  3. At most searchProbeCap candidates: fetch the matches with the index
//     (bitmap scan only) and sort the page out of them. Page and total are
//     exact.
//  4. More: walk the sort order to the end of the page.
//
// A walk's total is exact when it reached the last match; otherwise it is
// the density of matches along the walk times the planner's estimate of
// the rows passing the other filters, marked estimated, unless it may be
// small and a count is cheap (see searchRun.total). A term without three
// letters in a row has no trigram to look up and is only walked.
func (s *Store) searchCustomers(ctx context.Context, orgID string, f customer.Filter, term, order string) ([]*customer.Customer, customer.Page, error) {
	q := newSearchQueries(orgID, f, term, order)
	var list []*customer.Customer
	var page customer.Page
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		r := &searchRun{q: q, tx: tx, candidates: -1, baseRows: -1}
		// 1. The first rows of the sort order.
		lastRow, err := r.walk(ctx, &list, searchWalkRows)
		if err != nil {
			return err
		}
		if len(list) > f.Limit {
			page, err = r.total(ctx, len(list), lastRow)
			return err
		}
		// 2. The trigram index's candidates.
		if err := r.countCandidates(ctx); err != nil {
			return err
		}
		// 3. Few: the matches by the trigram index.
		if r.candidates >= 0 && r.candidates <= searchProbeCap {
			matches := 0
			err := r.run(ctx, probePlan, func(b *pgx.Batch) {
				b.Queue(q.probe, q.pageArgs...).Query(func(rows pgx.Rows) error {
					var err error
					list, err = scanCustomers(rows, &matches)
					return err
				})
			})
			if err == nil && len(list) == 0 && q.offset > 0 {
				// A page past the end says nothing of the matches: count them.
				matches, err = r.count(ctx, probePlan, q.capped)
			}
			if err != nil || matches <= searchProbeCap { // else more came meanwhile: walk
				page = customer.Page{Total: matches, HasMore: len(list) > f.Limit}
				return err
			}
		}
		// 4. Many: the sort order to the end of the page.
		if lastRow, err = r.walk(ctx, &list, 0); err != nil {
			return err
		}
		page, err = r.total(ctx, len(list), lastRow)
		return err
	})
	if err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("search customers: %w", err), nil)
	}
	return list, page, nil
}

// Planner settings of the two plans: the trigram index's bitmap scan and
// sorting its matches, or a walk along the sort order's index.
const (
	probePlan = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true),
		set_config('enable_indexonlyscan', 'off', true), set_config('enable_bitmapscan', 'on', true),
		set_config('enable_sort', 'on', true)`
	walkPlan = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'on', true),
		set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)`
)

// searchQueries are the SQL texts and arguments of one search.
type searchQueries struct {
	f                     customer.Filter
	term, pattern         string
	where, like, indexed  string
	baseArgs, args        []any // the filters' arguments; then the pattern
	pageArgs              []any // then the limit (one more row) and offset
	offset                int
	capped, probe, counts string
	walk                  func(rows int) string
}

func newSearchQueries(orgID string, f customer.Filter, term, order string) *searchQueries {
	q := &searchQueries{f: f, term: term, pattern: likePattern(term), offset: (f.Page - 1) * f.Limit}
	q.where, q.baseArgs = customerWhere(orgID, f)
	q.args = append(q.baseArgs[:len(q.baseArgs):len(q.baseArgs)], q.pattern)
	p := "$" + strconv.Itoa(len(q.args))
	q.like = "c.search_text LIKE " + p
	q.indexed = searchIndexed(p)
	q.pageArgs = append(q.args[:len(q.args):len(q.args)], f.Limit+1, q.offset)
	limitOffset := " LIMIT $" + strconv.Itoa(len(q.args)+1) + " OFFSET $" + strconv.Itoa(len(q.args)+2)
	q.capped = `SELECT * FROM customers c WHERE ` + q.where + ` AND ` + q.indexed + ` AND ` + q.like +
		` LIMIT ` + strconv.Itoa(searchProbeCap+1)
	q.probe = `SELECT count(*) OVER (), ` + customerColumns + ` FROM (` + q.capped + `) c ORDER BY ` + order + limitOffset
	q.counts = `SELECT * FROM customers c WHERE ` + q.where + ` AND ` + q.like
	// The walk numbers the rows in the sort order before filtering by the
	// term: the filter cannot move below the window function (no plan can
	// use the trigram index) and the last row's number tells how far the
	// walk went. The outer order names the subquery's columns, so the
	// index's order carries through and nothing is sorted.
	q.walk = func(rows int) string {
		inner := `SELECT c.*, lower(c.name) AS sort_name, row_number() OVER (ORDER BY ` + order + `) AS rn
			FROM customers c WHERE ` + q.where
		if rows > 0 {
			inner += ` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(rows)
		}
		return `SELECT c.rn, ` + customerColumns + ` FROM (` + inner + `) c WHERE ` + q.like +
			` ORDER BY ` + strings.ReplaceAll(order, "lower(c.name)", "c.sort_name") + limitOffset
	}
	return q
}

// searchIndexed is the condition the trigram index customers_search
// serves: the term at placeholder p, both sides folded.
func searchIndexed(p string) string {
	return "translate(c.search_text, " + searchFold + ") LIKE translate(" + p + ", " + searchFold + ")"
}

// searchRun is one search's transaction and what it learned so far.
type searchRun struct {
	q          *searchQueries
	tx         pgx.Tx
	candidates int // of the trigram index; -1 unknown
	counted    bool
	baseRows   int // estimated rows passing the other filters; -1 unknown
}

// run sends a plan's settings and the queries queue adds in one round trip.
func (r *searchRun) run(ctx context.Context, plan string, queue func(b *pgx.Batch)) error {
	b := &pgx.Batch{}
	b.Queue(plan)
	queue(b)
	return r.tx.SendBatch(ctx, b).Close()
}

// count counts query's rows with plan's settings.
func (r *searchRun) count(ctx context.Context, plan, query string) (n int, err error) {
	err = r.run(ctx, plan, func(b *pgx.Batch) {
		b.Queue(`SELECT count(*) FROM (`+query+`) c`, r.q.args...).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	})
	return n, err
}

// walk reads the page along the sort order, at most rows rows (0: all),
// and returns the number of the last row it read; the first walk also
// asks the planner how many rows pass the other filters.
func (r *searchRun) walk(ctx context.Context, list *[]*customer.Customer, rows int) (lastRow int, err error) {
	err = r.run(ctx, walkPlan, func(b *pgx.Batch) {
		b.Queue(r.q.walk(rows), r.q.pageArgs...).Query(func(rows pgx.Rows) error {
			var err error
			*list, err = scanCustomers(rows, &lastRow)
			return err
		})
		if r.baseRows < 0 {
			b.Queue(`EXPLAIN (FORMAT JSON) SELECT 1 FROM customers c WHERE `+r.q.where, r.q.baseArgs...).QueryRow(func(row pgx.Row) error {
				var err error
				r.baseRows, err = planRows(row)
				return err
			})
		}
	})
	return lastRow, err
}

// countCandidates counts the trigram index's candidates, once.
func (r *searchRun) countCandidates(ctx context.Context) error {
	if r.counted || !hasTrigram(r.q.term) {
		return nil
	}
	r.counted = true
	return r.run(ctx, probePlan, func(b *pgx.Batch) {
		b.Queue(`EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, FORMAT JSON)
			SELECT 1 FROM customers c WHERE `+searchIndexed("$1")+` LIMIT 1`, r.q.pattern).QueryRow(func(row pgx.Row) error {
			var err error
			r.candidates, err = trigramCandidates(row)
			return err
		})
	})
}

// total is the page of a walk that fetched rows (one more than the limit
// when there are more) after the offset, the last at row lastRow of the
// walk. Past the last match the total is known. Before, it is estimated
// from the density of matches along the walk, and counted (up to the cap)
// when the estimate does not rule out an exact total and counting is cheap:
//   - at most searchProbeCap candidates: counted, the total is exact;
//   - an estimate below searchCountBelow (the other filters cut a common
//     term down): counted by the trigram index if it has at most
//     searchCommonAbove candidates, along the sort order if the term has
//     no trigram and the organization is small.
func (r *searchRun) total(ctx context.Context, fetched, lastRow int) (customer.Page, error) {
	limit, offset := r.q.f.Limit, r.q.offset
	switch {
	case fetched > 0 && fetched <= limit, fetched == 0 && offset == 0:
		return customer.Page{Total: offset + fetched}, nil
	case fetched == 0:
		// Past the end: the walk read every row; a count reads them again.
		n, err := r.count(ctx, walkPlan, r.q.counts)
		return customer.Page{Total: n}, err
	}
	est := max(int(float64(offset+fetched)/float64(lastRow)*float64(r.baseRows)), offset+fetched)
	page := customer.Page{Total: est, HasMore: true, Estimated: true}
	if est >= searchCommonAbove {
		return page, nil
	}
	if err := r.countCandidates(ctx); err != nil {
		return page, err
	}
	if r.candidates >= 0 {
		page.Total = max(min(est, r.candidates), offset+fetched)
	}
	plan := probePlan
	switch k := r.candidates; {
	case k >= 0 && k <= searchProbeCap:
	case k >= 0 && k <= searchCommonAbove && est < searchCountBelow:
	case k < 0 && !hasTrigram(r.q.term) && est < searchCountBelow && r.baseRows <= searchCommonAbove*searchWalkCost:
		plan = walkPlan
	default:
		return page, nil
	}
	n, err := r.count(ctx, plan, r.q.counts+` LIMIT `+strconv.Itoa(searchProbeCap+1))
	if err != nil || n > searchProbeCap {
		page.Total = max(page.Total, searchProbeCap+1)
		return page, err
	}
	return customer.Page{Total: n, HasMore: true}, nil
}

// trigramCandidates reads how many rows the trigram index customers_search
// proposed in an EXPLAIN ANALYZE of a bitmap scan for the term stopped
// after one row: the bitmap holds every candidate before the table is
// read, and counting them costs the index lookup only. -1 when the plan
// did not use the index.
func trigramCandidates(row pgx.Row) (int, error) {
	type node struct {
		Type  string  `json:"Node Type"`
		Index string  `json:"Index Name"`
		Rows  float64 `json:"Actual Rows"`
		Plans []node  `json:"Plans"`
	}
	var plan []struct {
		Plan node `json:"Plan"`
	}
	if err := row.Scan(&plan); err != nil {
		return 0, err
	}
	var find func(n node) int
	find = func(n node) int {
		if n.Type == "Bitmap Index Scan" && n.Index == "customers_search" {
			return int(n.Rows)
		}
		for _, c := range n.Plans {
			if k := find(c); k >= 0 {
				return k
			}
		}
		return -1
	}
	if len(plan) == 0 {
		return -1, nil
	}
	return find(plan[0].Plan), nil
}

// hasTrigram tells whether the trigram index can look term up: whether it
// has three word characters in a row, separators the index folds included.
func hasTrigram(term string) bool {
	run := 0
	for _, r := range term {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(searchSeparators, r) {
			if run++; run == 3 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// scanCustomers reads customer rows led by one integer column into lead
// (the last row's value stays).
func scanCustomers(rows pgx.Rows, lead *int) ([]*customer.Customer, error) {
	var list []*customer.Customer
	for rows.Next() {
		c, err := scanCustomer(leadScanner{rows, lead})
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// leadScanner scans a row's first column into v and the rest into the
// destinations it is given.
type leadScanner struct {
	row pgx.Row
	v   any
}

func (l leadScanner) Scan(dest ...any) error {
	return l.row.Scan(append([]any{l.v}, dest...)...)
}

// planRows reads the planner's row estimate from an EXPLAIN (FORMAT JSON) row.
func planRows(row pgx.Row) (int, error) {
	var plan []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := row.Scan(&plan); err != nil {
		return 0, err
	}
	if len(plan) == 0 {
		return 0, nil
	}
	return int(plan[0].Plan.Rows), nil
}

// customerWhere builds the WHERE clause of a filter, its search term aside
// (see searchCustomers), from fixed fragments; every value travels as a
// parameter.
func customerWhere(orgID string, f customer.Filter) (string, []any) {
	args := []any{orgID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	conds := []string{"c.organization_id = $1", "c.merged_into IS NULL"}
	if len(f.Status) > 0 {
		conds = append(conds, "c.status = ANY("+arg(f.Status)+")")
	}
	if len(f.Type) > 0 {
		conds = append(conds, "c.type = ANY("+arg(f.Type)+")")
	}
	if f.CreatedFrom != nil {
		conds = append(conds, "c.created >= "+arg(*f.CreatedFrom))
	}
	if f.CreatedTo != nil {
		conds = append(conds, "c.created < "+arg(*f.CreatedTo))
	}
	if f.Tag != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM customer_tags t WHERE t.organization_id = c.organization_id AND t.customer_id = c.id AND t.tag_key = lower("+arg(strings.TrimSpace(f.Tag))+"))")
	}
	if f.GroupID != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM group_members m WHERE m.organization_id = c.organization_id AND m.customer_id = c.id AND m.group_id = "+arg(f.GroupID)+")")
	}
	if f.LocationID != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM customer_locations l WHERE l.organization_id = c.organization_id AND l.customer_id = c.id AND l.location_id = "+arg(f.LocationID)+")")
	}
	return strings.Join(conds, " AND "), args
}

// searchTerm normalizes a search string: lower case, single spaces;
// phone-like input ("+1 (415) 555") searches by its digits.
func searchTerm(q string) string {
	q = strings.ToLower(strings.Join(strings.Fields(q), " "))
	if digits := dedupe.PhoneDigits(q); len(digits) >= 3 && strings.Trim(q, "0123456789+-(). ") == "" {
		q = digits
	}
	return q
}

// likePattern is the LIKE pattern over search_text that finds term.
func likePattern(term string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(term) + "%"
}
