package dedupe

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"slices"
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
	// A name's own group (it is the canonical name) comes first. Some rows
	// list a nickname's full names ("bill,has_nickname,robert" and
	// "…,william"): two full names are variants only when one lists the
	// other, not through such a group.
	oa, ob := ownGroup(a, ga), ownGroup(b, gb)
	if oa >= 0 || ob >= 0 {
		return oa >= 0 && slices.Contains(gb, oa) || ob >= 0 && slices.Contains(ga, ob)
	}
	for _, x := range ga {
		if slices.Contains(gb, x) {
			return true
		}
	}
	return false
}

// ownGroup is the group whose canonical name is name, or -1.
func ownGroup(name string, groups []int32) int32 {
	if id, ok := nicknameCanonical()[name]; ok && slices.Contains(groups, id) {
		return id
	}
	return -1
}

// nicknameCanonical maps each canonical name to its group.
var nicknameCanonical = sync.OnceValue(func() map[string]int32 {
	ids := map[string]int32{}
	r := csv.NewReader(bytes.NewReader(nicknamesCSV))
	r.FieldsPerRecord = 3
	rows, _ := r.ReadAll() // nicknameGroups read the same bytes without error
	for _, row := range rows[1:] {
		if _, ok := ids[row[0]]; !ok {
			ids[row[0]] = int32(len(ids))
		}
	}
	return ids
})
