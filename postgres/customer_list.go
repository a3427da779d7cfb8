// FindCustomers: filters, sort orders, pages and their totals; a search term goes to customer_search.go.

package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// Totals are exact while counting is cheap: up to exactCountBelow estimated
// matches, counted with a cap of countCap. Beyond, the page says
// total_estimated and gives the planner's figure; hasMore is always exact.
const (
	exactCountBelow = 5000
	countCap        = 20000
)

// customerOrders maps Filter.Sort to ORDER BY keys over customers c; each
// is the order of an index (customers_created, customers_name).
var customerOrders = map[string]string{
	"created":  "c.created, c.id",
	"-created": "c.created DESC, c.id DESC",
	"name":     "lower(c.name), c.id",
	"-name":    "lower(c.name) DESC, c.id DESC",
	// Incremental sync: the index customers_updated; Filter.After continues
	// after a position in it.
	"updated": "c.updated, c.id",
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
	term := searchTerm(f.Search)
	if term != "" {
		// A search's page statement carries its relations.
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
	if term == "" {
		// A list's page statement is planned for its filters (custom
		// plans): its relations come apart, in a plan cached once.
		if err := s.loadRelations(ctx, orgID, list); err != nil {
			return nil, customer.Page{}, err
		}
	}
	page.Page, page.Limit = f.Page, f.Limit
	if f.Sort == "updated" && page.HasMore && len(list) > 0 {
		last := list[len(list)-1]
		page.NextCursor = customer.Cursor{Updated: last.Updated, ID: last.ID}.Encode()
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
	query, matches, args := customerListQuery(orgID, f, order)
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

// customerListQuery is the page query of listCustomers (its arguments
// end with limit and offset) and the query of its matches (without them).
func customerListQuery(orgID string, f customer.Filter, order string) (query, matches string, args []any) {
	where, args := customerWhere(orgID, f)
	limitArg := strconv.Itoa(len(args) + 1)
	offsetArg := strconv.Itoa(len(args) + 2)
	query = `SELECT ` + customerColumns + ` FROM customers c WHERE ` + where +
		` ORDER BY ` + order + ` LIMIT $` + limitArg + ` OFFSET $` + offsetArg
	return query, `SELECT 1 FROM customers c WHERE ` + where, args
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
	if f.UpdatedSince != nil {
		conds = append(conds, "c.updated >= "+arg(*f.UpdatedSince))
	}
	if f.After != nil {
		// A row comparison: the index (organization_id, updated, id) seeks to it.
		conds = append(conds, "(c.updated, c.id) > ("+arg(f.After.Updated)+"::timestamptz, "+arg(f.After.ID)+"::text)")
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
