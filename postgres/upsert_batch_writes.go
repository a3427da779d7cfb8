// An upsert batch's customers written set-based: one statement for every
// customer it created and one for every customer it changed, rather than
// one per customer.

package postgres

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

const (
	// sqlInsertCustomer's columns over arrays (customerArgs' order). One
	// statement also fires the customers' suggest trigger once a batch.
	sqlBatchInsertCustomers = `INSERT INTO customers ` + insertCustomerColumns + `
		SELECT $1, u.id, u.fn, u.ln, u.nm, u.em, u.ph, u.pv, u.px, NULLIF(u.bd, '')::date, u.gd, u.ty, u.st, u.co,
			u.av, u.so, u.no, u.at::jsonb, u.we, u.tx, u.fx, u.ba::jsonb, u.sa::jsonb, u.pt, u.cu, u.cl::numeric,
			u.dr::numeric, u.ps, coalesce(u.cs, now())
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
			$18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[],
			$26::text[], $27::text[], $28::text[], $29::timestamptz[])
			AS u(id, fn, ln, nm, em, ph, pv, px, bd, gd, ty, st, co, av, so, no, at, we, tx, fx, ba, sa, pt, cu, cl, dr, ps, cs)`
	// sqlUpdateCustomer over arrays.
	sqlBatchUpdateCustomers = `UPDATE customers c SET first_name = u.fn, last_name = u.ln, name = u.nm,
		email = u.em, phone = u.ph, phone_valid = u.pv, phone_ext = u.px, birthdate = NULLIF(u.bd, '')::date,
		gender = u.gd, type = u.ty, status = u.st, company_name = u.co, avatar_url = u.av, source = u.so,
		notes = u.no, attributes = u.at::jsonb, website = u.we, tax_id = u.tx, fax = u.fx,
		billing_address = u.ba::jsonb, shipping_address = u.sa::jsonb, payment_terms = u.pt, currency = u.cu,
		credit_limit = u.cl::numeric, discount_rate = u.dr::numeric, preferred_shipping = u.ps,
		customer_since = coalesce(u.cs, c.customer_since), updated = now()
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
			$18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[],
			$26::text[], $27::text[], $28::text[], $29::timestamptz[])
			AS u(id, fn, ln, nm, em, ph, pv, px, bd, gd, ty, st, co, av, so, no, at, we, tx, fx, ba, sa, pt, cu, cl, dr, ps, cs)
		WHERE c.organization_id = $1 AND c.id = u.id`
	// A batch's audit events and job completions in one statement: its
	// events in its requests' order, each with its job; the jobs whose rows
	// the API wrote completed, the others' rows written completed.
	sqlBatchAuditAndJobs = `WITH audit AS (
			INSERT INTO audit_events (organization_id, customer_id, type, source, job_id, location_id, changes)
			SELECT $1, c, t, s, j, NULLIF(l, ''), ch::jsonb
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(c, t, s, j, l, ch)),
		done AS (
			UPDATE jobs SET state = 'completed', result = u.r::jsonb, completed = now(), attempts = attempts + 1
			FROM unnest($8::text[], $9::text[]) AS u(id, r) WHERE organization_id = $1 AND jobs.id = u.id)
		INSERT INTO jobs (organization_id, id, type, payload, request_hash, state, result, completed, attempts)
		SELECT $1, id, t, p::jsonb, h, 'completed', r::jsonb, now(), 1
		FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[]) AS u(id, t, p, h, r)
		ON CONFLICT (organization_id, id) DO UPDATE SET state = 'completed', result = EXCLUDED.result,
			completed = now(), attempts = jobs.attempts + 1`
)

// queueBatchWorkspace queues what queueWorkspace does for a batch's
// workspace, which holds no merge (runBatchSet leaves those to the
// per-request path): its customers set-based, then its keys.
func queueBatchWorkspace(b *pgx.Batch, orgID string, w *dedupe.Workspace, owners map[dedupe.Key]string) {
	if created := w.Created(); len(created) > 0 {
		b.Queue(sqlBatchInsertCustomers, batchCustomerArgs(orgID, created)...)
	}
	if updated := w.Updated(); len(updated) > 0 {
		cs := make([]*customer.Customer, 0, len(updated))
		for _, id := range slices.Sorted(maps.Keys(updated)) {
			cs = append(cs, w.Customer(id))
		}
		b.Queue(sqlBatchUpdateCustomers, batchCustomerArgs(orgID, cs)...)
	}
	queueKeys(b, orgID, w, owners)
	queueSharedWrites(b, orgID, w)
}

// batchCustomerArgs lays customers out as the arrays of the batch
// statements, in customerArgs' order and with the values it would bind.
func batchCustomerArgs(orgID string, cs []*customer.Customer) []any {
	n := len(cs)
	cols := make([][]string, 25)
	for i := range cols {
		cols[i] = make([]string, n)
	}
	valid := make([]bool, n)
	billing, shipping := make([]*string, n), make([]*string, n)
	since := make([]*time.Time, n)
	for i, c := range cs {
		attrs := "{}"
		if len(c.Attributes) > 0 {
			b, _ := json.Marshal(c.Attributes)
			attrs = string(b)
		}
		for j, v := range []string{c.ID, c.FirstName, c.LastName, c.Name, c.Email, c.Phone, c.PhoneExtension,
			c.Birthdate, c.Gender, c.Type, c.Status, c.CompanyName, c.AvatarURL, c.Source, c.Notes, attrs,
			c.Website, c.TaxID, c.Fax, c.PaymentTerms, c.Currency,
			strconv.FormatFloat(c.CreditLimit, 'f', -1, 64), strconv.FormatFloat(c.DiscountRate, 'f', -1, 64),
			c.PreferredShipping} {
			cols[j][i] = v
		}
		valid[i] = c.PhoneValid
		billing[i], shipping[i] = jsonOrNull(c.BillingAddress), jsonOrNull(c.ShippingAddress)
		since[i] = c.CustomerSince
	}
	// id fn ln nm em ph pv px bd gd ty st co av so no at we tx fx ba sa pt cu cl dr ps cs
	return []any{orgID, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], valid, cols[6],
		cols[7], cols[8], cols[9], cols[10], cols[11], cols[12], cols[13], cols[14], cols[15],
		cols[16], cols[17], cols[18], billing, shipping, cols[19], cols[20], cols[21], cols[22], cols[23], since}
}

// jsonOrNull is an address as JSON text, nil for none (SQL NULL).
func jsonOrNull(a *customer.PostalAddress) *string {
	if a == nil {
		return nil
	}
	b, _ := json.Marshal(a)
	s := string(b)
	return &s
}
