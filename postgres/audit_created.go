package postgres

import "strconv"

// The customer.created events of an import chunk's new customers, kept as
// arrays in audit_created (migration 00048): one row per 500 customers of
// the chunk's statement instead of one audit_events row and two index
// entries each. Readers see the same events: createdEvents rebuilds them
// with audit_events' columns, ids and types.

// createdEventsPerRow is how many customers one audit_created row holds:
// a history read opens (detoasts) one such row for its customer.
const createdEventsPerRow = 500

// sqlBulkCreatedAudit writes the events of the created customers $5 (in
// the order the chunk created them). nextval runs after the ORDER BY (a
// volatile target), so ids follow that order, as one row each did.
var sqlBulkCreatedAudit = `INSERT INTO audit_created (organization_id, import_id, source, location_id, first_event,
		min_customer, max_customer, customer_ids, event_ids)
	SELECT $1, $2, $3, NULLIF($4, ''), min(e), min(c), max(c), array_agg(c ORDER BY o), array_agg(e ORDER BY o)
	FROM (SELECT c, o, nextval('audit_events_id_seq') AS e FROM unnest($5::text[]) WITH ORDINALITY AS u(c, o) ORDER BY o) x
	GROUP BY (o - 1) / ` + strconv.Itoa(createdEventsPerRow)

// createdEvents is a subquery with audit_events' columns listing the
// array-kept creation events of the customers of organization $1 that
// match where (over customers c).
func createdEvents(where string) string {
	return createdRows(`b.organization_id, b.event_ids[p.i] AS id, c.id AS customer_id, '`+EventCreated+`'::text AS type,
			b.source, NULL::text AS job_id, b.import_id, b.location_id, '{}'::jsonb AS changes, b.created`, where)
}

// createdRows selects cols over each customer c of organization $1 matching
// where and the audit_created row b holding its creation, at position p.i.
// The row is found by the customer's created (the chunk's transaction time,
// also the row's) and its id bounds: one row opened per customer.
func createdRows(cols, where string) string {
	return `SELECT ` + cols + `
		FROM customers c
		JOIN audit_created b ON b.organization_id = c.organization_id AND b.created = c.created
			AND c.id BETWEEN b.min_customer AND b.max_customer
		CROSS JOIN LATERAL (SELECT array_position(b.customer_ids, c.id) AS i) p
		WHERE c.organization_id = $1 AND (` + where + `) AND p.i IS NOT NULL`
}

// auditTrail is audit_events with the array-kept creation events of the
// customers matching where: a subquery of the same columns.
func auditTrail(eventsWhere, customersWhere string) string {
	return `(SELECT organization_id, id, customer_id, type, source, job_id, import_id, location_id, changes, created
		FROM audit_events WHERE organization_id = $1 AND (` + eventsWhere + `)
		UNION ALL ` + createdEvents(customersWhere) + `)`
}
