package api

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// orderSummary is an order as seed 003 lists a customer's orders.
type orderSummary struct {
	ID              string                  `json:"id"`
	OrderNumber     string                  `json:"order_number"`
	Status          string                  `json:"status"`
	OrderDate       time.Time               `json:"order_date"`
	ShipDate        *time.Time              `json:"ship_date"`
	DeliveryDate    *time.Time              `json:"delivery_date"`
	TotalAmount     float64                 `json:"total_amount"`
	ItemsCount      int                     `json:"items_count"`
	ShippingAddress *customer.PostalAddress `json:"shipping_address"`
}

func (s *Server) handleOrderCreate(w http.ResponseWriter, r *http.Request) error {
	var in orderInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	o := &customer.Order{}
	p := problems{}
	in.order(p, o, s.now())
	id, req, err := s.resolveCustomer(ctx, org(r), in, o.LocationID, p)
	if err != nil {
		return err
	}
	if err := p.err(); err != nil {
		return err
	}
	if req == nil {
		o.CustomerID = id
		if err := s.store.CreateOrder(ctx, org(r).ID, o); err != nil {
			return err
		}
		setLocation(w, "/api/v1/orders", o.ID)
		writeData(w, http.StatusCreated, o)
		return nil
	}
	res, err := s.store.CreateOrderFor(ctx, org(r).ID, o, req)
	if err != nil {
		return err
	}
	if res.Conflicts == nil {
		res.Conflicts = []dedupe.Conflict{}
	}
	setLocation(w, "/api/v1/orders", o.ID)
	encode(w, http.StatusCreated, struct {
		Data *customer.Order `json:"data"`
		Meta orderMeta       `json:"meta"`
	}{o, orderMeta{Customer: res}})
	return nil
}

// orderMeta says how an order's customer identifiers were resolved: the
// customer matched or created and on which identifier.
type orderMeta struct {
	Customer dedupe.Result `json:"customer"`
}

// resolveCustomer reads whom an order is for: customer_id (the store checks
// it exists as it locks it), or a customer object of identifiers — the
// upsert body of SPEC §6 — which it turns into an engine request for the
// store to match or create in the order's transaction. The order's
// location is the request's location (phone region, visit, default tags).
func (s *Server) resolveCustomer(ctx context.Context, o *customer.Organization, in orderInput, locationID string, p problems) (string, *dedupe.Request, error) {
	id := strings.TrimSpace(in.CustomerID)
	switch {
	case id != "" && in.Customer != nil:
		p.add("customer", "give customer_id or customer, not both")
		return "", nil, nil
	case id != "":
		return id, nil, nil
	case in.Customer == nil:
		p.add("customer_id", "is required, or customer with an email, phone or external_id")
		return "", nil, nil
	}
	regions := []string{o.DefaultRegion} // the location's goes first (SPEC §3)
	if locationID != "" {
		locRegion, err := s.store.FindLocationRegion(ctx, o.ID, locationID)
		switch {
		case customer.ErrorCode(err) == customer.ENOTFOUND:
			p.add("location_id", "no such location")
		case err != nil:
			return "", nil, err
		case locRegion != "":
			regions = []string{locRegion, o.DefaultRegion}
		}
	}
	sub := problems{}
	req := in.Customer.request(sub, regions...)
	if strings.TrimSpace(in.Customer.LocationID) != "" {
		sub.add("location_id", "is the order's location_id")
	}
	if missing, err := s.store.MissingGroups(ctx, o.ID, req.GroupIDs); err != nil {
		return "", nil, err
	} else if len(missing) > 0 {
		sub.add("group_ids", "unknown groups: "+strings.Join(missing, ", "))
	}
	for field, problem := range sub {
		p.add("customer."+field, problem)
	}
	req.LocationID = locationID
	matchRules(o, req)
	// Where a customer first came from, and the audit trail's source.
	req.Source = cmp.Or(req.Source, orderSource)
	req.Record.Fields.Source = cmp.Or(req.Record.Fields.Source, orderSource)
	return "", req, nil
}

// orderSource is the source of customers created by orders.
const orderSource = "order"

func (s *Server) handleOrderGet(w http.ResponseWriter, r *http.Request) error {
	o, err := s.store.FindOrderByID(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, o)
	return nil
}

// handleOrderPatch moves an order along (JSON merge patch of status and
// dates); the customer's balances follow in the same transaction.
func (s *Server) handleOrderPatch(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	if err := fixedFieldProblems(patch); err != nil {
		return err
	}
	o, err := s.store.UpdateOrder(r.Context(), org(r).ID, r.PathValue("id"), func(o *customer.Order) error {
		var in orderPatch
		if err := mergePatch(orderPatchOf(o), patch, &in); err != nil {
			return err
		}
		return in.apply(o)
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, o)
	return nil
}

// handleCustomerOrders lists a customer's orders: status (one or a comma
// list), date_from, date_to (dates include the whole day), page, limit.
func (s *Server) handleCustomerOrders(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := problems{}
	page, limit := pagination(q, p)
	f := customer.OrderFilter{
		Page: page, Limit: limit,
		Status:   enums("status", list(q["status"]), customer.OrderStatuses, p),
		DateFrom: timeBound("date_from", q.Get("date_from"), false, p),
		DateTo:   timeBound("date_to", q.Get("date_to"), true, p),
	}
	if err := p.err(); err != nil {
		return err
	}
	orders, meta, err := s.store.FindOrders(r.Context(), org(r).ID, r.PathValue("id"), f)
	if err != nil {
		return err
	}
	out := make([]orderSummary, len(orders))
	for i, o := range orders {
		out[i] = orderSummary{ID: o.ID, OrderNumber: o.OrderNumber, Status: o.Status, OrderDate: o.OrderDate,
			ShipDate: o.ShipDate, DeliveryDate: o.DeliveryDate, TotalAmount: o.TotalAmount,
			ItemsCount: o.ItemsCount, ShippingAddress: o.ShippingAddress}
	}
	writeList(w, out, meta)
	return nil
}
