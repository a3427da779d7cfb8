// What matching answers about one record: the result, conflicts and warnings.

package dedupe

// Conflict names another customer owning one of the record's identifiers.
type Conflict struct {
	Field      string `json:"field"`
	CustomerID string `json:"customer_id"`
}

// Actions reported for a record.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
)

// Result is what happened to one record.
type Result struct {
	CustomerID string     `json:"customer_id"`
	Action     string     `json:"action"`
	MatchedOn  *string    `json:"matched_on"`
	Conflicts  []Conflict `json:"conflicts"`
	Merged     []string   `json:"merged,omitempty"` // customers merged into this one
	Warnings   []Warning  `json:"warnings,omitempty"`
}

// Warning is something the caller should know about a record that was still
// applied (SPEC §10.1): answered as meta.warnings on an upsert, a row warning
// in an import.
type Warning struct {
	Code       string `json:"code"` // WarningSharedIdentifier, WarningInvalidPhone
	Field      string `json:"field"`
	CustomerID string `json:"customer_id,omitempty"` // the other customer, for a shared identifier
	Message    string `json:"message,omitempty"`
}

// Warning codes.
const (
	WarningSharedIdentifier = "shared_identifier" // the identifier belongs to several people
	WarningInvalidPhone     = "invalid_phone"     // the phone kept is not a valid number
)
