package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// scopedCustomer is the customer JSON plus its default address, which the
// location-scoped API writes as part of the customer.
type scopedCustomer struct {
	*customer.Customer
	Address *customer.Address `json:"address"`
}

// scopedCustomerInput is the body of the location-scoped create and update.
// Pointers tell an absent field (unchanged on update) from an empty one.
type scopedCustomerInput struct {
	Name        *string         `json:"name"`
	Address     json.RawMessage `json:"address"` // a string (line 1) or an address object
	CompanyName *string         `json:"company_name"`
	Source      *string         `json:"source"`
	Status      *string         `json:"status"`
	Tags        []string        `json:"tags"` // at this location; on update they replace its tags
	Email       *string         `json:"email"`
	Phone       *string         `json:"phone"`
	LocationID  string          `json:"location_id"`
}

// scopedAddressInput is the object form of address.
type scopedAddressInput struct {
	Label        string `json:"label"`
	AddressLine1 string `json:"address_line1"`
	AddressLine2 string `json:"address_line2"`
	City         string `json:"city"`
	State        string `json:"state"`
	Country      string `json:"country"`
	PostalCode   string `json:"postal_code"`
}

// address reads address: a string is line 1, an object the whole address.
// Absent, null or blank means no address (on update: unchanged).
func (in scopedCustomerInput) address(p problems) *customer.Address {
	raw := strings.TrimSpace(string(in.Address))
	if raw == "" || raw == "null" {
		return nil
	}
	var line string
	if err := json.Unmarshal(in.Address, &line); err == nil {
		if line = p.text("address", line, 0, customer.MaxAddressLineLen); line == "" {
			return nil
		}
		return &customer.Address{AddressLine1: line}
	}
	var o scopedAddressInput
	if err := json.Unmarshal(in.Address, &o); err != nil {
		p.add("address", "must be a string or an object with address_line1, address_line2, city, state, country, postal_code")
		return nil
	}
	a := &customer.Address{
		Label:        p.text("address.label", o.Label, 0, customer.MaxAddressLabelLen),
		AddressLine1: p.text("address.address_line1", o.AddressLine1, 0, customer.MaxAddressLineLen),
		AddressLine2: p.text("address.address_line2", o.AddressLine2, 0, customer.MaxAddressLineLen),
		City:         p.text("address.city", o.City, 0, customer.MaxCityLen),
		State:        p.text("address.state", o.State, 0, customer.MaxStateLen),
		Country:      p.country("address.country", o.Country),
		PostalCode:   p.text("address.postal_code", o.PostalCode, 0, customer.MaxPostalCodeLen),
	}
	if *a == (customer.Address{Label: a.Label}) {
		return nil
	}
	return a
}

// applyTo validates in and writes it onto c. On create (c new) name is
// required and the only required field (SPEC §13); on update absent fields
// stay. An unchanged email or phone is not re-validated.
func (in scopedCustomerInput) applyTo(c *customer.Customer, creating bool, p problems, regions ...string) {
	if creating || in.Name != nil {
		name := ""
		if in.Name != nil {
			name = dedupe.NormalizeName(*in.Name)
		}
		name = p.text("name", name, 1, customer.MaxNameLen)
		c.FirstName, c.LastName = dedupe.SplitName(name)
		if utf8.RuneCountInString(c.FirstName) > customer.MaxPersonNameLen || utf8.RuneCountInString(c.LastName) > customer.MaxPersonNameLen {
			p.add("name", fmt.Sprintf("first and last name must each be at most %d characters", customer.MaxPersonNameLen))
		}
	}
	if in.CompanyName != nil {
		c.CompanyName = p.text("company_name", *in.CompanyName, 0, customer.MaxCompanyNameLen)
	}
	if in.Source != nil {
		c.Source = p.text("source", *in.Source, 0, customer.MaxSourceLen)
	}
	if in.Status != nil && strings.TrimSpace(*in.Status) != "" {
		c.Status = p.status("status", *in.Status)
	} else if creating {
		c.Status = customer.StatusActive
	}
	if creating {
		c.Type = customer.TypeIndividual
	}
	if in.Email != nil && (creating || !strings.EqualFold(strings.TrimSpace(*in.Email), c.Email)) {
		c.Email = p.email("email", *in.Email)
	}
	if in.Phone != nil {
		switch raw := strings.TrimSpace(*in.Phone); {
		case raw == "":
			c.Phone, c.PhoneValid, c.PhoneExtension = "", false, ""
		case creating || raw != c.Phone:
			ph := p.phone("phone", raw, regions...)
			c.Phone, c.PhoneValid, c.PhoneExtension = ph.Number, ph.Valid, ph.Extension
		}
	}
	c.Name = c.DisplayName()
}

// checkLocationID refuses a body location_id other than the path's.
func (in scopedCustomerInput) checkLocationID(locationID string, p problems) {
	if id := strings.TrimSpace(in.LocationID); id != "" && id != locationID {
		p.add("location_id", "must match the location in the path")
	}
}

// withAddresses pairs customers with their default addresses.
func (s *Server) withAddresses(r *http.Request, cs []*customer.Customer) ([]scopedCustomer, error) {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	addrs, err := s.store.FindDefaultAddresses(r.Context(), org(r).ID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]scopedCustomer, len(cs))
	for i, c := range cs {
		out[i] = scopedCustomer{Customer: c, Address: addrs[c.ID]}
	}
	return out, nil
}

func (s *Server) withAddress(r *http.Request, c *customer.Customer) (scopedCustomer, error) {
	out, err := s.withAddresses(r, []*customer.Customer{c})
	if err != nil {
		return scopedCustomer{}, err
	}
	return out[0], nil
}

// handleLocationCustomerList lists the customers seen at a location:
// page, page_size (or limit), q searching names, email and phone.
func (s *Server) handleLocationCustomerList(w http.ResponseWriter, r *http.Request) error {
	o, locID := org(r), r.PathValue("location_id")
	if _, err := s.store.FindLocationRegion(r.Context(), o.ID, locID); err != nil {
		return err
	}
	q := r.URL.Query()
	p := problems{}
	page, limit := pagination(q, p)
	f := customer.Filter{Page: page, Limit: limit, LocationID: locID, Search: p.text("q", q.Get("q"), 0, 200)}
	f.Sort = updatedSort(q.Get("sort"), p)
	syncFilter(&f, q.Get("updated_since"), q.Get("cursor"), pageGiven(q), p)
	if err := p.err(); err != nil {
		return err
	}
	cs, meta, err := s.store.FindCustomers(r.Context(), o.ID, f)
	if err != nil {
		return err
	}
	out, err := s.withAddresses(r, cs)
	if err != nil {
		return err
	}
	writeScoped(w, http.StatusOK, msgCustomersFetched, out, &meta)
	return nil
}

// handleLocationCustomerCreate creates a customer seen at the location. Only
// name is required; the location's region parses the phone first and its
// default tags and groups apply. A taken email or phone is a 409.
func (s *Server) handleLocationCustomerCreate(w http.ResponseWriter, r *http.Request) error {
	o, locID := org(r), r.PathValue("location_id")
	region, err := s.store.FindLocationRegion(r.Context(), o.ID, locID)
	if err != nil {
		return err
	}
	var in scopedCustomerInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p := problems{}
	in.checkLocationID(locID, p)
	c := &customer.Customer{}
	in.applyTo(c, true, p, region, o.DefaultRegion)
	addr := in.address(p)
	pl := customer.Placement{LocationID: locID, Tags: p.tags("tags", in.Tags), Source: visitSource(c.Source)}
	if err := p.err(); err != nil {
		return err
	}
	if err := s.store.CreateCustomerAt(r.Context(), o.ID, c, pl, addr); err != nil {
		return err
	}
	out := scopedCustomer{Customer: c, Address: addr}
	setLocation(w, r.URL.Path, c.ID)
	writeScopedCustomer(w, http.StatusCreated, msgCustomerCreated, out, c)
	return nil
}

func (s *Server) handleLocationCustomerGet(w http.ResponseWriter, r *http.Request) error {
	o, locID := org(r), r.PathValue("location_id")
	if _, err := s.store.FindLocationRegion(r.Context(), o.ID, locID); err != nil {
		return err
	}
	c, err := s.store.FindCustomerAt(r.Context(), o.ID, locID, r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := s.withAddress(r, c)
	if err != nil {
		return err
	}
	writeScoped(w, http.StatusOK, msgCustomerFetched, out, nil)
	return nil
}

// handleLocationCustomerUpdate changes only the fields sent: name, address,
// company_name, tags (replacing this location's), email, phone, source,
// status. It is partial because this API shows a fraction of the record,
// which a full replacement would wipe.
func (s *Server) handleLocationCustomerUpdate(w http.ResponseWriter, r *http.Request) error {
	o, locID := org(r), r.PathValue("location_id")
	region, err := s.store.FindLocationRegion(r.Context(), o.ID, locID)
	if err != nil {
		return err
	}
	var in scopedCustomerInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p := problems{}
	in.checkLocationID(locID, p)
	addr := in.address(p)
	pl := customer.Placement{LocationID: locID, Source: visitSource(""), ReplaceTags: true}
	if in.Tags != nil {
		pl.Tags = p.tags("tags", in.Tags)
	}
	c, err := s.store.UpdateCustomerAt(r.Context(), o.ID, r.PathValue("id"), pl, addr, func(c *customer.Customer) error {
		in.applyTo(c, false, p, region, o.DefaultRegion)
		return p.err()
	})
	if err != nil {
		return err
	}
	out, err := s.withAddress(r, c)
	if err != nil {
		return err
	}
	writeScopedCustomer(w, http.StatusOK, msgCustomerUpdated, out, c)
	return nil
}

// handleLocationCustomerDelete deletes the customer record by the SPEC §4
// rule (409 while it has orders or a balance). It answers 200, not 204,
// because seed 004 documents a body.
func (s *Server) handleLocationCustomerDelete(w http.ResponseWriter, r *http.Request) error {
	o, locID, id := org(r), r.PathValue("location_id"), r.PathValue("id")
	if _, err := s.store.FindLocationRegion(r.Context(), o.ID, locID); err != nil {
		return err
	}
	if err := s.store.DeleteCustomerAt(r.Context(), o.ID, locID, id); err != nil {
		return err
	}
	writeScoped(w, http.StatusOK, msgCustomerDeleted, map[string]string{"id": id}, nil)
	return nil
}

// MarshalJSON writes the customer's JSON (its own MarshalJSON: empty optional
// fields null) with address added, which the promoted method would drop.
func (s scopedCustomer) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(s.Customer)
	if err != nil {
		return nil, err
	}
	addr, err := json.Marshal(s.Address)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"address":`...)
	b = append(b, addr...)
	return append(b, '}'), nil
}
