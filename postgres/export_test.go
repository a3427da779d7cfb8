package postgres

// Statements the external tests inspect.
var (
	SQLRowsByOwner      = sqlRowsByOwner
	SQLRowsByOwnerProbe = sqlRowsByOwnerProbe
	SQLBeginNoNestLoop  = sqlBeginNoNestLoop
	SQLChunkRows        = sqlChunkRows
)
