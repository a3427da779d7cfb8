// A customer's JSON without its zero members, for the copies only Go
// decodes (an upsert's task and job row, the worker's reply).

package customer

// AppendCompactJSON appends c's JSON without the members whose value
// decoding leaves as it found them: null, "", false, 0 and the zero time.
// Decoded into a zero Customer it gives what AppendJSON's bytes give (the
// members are struct fields, so an absent one stays zero), in about a fifth
// of the bytes for a checkout's record: its forty fields are mostly unset.
// Views read by people or other systems keep AppendJSON's every member.
func (c *Customer) AppendCompactJSON(b []byte) ([]byte, error) {
	start := len(b)
	b, err := c.AppendJSON(b)
	if err != nil {
		return b, err
	}
	return append(b[:start], dropZeroMembers(b[start:])...), nil
}

// dropZeroMembers removes, in place, the members of the compact JSON
// object b's top level whose value is null, "", false, 0 or the zero time,
// and returns what is left (an object still).
func dropZeroMembers(b []byte) []byte {
	out := b[:1] // '{'
	for i := 1; i < len(b)-1; {
		if b[i] == ',' {
			i++
		}
		// A member: its key, ':', its value up to the next ',' or the
		// closing '}' at this depth.
		start := i
		i = skipString(b, i) + 2 // past the key's closing quote and ':'
		valStart := i
		i = skipValue(b, i)
		if zeroValue(b[valStart:i]) {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, b[start:i]...)
	}
	return append(out, '}')
}

// skipString returns the index of the closing quote of the string that
// opens at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b) && b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = skipString(b, i)
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
		if depth == 0 && (b[i] == '"' || b[i] == '}' || b[i] == ']') {
			return i + 1
		}
	}
	return i
}

func zeroValue(v []byte) bool {
	switch string(v) {
	case "null", `""`, "false", "0", `"0001-01-01T00:00:00Z"`:
		return true
	}
	return false
}
