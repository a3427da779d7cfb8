package customer

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID prefixes: one per resource kind so an id says what it names.
const (
	PrefixCustomer = "cust"
	PrefixAddress  = "addr"
	PrefixGroup    = "grp"
	PrefixContact  = "cont"
	PrefixLocation = "loc"
	PrefixImport   = "imp"
	PrefixOrder    = "ord"
	PrefixJob      = "job"
	PrefixOrg      = "org"
	PrefixKey      = "key"
	PrefixWebhook  = "whk"
	// PrefixCreditCheck names stored credit checks (never shown in the API).
	PrefixCreditCheck = "chk"
	// PrefixMerge names a merge of one customer into another (unmerge undoes it).
	PrefixMerge = "mrg"
)

// NewID returns prefix_<ulid>: URL-safe, time-sortable (48-bit ms clock) and
// unguessable (80 random bits from crypto/rand).
func NewID(prefix string) string {
	id := ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader)
	return prefix + "_" + strings.ToLower(id.String())
}

// HasPrefix reports whether id is of the given kind.
func HasPrefix(id, prefix string) bool { return strings.HasPrefix(id, prefix+"_") }
