// Taking the plan's placeholder emails and phones off a chunk's rows.

package postgres

import (
	"fmt"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// placeholderRows takes an import's placeholder emails and phones off its
// rows: the field is dropped with a warning, and a row left without any
// identifier becomes an error (not imported), as when reading.
type placeholderRows struct {
	keys     map[dedupe.Key]bool
	columns  customer.Columns
	problems []chunkProblem
	invalid  int // rows that became errors
	warnings int // change of the rows-with-warnings count
}

func newPlaceholderRows(ps []Placeholder, columns customer.Columns) *placeholderRows {
	p := &placeholderRows{keys: map[dedupe.Key]bool{}, columns: columns}
	for _, k := range ps {
		p.keys[dedupe.Key{Kind: k.Kind, Value: k.Value}] = true
	}
	return p
}

// placeholders are the keys taken off rows (nil p: none).
func (p *placeholderRows) placeholders() map[dedupe.Key]bool {
	if p == nil {
		return nil
	}
	return p.keys
}

// drop edits rows in place and returns those still importable.
func (p *placeholderRows) drop(rows []customer.ImportRow) []customer.ImportRow {
	keep := rows[:0]
	for i := range rows {
		r := rows[i]
		type placeholderID struct{ field, value string }
		var dropped []placeholderID
		if r.EmailKey != "" && p.keys[dedupe.Key{Kind: dedupe.KindEmail, Value: r.EmailKey}] {
			dropped = append(dropped, placeholderID{"email", r.Email})
			r.Email, r.EmailKey = "", ""
		}
		if r.PhoneKey != "" && p.keys[dedupe.Key{Kind: dedupe.KindPhone, Value: r.PhoneKey}] {
			dropped = append(dropped, placeholderID{"phone", r.Phone})
			r.Phone, r.PhoneKey, r.PhoneValid, r.PhoneExt = "", "", false, ""
		}
		if len(dropped) == 0 {
			keep = append(keep, r)
			continue
		}
		seq := chunkProblemSeq
		if !hasIdentifier(&r) {
			p.problems = append(p.problems, chunkProblem{row: r.Num, seq: seq, severity: customer.SeverityError,
				column: p.columns.Of(dropped[0].field), reason: fmt.Sprintf("no email, phone or external id besides a placeholder %q", dropped[0].value)})
			p.invalid++
			if r.Record.Warned {
				p.warnings--
			}
			continue
		}
		for _, d := range dropped {
			p.problems = append(p.problems, chunkProblem{row: r.Num, seq: seq, severity: customer.SeverityWarning,
				column: p.columns.Of(d.field), reason: fmt.Sprintf("%s shared by more than %d different people in this file: "+
					"treated as a placeholder, not imported %q", d.field, PlaceholderShare, d.value)})
			seq++
		}
		if !r.Record.Warned {
			p.warnings++
		}
		keep = append(keep, r)
	}
	return keep
}
