package api

import (
	"net/http"

	"github.com/linkitworks/customers/customer"
)

func (s *Server) handleContactList(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	page, limit := pagination(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindContacts(r.Context(), org(r).ID, r.PathValue("id"), page, limit)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}

func (s *Server) handleContactCreate(w http.ResponseWriter, r *http.Request) error {
	var in contactInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	o := org(r)
	p := problems{}
	c := &customer.Contact{CustomerID: r.PathValue("id")}
	in.apply(p, "", c, nil, o.DefaultRegion)
	if err := p.err(); err != nil {
		return err
	}
	if err := s.store.CreateContact(r.Context(), o.ID, c); err != nil {
		return err
	}
	setLocation(w, r.URL.Path, c.ID)
	writeData(w, http.StatusCreated, c)
	return nil
}

// handleContactUpdate is a partial update (seed 003's PUT): members present
// change, absent ones stay, null clears an optional field.
func (s *Server) handleContactUpdate(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	o := org(r)
	c, err := s.store.UpdateContact(r.Context(), o.ID, r.PathValue("id"), r.PathValue("contact_id"), func(c *customer.Contact) error {
		var in contactInput
		if err := mergePatch(contactInputOf(c), patch, &in); err != nil {
			return err
		}
		prev := *c
		p := problems{}
		in.apply(p, "", c, &prev, o.DefaultRegion)
		return p.err()
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, c)
	return nil
}

// handleContactDelete answers 200 with a message, as seed 003 documents
// (SPEC §13), rather than the 204 of other deletes.
func (s *Server) handleContactDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteContact(r.Context(), org(r).ID, r.PathValue("id"), r.PathValue("contact_id")); err != nil {
		return err
	}
	writeData(w, http.StatusOK, map[string]string{"message": "Contact successfully removed"})
	return nil
}
