package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
)

// erpCustomer is the seed 003 shape of a customer.
type erpCustomer struct {
	ID                string                  `json:"id"`
	Name              string                  `json:"name"`
	Email             string                  `json:"email"`
	Phone             string                  `json:"phone"`
	Fax               string                  `json:"fax"`
	Website           string                  `json:"website"`
	TaxID             string                  `json:"tax_id"`
	BillingAddress    *customer.PostalAddress `json:"billing_address"`
	ShippingAddress   *customer.PostalAddress `json:"shipping_address"`
	Contacts          []erpContact            `json:"contacts"`
	PaymentTerms      string                  `json:"payment_terms"`
	Currency          string                  `json:"currency"`
	CreditLimit       float64                 `json:"credit_limit"`
	CurrentBalance    float64                 `json:"current_balance"`
	DiscountRate      float64                 `json:"discount_rate"`
	PreferredShipping string                  `json:"preferred_shipping"`
	CustomerSince     *time.Time              `json:"customer_since"`
	LifetimeValue     float64                 `json:"lifetime_value"`
	TotalOrders       int                     `json:"total_orders"`
	IsActive          bool                    `json:"is_active"`
	Notes             string                  `json:"notes"`
	CreatedAt         time.Time               `json:"created_at"`
	UpdatedAt         time.Time               `json:"updated_at"`
}

// erpContact is a contact as nested in a customer (seed 003).
type erpContact struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Title     string `json:"title"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	IsPrimary bool   `json:"is_primary"`
}

func erpView(c *customer.Customer, contacts []*customer.Contact) erpCustomer {
	v := erpCustomer{
		ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone, Fax: c.Fax, Website: c.Website,
		TaxID: c.TaxID, BillingAddress: c.BillingAddress, ShippingAddress: c.ShippingAddress,
		Contacts: make([]erpContact, len(contacts)), PaymentTerms: c.PaymentTerms, Currency: c.Currency,
		CreditLimit: c.CreditLimit, CurrentBalance: c.CurrentBalance, DiscountRate: c.DiscountRate,
		PreferredShipping: c.PreferredShipping, CustomerSince: utcPtr(c.CustomerSince),
		LifetimeValue: c.LifetimeValue, TotalOrders: c.TotalOrders,
		IsActive: c.Status == customer.StatusActive, Notes: c.Notes,
		CreatedAt: c.Created.UTC(), UpdatedAt: c.Updated.UTC(),
	}
	for i, ct := range contacts {
		v.Contacts[i] = erpContact{ID: ct.ID, Name: ct.Name, Title: ct.Title, Email: ct.Email, Phone: ct.Phone, IsPrimary: ct.IsPrimary}
	}
	return v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// handleERPCustomerList filters by is_active and search (name or email).
func (s *Server) handleERPCustomerList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := problems{}
	page, limit := pagination(q, p)
	f := customer.Filter{Page: page, Limit: limit, Search: p.text("search", q.Get("search"), 0, 200)}
	f.Sort = updatedSort(q.Get("sort"), p)
	syncFilter(&f, q.Get("updated_since"), q.Get("cursor"), pageGiven(q), p)
	if raw := strings.TrimSpace(q.Get("is_active")); raw != "" {
		active, err := strconv.ParseBool(raw)
		switch {
		case err != nil:
			p.add("is_active", "must be true or false")
		case active:
			f.Status = []string{customer.StatusActive}
		default:
			f.Status = inactiveStatuses()
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	o := org(r)
	cs, meta, err := s.store.FindCustomers(r.Context(), o.ID, f)
	if err != nil {
		return err
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	contacts, err := s.store.FindContactsOf(r.Context(), o.ID, ids)
	if err != nil {
		return err
	}
	views := make([]erpCustomer, len(cs))
	for i, c := range cs {
		views[i] = erpView(c, contacts[c.ID])
	}
	writeList(w, views, meta)
	return nil
}

// inactiveStatuses is every status but active: is_active=false.
func inactiveStatuses() []string {
	var out []string
	for _, st := range customer.Statuses {
		if st != customer.StatusActive {
			out = append(out, st)
		}
	}
	return out
}

func (s *Server) handleERPCustomerGet(w http.ResponseWriter, r *http.Request) error {
	o := org(r)
	c, err := s.store.FindCustomerByID(r.Context(), o.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeERPCustomer(w, r, http.StatusOK, c, false)
}

// writeERPCustomer answers c in the seed's shape; edited answers carry
// meta.warnings like /api/v1's (see writeCustomer).
func (s *Server) writeERPCustomer(w http.ResponseWriter, r *http.Request, status int, c *customer.Customer, edited bool) error {
	contacts, err := s.store.FindContactsOf(r.Context(), org(r).ID, []string{c.ID})
	if err != nil {
		return err
	}
	if edited {
		writeCustomer(w, status, erpView(c, contacts[c.ID]), c)
	} else {
		writeData(w, status, erpView(c, contacts[c.ID]))
	}
	return nil
}

// handleERPCustomerCreate creates a customer with its contacts in one
// transaction; a taken email or phone is 409 as on /api/v1.
func (s *Server) handleERPCustomerCreate(w http.ResponseWriter, r *http.Request) error {
	var in erpCustomerInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	o := org(r)
	c := &customer.Customer{}
	err := in.apply(c, nil, o.DefaultRegion)
	contacts, cerr := in.contacts(o.DefaultRegion)
	if err := mergeInvalid(err, cerr); err != nil {
		return err
	}
	if err := s.store.CreateCustomerWithContacts(r.Context(), o.ID, c, contacts); err != nil {
		return err
	}
	setLocation(w, r.URL.Path, c.ID)
	writeCustomer(w, http.StatusCreated, erpView(c, contacts), c)
	return nil
}

// handleERPCustomerUpdate is seed 003's PUT, a partial update (SPEC §9):
// only members present change; null clears an optional field.
func (s *Server) handleERPCustomerUpdate(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	if _, ok := patch["contacts"]; ok {
		return customer.Invalid(map[string]string{"contacts": "cannot be changed here; use /contacts of the customer"})
	}
	o := org(r)
	c, err := s.store.UpdateCustomer(r.Context(), o.ID, r.PathValue("id"), func(c *customer.Customer) error {
		var in erpCustomerInput
		if err := mergePatch(erpInputOf(c), patch, &in); err != nil {
			return err
		}
		prev := *c
		return in.apply(c, &prev, o.DefaultRegion)
	})
	if err != nil {
		return err
	}
	return s.writeERPCustomer(w, r, http.StatusOK, c, true)
}

// mergeInvalid joins the field problems of two validation errors into one
// 422, so a client sees every problem at once.
func mergeInvalid(errs ...error) error {
	all := map[string]string{}
	for _, err := range errs {
		if err == nil {
			continue
		}
		e := customer.AsError(err)
		fields, ok := e.Details.(map[string]string)
		if e.Code != customer.EINVALID || !ok {
			return err
		}
		for k, v := range fields {
			all[k] = v
		}
	}
	if len(all) == 0 {
		return nil
	}
	return customer.Invalid(all)
}

// MarshalJSON writes v with its empty optional text fields as null.
func (v erpCustomer) MarshalJSON() ([]byte, error) {
	type plain erpCustomer
	return customer.MarshalNulls(plain(v), "email", "phone", "fax", "website", "tax_id",
		"payment_terms", "currency", "preferred_shipping", "notes")
}

// MarshalJSON writes v with its empty optional text fields as null.
func (v erpContact) MarshalJSON() ([]byte, error) {
	type plain erpContact
	return customer.MarshalNulls(plain(v), "title", "email", "phone")
}
