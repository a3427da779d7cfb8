// The matching options of one record and their translation from an organization's settings.

package dedupe

import (
	"slices"

	"github.com/linkitworks/customers/customer"
)

// Policy says how a matched customer's fields take new values.
type Policy string

// Policies lists the accepted merge policies; merge_conflicts is fill_blanks
// that also merges conflicting customers into the match.
var Policies = []string{string(FillBlanks), string(Overwrite), string(DoNotUpdate), "merge_conflicts"}

// DefaultPriority is the match-key precedence of SPEC §6.
var DefaultPriority = []string{KindExternal, KindEmail, KindPhone}

// Options are an organization's matching rules for one record.
type Options struct {
	Policy         Policy   `json:"policy,omitempty"`
	MergeConflicts bool     `json:"merge_conflicts,omitempty"`
	Priority       []string `json:"priority,omitempty"` // key kinds in precedence order; nil = DefaultPriority
	// NameCheck refuses a candidate whose name clearly differs from the
	// record's (SPEC §10.1). Off in the zero value, so a task queued before
	// settings existed matches as it did.
	NameCheck bool `json:"name_check,omitempty"`
	// Blocklist holds the organization's blocklisted emails and phones, as
	// its settings store them; the store compiles it once per workspace.
	Blocklist []string `json:"blocklist,omitempty"`
	// CanonicalEmails: email keys ignore provider dots and +tags.
	CanonicalEmails bool `json:"canonical_emails,omitempty"`
}

// OptionsOf turns an organization's settings into matching options, with
// policy the request's merge_policy ("" = the settings' default).
func OptionsOf(st customer.Settings, policy string) Options {
	if policy == "" {
		policy = st.DefaultMergePolicy
	}
	o := Options{NameCheck: st.NameCheck, CanonicalEmails: st.EmailCanonicalization}
	switch policy {
	case string(Overwrite):
		o.Policy = Overwrite
	case string(DoNotUpdate):
		o.Policy = DoNotUpdate
	case "merge_conflicts":
		o.Policy, o.MergeConflicts = FillBlanks, true
	default:
		o.Policy = FillBlanks
	}
	for _, k := range st.MatchKeys {
		if k == customer.MatchKeyExternalID {
			k = KindExternal
		}
		o.Priority = append(o.Priority, k)
	}
	o.Blocklist = slices.Concat(st.Blocklist.Emails, st.Blocklist.Phones)
	return o
}
