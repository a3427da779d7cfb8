package dedupe

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// countryNames maps common English (and a few native) country names and
// abbreviations, folded by foldCountry, to ISO 3166-1 alpha-2. Other systems
// send "USA" or "United States" where we store "US"; this is not a gazetteer.
var countryNames = map[string]string{
	"unitedstates": "US", "unitedstatesofamerica": "US", "america": "US", "us": "US", "usa": "US",
	"unitedkingdom": "GB", "greatbritain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
	"northernireland": "GB", "uk": "GB",
	"canada": "CA", "mexico": "MX", "brazil": "BR", "argentina": "AR", "chile": "CL", "colombia": "CO", "peru": "PE",
	"germany": "DE", "deutschland": "DE", "france": "FR", "spain": "ES", "espana": "ES", "italy": "IT", "italia": "IT",
	"portugal": "PT", "netherlands": "NL", "thenetherlands": "NL", "holland": "NL", "belgium": "BE", "switzerland": "CH",
	"austria": "AT", "ireland": "IE", "sweden": "SE", "norway": "NO", "denmark": "DK", "finland": "FI", "poland": "PL",
	"greece": "GR", "turkey": "TR", "turkiye": "TR", "russia": "RU", "russianfederation": "RU", "ukraine": "UA",
	"saudiarabia": "SA", "ksa": "SA", "kingdomofsaudiarabia": "SA", "unitedarabemirates": "AE", "uae": "AE",
	"qatar": "QA", "kuwait": "KW", "bahrain": "BH", "oman": "OM", "jordan": "JO", "lebanon": "LB", "egypt": "EG",
	"morocco": "MA", "israel": "IL", "iraq": "IQ", "iran": "IR", "pakistan": "PK", "india": "IN", "bangladesh": "BD",
	"china": "CN", "prc": "CN", "hongkong": "HK", "taiwan": "TW", "japan": "JP", "southkorea": "KR", "korea": "KR",
	"republicofkorea": "KR", "singapore": "SG", "malaysia": "MY", "indonesia": "ID", "philippines": "PH",
	"thailand": "TH", "vietnam": "VN", "australia": "AU", "newzealand": "NZ", "southafrica": "ZA", "nigeria": "NG",
	"kenya": "KE", "czechrepublic": "CZ", "ivorycoast": "CI", "macao": "MO", "macau": "MO", "palestine": "PS",
	"vaticancity": "VA", "burma": "MM", "swaziland": "SZ", "easttimor": "TL", "capeverde": "CV",
}

func init() {
	// Short names CLDR does not list, folded like the rest.
	for name, code := range map[string]string{"السعودية": "SA", "الإمارات": "AE", "مصر": "EG", "الكويت": "KW"} {
		countryNames[foldCountry(name)] = code
	}
}

// localNames maps every ISO 3166-1 country's name in the languages
// merchants' files come in (CLDR's, through x/text: "Deutschland",
// "Royaume-Uni", "Estados Unidos", "المملكة العربية السعودية"), folded by
// foldCountry; countryNames wins where they overlap.
var localNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	namers := []display.Namer{display.English.Regions()}
	for _, t := range []language.Tag{language.French, language.German, language.Spanish, language.Portuguese,
		language.Italian, language.Dutch, language.Arabic, language.Turkish} {
		namers = append(namers, display.Regions(t))
	}
	for _, code := range strings.Fields(isoCountries) {
		r := language.MustParseRegion(code)
		for _, n := range namers {
			if k := foldCountry(n.Name(r)); k != "" {
				if _, taken := m[k]; !taken {
					m[k] = code
				}
			}
		}
	}
	return m
})

// NormalizeCountry turns a country as other systems send it into ISO 3166-1
// alpha-2: an alpha-2 code (any case; "UK" is GB), an alpha-3 code ("USA",
// "SAU") or a name ("United States", "Saudi Arabia", "Deutschland"). ok is
// false, and s comes back trimmed, when it is none of those.
func NormalizeCountry(s string) (code string, ok bool) {
	s = strings.TrimSpace(s)
	k := foldCountry(s)
	if code := countryNames[k]; code != "" {
		return code, true
	}
	if ValidCountry(s) {
		return strings.ToUpper(s), true
	}
	if len(s) == 3 && isLetters(s) {
		if r, err := language.ParseRegion(s); err == nil {
			if code := r.Canonicalize().String(); ValidCountry(code) {
				return code, true
			}
		}
	}
	if code := localNames()[k]; code != "" && len(k) > 3 {
		return code, true
	}
	// ISO's list style: "Korea, Republic of", "Iran, Islamic Republic of";
	// and "The Bahamas".
	if before, _, found := strings.Cut(s, ","); found {
		if code, ok := NormalizeCountry(before); ok {
			return code, true
		}
	}
	if rest, found := strings.CutPrefix(strings.ToLower(s), "the "); found {
		if code, ok := NormalizeCountry(rest); ok {
			return code, true
		}
	}
	return s, false
}

// foldCountry lowercases s, drops accents and keeps only its letters ("U.S.A."
// is "usa", "España" is "espana", "Côte d’Ivoire" is "cotedivoire").
func foldCountry(s string) string {
	if !isASCII(s) {
		// A chain of transformers keeps state: one per call, not shared
		// between the goroutines normalizing an import.
		marks := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)))
		if folded, _, err := transform.String(marks, s); err == nil {
			s = folded
		}
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isLetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}
