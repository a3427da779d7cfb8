// Package dedupe holds the pure normalization rules that decide when two
// customer records share an identity: emails, phones, names, match keys and
// the junk-identifier blocklist.
//
// Nothing here does I/O or imports a database or queue package, so the rules
// can be table-tested and fuzzed in isolation and reused by every caller.
package dedupe

import "errors"

// ErrEmpty reports that an input was empty or blank after trimming.
var ErrEmpty = errors.New("empty")

// InvalidError reports an input that is present but unusable. Field is the
// input's name ("email", "phone") and Reason a short human explanation that
// can be shown to API users as is.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return e.Field + " " + e.Reason
}
