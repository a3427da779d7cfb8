package customer

// Text limits: the most characters each free-text field holds, one table
// for the API's validation (a longer value is a 422) and the import's
// normalization (a longer value is dropped with a warning). Identifiers
// that only the API takes (contacts, groups, locations, source records)
// are here too, so every field's limit is found in one place. Where the
// two paths differ on purpose it says so below.
const (
	// Customers. The upsert's "name" is checked as a person name
	// (MaxPersonNameLen); a display name of its own (ERP and
	// location-scoped customers, imports) may be longer.
	MaxPersonNameLen        = 100 // first_name, last_name
	MaxNameLen              = 200 // name: the display name
	MaxCompanyNameLen       = 200
	MaxNotesLen             = 5000
	MaxSourceLen            = 100
	MaxURLLen               = 2048 // website, avatar_url
	MaxExternalIDLen        = 200
	MaxTaxIDLen             = 50
	MaxFaxLen               = 30
	MaxPaymentTermsLen      = 50
	MaxPreferredShippingLen = 50
	MaxTagLen               = 64 // each tag (at least 1)
	// A phone written through the API's customer (also ERP) and contact
	// endpoints is 10 to 20 characters as typed (the documented rule);
	// upserts, location-scoped customers and imports take any phone that
	// parses.
	MinPhoneLen = 10
	MaxPhoneLen = 20

	// Addresses, postal addresses and their parts. An import cuts every
	// part of an address at MaxAddressLineLen instead of dropping it: a
	// spreadsheet's long city is still worth keeping.
	MaxAddressLabelLen = 50
	MaxAddressLineLen  = 200 // line1, line2
	MaxCityLen         = 100
	MaxStateLen        = 100
	MaxPostalCodeLen   = 20
	MaxCountryNameLen  = 100 // a country as written, before it becomes a code

	// Contacts of a B2B customer.
	MaxContactNameLen  = 100
	MaxContactTitleLen = 100

	// Groups and locations.
	MaxGroupNameLen        = 100
	MaxGroupDescriptionLen = 500
	MaxLocationNameLen     = 100
	MaxLocationCodeLen     = 50

	// Orders and their lines.
	MaxOrderNumberLen = 100
	MaxLocationRefLen = 100 // an order's location: an id, code or name
	MaxProductIDLen   = 100
	MaxProductNameLen = 200

	// Source records: the other system's name, and its ids.
	MaxSourceSystemLen = 100
	MaxSourceIDLen     = 200 // source_id and the external system's provider, config and definition ids
)
