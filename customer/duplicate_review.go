package customer

import "time"

// Duplicate review statuses (SPEC §10.2).
const (
	DuplicateOpen      = "open"
	DuplicateDismissed = "dismissed"
	DuplicateMerged    = "merged"
)

// DuplicateStatuses lists the statuses a pair can have.
var DuplicateStatuses = []string{DuplicateOpen, DuplicateDismissed, DuplicateMerged}

// Duplicate is a suggested pair of customers that may be one person.
type Duplicate struct {
	ID          string     `json:"id"`
	CustomerIDs [2]string  `json:"customer_ids"`
	Score       float64    `json:"score"`
	Reasons     []string   `json:"reasons"`
	Status      string     `json:"status"`
	Source      string     `json:"source"` // engine | fuzzy
	Created     time.Time  `json:"created"`
	Resolved    *time.Time `json:"resolved"`
}

// reasonText turns the engine's reason codes into the plain phrases the
// review shows; the fuzzy scorer already writes phrases, kept as they are.
var reasonText = map[string]string{
	"shared_identifier": "same identifier, different names",
	"same external_id":  "same external id",
	"unmerged":          "unmerged: not the same person",
}

// ReadableReasons maps stored reasons to what a reviewer reads.
func ReadableReasons(codes []string) []string {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		if t, ok := reasonText[c]; ok {
			c = t
		}
		out = append(out, c)
	}
	return out
}
