package dedupe

import "strings"

// NormalizeName trims s and collapses every run of unicode whitespace
// (tabs, no-break spaces, ideographic spaces…) into one ASCII space.
func NormalizeName(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// SplitName splits a full name into first and last name: the last token is
// the last name and everything before it the first name, which keeps
// multi-part given names ("Mary Ann Smith") together. A single token is a
// first name only.
func SplitName(full string) (first, last string) {
	f := strings.Fields(full)
	switch len(f) {
	case 0:
		return "", ""
	case 1:
		return f[0], ""
	}
	return strings.Join(f[:len(f)-1], " "), f[len(f)-1]
}
