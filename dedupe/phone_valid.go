// A number's region and validity with each pattern compiled once (issue 24).

package dedupe

import (
	"regexp"
	"slices"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// regionAndValidity is GetRegionCodeForNumber plus IsValidNumberForRegion
// for the region found, with the same answers (TestRegionAndValidityAgrees),
// in a third of the time: phonenumbers builds each number type's pattern
// string and looks its compiled regexp up by that string (hashing patterns of
// kilobytes) twice per type tested, and for the 25 NANP regions it tests
// the found region's types once more to say it is valid. Here each region's
// patterns are compiled once, a type is matched once, and a region found by
// its types is valid.
func regionAndValidity(num *phonenumbers.PhoneNumber) (string, bool) {
	detected, valid, ok := fastRegionAndValidity(num)
	if !ok {
		detected = phonenumbers.GetRegionCodeForNumber(num)
		valid = detected != "" && phonenumbers.IsValidNumberForRegion(num, detected)
	}
	if detected == "001" || detected == phonenumbers.UNKNOWN_REGION {
		detected = "" // non-geographic (+800…) or unknown
	}
	return detected, valid
}

// fastRegionAndValidity answers for geographic calling codes (ok false:
// ask phonenumbers).
func fastRegionAndValidity(num *phonenumbers.PhoneNumber) (region string, valid, ok bool) {
	cc := num.GetCountryCode()
	regions := phonenumbers.GetRegionCodesForCountryCode(int(cc))
	if len(regions) == 0 {
		return "", false, false
	}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	if len(regions) == 1 {
		p := regionPatternsOf(regions[0])
		if p == nil || p.countryCode != cc {
			return "", false, false
		}
		return regions[0], p.valid(nsn), true
	}
	// getRegionCodeForNumberFromRegionList: the first region whose leading
	// digits start the number, or whose number types take it.
	for _, r := range regions {
		p := regionPatternsOf(r)
		if p == nil || p.countryCode != cc {
			return "", false, false
		}
		if p.leading != nil {
			if p.leading.MatchString(nsn) {
				return r, p.valid(nsn), true
			}
		} else if p.valid(nsn) {
			return r, true, true
		}
	}
	return "", false, true
}

// descPattern is a number type's description: its lengths and its pattern,
// anchored as phonenumbers anchors it.
type descPattern struct {
	lengths []int32
	re      *regexp.Regexp
}

func newDescPattern(d *phonenumbers.PhoneNumberDesc) descPattern {
	return descPattern{lengths: d.GetPossibleLength(), re: regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$")}
}

// matches is phonenumbers' isNumberMatchingDesc.
func (d *descPattern) matches(nsn string) bool {
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(nsn))) {
		return false
	}
	return d.re.MatchString(nsn)
}

// regionPatterns are a region's compiled patterns.
type regionPatterns struct {
	countryCode int32
	leading     *regexp.Regexp // nil when the region has no leading digits
	general     descPattern
	// types are the number types getNumberTypeHelper tests, in its order:
	// premium rate … voicemail, fixed line, then mobile unless it shares
	// the fixed line's pattern (then phonenumbers does not test it).
	types []descPattern
}

// valid is getNumberTypeHelper(nsn) != UNKNOWN.
func (p *regionPatterns) valid(nsn string) bool {
	if !p.general.matches(nsn) {
		return false
	}
	for i := range p.types {
		if p.types[i].matches(nsn) {
			return true
		}
	}
	return false
}

var (
	regionPatternsBy sync.Map // region → *regionPatterns, built on first use
	regionMetadata   = sync.OnceValue(func() map[string]*phonenumbers.PhoneMetadata {
		m := map[string]*phonenumbers.PhoneMetadata{}
		if coll, err := phonenumbers.MetadataCollection(); err == nil {
			for _, md := range coll.GetMetadata() {
				if md.GetId() != "001" {
					m[md.GetId()] = md
				}
			}
		}
		return m
	})
)

// regionPatternsOf compiles a region's patterns once (nil: unknown region,
// or metadata phonenumbers would not read the same way).
func regionPatternsOf(region string) *regionPatterns {
	if p, ok := regionPatternsBy.Load(region); ok {
		return p.(*regionPatterns)
	}
	var p *regionPatterns
	if md := regionMetadata()[region]; md != nil {
		descs := []*phonenumbers.PhoneNumberDesc{md.GetGeneralDesc(), md.GetPremiumRate(), md.GetTollFree(),
			md.GetSharedCost(), md.GetVoip(), md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail(),
			md.GetFixedLine()}
		if !md.GetSameMobileAndFixedLinePattern() {
			descs = append(descs, md.GetMobile())
		}
		if !slices.Contains(descs, nil) {
			p = &regionPatterns{countryCode: md.GetCountryCode(), general: newDescPattern(descs[0])}
			for _, d := range descs[1:] {
				p.types = append(p.types, newDescPattern(d))
			}
			if ld := md.GetLeadingDigits(); ld != "" {
				p.leading = regexp.MustCompile("^(?:" + ld + ")")
			}
		}
	}
	// Two first uses at once compile twice; either result is the same.
	got, _ := regionPatternsBy.LoadOrStore(region, p)
	return got.(*regionPatterns)
}
