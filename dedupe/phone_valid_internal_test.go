package dedupe

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"
)

// libraryRegionAndValidity is what regionAndValidity must answer:
// phonenumbers' own region and validity.
func libraryRegionAndValidity(num *phonenumbers.PhoneNumber) (string, bool) {
	detected := phonenumbers.GetRegionCodeForNumber(num)
	valid := detected != "" && phonenumbers.IsValidNumberForRegion(num, detected)
	if detected == "001" || detected == phonenumbers.UNKNOWN_REGION {
		detected = ""
	}
	return detected, valid
}

// A customer's phone keeps the region and validity phonenumbers gives it:
// every region's example numbers of every type, and random national numbers
// of every length for every calling code.
func TestRegionAndValidityAgrees(t *testing.T) {
	check := func(num *phonenumbers.PhoneNumber) {
		t.Helper()
		gr, gv := regionAndValidity(num)
		wr, wv := libraryRegionAndValidity(num)
		if gr != wr || gv != wv {
			t.Fatalf("+%d %d (leading zero %v): region %q valid %v, phonenumbers says %q %v",
				num.GetCountryCode(), num.GetNationalNumber(), num.GetItalianLeadingZero(), gr, gv, wr, wv)
		}
	}
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER,
		phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL}
	examples, valid := 0, 0
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range types {
			if num := phonenumbers.GetExampleNumberForType(region, typ); num != nil {
				check(num)
				examples++
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for cc := range callingCodes {
		for length := 4; length <= 14; length++ {
			for range 40 {
				national := strconv.Itoa(1 + rng.IntN(9))
				for len(national) < length {
					national += strconv.Itoa(rng.IntN(10))
				}
				n, _ := strconv.ParseUint(national, 10, 64)
				num := &phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(n)}
				if rng.IntN(8) == 0 {
					num.ItalianLeadingZero = proto.Bool(true)
				}
				check(num)
				if _, v := regionAndValidity(num); v {
					valid++
				}
			}
		}
	}
	if examples < 1000 || valid < 1000 {
		t.Fatalf("too few cases: %d examples, %d valid random numbers", examples, valid)
	}
}
