package importer

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"
)

// Encodings reported in Detected.Encoding.
const (
	EncodingUTF8        = "utf-8"
	EncodingUTF8BOM     = "utf-8-sig"
	EncodingUTF16LE     = "utf-16le"
	EncodingUTF16BE     = "utf-16be"
	EncodingWindows1252 = "windows-1252"
	EncodingMacRoman    = "macintosh" // Excel for Mac's "Comma Separated Values"
)

// fileKinds are the files merchants upload instead of their export, by
// their first bytes.
var fileKinds = []struct {
	magic  string
	reason string
}{
	{"PK\x03\x04", "the file is a ZIP archive (an .xlsx workbook?): export it as CSV"},
	{"\xD0\xCF\x11\xE0", "the file is a legacy Excel (.xls) workbook: export it as CSV"},
	{"%PDF-", "the file is a PDF document: export the customer list as CSV"},
	{"\x89PNG", "the file is a PNG image: export the customer list as CSV"},
	{"\xFF\xD8\xFF", "the file is a JPEG image: export the customer list as CSV"},
	{"GIF8", "the file is a GIF image: export the customer list as CSV"},
}

// notText names a known non-text format, or returns "".
func notText(prefix []byte) string {
	for _, k := range fileKinds {
		if bytes.HasPrefix(prefix, []byte(k.magic)) {
			return k.reason
		}
	}
	return ""
}

// binaryBytes reports whether the start of a (non-UTF-16) file has more
// control bytes than text ever does: over 10% of its first 4 KiB other
// than tab, line breaks, form feed and vertical tab (FileMaker's line break
// inside a cell). A stray NUL in a cell is repaired with a warning instead.
func binaryBytes(prefix []byte) bool {
	p := prefix[:min(len(prefix), 4096)]
	n := 0
	for _, b := range p {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f' && b != '\v' {
			n++
		}
	}
	return n*10 > len(p)
}

// sniffEncoding looks at the raw (decompressed) prefix and returns the
// encoding and the length of its byte-order mark.
func sniffEncoding(prefix []byte, atEOF bool) (string, int) {
	switch {
	case bytes.HasPrefix(prefix, []byte{0xEF, 0xBB, 0xBF}):
		return EncodingUTF8BOM, 3
	case bytes.HasPrefix(prefix, []byte{0xFF, 0xFE}):
		return EncodingUTF16LE, 2
	case bytes.HasPrefix(prefix, []byte{0xFE, 0xFF}):
		return EncodingUTF16BE, 2
	}
	if enc := sniffUTF16NoBOM(prefix); enc != "" {
		return enc, 0
	}
	p := prefix
	if !atEOF {
		// Do not judge a multi-byte character cut by the end of the prefix.
		for i := 1; i <= utf8.UTFMax && i <= len(p); i++ {
			if utf8.RuneStart(p[len(p)-i]) {
				if !utf8.FullRune(p[len(p)-i:]) {
					p = p[:len(p)-i]
				}
				break
			}
		}
	}
	if utf8.Valid(p) || mostlyUTF8(p) {
		return EncodingUTF8, 0
	}
	if looksMacRoman(p) {
		return EncodingMacRoman, 0
	}
	return EncodingWindows1252, 0
}

// looksMacRoman reports whether the 8-bit bytes inside words are mostly
// Mac Roman's accented letters (é 0x8E, è 0x8F, à 0x88, ç 0x8D, ü 0x9F…),
// which Windows-1252 spends on punctuation and rare letters, rather than
// Windows-1252's (0xC0–0xFF). Bytes both encodings put inside words (1252's
// quotes, dashes, ellipsis, €, ™) are no evidence either way.
func looksMacRoman(p []byte) bool {
	const neutral = "\x80\x82\x84\x85\x8b\x91\x92\x93\x94\x95\x96\x97\x99\x9b"
	mac, win := 0, 0
	for i, b := range p {
		if b < 0x80 || !((i > 0 && isASCIILetter(p[i-1])) || (i+1 < len(p) && isASCIILetter(p[i+1]))) {
			continue
		}
		switch {
		case b >= 0xC0:
			win++
		case b <= 0x9F && strings.IndexByte(neutral, b) < 0:
			mac++
		}
	}
	return mac >= 2 && mac > 2*win
}

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// mostlyUTF8 reports whether p has more valid multi-byte UTF-8 sequences
// than invalid bytes: a UTF-8 file with a few stray Latin-1 bytes stays
// UTF-8 (the stray bytes are repaired per cell), a Latin-1 file (where
// valid sequences only happen by accident) does not.
func mostlyUTF8(p []byte) bool {
	multi, invalid := 0, 0
	for i := 0; i < len(p); {
		if p[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			invalid++
		} else {
			multi++
		}
		i += size
	}
	return multi > invalid
}

// sniffUTF16NoBOM recognises BOM-less UTF-16 text that is mostly ASCII: one
// byte of every pair is NUL.
func sniffUTF16NoBOM(p []byte) string {
	if len(p) > 1024 {
		p = p[:1024]
	}
	pairs := len(p) / 2
	if pairs < 2 {
		return ""
	}
	even, odd := 0, 0
	for i := 0; i+1 < len(p); i += 2 {
		if p[i] == 0 {
			even++
		}
		if p[i+1] == 0 {
			odd++
		}
	}
	switch {
	case odd*10 >= pairs*7 && even == 0:
		return EncodingUTF16LE
	case even*10 >= pairs*7 && odd == 0:
		return EncodingUTF16BE
	}
	return ""
}

// Candidate delimiters, in order of preference on a tie.
var delimiters = []byte{',', ';', '\t', '|'}

const (
	sniffBytes   = 32 << 10
	sniffRecords = 100
)

// sniffDelimiter picks the delimiter that splits the first record (the
// header) into the most fields and that the following records agree with
// most often. Parsing is quote-aware: it uses the real parser on the prefix.
func sniffDelimiter(prefix []byte, atEOF bool) byte {
	if len(prefix) > sniffBytes {
		prefix, atEOF = prefix[:sniffBytes], false
	}
	best := byte(',')
	bestAgree, bestFields := -1, 1
	for _, d := range delimiters {
		counts := recordFieldCounts(prefix, atEOF, d)
		if len(counts) == 0 || counts[0] < 2 {
			continue
		}
		h, agree := counts[0], 0
		for _, c := range counts[1:] {
			if c == h {
				agree++
			}
		}
		// Compare the share of agreeing records, then the header width.
		score := agree * 1000 / max(len(counts)-1, 1)
		if len(counts) == 1 {
			score = 1000
		}
		if score > bestAgree || (score == bestAgree && h > bestFields) {
			best, bestAgree, bestFields = d, score, h
		}
	}
	return best
}

// recordFieldCounts parses up to sniffRecords records of prefix with delim
// and returns their field counts (a record cut by the end of the prefix and
// whitespace-only lines are left out).
func recordFieldCounts(prefix []byte, atEOF bool, delim byte) []int {
	src := &source{rd: bytes.NewReader(nil), buf: prefix, w: len(prefix), err: io.EOF}
	p := &csvParser{src: src, delim: delim, maxField: len(prefix) + 1, maxStore: 1 << 16}
	var counts []int
	for len(counts) < sniffRecords {
		ok, _ := p.readRecord()
		if !ok {
			break
		}
		if !atEOF && src.r >= src.w {
			break // possibly truncated
		}
		if p.nFields == 1 && !p.quoted && isBlank(p.rec) {
			continue
		}
		counts = append(counts, p.nFields)
	}
	return counts
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\v' && c != '\f' {
			return false
		}
	}
	return true
}

// firstNonSpace returns the first byte of b that is not whitespace, NUL or
// part of a UTF-8 BOM.
func firstNonSpace(b []byte) (byte, bool) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f', 0:
			continue
		case 0xEF:
			if i+2 < len(b) && b[i+1] == 0xBB && b[i+2] == 0xBF {
				i += 2
				continue
			}
		}
		return b[i], true
	}
	return 0, false
}
