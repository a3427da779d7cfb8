package postgres

// Statements the external tests inspect.
var (
	SQLRowsByOwner      = sqlRowsByOwner
	SQLRowsByOwnerProbe = sqlRowsByOwnerProbe
	SQLBeginNoNestLoop  = sqlBeginNoNestLoop
	SQLChunkRows        = sqlChunkRows
	// SQLEraseImportCreated takes the eight parameters of every erase step.
	SQLEraseImportCreated = sqlEraseImportCreated
	SQLAnalyzeStaging     = sqlAnalyzeStaging
	SQLFatRows            = sqlFatRows
)

// CustomerListQuery is the page query of a customer list.
var CustomerListQuery = customerListQuery

// The staged record's codec.
var (
	AppendImportRecord = appendImportRecord
	DecodeImportRecord = decodeImportRecord
)
