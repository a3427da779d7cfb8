package api

import (
	"net/http"
	"strings"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// addressInput is the body of address POST and PUT.
type addressInput struct {
	Label        string `json:"label"`
	AddressLine1 string `json:"address_line1"`
	AddressLine2 string `json:"address_line2"`
	City         string `json:"city"`
	State        string `json:"state"`
	Country      string `json:"country"`
	PostalCode   string `json:"postal_code"`
	IsDefault    *bool  `json:"is_default"`
}

func (in addressInput) address(customerID string) (*customer.Address, error) {
	p := problems{}
	a := &customer.Address{
		CustomerID:   customerID,
		Label:        p.text("label", in.Label, 1, customer.MaxAddressLabelLen),
		AddressLine1: p.text("address_line1", in.AddressLine1, 1, customer.MaxAddressLineLen),
		AddressLine2: p.text("address_line2", in.AddressLine2, 0, customer.MaxAddressLineLen),
		City:         p.text("city", in.City, 1, customer.MaxCityLen),
		State:        p.text("state", in.State, 1, customer.MaxStateLen),
		Country:      strings.ToUpper(strings.TrimSpace(in.Country)),
		PostalCode:   p.text("postal_code", in.PostalCode, 0, customer.MaxPostalCodeLen),
		IsDefault:    in.IsDefault != nil && *in.IsDefault,
	}
	switch {
	case a.Country == "":
		p.add("country", "is required")
	case !dedupe.ValidCountry(a.Country):
		p.add("country", "must be an ISO 3166-1 alpha-2 country code")
	}
	return a, p.err()
}

func (s *Server) handleAddressList(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.FindAddresses(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if list == nil {
		list = []*customer.Address{}
	}
	writeData(w, http.StatusOK, list)
	return nil
}

func (s *Server) handleAddressCreate(w http.ResponseWriter, r *http.Request) error {
	var in addressInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := in.address(r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.store.CreateAddress(r.Context(), org(r).ID, a); err != nil {
		return err
	}
	setLocation(w, r.URL.Path, a.ID)
	writeData(w, http.StatusCreated, a)
	return nil
}

// handleAddressUpdate replaces an address; an omitted is_default keeps the
// address's current default flag.
func (s *Server) handleAddressUpdate(w http.ResponseWriter, r *http.Request) error {
	var in addressInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := in.address(r.PathValue("id"))
	if err != nil {
		return err
	}
	a.ID = r.PathValue("addressId")
	if err := s.store.UpdateAddress(r.Context(), org(r).ID, a, in.IsDefault == nil); err != nil {
		return err
	}
	writeData(w, http.StatusOK, a)
	return nil
}

func (s *Server) handleAddressDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteAddress(r.Context(), org(r).ID, r.PathValue("id"), r.PathValue("addressId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
