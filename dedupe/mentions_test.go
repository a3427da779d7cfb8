package dedupe_test

import (
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

// A person's identifiers are found however a value writes them; other
// people's values and short numbers are not.
func TestMentions(t *testing.T) {
	t.Parallel()
	m := dedupe.NewMentions([]string{" Nora.H@Example.com ", "not-an-email"}, []string{"+966501234567", "14155550100", "123"})
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"nora.h@example.com", true},
		{"Contact: NORA.H@EXAMPLE.COM (home)", true},
		{"+966 50 123 4567", true},
		{"0501234567", true},     // national, with the trunk prefix
		{"(415) 555-0100", true}, // national
		{"415.555.0100", true},   // national, dotted
		{"+1 415 555 0100 x", true},
		{"nora@example.com", false},
		{"+966501234568", false},
		{"4155550100 ext 12", false}, // other digits after it: another number
		{"123", false},               // too short to look for
		{"not-an-email", false},
		{"", false},
	} {
		if got := m.Match(tc.v); got != tc.want {
			t.Errorf("Match(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if !m.MatchJSON([]byte(`{"record":{"fields":{"phone":"+966501234567"}},"n":4155550100}`)) ||
		!m.MatchJSON([]byte(`[1, {"a": ["x", 4155550100]}]`)) || m.MatchJSON([]byte(`{"nora.h@example.com_is_a_key": 1}`)) {
		t.Error("MatchJSON")
	}
	if !(dedupe.Mentions{}).Empty() || m.Empty() {
		t.Error("Empty")
	}
}
