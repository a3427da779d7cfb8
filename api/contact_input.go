package api

import (
	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// contactInput is the writable shape of a contact (seed 003), alone or
// nested in an ERP customer create.
type contactInput struct {
	Name      string `json:"name"`
	Title     string `json:"title"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	IsPrimary *bool  `json:"is_primary"`
}

func contactInputOf(c *customer.Contact) contactInput {
	primary := c.IsPrimary
	return contactInput{Name: c.Name, Title: c.Title, Email: c.Email, Phone: c.Phone, IsPrimary: &primary}
}

// apply validates in and writes it onto c; field names in problems are
// prefixed (contacts[1].email) when the contact is nested. Email and phone
// follow the customer rules but claim no identity.
func (in contactInput) apply(p problems, prefix string, c *customer.Contact, prev *customer.Contact, region string) {
	c.Name = p.text(prefix+"name", dedupe.NormalizeName(in.Name), 1, customer.MaxContactNameLen)
	c.Title = p.text(prefix+"title", in.Title, 0, customer.MaxContactTitleLen)
	c.Email = p.email(prefix+"email", in.Email)
	switch {
	case prev != nil && in.Phone == prev.Phone:
		c.Phone = prev.Phone
	case in.Phone == "":
		c.Phone = ""
	default:
		c.Phone = p.phoneNumber(prefix+"phone", in.Phone, region).Number
	}
	c.IsPrimary = in.IsPrimary != nil && *in.IsPrimary
}
