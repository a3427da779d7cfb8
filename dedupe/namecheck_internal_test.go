package dedupe

import (
	"math/rand/v2"
	"testing"
)

// A workspace's remembered answers are HasName's, whatever the fields: the
// same field read as a first and as a last name, placeholders alone and
// mixed, titles, particles, joined words, other scripts and blanks.
func TestWorkspaceHasNameAgreesWithHasName(t *testing.T) {
	words := []string{"", " ", "Guest", "walk-in", "Walk In", "customer", "N/A", "Mr", "Mrs.", "van", "der", "de la",
		"Ann", "Mary Ann", "O'Brien", "García-López", "J.", "Jr", "Test", "Cash Sale", "Ａｎｎ", "Иван", "محمد", "王",
		"12345", "--", "xxx", "in", "a", "Le", "van der Berg", "Dr Who", "no name", "anon"}
	rng := rand.New(rand.NewPCG(7, 11))
	w := NewWorkspace(func() string { return "c" }, false)
	for range 20000 {
		n := PersonName{First: words[rng.IntN(len(words))], Last: words[rng.IntN(len(words))]}
		if rng.IntN(4) == 0 {
			n.Full = words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
		}
		if got, want := w.hasName(n), HasName(n); got != want {
			t.Fatalf("%+v: workspace %v, HasName %v", n, got, want)
		}
	}
	if len(w.names) == 0 {
		t.Fatal("nothing remembered")
	}
}
