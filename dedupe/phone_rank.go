// Which of two phones a customer keeps as primary, and the warnings about
// phones kept invalid.

package dedupe

import (
	"github.com/linkitworks/customers/customer"
)

// phoneRank compares the record's phone with c's primary: -1 when the
// primary is valid and the record's is not, +1 the other way round, else 0.
// A valid number is never demoted in favour of an invalid one, whatever the
// policy (SPEC §10.1): a location whose region misreads a foreign number
// ("(415) 555-0100" in SA) must not push out the number the customer is
// reachable on; the invalid one is kept as an alias instead, so the customer
// is still found through it, and PhoneWarnings says so. For the same reason
// a valid number takes the place of an invalid primary (which stays as an
// alias) under fill_blanks too: an undiallable phone is as good as blank.
func phoneRank(c *customer.Customer, in *Incoming) int {
	switch {
	case c.Phone == "" || c.PhoneValid == in.PhoneValid:
		return 0
	case c.PhoneValid:
		return -1
	}
	return 1
}

// PhoneWarnings are the warnings about the record's phone once it was
// applied to customerID (the Result's customer): an invalid phone the
// customer now carries, as its primary or as an alias beside a valid one,
// is kept but the caller should know it cannot be dialled as stored.
func (w *Workspace) PhoneWarnings(in *Incoming, customerID string) []Warning {
	if in.Phone == "" || in.PhoneValid || w.owners[Key{KindPhone, in.PhoneKey}] != customerID {
		return nil
	}
	warn := InvalidPhoneWarning(in.Phone)
	if c := w.customers[customerID]; c != nil && c.Phone != in.Phone {
		warn.Message = "phone " + in.Phone + " is not a valid number; kept as an alias"
		if c.PhoneValid {
			warn.Message += ", the valid " + c.Phone + " stays primary"
		}
	}
	return []Warning{warn}
}

// InvalidPhoneWarning is the warning about a customer's primary phone
// stored although it is not a valid number.
func InvalidPhoneWarning(phone string) Warning {
	return Warning{Code: WarningInvalidPhone, Field: "phone", Message: "phone " + phone + " is not a valid number; kept as given"}
}
