package postgres

import (
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// Set-based writes for many customers at once (import chunks): one
// statement per table over unnest()ed arrays instead of a row per statement.
const (
	sqlBulkInsertCustomers = `INSERT INTO customers (organization_id, id, first_name, last_name, name, email, phone,
		phone_valid, phone_ext, birthdate, gender, type, status, company_name, avatar_url, source, notes, attributes,
		website, tax_id)
		SELECT $1, u.id, u.fn, u.ln, u.nm, u.em, u.ph, u.pv, u.px, NULLIF(u.bd, '')::date, u.gd, u.ty, u.st, u.co,
			u.av, u.so, u.no, u.at::jsonb, u.we, u.tx
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
			$18::text[], $19::text[], $20::text[])
			AS u(id, fn, ln, nm, em, ph, pv, px, bd, gd, ty, st, co, av, so, no, at, we, tx)`
	sqlBulkUpdateCustomers = `UPDATE customers c SET first_name = u.fn, last_name = u.ln, name = u.nm, email = u.em,
		phone = u.ph, phone_valid = u.pv, phone_ext = u.px, birthdate = NULLIF(u.bd, '')::date, gender = u.gd,
		type = u.ty, status = u.st, company_name = u.co, avatar_url = u.av, source = u.so, notes = u.no,
		attributes = u.at::jsonb, website = u.we, tax_id = u.tx, updated = now()
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
			$18::text[], $19::text[], $20::text[])
			AS u(id, fn, ln, nm, em, ph, pv, px, bd, gd, ty, st, co, av, so, no, at, we, tx)
		WHERE c.organization_id = $1 AND c.id = u.id`
	sqlBulkAddTags = `INSERT INTO customer_tags (organization_id, customer_id, location_id, tag)
		SELECT $1, c, l, t FROM unnest($2::text[], $3::text[], $4::text[]) AS u(c, l, t)
		ON CONFLICT DO NOTHING`
	sqlBulkAddMembers = `INSERT INTO group_members (organization_id, group_id, customer_id, location_id)
		SELECT $1, g, c, NULLIF($4, '') FROM unnest($2::text[], $3::text[]) AS u(g, c)
		WHERE EXISTS (SELECT 1 FROM customer_groups WHERE organization_id = $1 AND id = g)
		ON CONFLICT DO NOTHING`
	sqlBulkVisits = `INSERT INTO customer_locations (organization_id, customer_id, location_id, source)
		SELECT $1, c, $3, $4 FROM unnest($2::text[]) AS c
		ON CONFLICT (organization_id, customer_id, location_id) DO UPDATE SET last_seen = now()`
	sqlBulkAddresses = `INSERT INTO customer_addresses (organization_id, id, customer_id, label, address_line1,
		address_line2, city, state, country, postal_code, is_default)
		SELECT $1, u.id, u.c, u.lb, u.l1, u.l2, u.ci, u.st, u.co, u.pc,
			NOT EXISTS (SELECT 1 FROM customer_addresses a WHERE a.organization_id = $1 AND a.customer_id = u.c)
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
			AS u(id, c, lb, l1, l2, ci, st, co, pc)
		WHERE NOT EXISTS (SELECT 1 FROM customer_addresses a WHERE a.organization_id = $1 AND a.customer_id = u.c
			AND lower(a.address_line1) = lower(u.l1))`
	sqlBulkAudit = `INSERT INTO audit_events (organization_id, customer_id, type, source, import_id, location_id, changes)
		SELECT $1, c, t, $4, $5, NULLIF($6, ''), ch::jsonb FROM unnest($2::text[], $3::text[], $7::text[]) AS u(c, t, ch)`
	// DO NOTHING: a dismissed or merged pair is never reopened (and one
	// chunk may name a pair twice, which DO UPDATE refuses).
	sqlBulkPairs = `INSERT INTO duplicate_suggestions (organization_id, customer_a, customer_b, reasons, score)
		SELECT $1, a, b, ARRAY[r], 0.9 FROM unnest($2::text[], $3::text[], $4::text[]) AS u(a, b, r)
		ON CONFLICT (organization_id, customer_a, customer_b) DO NOTHING`
)

// customerColumnsArgs lays customers out as the column arrays of the bulk
// statements: id fn ln nm em ph pv px bd gd ty st co av so no at we tx.
func customerColumnsArgs(orgID string, cs []*customer.Customer) []any {
	n := len(cs)
	text := func(get func(c *customer.Customer) string) []string {
		col := make([]string, n)
		for i, c := range cs {
			col[i] = get(c)
		}
		return col
	}
	valid := make([]bool, n)
	for i, c := range cs {
		valid[i] = c.PhoneValid
	}
	attrs := text(func(c *customer.Customer) string { return attributesJSON(c.Attributes) })
	return []any{orgID,
		text(func(c *customer.Customer) string { return c.ID }),
		text(func(c *customer.Customer) string { return c.FirstName }),
		text(func(c *customer.Customer) string { return c.LastName }),
		text(func(c *customer.Customer) string { return c.Name }),
		text(func(c *customer.Customer) string { return c.Email }),
		text(func(c *customer.Customer) string { return c.Phone }),
		valid,
		text(func(c *customer.Customer) string { return c.PhoneExtension }),
		text(func(c *customer.Customer) string { return c.Birthdate }),
		text(func(c *customer.Customer) string { return c.Gender }),
		text(func(c *customer.Customer) string { return c.Type }),
		text(func(c *customer.Customer) string { return c.Status }),
		text(func(c *customer.Customer) string { return c.CompanyName }),
		text(func(c *customer.Customer) string { return c.AvatarURL }),
		text(func(c *customer.Customer) string { return c.Source }),
		text(func(c *customer.Customer) string { return c.Notes }),
		attrs,
		text(func(c *customer.Customer) string { return c.Website }),
		text(func(c *customer.Customer) string { return c.TaxID }),
	}
}

// attributesJSON is the attributes' JSON for a jsonb column: by hand when
// every value is a string (an import's), else json.Marshal's (1 µs a
// customer). The text may differ from json.Marshal's in escapes (<, >, &),
// never in the jsonb value.
func attributesJSON(a map[string]any) string {
	if len(a) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(a))
	n := 2
	for k, v := range a {
		s, ok := v.(string)
		if !ok || !utf8.ValidString(k) || !utf8.ValidString(s) {
			b, _ := json.Marshal(a)
			return string(b)
		}
		keys = append(keys, k)
		n += len(k) + len(s) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = customer.AppendJSONString(b, k)
		b = append(b, ':')
		b = customer.AppendJSONString(b, a[k].(string))
	}
	return string(append(b, '}'))
}

// queueBulkCustomers queues inserts of created and updates of changed customers.
func queueBulkCustomers(b *pgx.Batch, orgID string, created, updated []*customer.Customer) {
	if len(created) > 0 {
		b.Queue(sqlBulkInsertCustomers, customerColumnsArgs(orgID, created)...)
	}
	if len(updated) > 0 {
		b.Queue(sqlBulkUpdateCustomers, customerColumnsArgs(orgID, updated)...)
	}
}
