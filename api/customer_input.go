package api

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/currency"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// customerInput is the writable shape of a customer (POST, PUT, PATCH).
type customerInput struct {
	FirstName   string         `json:"first_name"`
	LastName    string         `json:"last_name"`
	Email       string         `json:"email"`
	Phone       string         `json:"phone"`
	Birthdate   string         `json:"birthdate"`
	Gender      string         `json:"gender"`
	Type        string         `json:"type"`
	Status      string         `json:"status"`
	CompanyName string         `json:"company_name"`
	AvatarURL   string         `json:"avatar_url"`
	Source      string         `json:"source"`
	Notes       string         `json:"notes"`
	Attributes  map[string]any `json:"attributes"`
	tradeInput
}

// tradeInput holds the B2B fields, written alike by /api/v1 and the ERP view.
type tradeInput struct {
	Website           string                  `json:"website"`
	TaxID             string                  `json:"tax_id"`
	Fax               string                  `json:"fax"`
	BillingAddress    *customer.PostalAddress `json:"billing_address"`
	ShippingAddress   *customer.PostalAddress `json:"shipping_address"`
	PaymentTerms      string                  `json:"payment_terms"`
	Currency          string                  `json:"currency"`
	CreditLimit       float64                 `json:"credit_limit"`
	DiscountRate      float64                 `json:"discount_rate"`
	PreferredShipping string                  `json:"preferred_shipping"`
}

// inputOf is the writable view of a stored customer; PATCH merges onto it.
func inputOf(c *customer.Customer) customerInput {
	return customerInput{
		FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Phone: c.Phone,
		Birthdate: c.Birthdate, Gender: c.Gender, Type: c.Type, Status: c.Status,
		CompanyName: c.CompanyName, AvatarURL: c.AvatarURL, Source: c.Source, Notes: c.Notes,
		Attributes: c.Attributes, tradeInput: tradeInputOf(c.B2B),
	}
}

func tradeInputOf(b customer.B2B) tradeInput {
	return tradeInput{
		Website: b.Website, TaxID: b.TaxID, Fax: b.Fax,
		BillingAddress: b.BillingAddress, ShippingAddress: b.ShippingAddress,
		PaymentTerms: b.PaymentTerms, Currency: b.Currency, CreditLimit: b.CreditLimit,
		DiscountRate: b.DiscountRate, PreferredShipping: b.PreferredShipping,
	}
}

// apply validates the trade fields and writes them onto b; the balances
// and order totals are derived from orders and never written here.
func (in tradeInput) apply(p problems, b *customer.B2B) {
	b.Website = p.url("website", in.Website)
	b.TaxID = p.text("tax_id", in.TaxID, 0, customer.MaxTaxIDLen)
	b.Fax = p.text("fax", in.Fax, 0, customer.MaxFaxLen)
	b.BillingAddress = p.address("billing_address", in.BillingAddress)
	b.ShippingAddress = p.address("shipping_address", in.ShippingAddress)
	b.PaymentTerms = p.text("payment_terms", in.PaymentTerms, 0, customer.MaxPaymentTermsLen)
	b.Currency = p.currency("currency", in.Currency)
	b.CreditLimit = p.money("credit_limit", in.CreditLimit)
	b.DiscountRate = p.nonNegative("discount_rate", in.DiscountRate)
	if in.DiscountRate > 100 {
		p.add("discount_rate", "must be at most 100")
	}
	b.PreferredShipping = p.text("preferred_shipping", in.PreferredShipping, 0, customer.MaxPreferredShippingLen)
}

// problems collects field → problem for a 422 body.
type problems map[string]string

func (p problems) add(field, problem string) {
	if _, ok := p[field]; !ok {
		p[field] = problem
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return customer.Invalid(p)
}

// text checks a free-text field's length and returns it trimmed.
func (p problems) text(field, v string, minLen, maxLen int) string {
	v = strings.TrimSpace(v)
	n := utf8.RuneCountInString(v)
	switch {
	case n == 0 && minLen > 0:
		p.add(field, "is required")
	case n < minLen:
		p.add(field, fmt.Sprintf("must be at least %d characters", minLen))
	case n > maxLen:
		p.add(field, fmt.Sprintf("must be at most %d characters", maxLen))
	}
	return v
}

// name checks and normalizes a person name field.
func (p problems) name(field, v string, required bool) string {
	v = dedupe.NormalizeName(v)
	minLen := 0
	if required {
		minLen = 1
	}
	return p.text(field, v, minLen, customer.MaxPersonNameLen)
}

// email normalizes an email; an invalid one is a problem of field.
func (p problems) email(field, raw string) string {
	e, err := dedupe.NormalizeEmail(raw)
	if err != nil && !errors.Is(err, dedupe.ErrEmpty) {
		p.add(field, "must be a valid email address")
	}
	return e
}

// phone normalizes a phone with the region fallbacks of SPEC §3.
func (p problems) phone(field, raw string, regions ...string) dedupe.Phone {
	if strings.TrimSpace(raw) == "" {
		return dedupe.Phone{}
	}
	ph, err := dedupe.NormalizePhone(raw, regions...)
	if err != nil {
		var inv *dedupe.InvalidError
		if errors.As(err, &inv) {
			p.add(field, inv.Reason)
		} else {
			p.add(field, "must be a valid phone number")
		}
	}
	return ph
}

// enum checks v against allowed, returning def when v is empty.
func (p problems) enum(field, v string, allowed []string, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	n, ok := customer.NormalizeEnum(v, allowed)
	if !ok {
		p.add(field, "must be one of "+strings.Join(allowed, ", "))
	}
	return n
}

func (p problems) status(field, v string) string {
	if strings.TrimSpace(v) == "" {
		return customer.StatusActive
	}
	s, ok := customer.NormalizeStatus(v)
	if !ok {
		p.add(field, "must be one of "+strings.Join(customer.Statuses, ", ")+" (banned is accepted for blocked)")
	}
	return s
}

// date checks a YYYY-MM-DD date not in the future.
func (p problems) date(field, v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		p.add(field, "must be a date in YYYY-MM-DD format")
		return ""
	}
	if d.After(time.Now()) {
		p.add(field, "must not be in the future")
	}
	return d.Format(time.DateOnly)
}

func (p problems) url(field, v string) string {
	v = p.text(field, v, 0, customer.MaxURLLen)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(field, "must be an http or https URL")
	}
	return v
}

func (p problems) nonNegative(field string, v float64) float64 {
	if v < 0 {
		p.add(field, "must not be negative")
	}
	return v
}

// country reads a country as imports do (dedupe.NormalizeCountry): an
// alpha-2 or alpha-3 code or a name, answered as its alpha-2 code; "" stays "".
func (p problems) country(field, raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	if utf8.RuneCountInString(raw) > customer.MaxCountryNameLen {
		p.add(field, fmt.Sprintf("must be at most %d characters", customer.MaxCountryNameLen))
		return raw
	}
	code, ok := dedupe.NormalizeCountry(raw)
	if !ok {
		p.add(field, "must be a country: an ISO 3166-1 alpha-2 or alpha-3 code or a country name")
	}
	return code
}

func (p problems) address(field string, a *customer.PostalAddress) *customer.PostalAddress {
	if a == nil {
		return nil
	}
	out := &customer.PostalAddress{
		Line1:      p.text(field+".line1", a.Line1, 0, customer.MaxAddressLineLen),
		Line2:      p.text(field+".line2", a.Line2, 0, customer.MaxAddressLineLen),
		City:       p.text(field+".city", a.City, 0, customer.MaxCityLen),
		State:      p.text(field+".state", a.State, 0, customer.MaxStateLen),
		PostalCode: p.text(field+".postal_code", a.PostalCode, 0, customer.MaxPostalCodeLen),
		Country:    p.country(field+".country", a.Country),
	}
	if *out == (customer.PostalAddress{}) {
		return nil
	}
	return out
}

// apply validates in against SPEC §4 and writes it onto c. prev is the
// stored record on updates (nil on create). A phone without country code
// takes the first known of regions (the location's, then the organization's).
func (in customerInput) apply(c *customer.Customer, prev *customer.Customer, regions ...string) error {
	p := problems{}
	in.applyTo(c, prev, p, regions...)
	return p.err()
}

// applyTo is apply collecting problems into p, for requests that validate
// more than the customer.
func (in customerInput) applyTo(c *customer.Customer, prev *customer.Customer, p problems, regions ...string) {
	c.FirstName = p.name("first_name", in.FirstName, true)
	c.LastName = p.name("last_name", in.LastName, true)
	p.identifiers(c, prev, in.Email, in.Phone, regions...)
	c.Birthdate = p.date("birthdate", in.Birthdate)
	c.Gender = p.enum("gender", in.Gender, customer.Genders, "")
	c.Type = p.enum("type", in.Type, customer.Types, customer.TypeIndividual)
	c.Status = p.status("status", in.Status)
	c.CompanyName = p.text("company_name", in.CompanyName, 0, customer.MaxCompanyNameLen)
	c.AvatarURL = p.url("avatar_url", in.AvatarURL)
	c.Source = p.text("source", in.Source, 0, customer.MaxSourceLen)
	c.Notes = p.text("notes", in.Notes, 0, customer.MaxNotesLen)
	c.Attributes = in.Attributes
	in.tradeInput.apply(p, &c.B2B)
	c.Name = c.DisplayName()
}

// identifiers normalizes a customer's email and phone (SPEC §3) and requires
// one of them. An email or phone unchanged from prev is not re-validated, so
// records imported with short test numbers stay editable.
func (p problems) identifiers(c *customer.Customer, prev *customer.Customer, email, phone string, regions ...string) {
	c.Email = strings.TrimSpace(email)
	if prev == nil || !strings.EqualFold(c.Email, prev.Email) {
		c.Email = p.email("email", email)
	}
	raw := strings.TrimSpace(phone)
	switch {
	case prev != nil && raw == prev.Phone:
		c.Phone, c.PhoneValid, c.PhoneExtension = prev.Phone, prev.PhoneValid, prev.PhoneExtension
	case raw == "":
		c.Phone, c.PhoneValid, c.PhoneExtension = "", false, ""
	default:
		ph := p.phoneNumber("phone", raw, regions...)
		c.Phone, c.PhoneValid, c.PhoneExtension = ph.Number, ph.Valid, ph.Extension
	}
	if c.Email == "" && c.Phone == "" && p["email"] == "" && p["phone"] == "" {
		p.add("email", "email or phone is required")
		p.add("phone", "email or phone is required")
	}
}

// phoneNumber is phone with the seed 000 length rule (customer.MinPhoneLen
// to MaxPhoneLen characters as typed) that every phone written through the
// API obeys.
func (p problems) phoneNumber(field, raw string, regions ...string) dedupe.Phone {
	raw = strings.TrimSpace(raw)
	if n := utf8.RuneCountInString(raw); n < customer.MinPhoneLen || n > customer.MaxPhoneLen {
		p.add(field, fmt.Sprintf("must be %d to %d characters", customer.MinPhoneLen, customer.MaxPhoneLen))
	}
	return p.phone(field, raw, regions...)
}

// currency checks an ISO 4217 code (golang.org/x/text knows the list) and
// returns it upper-cased; empty means "not set".
func (p problems) currency(field, v string) string {
	v = strings.ToUpper(strings.TrimSpace(v))
	if v == "" {
		return ""
	}
	if _, err := currency.ParseISO(v); err != nil || len(v) != 3 {
		p.add(field, "must be an ISO 4217 currency code such as USD")
	}
	return v
}
