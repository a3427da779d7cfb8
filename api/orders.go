package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
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
	o := &customer.Order{}
	p := problems{}
	in.order(p, o, s.now())
	o.CustomerID = s.resolveCustomer(r.Context(), org(r), in, p)
	if err := p.err(); err != nil {
		return err
	}
	if err := s.store.CreateOrder(r.Context(), org(r).ID, o); err != nil {
		return err
	}
	writeData(w, http.StatusCreated, o)
	return nil
}

// resolveCustomer names the customer an order belongs to: for now the
// request's customer_id, whose existence the store checks as it locks it.
//
// TODO(issue 7, dedupe engine): when customer_id is absent, match the
// order's customer identifiers (email, phone, external id; SPEC §6) with the
// engine, creating the customer when none matches, and return its id. Order
// imports (kind=orders) will share this path.
func (s *Server) resolveCustomer(_ context.Context, _ *customer.Organization, in orderInput, p problems) string {
	id := strings.TrimSpace(in.CustomerID)
	if id == "" {
		p.add("customer_id", "is required")
	}
	return id
}

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
