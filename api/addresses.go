package api

import (
	"net/http"
	"strings"

	"github.com/linkitworks/customers/customer"
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
		Country:      p.country("country", in.Country),
		PostalCode:   p.text("postal_code", in.PostalCode, 0, customer.MaxPostalCodeLen),
		IsDefault:    in.IsDefault != nil && *in.IsDefault,
	}
	if strings.TrimSpace(in.Country) == "" {
		p.add("country", "is required")
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

// handleAddressUpdate is PUT, a full replacement: omitted optional fields
// are cleared, except is_default, which an omission keeps as stored.
func (s *Server) handleAddressUpdate(w http.ResponseWriter, r *http.Request) error {
	var in addressInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return s.updateAddress(w, r, func(*customer.Address) (addressInput, error) { return in, nil })
}

// handleAddressPatch is a JSON merge patch (RFC 7396) over the stored
// address: members set fields, null clears them, absent ones stay.
func (s *Server) handleAddressPatch(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	return s.updateAddress(w, r, func(cur *customer.Address) (addressInput, error) {
		var in addressInput
		err := mergePatch(addressInputOf(cur), patch, &in)
		return in, err
	})
}

// updateAddress validates the input input(stored) gives and writes it.
func (s *Server) updateAddress(w http.ResponseWriter, r *http.Request, input func(cur *customer.Address) (addressInput, error)) error {
	a, err := s.store.UpdateAddress(r.Context(), org(r).ID, r.PathValue("id"), r.PathValue("addressId"), func(cur *customer.Address) error {
		in, err := input(cur)
		if err != nil {
			return err
		}
		next, err := in.address(cur.CustomerID)
		if err != nil {
			return err
		}
		if in.IsDefault == nil {
			next.IsDefault = cur.IsDefault
		}
		*cur = *next
		return nil
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, a)
	return nil
}

// addressInputOf is a stored address as the input that would write it.
func addressInputOf(a *customer.Address) addressInput {
	def := a.IsDefault
	return addressInput{Label: a.Label, AddressLine1: a.AddressLine1, AddressLine2: a.AddressLine2, City: a.City,
		State: a.State, Country: a.Country, PostalCode: a.PostalCode, IsDefault: &def}
}

func (s *Server) handleAddressDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteAddress(r.Context(), org(r).ID, r.PathValue("id"), r.PathValue("addressId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
