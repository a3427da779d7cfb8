// Reverting the merges an import made (issue 20): what a merge moved
// (merge.go sqlMergeCustomer) goes back to the customer it came from, from
// the images the chunk took of the customers its merges involved
// (import_changes.go mergedImageFields). A merge group is reverted in one
// transaction, together, or kept together.

package postgres

const (
	sqlRevertNextMerged = `SELECT customer_id FROM import_changes
		WHERE organization_id = $1 AND import_id = $2 AND outcome IS NULL AND merged ORDER BY customer_id`
	// A group one of whose customers is kept is kept whole: the others'
	// identifiers, orders or addresses may sit on the kept one.
	sqlRevertKeepGroups = `UPDATE import_changes SET outcome = 'kept',
			reason = 'merged by the import with a customer kept: unmerge it instead'
		WHERE organization_id = $1 AND import_id = $2 AND merge_group = ANY($3) AND outcome IS DISTINCT FROM 'kept'`

	// What the merges moved goes back first, before a created survivor is
	// deleted (orders have no cascade) and before the rollups are recomputed.
	sqlRevertOrders = `UPDATE orders o SET customer_id = ch.customer_id, updated = x.updated
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_to_recordset(ch.before->'orders') AS x(id text, updated timestamptz)
		WHERE o.organization_id = $1 AND o.id = x.id`
	sqlRevertContacts = `UPDATE customer_contacts k SET customer_id = ch.customer_id, is_primary = x.is_primary
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_to_recordset(ch.before->'contacts') AS x(id text, is_primary boolean)
		WHERE k.organization_id = $1 AND k.id = x.id`
	sqlRevertCreditChecks = `UPDATE credit_checks k SET customer_id = ch.customer_id
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_array_elements_text(ch.before->'credit_checks') AS x(id)
		WHERE k.organization_id = $1 AND k.id = x.id`
	sqlRevertRedirects = `UPDATE customers r SET merged_into = ch.customer_id, updated = x.updated
		` + revertImagesOf + ` CROSS JOIN LATERAL jsonb_to_recordset(ch.before->'redirects') AS x(id text, updated timestamptz)
		WHERE r.organization_id = $1 AND r.id = x.id`
	// Pairs: as they were (a merge resolves the source's open pairs).
	// A pair of two merged customers is in both images: once.
	sqlRevertPairs = `INSERT INTO duplicate_suggestions
		SELECT DISTINCT ON (x.customer_a, x.customer_b) x.* ` + revertImagesOf + `
		CROSS JOIN LATERAL jsonb_populate_recordset(NULL::duplicate_suggestions, ch.before->'pairs') x
		ON CONFLICT (organization_id, customer_a, customer_b) DO UPDATE SET reasons = EXCLUDED.reasons,
			score = EXCLUDED.score, status = EXCLUDED.status, created = EXCLUDED.created, updated = EXCLUDED.updated,
			id = EXCLUDED.id, source = EXCLUDED.source, resolved = EXCLUDED.resolved`
	// The merges themselves are gone: nothing is left to unmerge.
	sqlRevertMergeRecords = `DELETE FROM customer_merges WHERE organization_id = $1 AND import_id = $2
		AND (source_id = ANY($3) OR survivor_id = ANY($3))`
)
