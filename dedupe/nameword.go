package dedupe

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gosimple/unidecode"
	"golang.org/x/text/unicode/norm"
)

// Bounds on the work one name comparison does, whatever the input.
const (
	maxNameBytes = 256 // of one field, before splitting
	maxNameWords = 6   // per field, plus their concatenation
	maxWordRunes = 32
)

// nameScript is how a word's writing system can be compared with another's.
type nameScript uint8

const (
	scriptLatin    nameScript = iota
	scriptAlphabet            // Cyrillic, Greek, Armenian, Georgian: transliterate letter by letter
	scriptAbjad               // Arabic, Hebrew, Syriac, Thaana: short vowels unwritten
	scriptCJK                 // Han, kana, Hangul: romanizations vary too much to compare
	scriptOther               // Devanagari, Thai…: compared within the script only
)

// nameWord is one word of a name, folded for comparison.
type nameWord struct {
	script nameScript
	native string // lowercase letters in the word's own script, accents removed
	latin  string // native transliterated to lowercase ASCII letters ("" if none)
	german string // latin with ä, ö, ü spelled ae, oe, ue; "" when there are none
	joined bool   // the concatenation of a field's words, not a word of its own
}

// Words dropped from a name when others remain: titles and generational
// suffixes anywhere, particles in family names (they also count in the
// concatenated form, so "van der Berg" still meets "Vanderberg").
var (
	nameTitles = map[string]bool{
		"mr": true, "mrs": true, "ms": true, "miss": true, "mx": true, "dr": true, "prof": true,
		"sir": true, "dame": true, "jr": true, "sr": true, "ii": true, "iii": true, "iv": true,
		"phd": true, "md": true, "esq": true,
	}
	familyParticles = map[string]bool{
		"van": true, "von": true, "der": true, "den": true, "de": true, "del": true, "della": true,
		"di": true, "da": true, "das": true, "dos": true, "du": true, "la": true, "le": true,
		"al": true, "el": true, "bin": true, "ibn": true, "bint": true, "ben": true, "ter": true, "ten": true,
	}
)

// capName cuts s to maxNameBytes without leaving half a character.
func capName(s string) string {
	if len(s) > maxNameBytes {
		s = s[:maxNameBytes]
	}
	return strings.ToValidUTF8(s, "")
}

// nameWords splits one name field into folded words. Hyphens, dots and other
// punctuation separate words ("García-López", "J."); apostrophes do not
// ("O'Brien" is "obrien").
func nameWords(field string, family bool) []nameWord {
	s := capName(field)
	if !isASCII(s) {
		s = capName(norm.NFKC.String(s)) // full-width letters, ligatures
	}
	raw := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsMark(r) && !isApostrophe(r)
	})
	if len(raw) > maxNameWords {
		raw = raw[:maxNameWords]
	}
	var words []nameWord
	for _, r := range raw {
		if w, ok := foldNameWord(r); ok {
			words = append(words, w)
		}
	}
	if len(words) > 1 {
		// "Mary Ann" and "Maryann", "van der Berg" and "Vanderberg".
		var joined strings.Builder
		same := true
		for _, w := range words {
			joined.WriteString(w.native)
			same = same && w.script == words[0].script
		}
		kept := words[:0:0]
		for _, w := range words {
			if !nameTitles[w.latin] && !(family && familyParticles[w.latin]) {
				kept = append(kept, w)
			}
		}
		if len(kept) > 0 {
			words = kept
		}
		if j, ok := foldNameWord(joined.String()); ok && same {
			j.joined = true
			words = append(words, j)
		}
	}
	return words
}

func isApostrophe(r rune) bool {
	return r == '\'' || r == '’' || r == 'ʼ' || r == '`' || r == '‘'
}

// foldNameWord folds one lowercase word; ok is false when it has no letters.
func foldNameWord(s string) (nameWord, bool) {
	s = strings.Map(func(r rune) rune {
		if isApostrophe(r) {
			return -1
		}
		return r
	}, s)
	if isASCII(s) {
		// The common case: already letters only (see nameWords), no folding.
		if len(s) > maxWordRunes {
			s = s[:maxWordRunes]
		}
		return nameWord{script: scriptLatin, native: s, latin: s}, s != ""
	}
	w := nameWord{script: scriptOf(s)}
	if w.script != scriptCJK {
		// Kana voicing marks are part of the letter; elsewhere marks are
		// accents (é, Arabic and Hebrew vowel points) that spellings omit.
		s = stripMarks(s)
	}
	if utf8.RuneCountInString(s) > maxWordRunes {
		s = string([]rune(s)[:maxWordRunes])
	}
	if w.script == scriptAbjad && utf8.RuneCountInString(s) > 3 {
		s = strings.TrimPrefix(s, "ال") // the Arabic article, written joined
	}
	if s == "" {
		return w, false
	}
	w.native = s
	w.latin = asciiLetters(unidecode.Unidecode(s))
	if strings.ContainsAny(s, "äöü") {
		w.german = asciiLetters(unidecode.Unidecode(strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue").Replace(s)))
	}
	return w, true
}

// stripMarks removes combining marks; the result keeps only letters.
func stripMarks(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}

func asciiLetters(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'a' <= c && c <= 'z' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// scriptOf is the script of s's first letter that belongs to one.
func scriptOf(s string) nameScript {
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf || unicode.Is(unicode.Latin, r):
			if unicode.IsLetter(r) {
				return scriptLatin
			}
		case unicode.In(r, unicode.Cyrillic, unicode.Greek, unicode.Armenian, unicode.Georgian):
			return scriptAlphabet
		case unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana):
			return scriptAbjad
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Bopomofo):
			return scriptCJK
		case unicode.IsLetter(r):
			return scriptOther
		}
	}
	return scriptLatin
}

// variantWords reports whether two words can name the same person. It is
// symmetric, and a word is always a variant of itself.
func variantWords(x, y nameWord) bool {
	if x.native == y.native || sharedLatin(x, y) || sharedLatin(y, x) {
		return true
	}
	if x.script == y.script {
		switch x.script {
		case scriptLatin, scriptAlphabet:
			if x.latin == "" || y.latin == "" {
				return closeWords(x.native, y.native, 0)
			}
			return latinVariants(x.latin, y.latin, 0)
		case scriptAbjad:
			return closeWords(x.native, y.native, 0)
		case scriptCJK:
			// Given and family names are often written as one word.
			return strings.Contains(x.native, y.native) || strings.Contains(y.native, x.native)
		default:
			return closeWords(x.native, y.native, 0)
		}
	}
	switch {
	case x.script == scriptCJK || y.script == scriptCJK || x.script == scriptOther || y.script == scriptOther,
		x.latin == "" || y.latin == "":
		return true // no transliteration to trust: cannot tell
	case x.script == scriptAbjad || y.script == scriptAbjad:
		return closeWords(consonants(x.latin), consonants(y.latin), 1)
	default:
		// Cyrillic or Greek against Latin: transliterations vary a little.
		return latinVariants(x.latin, y.latin, 1)
	}
}

func sharedLatin(x, y nameWord) bool {
	return x.latin != "" && (x.latin == y.latin || x.latin == y.german)
}

// latinVariants compares two transliterated words: an initial, a nickname, a
// prefix (Chris, Christopher), or a typo in a loosely spelled form.
func latinVariants(a, b string, slack int) bool {
	if a > b {
		a, b = b, a // the similarity functions are not exactly symmetric
	}
	la, lb := looseSpelling(a), looseSpelling(b)
	if len(a) == 1 || len(b) == 1 {
		return a[0] == b[0] || la[0] == lb[0]
	}
	return nicknameVariants(a, b) || closeWords(a, b, slack) || closeWords(la, lb, slack)
}

// looseSpelling merges spellings that transliterations and typists mix up
// (ph/f, x/ks, y/i, w/v, c/k, zh/j) and doubled letters.
var looseReplacer = strings.NewReplacer("ph", "f", "th", "t", "ck", "k", "dzh", "j", "zh", "j", "x", "ks", "c", "k", "q", "k", "y", "i", "w", "v", "z", "s")

func looseSpelling(s string) string {
	s = looseReplacer.Replace(s)
	b := []byte(s)
	out := b[:0]
	for i, c := range b {
		if i == 0 || c != b[i-1] {
			out = append(out, c)
		}
	}
	return string(out)
}

// consonants is a Latin word's consonant skeleton, which is what an abjad
// writes: "Mohammed" and محمد both give "mhmd".
func consonants(s string) string {
	s = strings.NewReplacer("ph", "f", "c", "k", "q", "k", "v", "b", "p", "f").Replace(s)
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte("aeiouyw", c) >= 0 || len(out) > 0 && out[len(out)-1] == c {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// closeWords compares two words of one script (runes, case-folded): an
// initial, a prefix of three letters or more, or a typo.
func closeWords(a, b string, slack int) bool {
	if a > b {
		a, b = b, a
	}
	ra, rb := []rune(a), []rune(b)
	short := min(len(ra), len(rb))
	switch {
	case short == 0:
		return true // nothing left to compare, as for a consonant skeleton of vowels
	case short == 1:
		return ra[0] == rb[0]
	case short >= 3 && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)):
		return true
	}
	if short < 5 {
		slack = 0 // in short words an extra edit is a different name (Ivan, Dylan)
	}
	// One edit always passes ("a one-letter typo"); two when the words stay
	// alike; more for long words that stay very alike. Thresholds in the
	// usual range for Jaro-Winkler on names, lowered by slack.
	d := osaDistance(a, b)
	if d <= 1+slack {
		return true
	}
	jw := jaroWinkler(a, b) + 0.05*float32(slack)
	return d <= 2 && jw >= 0.80 || short >= 5 && jw >= 0.88
}
