package customer

import "time"

// SharedIdentifier is an email or phone several people carry (SPEC §10.1):
// blocklisted, or found on customers whose names clearly differ. It is kept
// on each of them but decides no match alone.
type SharedIdentifier struct {
	Kind          string    `json:"kind"`  // email | phone
	Value         string    `json:"value"` // as a carrier stored it (phones: E.164 when possible)
	Reason        string    `json:"reason"`
	CustomerCount int       `json:"customer_count"`
	Since         time.Time `json:"since"`
}
