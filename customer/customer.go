// Package customer holds the domain: plain types, their enumerations and the
// one error type. It does no I/O.
//
// Comments across the code cite the product's contracts, committed under
// docs/contracts: "SPEC §n" is a section of docs/contracts/SPEC.md and
// "seed 00n" one of the five API documents beside it.
package customer

import (
	"slices"
	"strings"
	"time"
)

// OrgWideTags is the key of tags_by_location holding the tags applied with
// no location: a word, like the location ids beside it never empty, and
// never a location id (those start "loc_").
const OrgWideTags = "org"

// Customer is one real person or company within an organization.
// Empty text fields are "" (never null) and empty lists are [].
type Customer struct {
	ID             string              `json:"id"`
	OrganizationID string              `json:"organization_id"`
	FirstName      string              `json:"first_name"`
	LastName       string              `json:"last_name"`
	Name           string              `json:"name"`
	Email          string              `json:"email"`
	Phone          string              `json:"phone"`
	PhoneValid     bool                `json:"phone_valid"`
	PhoneExtension string              `json:"phone_extension"`
	Birthdate      string              `json:"birthdate"`
	Gender         string              `json:"gender"`
	Type           string              `json:"type"`
	Status         string              `json:"status"`
	CompanyName    string              `json:"company_name"`
	AvatarURL      string              `json:"avatar_url"`
	Source         string              `json:"source"`
	Notes          string              `json:"notes"`
	Attributes     map[string]any      `json:"attributes"`
	Tags           []string            `json:"tags"`
	TagsByLocation map[string][]string `json:"tags_by_location"`
	Groups         []string            `json:"groups"`
	Locations      []Visit             `json:"locations"`
	Aliases        []Alias             `json:"aliases"`
	B2B
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// B2B holds the trade fields of the ERP view (seed 003) on the same record.
type B2B struct {
	Website           string         `json:"website"`
	TaxID             string         `json:"tax_id"`
	Fax               string         `json:"fax"`
	BillingAddress    *PostalAddress `json:"billing_address"`
	ShippingAddress   *PostalAddress `json:"shipping_address"`
	PaymentTerms      string         `json:"payment_terms"`
	Currency          string         `json:"currency"`
	CreditLimit       float64        `json:"credit_limit"`
	CurrentBalance    float64        `json:"current_balance"`
	DiscountRate      float64        `json:"discount_rate"`
	PreferredShipping string         `json:"preferred_shipping"`
	LifetimeValue     float64        `json:"lifetime_value"`
	TotalOrders       int            `json:"total_orders"`
	CustomerSince     *time.Time     `json:"customer_since"`
}

// PostalAddress is an address embedded in a record (billing, shipping, order).
type PostalAddress struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	State      string `json:"state"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country,omitempty"`
}

// Visit records a customer seen at a location.
type Visit struct {
	LocationID string    `json:"location_id"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Source     string    `json:"source"`
}

// Alias is another identifier that resolves to the customer.
type Alias struct {
	Kind  string `json:"kind"` // email | phone | external
	Value string `json:"value"`
	// Shared: several people carry it (SPEC §10.1); it is listed here even
	// when it is the customer's primary email or phone.
	Shared bool `json:"shared,omitempty"`
}

// DisplayName is the name shown for a customer: the company for corporate
// customers that have one, else the person's name.
func (c *Customer) DisplayName() string {
	if c.Type == TypeCorporate && c.CompanyName != "" {
		return c.CompanyName
	}
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// Customer types.
const (
	TypeIndividual = "individual"
	TypeCorporate  = "corporate"
	TypeVIP        = "vip"
)

// Customer statuses.
const (
	StatusActive    = "active"
	StatusInactive  = "inactive"
	StatusPending   = "pending"
	StatusSuspended = "suspended"
	StatusBlocked   = "blocked"
)

var (
	Types    = []string{TypeIndividual, TypeCorporate, TypeVIP}
	Statuses = []string{StatusActive, StatusInactive, StatusPending, StatusSuspended, StatusBlocked}
	Genders  = []string{"male", "female", "other"}
)

// NormalizeStatus lowercases s and maps the input alias "banned" to blocked;
// ok is false for an unknown status.
func NormalizeStatus(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "banned" {
		s = StatusBlocked
	}
	return s, slices.Contains(Statuses, s)
}

// NormalizeEnum lowercases s and reports whether it is one of allowed.
func NormalizeEnum(s string, allowed []string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	return s, slices.Contains(allowed, s)
}

// Address is one of a customer's postal addresses (seed 000).
type Address struct {
	ID           string    `json:"id"`
	CustomerID   string    `json:"customer_id"`
	Label        string    `json:"label"`
	AddressLine1 string    `json:"address_line1"`
	AddressLine2 string    `json:"address_line2"`
	City         string    `json:"city"`
	State        string    `json:"state"`
	Country      string    `json:"country"`
	PostalCode   string    `json:"postal_code"`
	IsDefault    bool      `json:"is_default"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Filter selects customers for lists and searches.
type Filter struct {
	Page        int
	Limit       int
	Status      []string
	Type        []string
	Search      string
	LocationID  string
	Tag         string
	GroupID     string
	CreatedFrom *time.Time
	CreatedTo   *time.Time // exclusive
	Sort        string     // created | -created | name | -name | updated
	// UpdatedSince keeps customers updated at or after it (incremental sync).
	UpdatedSince *time.Time
	// After, with Sort "updated", starts the page after this position
	// (keyset pagination: stable while customers change between pages).
	After *Cursor
}

// Sorts accepted by Filter.Sort.
var Sorts = []string{"created", "-created", "name", "-name", "updated"}

// Page describes one page of a list.
type Page struct {
	Total   int  `json:"total"`
	Page    int  `json:"page"`
	Limit   int  `json:"limit"`
	HasMore bool `json:"hasMore"`
	// Estimated is set when Total is a planner estimate (very large matches).
	Estimated bool `json:"total_estimated,omitempty"`
	// NextCursor continues a list sorted by updated after this page; absent
	// on the last page and in other sort orders.
	NextCursor string `json:"next_cursor,omitempty"`
}

// NewPage computes HasMore from a total.
func NewPage(total, page, limit int) Page {
	return Page{Total: total, Page: page, Limit: limit, HasMore: page*limit < total}
}

// Organization is a tenant.
type Organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// DefaultRegion is Settings.DefaultRegion (one column), kept for the
	// callers that only need the region.
	DefaultRegion string    `json:"default_region"`
	Created       time.Time `json:"created"`
	Settings      Settings  `json:"settings"`
}

// APIKey is a credential of one organization. Secret is only set when the
// key is created; the store keeps a hash.
type APIKey struct {
	ID             string `json:"key_id"`
	OrganizationID string `json:"organization_id"`
	Secret         string `json:"api_key,omitempty"`
}
