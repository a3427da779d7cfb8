// COPY sources streaming a plan's row moves and owned rows out of the union-find.

package postgres

// moveSource yields (row, chunk) for every row whose group lives in
// another chunk than the row's natural one (after find has compressed the
// paths, each lookup is one or two steps).
type moveSource struct {
	orgID, importID string
	uf              *unionFind
	natural         func(row int) int  // the chunk a row was staged in
	group           func(root int) int // the chunk a group lives in
	row             int
	moveTo          int
	values          [4]any
}

func (m *moveSource) Next() bool {
	for m.row++; m.row < len(m.uf.parent); m.row++ {
		if m.uf.parent[m.row] < 0 {
			continue
		}
		if c := m.group(int(m.uf.find(int32(m.row)))); c != m.natural(m.row) {
			m.moveTo = c
			return true
		}
	}
	return false
}

func (m *moveSource) Values() ([]any, error) {
	m.values = [4]any{m.orgID, m.importID, int32(m.row), int32(m.moveTo)}
	return m.values[:], nil
}

func (m *moveSource) Err() error { return nil }

// ownedSource yields the rows an existing customer owned a key of.
type ownedSource struct {
	orgID, importID string
	owned           bitset
	row             int
	values          [3]any
}

func (o *ownedSource) Next() bool {
	for o.row++; o.row < 64*len(o.owned); o.row++ {
		if o.row%64 == 0 && o.owned[o.row/64] == 0 {
			o.row += 63 // a word without owned rows
			continue
		}
		if o.owned.has(int32(o.row)) {
			return true
		}
	}
	return false
}

func (o *ownedSource) Values() ([]any, error) {
	o.values = [3]any{o.orgID, o.importID, int32(o.row)}
	return o.values[:], nil
}

func (o *ownedSource) Err() error { return nil }
