package customer

import "time"

// Settings are an organization's matching rules (SPEC §10.1). Every path that
// matches — upsert, imports of customers and orders, orders, unified customer —
// reads them, and a change applies from the next request on.
type Settings struct {
	// DefaultRegion parses phone numbers without a country code where the
	// location has none ("" = none). It replaces the region fixed at org creation.
	DefaultRegion string `json:"default_region"`
	// MatchKeys are the identifier kinds that match, in precedence order:
	// a subset of "external_id", "email", "phone".
	MatchKeys []string `json:"match_keys"`
	// EmailCanonicalization ignores gmail/googlemail dots and +tags in the
	// match key only; the stored email is untouched.
	EmailCanonicalization bool `json:"email_canonicalization"`
	// DefaultMergePolicy applies when a request names none.
	DefaultMergePolicy string `json:"default_merge_policy"`
	// NameCheck refuses a candidate whose name clearly belongs to another
	// person; the identifier then becomes shared.
	NameCheck bool      `json:"name_check"`
	Blocklist Blocklist `json:"blocklist"`
	// RateLimit overrides the server's per-API-key request rates for this
	// organization's keys.
	RateLimit RateLimits `json:"rate_limit"`
	Updated   time.Time  `json:"updated"`
}

// RateLimits are requests per minute allowed to each API key, by bucket
// (upserts, uploads, everything else); nil takes the server's default.
type RateLimits struct {
	Default *int `json:"default"`
	Upsert  *int `json:"upsert"`
	Import  *int `json:"import"`
}

// MaxRateLimit bounds a rate limit setting (requests per minute): beyond it
// a limit means nothing a single key could reach.
const MaxRateLimit = 1_000_000

// Blocklist holds identifiers that never decide a match on their own (a
// store's phone, a family email, 0000000000), normalized like customers' own.
type Blocklist struct {
	Emails []string `json:"emails"`
	Phones []string `json:"phones"`
}

// Match key names as the settings spell them.
const (
	MatchKeyExternalID = "external_id"
	MatchKeyEmail      = "email"
	MatchKeyPhone      = "phone"
)

// DefaultSettings are an organization's settings until it changes them:
// matching as before settings existed, plus the name check.
func DefaultSettings() Settings {
	return Settings{
		MatchKeys:          []string{MatchKeyExternalID, MatchKeyEmail, MatchKeyPhone},
		DefaultMergePolicy: "fill_blanks",
		NameCheck:          true,
		Blocklist:          Blocklist{Emails: []string{}, Phones: []string{}},
	}
}
