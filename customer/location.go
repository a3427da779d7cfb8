package customer

import "time"

// Location is one of a merchant's stores or branches. Its defaults apply to
// customers created or seen there.
type Location struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Code            string    `json:"code"`
	DefaultRegion   string    `json:"default_region"`
	Timezone        string    `json:"timezone"`
	DefaultTags     []string  `json:"default_tags"`
	DefaultGroupIDs []string  `json:"default_group_ids"`
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
}

// Placement is what a write records besides the customer's own fields: the
// location it happened at (none: org-wide), the source of the visit and the
// tags applied there.
type Placement struct {
	LocationID string
	Source     string
	Tags       []string
	// ReplaceTags makes Tags replace the customer's tags at LocationID
	// instead of adding to them; a nil Tags leaves them alone either way.
	ReplaceTags bool
}

// DefaultAddressLabel names an address given without a label (the
// location-scoped API accepts a bare string).
const DefaultAddressLabel = "Primary"
