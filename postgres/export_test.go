package postgres

// Statements the external tests inspect.
var (
	SQLRowsByOwner      = sqlRowsByOwner
	SQLRowsByOwnerProbe = sqlRowsByOwnerProbe
	SQLBeginNoNestLoop  = sqlBeginNoNestLoop
	SQLChunkRows        = sqlChunkRows
	// SQLEraseImportCreated takes the eight parameters of every erase step.
	SQLEraseImportCreated = sqlEraseImportCreated
	// SQLCreatedEvent writes customer $2's creation event of import
	// 'imp_big' of org_er in an audit_created row, as a chunk does.
	SQLCreatedEvent = `INSERT INTO audit_created (organization_id, import_id, source, first_event, min_customer,
		max_customer, customer_ids, event_ids)
		SELECT 'org_er', 'imp_big', 'import', e, $2, $2, ARRAY[$2::text], ARRAY[e]
		FROM (SELECT nextval('audit_events_id_seq') AS e) s`
	SQLAnalyzeStaging = sqlAnalyzeStaging
	SQLFatRows        = sqlFatRows
)

// CustomerListQuery is the page query of a customer list.
var CustomerListQuery = customerListQuery

// The staged record's codec.
var (
	AppendImportRecord = appendImportRecord
	DecodeImportRecord = decodeImportRecord
)

// SendLargeBatch is how a chunk sends its writes.
var SendLargeBatch = sendLargeBatch
