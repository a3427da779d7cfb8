package dedupe

import (
	"strings"

	"golang.org/x/text/language"
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
	"kenya": "KE",
}

// NormalizeCountry turns a country as other systems send it into ISO 3166-1
// alpha-2: an alpha-2 code (any case; "UK" is GB), an alpha-3 code ("USA",
// "SAU") or a common name ("United States", "Saudi Arabia"). ok is false,
// and s comes back trimmed, when it is none of those.
func NormalizeCountry(s string) (code string, ok bool) {
	s = strings.TrimSpace(s)
	if code := countryNames[foldCountry(s)]; code != "" {
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
	return s, false
}

// foldCountry lowercases s and keeps only its ASCII letters ("U.S.A." is
// "usa"; "España" is "espana" after dropping the accent's mark).
func foldCountry(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == 'ñ':
			b.WriteRune('n')
		case r == 'ü':
			b.WriteRune('u')
		}
	}
	return b.String()
}

func isLetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}
