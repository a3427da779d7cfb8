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
	// Built in one buffer, lower-cased in place: an import creates a
	// customer id per new row, and String, ToLower and the concatenation
	// were three allocations.
	buf := make([]byte, len(prefix)+1+ulid.EncodedSize)
	copy(buf, prefix)
	buf[len(prefix)] = '_'
	_ = id.MarshalTextTo(buf[len(prefix)+1:])
	for i := len(prefix) + 1; i < len(buf); i++ {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + ('a' - 'A')
		}
	}
	return string(buf)
}

// HasPrefix reports whether id is of the given kind.
func HasPrefix(id, prefix string) bool { return strings.HasPrefix(id, prefix+"_") }
