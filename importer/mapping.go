package importer

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/linkitworks/customers/customer"
)

// Special targets of Options.Mapping.
const (
	// Ignore drops the column entirely (the empty string does the same).
	Ignore = "-"
	// AsAttribute keeps the column as an attribute even if its header would
	// otherwise map to a canonical field.
	AsAttribute = "@attribute"
)

// Alias priorities. An explicit override always wins; among automatic
// matches a normal alias beats a low one (e.g. Shopify's "Phone" beats
// "Default Address Phone" wherever it appears); equal priorities: first
// column wins.
const (
	prioLow      = 1
	prioNormal   = 2
	prioOverride = 3
)

type alias struct {
	field string
	prio  int
}

type kindTable struct {
	fields  []string
	index   map[string]int   // field → position in fields
	aliases map[string]alias // normalized header → field
}

var tables = map[customer.ImportKind]*kindTable{}

// low marks an alias as secondary (see prioLow).
const low = "\x00low:"

var customerAliases = [][]string{
	{"first_name", "First Name", "first_name", "Given Name", "FirstName", "fname", "First", "Forename", "Prénom", "Vorname", "Voornaam"},
	{"last_name", "Last Name", "Surname", "Family Name", "LastName", "lname", "Last", "Nachname", "Apellido", "Apellidos",
		"Nom", "Nom de famille", "Cognome", "Achternaam"},
	{"name", "Full Name", "Name", "Customer Name", "Contact Name", "Display Name", "Client Name", "Customer", "Contact"},
	{"email", "E-mail", "Email", "Email Address", "E-mail Address", "Mail", "Primary Email", "Email 1", "E-mail 1",
		"Customer Email", "Contact Email", "Courriel", "E-Mail-Adresse", "Correo", "Correo electrónico"},
	{"phone", "Phone", "Mobile", "Mobile Phone", "Phone Number", "Phone 1", "Telephone", "Cell", "Tel", "Primary Phone",
		"Mobile Phone Number", "Mobile Number", "Cell Phone", "Cellphone", "Telephone Number", "Phone No", "Tel No",
		"Customer Phone", "Contact Phone", "Telefon", "Téléphone", "Teléfono", "Handy",
		low + "Default Address Phone", low + "Billing Phone", low + "Shipping Phone"},
	{"company_name", "Company", "Company Name", "Organization", "Organisation", "Business Name", "Business",
		"Organization Name", "Account Name", "Default Address Company", "Firma", "Société", "Empresa"},
	{"birthdate", "Birthday", "Date of Birth", "DOB", "Birthdate", "Birth Date", "Date Of Birth", "Geburtsdatum", "Date de naissance"},
	{"gender", "Gender", "Sex"},
	{"type", "Type", "Customer Type", "Contact Type"},
	{"status", "Status", "Customer Status", "Contact Status"},
	{"tags", "Tags", "Labels", "Tag", "Label", "Groups"},
	{"notes", "Note", "Notes", "Comments", "Comment", "Memo", "Remarks"},
	{"external_id", "Customer ID", "External ID", "ID", "Square Customer ID", "Record ID", "User ID", "Contact ID",
		"Client ID", "Customer Number", "Customer No", "Customer Reference", low + "Reference ID"},
	{"source", "Source", "Lead Source", "Original Source"},
	{"website", "Website", "Web Site", "URL", "Homepage", "Home Page", "Web", "Website URL", "Company Website"},
	{"tax_id", "Tax ID", "Tax Number", "Tax Identification Number", "VAT", "VAT Number", "VAT ID", "TIN", "EIN"},
	{"address_line1", "Address1", "Address 1", "Address Line 1", "Street", "Street Address", "Default Address Address1",
		"Address", "Street Address 1", "Street 1", "Street Line 1", "Address Line1", "Adresse", "Strasse", "Dirección",
		low + "Billing Address1", low + "Billing Street"},
	{"address_line2", "Address2", "Address 2", "Address Line 2", "Street Address 2", "Default Address Address2",
		"Street 2", "Street Line 2", "Address Line2", "Apartment", "Suite", low + "Billing Address2"},
	{"city", "City", "Town", "Default Address City", "Locality", "Ville", "Stadt", "Ort", "Ciudad", low + "Billing City"},
	{"state", "State", "Province", "Region", "Province Code", "Default Address Province Code", "State/Region",
		"State/Province", "State Code", "County", "Default Address Province", low + "Billing Province"},
	{"postal_code", "Zip", "Postal Code", "Postcode", "ZIP Code", "Default Address Zip", "Zipcode", "Post Code",
		"PLZ", "Postleitzahl", "Code Postal", low + "Billing Zip"},
	{"country", "Country", "Country Code", "Default Address Country Code", "Country/Region", "Default Address Country",
		"Pays", "País", low + "Billing Country"},
	{"avatar_url", "Avatar", "Avatar URL", "Photo", "Photo URL", "Picture", "Picture URL", "Profile Picture",
		"Profile Photo", "Image", "Image URL", "Profile Image"},
}

var orderAliases = [][]string{
	{"order_number", "Order Number", "Order ID", "Name", "Order #", "Order No", "Order", "Order Name",
		"Order Reference", "Order Ref", low + "ID"},
	{"order_date", "Created at", "Order Date", "Date", "Created", "Created Date", "Date Created", "Purchase Date",
		"Order Created", "Transaction Date", "Processed at"},
	{"status", "Status", "Order Status"},
	// Shopify and similar exports have no single status: the order's status
	// is derived from these (see orderStatus).
	{"financial_status", "Financial Status", "Payment Status"},
	{"fulfillment_status", "Fulfillment Status", "Fulfilment Status", "Shipping Status"},
	{"cancelled_date", "Cancelled at", "Canceled at", "Cancelled Date", "Canceled Date", "Cancelled On", "Cancellation Date"},
	{"total_amount", "Total", "Total Amount", "Amount", "Order Total", "Grand Total", "Total Price"},
	{"currency", "Currency", "Currency Code"},
	{"paid_date", "Paid at", "Paid Date", "Payment Date", "Paid On"},
	{"ship_date", "Ship Date", "Shipped at", "Shipped Date", "Shipping Date", "Fulfilled at", "Fulfillment Date"},
	{"delivery_date", "Delivery Date", "Delivered at", "Delivered Date", "Delivered On"},
	{"product_id", "Lineitem sku", "SKU", "Product ID", "Item SKU", "Variant SKU", "Product SKU", "Item ID", "Product Code"},
	{"product_name", "Lineitem name", "Product", "Product Name", "Item", "Item Name", "Product Title"},
	{"quantity", "Lineitem quantity", "Quantity", "Qty", "Units"},
	{"unit_price", "Lineitem price", "Unit Price", "Price", "Item Price"},
	{"email", "Email", "E-mail", "Email Address", "E-mail Address", "Customer Email", "Buyer Email"},
	{"phone", "Phone", "Phone Number", "Customer Phone", "Mobile", "Telephone",
		low + "Billing Phone", low + "Shipping Phone"},
	{"first_name", "First Name", "Given Name", "Customer First Name"},
	{"last_name", "Last Name", "Surname", "Customer Last Name"},
	{"name", "Customer Name", "Full Name", "Customer", "Buyer Name", "Contact Name",
		low + "Billing Name", low + "Shipping Name"},
	{"customer_external_id", "Customer ID", "Customer Number", "Customer Reference", "Customer No", "Client ID",
		"External Customer ID"},
	{"location_id", "Location ID", "Location", "Store ID", "Store", "Location Code", "Shop ID"},
	{"shipping_address_line1", "Shipping Address1", "Shipping Address 1", "Shipping Address Line 1", "Ship To Address",
		low + "Shipping Street", low + "Shipping Address"},
	{"shipping_address_line2", "Shipping Address2", "Shipping Address 2", "Shipping Address Line 2"},
	{"shipping_address_city", "Shipping City", "Ship To City"},
	{"shipping_address_state", "Shipping Province", "Shipping State", "Shipping Province Code", "Shipping Region",
		low + "Shipping Province Name"},
	{"shipping_address_postal_code", "Shipping Zip", "Shipping Postal Code", "Shipping Postcode", "Ship To Zip"},
	{"shipping_address_country", "Shipping Country", "Shipping Country Code"},
}

func init() {
	tables[customer.ImportCustomers] = buildTable(customerAliases)
	tables[customer.ImportOrders] = buildTable(orderAliases)
}

func buildTable(def [][]string) *kindTable {
	t := &kindTable{index: map[string]int{}, aliases: map[string]alias{}}
	for _, row := range def {
		f := row[0]
		t.index[f] = len(t.fields)
		t.fields = append(t.fields, f)
		add := func(a string) {
			p := prioNormal
			if strings.HasPrefix(a, low) {
				a, p = strings.TrimPrefix(a, low), prioLow
			}
			n := normalize(a)
			if old, ok := t.aliases[n]; ok && old.field != f {
				panic("importer: alias " + a + " defined for both " + old.field + " and " + f)
			}
			t.aliases[n] = alias{f, p}
		}
		for _, a := range row[1:] {
			add(a)
		}
		// The field's own name, unless an explicit alias claims it (orders:
		// "Name" is Shopify's order number).
		if _, ok := t.aliases[normalize(f)]; !ok {
			add(f)
		}
	}
	return t
}

// Fields returns the canonical fields of a kind (nil for an unknown kind).
func Fields(kind customer.ImportKind) []string {
	t := tables[kind]
	if t == nil {
		return nil
	}
	return append([]string(nil), t.fields...)
}

// FieldFor returns the canonical field the header would map to automatically
// for the kind, or "" when it would go to attributes.
func FieldFor(kind customer.ImportKind, header string) string {
	t := tables[kind]
	if t == nil {
		return ""
	}
	return t.aliases[normalize(cleanHeader(header))].field
}

// foldAccents drops combining marks after decomposing. A chain of
// transformers keeps state, so each call gets its own: uploads read
// headers concurrently.
func foldAccents() transform.Transformer {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)))
}

// normalize lowercases s, folds accents and keeps only letters and digits:
// "E-mail Address" → "emailaddress", "Prénom" → "prenom".
func normalize(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		if f, _, err := transform.String(foldAccents(), s); err == nil {
			s = f
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < 0x80 {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				b.WriteRune(r)
			case r >= 'A' && r <= 'Z':
				b.WriteRune(r + 'a' - 'A')
			}
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// cleanHeader trims whitespace and byte-order marks (and zero-width
// characters some exporters leave) around a header or JSON key.
func cleanHeader(h string) string {
	return strings.TrimFunc(h, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\ufeff' || r == '\u200b' || r == 0
	})
}

// Column targets.
const (
	targetField = iota
	targetAttr
	targetIgnore
)

type column struct {
	header string // cleaned header
	kind   int    // targetField / targetAttr / targetIgnore
	field  string // canonical field for targetField
	attr   string // attribute key for targetAttr (header, de-duplicated)
	// warnReason is the precomputed "longer than N bytes" text.
}

// target is the Detected.Mapping value of a column.
func (c *column) target() string {
	switch c.kind {
	case targetField:
		return c.field
	case targetIgnore:
		return Ignore
	}
	return ""
}

// name is the column's name in issues.
func (c *column) name() string {
	if c.kind == targetAttr {
		return c.attr
	}
	return c.header
}

// mapper resolves headers (CSV) or keys (JSON) to targets.
type mapper struct {
	table    *kindTable
	exact    map[string]string // override: cleaned header → target
	normal   map[string]string // override: normalized header → target
	hasOver  bool
	cache    map[string]candidate // JSON keys: raw key → candidate
	scratch  []int                // per field index: winning column+1
	scratchP []int
}

type candidate struct {
	clean  string
	target int
	field  string
	prio   int
}

const maxKeyCache = 4096

func newMapper(kind customer.ImportKind, override map[string]string) (*mapper, error) {
	t := tables[kind]
	m := &mapper{table: t, cache: map[string]candidate{}}
	m.scratch = make([]int, len(t.fields))
	m.scratchP = make([]int, len(t.fields))
	if len(override) > 0 {
		m.hasOver = true
		m.exact = map[string]string{}
		m.normal = map[string]string{}
		keys := make([]string, 0, len(override))
		for k := range override {
			keys = append(keys, k)
		}
		sort.Strings(keys) // deterministic choice when two keys normalize alike
		for _, k := range keys {
			v := strings.TrimSpace(override[k])
			switch v {
			case "", Ignore, AsAttribute:
			default:
				if _, ok := t.index[v]; !ok {
					return nil, &MappingError{Column: k, Field: override[k]}
				}
			}
			c := cleanHeader(k)
			m.exact[c] = v
			if n := normalize(c); n != "" {
				if _, dup := m.normal[n]; !dup {
					m.normal[n] = v
				}
			}
		}
	}
	return m, nil
}

// classify returns the candidate target of one header/key.
func (m *mapper) classify(raw string) candidate {
	c := candidate{clean: cleanHeader(raw), target: targetAttr}
	n := normalize(c.clean)
	if m.hasOver {
		v, ok := m.exact[c.clean]
		if !ok {
			v, ok = m.normal[n]
		}
		if ok {
			switch v {
			case "", Ignore:
				c.target = targetIgnore
			case AsAttribute:
			default:
				c.target, c.field, c.prio = targetField, v, prioOverride
			}
			return c
		}
	}
	if a, ok := m.table.aliases[n]; ok && n != "" {
		c.target, c.field, c.prio = targetField, a.field, a.prio
	}
	return c
}

// classifyCached is classify with a bounded cache (JSON keys repeat).
func (m *mapper) classifyCached(raw string) candidate {
	if c, ok := m.cache[raw]; ok {
		return c
	}
	c := m.classify(raw)
	if len(m.cache) < maxKeyCache {
		m.cache[raw] = c
	}
	return c
}

// resolve turns candidates into columns: for each field the highest
// priority candidate wins, ties go to the first; losers become attributes.
// Attribute keys are de-duplicated ("Phone", "Phone (2)", …); empty headers
// become "Column N".
func (m *mapper) resolve(cands []candidate, cols []column) []column {
	cols = cols[:0]
	for i := range m.scratch {
		m.scratch[i], m.scratchP[i] = 0, 0
	}
	for i, c := range cands {
		if c.target != targetField {
			continue
		}
		fi := m.table.index[c.field]
		if m.scratch[fi] == 0 || c.prio > m.scratchP[fi] {
			m.scratch[fi], m.scratchP[fi] = i+1, c.prio
		}
	}
	var used map[string]bool
	for i, c := range cands {
		col := column{header: c.clean, kind: c.target, field: c.field}
		if c.target == targetField && m.scratch[m.table.index[c.field]] != i+1 {
			col.kind, col.field = targetAttr, ""
		}
		if col.kind == targetAttr {
			key := c.clean
			if key == "" {
				key = "Column " + itoa(i+1)
			}
			if used == nil {
				used = make(map[string]bool, len(cands))
			}
			if used[key] {
				base := key
				for n := 2; used[key]; n++ {
					key = base + " (" + itoa(n) + ")"
				}
			}
			used[key] = true
			col.attr = key
		}
		cols = append(cols, col)
	}
	return cols
}

func itoa(n int) string {
	if n >= 0 && n < 10 {
		return string(rune('0' + n))
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// requiredColumns lists, per kind, groups of fields a file needs a column
// for (any one of each group): without one, every row would be an error.
var requiredColumns = map[customer.ImportKind][][]string{
	customer.ImportCustomers: {{"email", "phone", "external_id"}},
	customer.ImportOrders:    {{"order_number"}, {"order_date"}, {"email", "phone", "customer_external_id"}},
}

// maxListedHeaders bounds the headers a missing-column message quotes.
const maxListedHeaders = 20

// MissingColumns says, for a CSV file, which required fields no column maps
// to, in words naming the file's columns and the mapping option; nil when
// nothing is missing. Such a file would import no row at all, so it is
// refused as a whole rather than reported row by row. JSON records bring
// their own keys, record by record, so they are never refused here.
func (d Detected) MissingColumns(kind customer.ImportKind) []string {
	if d.Format != FormatCSV {
		return nil
	}
	if kind == "" {
		kind = customer.ImportCustomers
	}
	mapped := map[string]bool{}
	for _, t := range d.Targets {
		mapped[t] = true
	}
	var missing []string
	for _, group := range requiredColumns[kind] {
		if slices.ContainsFunc(group, func(f string) bool { return mapped[f] }) {
			continue
		}
		what := group[0]
		if n := len(group); n > 1 {
			what = strings.Join(group[:n-1], ", ") + " or " + group[n-1]
		}
		missing = append(missing, fmt.Sprintf("no column maps to %s (the file's columns: %s); name one with the mapping option, e.g. {%q: %q}",
			what, listHeaders(d.Headers), "<column>", group[0]))
	}
	return missing
}

func listHeaders(h []string) string {
	if len(h) == 0 {
		return "none"
	}
	if len(h) > maxListedHeaders {
		return strings.Join(h[:maxListedHeaders], ", ") + fmt.Sprintf(", … %d more", len(h)-maxListedHeaders)
	}
	return strings.Join(h, ", ")
}
