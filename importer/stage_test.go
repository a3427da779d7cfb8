package importer

import (
	"reflect"
	"strings"
	"testing"
)

// Natural chunks follow the row numbers (a chunk per multiple of rows, as
// plans made before byte limits expect) and are cut further where their
// values would pass the byte limit; a row bigger than the limit is a chunk
// of its own.
func TestChunker(t *testing.T) {
	c := &chunker{rows: 4, bytes: 100}
	var got []int
	sizes := []int{10, 10, 10, 10, 60, 30, 10, 150, 1, 1, 1} // rows 2..12
	for i, n := range sizes {
		row := Row{Num: i + 2, Raw: []string{strings.Repeat("x", n)}}
		c.next(&row)
		got = append(got, row.chunk)
	}
	// rows 2,3 | 4,5,6 (7 would make 110 bytes) | 7 | 8 (row 8 starts the
	// third multiple of 4) | 9 alone (150 bytes) | 10,11 | 12
	want := []int{0, 0, 1, 1, 1, 2, 3, 4, 5, 5, 6}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("chunks %v, want %v", got, want)
	}
	if starts := []int{2, 4, 7, 8, 9, 10, 12}; !reflect.DeepEqual(c.starts, starts) {
		t.Fatalf("starts %v, want %v", c.starts, starts)
	}
}
