package api

import (
	"strconv"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// erpCustomerInput is the writable shape of the ERP view (seed 003): one
// display name instead of first/last, is_active instead of status.
type erpCustomerInput struct {
	Name     string         `json:"name"`
	Email    string         `json:"email"`
	Phone    string         `json:"phone"`
	Type     string         `json:"type"`
	Notes    string         `json:"notes"`
	IsActive *bool          `json:"is_active"`
	Contacts []contactInput `json:"contacts"`
	tradeInput
}

// erpInputOf is the writable view of a stored customer; the ERP PUT merges
// the request onto it. IsActive stays nil so an absent is_active never
// touches the status.
func erpInputOf(c *customer.Customer) erpCustomerInput {
	return erpCustomerInput{Name: c.Name, Email: c.Email, Phone: c.Phone, Type: c.Type,
		Notes: c.Notes, tradeInput: tradeInputOf(c.B2B)}
}

// apply validates in and writes it onto c; prev is the stored record on
// updates (nil on create).
func (in erpCustomerInput) apply(c *customer.Customer, prev *customer.Customer, region string) error {
	p := problems{}
	name := p.text("name", dedupe.NormalizeName(in.Name), 1, customer.MaxNameLen)
	c.Type = p.enum("type", in.Type, customer.Types, customer.TypeCorporate)
	if prev == nil || name != prev.Name || c.Type != prev.Type {
		setDisplayName(c, prev, name)
	}
	p.identifiers(c, prev, in.Email, in.Phone, region)
	c.Notes = p.text("notes", in.Notes, 0, customer.MaxNotesLen)
	in.tradeInput.apply(p, &c.B2B)
	if prev == nil {
		c.Status = customer.StatusActive
	}
	// is_active true makes any status active; false deactivates an active
	// customer and keeps a more specific inactive status (blocked, suspended).
	if in.IsActive != nil {
		switch {
		case *in.IsActive:
			c.Status = customer.StatusActive
		case c.Status == customer.StatusActive:
			c.Status = customer.StatusInactive
		}
	}
	return p.err()
}

// setDisplayName writes the ERP name: a corporate customer's company name,
// else the person's name split into first and last (SPEC §13). First and
// last names of a corporate customer follow the name only while they were
// derived from it, so a contact person entered through /api/v1 is kept.
func setDisplayName(c *customer.Customer, prev *customer.Customer, name string) {
	derived := prev == nil || dedupe.NormalizeName(prev.FirstName+" "+prev.LastName) == prev.Name ||
		prev.FirstName+prev.LastName == ""
	if c.Type != customer.TypeCorporate || derived {
		c.FirstName, c.LastName = dedupe.SplitName(name)
	}
	if c.Type == customer.TypeCorporate {
		c.CompanyName = name
	}
	c.Name = c.DisplayName()
}

// contacts validates the contacts nested in a create: at most one primary.
func (in erpCustomerInput) contacts(region string) ([]*customer.Contact, error) {
	p := problems{}
	out := make([]*customer.Contact, len(in.Contacts))
	primary := -1
	for i, ci := range in.Contacts {
		prefix := "contacts[" + strconv.Itoa(i) + "]."
		out[i] = &customer.Contact{}
		ci.apply(p, prefix, out[i], nil, region)
		if out[i].IsPrimary {
			if primary >= 0 {
				p.add(prefix+"is_primary", "only one contact can be primary (contacts["+strconv.Itoa(primary)+"] is)")
			}
			primary = i
		}
	}
	if len(in.Contacts) > 100 {
		p.add("contacts", "must hold at most 100 contacts")
	}
	return out, p.err()
}
