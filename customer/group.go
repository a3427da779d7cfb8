package customer

import "time"

// Group is a named segment of an organization's customers (seed 002):
// VIPs, wholesale buyers, loyalty tiers. Deleting one keeps its customers.
type Group struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// CustomerCount is the number of members, so lists need no second call.
	CustomerCount int       `json:"customer_count"`
	Created       time.Time `json:"created"`
	Updated       time.Time `json:"updated"`
}

// MembershipChange is the outcome of adding customers to a group: adding is
// idempotent, so customers already in it are counted, not refused.
type MembershipChange struct {
	GroupID        string `json:"group_id"`
	Added          int    `json:"added"`
	AlreadyMembers int    `json:"already_members"`
	CustomerCount  int    `json:"customer_count"`
}
