package dedupe

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"sync"
)

// nicknamesCSV is carltonnorthern/nicknames' names.csv (Apache-2.0, see
// data/nicknames): rows "name,has_nickname,nickname" in lowercase ASCII.
//
//go:embed data/nicknames/names.csv
var nicknamesCSV []byte

// nicknameGroups maps a lowercase given name to the groups it belongs to: a
// group is one canonical name and its nicknames, numbered by first row.
// Two names are variants when they share a group (Bill and Will through
// William), not when two canonical names share a nickname (Aaron and Ronald
// through Ron).
var nicknameGroups = sync.OnceValue(func() map[string][]int32 {
	groups := map[string][]int32{}
	ids := map[string]int32{}
	add := func(name string, id int32) {
		for _, g := range groups[name] {
			if g == id {
				return
			}
		}
		groups[name] = append(groups[name], id)
	}
	r := csv.NewReader(bytes.NewReader(nicknamesCSV))
	r.FieldsPerRecord = 3
	rows, err := r.ReadAll()
	if err != nil {
		// The file is embedded and every name test loads it: this cannot
		// happen in a built binary.
		panic("dedupe: embedded nicknames: " + err.Error())
	}
	for _, row := range rows[1:] {
		canonical, nick := row[0], row[2]
		id, ok := ids[canonical]
		if !ok {
			id = int32(len(ids))
			ids[canonical] = id
		}
		add(canonical, id)
		add(nick, id)
	}
	return groups
})

// nicknameVariants reports whether two lowercase ASCII given names belong to
// one nickname group.
func nicknameVariants(a, b string) bool {
	all := nicknameGroups()
	ga, gb := all[a], all[b]
	for _, x := range ga {
		for _, y := range gb {
			if x == y {
				return true
			}
		}
	}
	return false
}
