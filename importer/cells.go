// Cell text: repairing bad bytes, reading formula escapes, cutting a row too long to import for its report.

package importer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// cutCells copies cells, each cut to its share of limit bytes (at a rune
// boundary, marked with "…"), so a row too long to import is reported
// without holding it.
func cutCells(cells []string, limit int) []string {
	share := max(16, limit/max(1, len(cells)))
	out := make([]string, len(cells))
	for i, c := range cells {
		if len(c) <= share {
			out[i] = strings.Clone(c)
			continue
		}
		n := share
		for n > 0 && !utf8.RuneStart(c[n]) {
			n--
		}
		out[i] = c[:n] + "…" // a new string: the record is not kept
	}
	return out
}

// kib formats a byte count for messages: "400 bytes", "128 KiB",
// "130.5 KiB", "12.3 MiB".
func kib(n int) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n%(1<<10) == 0 && n < 1<<20:
		return fmt.Sprintf("%d KiB", n>>10)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// FormulaStarts are the first characters that make a spreadsheet read a
// cell as a formula (OWASP's CSV injection list).
const FormulaStarts = "=+-@\t\r"

// Formula reports whether a spreadsheet could read the cell as a formula:
// it starts with one of FormulaStarts once leading spaces, quotes and
// apostrophes are skipped (" =1+1" and "\"=1+1" are formulas to some
// spreadsheets, and "'=1" must keep its own apostrophe through a round
// trip). Error reports prefix such a cell with an apostrophe, which
// reading a file takes off again (unescapeFormula).
func Formula(cell string) bool {
	for _, c := range cell {
		switch {
		case c < utf8.RuneSelf && strings.IndexByte(FormulaStarts, byte(c)) >= 0:
			return true
		case c == '"' || c == '\'' || unicode.IsSpace(c):
		default:
			return false
		}
	}
	return false
}

// unescapeFormula reads two spreadsheet conventions for text: the
// apostrophe that error reports (ours, and other exporters') put before a
// cell a spreadsheet would read as a formula (Formula), so a fixed error
// CSV uploads as the original did; and ="…", which exports write to keep a
// phone's or a postal code's leading zeros (="0501234567").
func unescapeFormula(v string) string {
	if len(v) > 1 && v[0] == '\'' && Formula(v[1:]) {
		return v[1:]
	}
	if len(v) >= 3 && strings.HasPrefix(v, `="`) && v[len(v)-1] == '"' {
		inner := v[2 : len(v)-1]
		if !strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
			return strings.ReplaceAll(inner, `""`, `"`)
		}
	}
	return v
}

func allBlank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// repairText removes NUL bytes and decodes bytes that are not valid UTF-8
// as Windows-1252 (a Latin-1 file whose first accent lies past the sniffed
// prefix). It returns the reason when it changed something.
func repairText(s string) (string, string) {
	var reason string
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
		reason = "NUL bytes removed"
	}
	if utf8.ValidString(s) {
		return s, reason
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			c = charmap.Windows1252.DecodeByte(s[i])
		}
		b.WriteRune(c)
		i += size
	}
	if reason != "" {
		reason += "; "
	}
	return b.String(), reason + "invalid UTF-8 decoded as windows-1252"
}
