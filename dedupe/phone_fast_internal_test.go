package dedupe

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// slowPossible is parsePossible without the fast path.
func slowPossible(number, region string) (phoneResult, bool) {
	num, err := phonenumbers.Parse(number, region)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return phoneResult{}, false
	}
	detected, valid := regionAndValidity(num)
	return phoneResult{number: phonenumbers.Format(num, phonenumbers.E164), valid: valid, region: detected}, true
}

// slowParsePossible is parsePossible as it was before any shortcut: Parse,
// the region scan, and the re-read check for invalid numbers.
func slowParsePossible(number, region string) (phoneResult, bool) {
	r, ok := slowPossible(number, region)
	if !ok || r.valid {
		return r, ok
	}
	again, err := phonenumbers.Parse(r.number, "")
	if err != nil || !phonenumbers.IsPossibleNumber(again) || phonenumbers.Format(again, phonenumbers.E164) != r.number {
		return phoneResult{}, false
	}
	return r, true
}

// The fast path must agree with phonenumbers.Parse wherever it answers:
// random numbers of every calling code, international and NANP national.
func TestFastPathAgreesWithParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	answered := 0
	codes := make([]int, 0, len(callingCodes))
	for c := range callingCodes {
		codes = append(codes, c)
	}
	n := 0
	check := func(number, region string) {
		// Every fourth number, valid or not, goes through the whole of
		// parsePossible, whose shortcuts must not change a result.
		if n++; n%4 == 0 {
			got, gok := parsePossible(number, region)
			want, wok := slowParsePossible(number, region)
			if got != want || gok != wok {
				t.Fatalf("%q (%s): parsePossible %+v %v, without shortcuts %+v %v", number, region, got, gok, want, wok)
			}
		}
		fast, ok := fastValid(number, region)
		if !ok {
			return
		}
		answered++
		slow, sok := slowPossible(number, region)
		if !sok || slow != fast {
			t.Fatalf("%q (%s): fast %+v, Parse %+v (ok %v)", number, region, fast, slow, sok)
		}
	}
	for range 40000 {
		cc := codes[rng.IntN(len(codes))]
		n := 4 + rng.IntN(10)
		national := fmt.Sprint(1 + rng.IntN(9))
		for range n - 1 {
			national += fmt.Sprint(rng.IntN(10))
		}
		check(fmt.Sprintf("+%d%s", cc, national), "")
	}
	for _, region := range []string{"US", "CA", "JM", "PR"} {
		for range 5000 {
			d := fmt.Sprintf("%d%09d", 2+rng.IntN(8), rng.IntN(1e9))
			check(d, region)
			check("1"+d, region)
		}
	}
	// National numbers longer than NANP's, as files typed for other
	// countries without a "+" hold them, every one through parsePossible
	// (tooLongNANP): leading zeros, "011" and a trunk "1" included.
	for _, region := range []string{"US", "CA", "JM", "PR", "DO", "BS"} {
		for range 400 { // under -race each is a full parse: 9,600 numbers in all
			d := fmt.Sprint(rng.IntN(10))
			for range 10 + rng.IntN(8) {
				d += fmt.Sprint(rng.IntN(10))
			}
			for _, number := range []string{d, "0" + d, "011" + d[:min(len(d), 14)], "1" + d} {
				got, gok := parsePossible(number, region)
				want, wok := slowParsePossible(number, region)
				if got != want || gok != wok {
					t.Fatalf("%q (%s): parsePossible %+v %v, without shortcuts %+v %v", number, region, got, gok, want, wok)
				}
			}
		}
	}
	// Every libphonenumber example number in E.164.
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE} {
			if ex := phonenumbers.GetExampleNumberForType(region, typ); ex != nil {
				check(phonenumbers.Format(ex, phonenumbers.E164), "")
			}
		}
	}
	if answered < 5000 {
		t.Fatalf("fast path answered only %d times", answered)
	}
}

func BenchmarkNormalizePhoneBulk(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		NormalizePhone(fmt.Sprintf("+1 415 555 %04d", i%10000), "US")
	}
}
