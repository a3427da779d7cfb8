package dedupe_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// ids makes predictable customer ids for tests.
func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("cust_new%d", n) }
}

// rec builds a normalized record.
func rec(email, phone, external string, fields customer.Customer) *dedupe.Incoming {
	in := &dedupe.Incoming{Email: email, EmailKey: email, Phone: phone, PhoneKey: dedupe.PhoneDigits(phone), External: external, Fields: fields}
	if phone != "" {
		in.PhoneValid = true
	}
	return in
}

// existing loads a stored customer owning its email and phone.
func existing(w *dedupe.Workspace, c customer.Customer, extra ...dedupe.Key) *customer.Customer {
	keys := extra
	if c.Email != "" {
		keys = append(keys, dedupe.Key{Kind: dedupe.KindEmail, Value: c.Email})
	}
	if c.Phone != "" {
		keys = append(keys, dedupe.Key{Kind: dedupe.KindPhone, Value: dedupe.PhoneDigits(c.Phone)})
	}
	w.Load(&c, keys...)
	return &c
}

func keyState(w *dedupe.Workspace, kind, value string) *dedupe.KeyState {
	for _, k := range w.Keys() {
		if k.Key.Kind == kind && k.Key.Value == value {
			return &k
		}
	}
	return nil
}

func matchedOn(r dedupe.Result) string {
	if r.MatchedOn == nil {
		return ""
	}
	return *r.MatchedOn
}

func TestApplyCreatesWhenNothingMatches(t *testing.T) {
	w := dedupe.NewWorkspace(ids(), false)
	r, err := w.Apply(rec("a@example.com", "+14155550100", "", customer.Customer{FirstName: "Ann"}), dedupe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != dedupe.ActionCreated || r.CustomerID != "cust_new1" || r.MatchedOn != nil {
		t.Fatalf("result %+v", r)
	}
	created := w.Created()
	if len(created) != 1 || created[0].Email != "a@example.com" || created[0].Phone != "+14155550100" ||
		created[0].Status != "active" || created[0].Type != "individual" || created[0].Name != "Ann" {
		t.Fatalf("created %+v", created)
	}
	for _, k := range []struct{ kind, value string }{{"email", "a@example.com"}, {"phone", "14155550100"}} {
		if s := keyState(w, k.kind, k.value); s == nil || !s.Primary || s.CustomerID != "cust_new1" {
			t.Fatalf("key %v state %+v", k, s)
		}
	}
}

func TestApplyRejectsRecordsWithoutIdentifier(t *testing.T) {
	w := dedupe.NewWorkspace(ids(), false)
	_, err := w.Apply(rec("", "", "", customer.Customer{FirstName: "Only", LastName: "Name"}), dedupe.Options{})
	if !errors.Is(err, dedupe.ErrNoIdentifier) {
		t.Fatalf("err = %v, want ErrNoIdentifier", err)
	}
	if len(w.Created()) != 0 {
		t.Fatal("created a customer from a name alone")
	}
}

func TestApplyPrecedence(t *testing.T) {
	cases := []struct {
		name      string
		priority  []string
		email     string
		phone     string
		external  string
		want      string
		wantOn    string
		conflicts int
	}{
		{"email beats phone", nil, "e@x.com", "+14155550102", "", "cust_e", "email", 1},
		{"external beats email", nil, "e@x.com", "", "pos:1", "cust_x", "external_id", 1},
		{"phone alone", nil, "", "+14155550102", "", "cust_p", "phone", 0},
		{"unknown email falls to phone", nil, "new@x.com", "+14155550102", "", "cust_p", "phone", 0},
		{"phone-only priority", []string{"phone"}, "e@x.com", "+14155550102", "", "cust_p", "phone", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dedupe.NewWorkspace(ids(), false)
			existing(w, customer.Customer{ID: "cust_e", Email: "e@x.com"})
			existing(w, customer.Customer{ID: "cust_p", Phone: "+14155550102"})
			existing(w, customer.Customer{ID: "cust_x"}, dedupe.Key{Kind: "external", Value: "pos:1"})
			r, err := w.Apply(rec(tc.email, tc.phone, tc.external, customer.Customer{}), dedupe.Options{Priority: tc.priority})
			if err != nil {
				t.Fatal(err)
			}
			if r.CustomerID != tc.want || matchedOn(r) != tc.wantOn || len(r.Conflicts) != tc.conflicts {
				t.Fatalf("got %s on %s with %v; want %s on %s with %d conflicts", r.CustomerID, matchedOn(r), r.Conflicts, tc.want, tc.wantOn, tc.conflicts)
			}
		})
	}
}

func TestApplyEmailAndPhoneOnDifferentCustomers(t *testing.T) {
	w := dedupe.NewWorkspace(ids(), false)
	a := existing(w, customer.Customer{ID: "cust_a", Email: "a@x.com"})
	b := existing(w, customer.Customer{ID: "cust_b", Phone: "+14155550103"})
	r, err := w.Apply(rec("a@x.com", "+14155550103", "", customer.Customer{}), dedupe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.CustomerID != "cust_a" || len(r.Conflicts) != 1 || r.Conflicts[0] != (dedupe.Conflict{Field: "phone", CustomerID: "cust_b"}) {
		t.Fatalf("result %+v", r)
	}
	if a.Phone != "" || b.Phone != "+14155550103" {
		t.Fatalf("phone moved: a=%q b=%q", a.Phone, b.Phone)
	}
	if s := keyState(w, "phone", "14155550103"); s != nil {
		t.Fatalf("B's phone key touched: %+v", s)
	}
	if p := w.Pairs(); len(p) != 1 || p[0].A != "cust_a" || p[0].B != "cust_b" {
		t.Fatalf("pairs %+v", p)
	}
	if r.Action != dedupe.ActionUnchanged {
		t.Fatalf("action %s, want unchanged", r.Action)
	}
}

func TestApplyMergeConflicts(t *testing.T) {
	w := dedupe.NewWorkspace(ids(), false)
	a := existing(w, customer.Customer{ID: "cust_a", Email: "a@x.com", FirstName: "Ann"})
	existing(w, customer.Customer{ID: "cust_b", Phone: "+14155550104", LastName: "Lee", FirstName: "Anne"})
	r, err := w.Apply(rec("a@x.com", "+14155550104", "", customer.Customer{}), dedupe.Options{MergeConflicts: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.CustomerID != "cust_a" || len(r.Conflicts) != 0 || len(r.Merged) != 1 || r.Action != dedupe.ActionUpdated {
		t.Fatalf("result %+v", r)
	}
	if m := w.Merges(); len(m) != 1 || m[0] != (dedupe.MergeOp{From: "cust_b", Into: "cust_a"}) {
		t.Fatalf("merges %+v", m)
	}
	// A keeps its values; B fills A's blanks, including the phone.
	if a.FirstName != "Ann" || a.LastName != "Lee" || a.Phone != "+14155550104" {
		t.Fatalf("survivor %+v", a)
	}
	if s := keyState(w, "phone", "14155550104"); s == nil || s.CustomerID != "cust_a" || !s.Primary {
		t.Fatalf("phone key %+v", s)
	}
	if w.Customer("cust_b") != nil {
		t.Fatal("merged customer still in the view")
	}
}

func TestApplyPolicies(t *testing.T) {
	stored := customer.Customer{ID: "cust_a", Email: "a@x.com", FirstName: "Ann", CompanyName: "", Source: "pos"}
	incoming := customer.Customer{FirstName: "Anna", LastName: "Smith", CompanyName: "Acme", Source: "import"}
	cases := []struct {
		policy                    dedupe.Policy
		first, last, company, src string
		action                    string
	}{
		{dedupe.FillBlanks, "Ann", "Smith", "Acme", "pos", dedupe.ActionUpdated},
		{dedupe.Overwrite, "Anna", "Smith", "Acme", "pos", dedupe.ActionUpdated},
		{dedupe.DoNotUpdate, "Ann", "", "", "pos", dedupe.ActionUnchanged},
	}
	for _, tc := range cases {
		t.Run(string(tc.policy), func(t *testing.T) {
			w := dedupe.NewWorkspace(ids(), false)
			c := existing(w, stored)
			r, err := w.Apply(rec("a@x.com", "", "", incoming), dedupe.Options{Policy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			if c.FirstName != tc.first || c.LastName != tc.last || c.CompanyName != tc.company || c.Source != tc.src || r.Action != tc.action {
				t.Fatalf("got %q %q %q %q %s", c.FirstName, c.LastName, c.CompanyName, c.Source, r.Action)
			}
			if tc.policy != dedupe.DoNotUpdate {
				if ch := w.Updated()["cust_a"]; ch["last_name"].To != "Smith" {
					t.Fatalf("changes %+v", ch)
				}
			}
		})
	}
}

func TestOverwriteNeverClearsWithEmptyInput(t *testing.T) {
	w := dedupe.NewWorkspace(ids(), false)
	c := existing(w, customer.Customer{ID: "cust_a", Email: "a@x.com", FirstName: "Ann", Notes: "vip"})
	r, _ := w.Apply(rec("a@x.com", "", "", customer.Customer{}), dedupe.Options{Policy: dedupe.Overwrite})
	if c.FirstName != "Ann" || c.Notes != "vip" || r.Action != dedupe.ActionUnchanged {
		t.Fatalf("got %+v %s", c, r.Action)
	}
}

func TestNewIdentifiersOfAMatch(t *testing.T) {
	t.Run("phone becomes primary when the customer has none", func(t *testing.T) {
		w := dedupe.NewWorkspace(ids(), false)
		c := existing(w, customer.Customer{ID: "cust_a", Email: "a@x.com"})
		r, _ := w.Apply(rec("a@x.com", "+14155550105", "", customer.Customer{}), dedupe.Options{})
		if c.Phone != "+14155550105" || r.Action != dedupe.ActionUpdated {
			t.Fatalf("phone %q action %s", c.Phone, r.Action)
		}
		if s := keyState(w, "phone", "14155550105"); s == nil || !s.Primary {
			t.Fatalf("key %+v", s)
		}
	})
	t.Run("a second email becomes an alias", func(t *testing.T) {
		w := dedupe.NewWorkspace(ids(), false)
		c := existing(w, customer.Customer{ID: "cust_a", Email: "a@x.com", Phone: "+14155550106"})
		r, _ := w.Apply(rec("other@x.com", "+14155550106", "", customer.Customer{}), dedupe.Options{})
		if c.Email != "a@x.com" || r.Action != dedupe.ActionUpdated || matchedOn(r) != "phone" {
			t.Fatalf("email %q result %+v", c.Email, r)
		}
		if s := keyState(w, "email", "other@x.com"); s == nil || s.Primary || s.CustomerID != "cust_a" {
			t.Fatalf("alias %+v", s)
		}
	})
	t.Run("overwrite makes the new email primary and keeps the old as alias", func(t *testing.T) {
		w := dedupe.NewWorkspace(ids(), false)
		c := existing(w, customer.Customer{ID: "cust_a", Email: "a@x.com", Phone: "+14155550107"})
		w.Apply(rec("new@x.com", "+14155550107", "", customer.Customer{}), dedupe.Options{Policy: dedupe.Overwrite})
		if c.Email != "new@x.com" {
			t.Fatalf("email %q", c.Email)
		}
		if s := keyState(w, "email", "a@x.com"); s == nil || s.Primary || s.CustomerID != "cust_a" {
			t.Fatalf("old primary %+v", s)
		}
	})
	t.Run("do_not_update adds aliases only", func(t *testing.T) {
		w := dedupe.NewWorkspace(ids(), false)
		c := existing(w, customer.Customer{ID: "cust_a", Email: "a@x.com"})
		w.Apply(rec("a@x.com", "+14155550108", "", customer.Customer{FirstName: "X"}), dedupe.Options{Policy: dedupe.DoNotUpdate})
		if c.Phone != "" || c.FirstName != "" {
			t.Fatalf("do_not_update changed fields: %+v", c)
		}
		if s := keyState(w, "phone", "14155550108"); s == nil || s.Primary {
			t.Fatalf("phone alias %+v", s)
		}
	})
	t.Run("nothing new is unchanged", func(t *testing.T) {
		w := dedupe.NewWorkspace(ids(), false)
		existing(w, customer.Customer{ID: "cust_a", Email: "a@x.com", Phone: "+14155550109", FirstName: "A"})
		r, _ := w.Apply(rec("a@x.com", "+14155550109", "", customer.Customer{FirstName: "A"}), dedupe.Options{})
		if r.Action != dedupe.ActionUnchanged || len(w.Keys()) != 0 || len(w.Updated()) != 0 {
			t.Fatalf("result %+v keys %+v", r, w.Keys())
		}
	})
}

// Rows applied in order to one workspace behave like one-by-one processing.
func TestApplySequenceOfRows(t *testing.T) {
	w := dedupe.NewWorkspace(ids(), false)
	opts := dedupe.Options{}
	r1, _ := w.Apply(rec("a@x.com", "+14155550110", "", customer.Customer{FirstName: "A"}), opts)
	r2, _ := w.Apply(rec("a2@x.com", "+14155550110", "", customer.Customer{LastName: "B"}), opts)
	r3, _ := w.Apply(rec("a2@x.com", "", "", customer.Customer{}), opts)
	r4, _ := w.Apply(rec("", "+14155550199", "", customer.Customer{}), opts)
	if r1.Action != "created" || r2.CustomerID != r1.CustomerID || r2.Action != "updated" || r3.CustomerID != r1.CustomerID || r3.Action != "unchanged" {
		t.Fatalf("r1 %+v r2 %+v r3 %+v", r1, r2, r3)
	}
	if r4.Action != "created" || r4.CustomerID == r1.CustomerID {
		t.Fatalf("r4 %+v", r4)
	}
	c := w.Customer(r1.CustomerID)
	if c.FirstName != "A" || c.LastName != "B" {
		t.Fatalf("merged fields %+v", c)
	}
	if len(w.Created()) != 2 || len(w.Updated()) != 0 {
		t.Fatalf("created %d updated %d", len(w.Created()), len(w.Updated()))
	}
}

func TestCanonicalEmailKeys(t *testing.T) {
	w := dedupe.NewWorkspace(ids(), true)
	c := customer.Customer{ID: "cust_a", Email: "john.doe@gmail.com"}
	w.Load(&c, w.KeyOf("email", c.Email))
	in := rec("johndoe+shop@gmail.com", "", "", customer.Customer{})
	in.EmailKey = dedupe.EmailKey(in.Email, true)
	r, _ := w.Apply(in, dedupe.Options{})
	if r.CustomerID != "cust_a" || c.Email != "john.doe@gmail.com" || r.Action != "unchanged" {
		t.Fatalf("result %+v email %q", r, c.Email)
	}
}

func TestMergeFieldsAttributes(t *testing.T) {
	c := &customer.Customer{Attributes: map[string]any{"tier": "gold"}}
	ch := dedupe.MergeFields(c, &customer.Customer{Attributes: map[string]any{"tier": "silver", "shoe": "42"}}, dedupe.FillBlanks)
	if c.Attributes["tier"] != "gold" || c.Attributes["shoe"] != "42" || ch["attributes"].To == nil {
		t.Fatalf("attributes %v changes %v", c.Attributes, ch)
	}
	dedupe.MergeFields(c, &customer.Customer{Attributes: map[string]any{"tier": "silver"}}, dedupe.Overwrite)
	if c.Attributes["tier"] != "silver" {
		t.Fatalf("overwrite attributes %v", c.Attributes)
	}
}

// The Riyadh story of issue 19: a location's region misreads a US number as
// an invalid Saudi one. Whatever the policy, the valid primary stays, the
// invalid number becomes an alias (still found) and the answer warns.
func TestApplyKeepsValidPhoneOverInvalid(t *testing.T) {
	for _, opts := range []dedupe.Options{
		{}, {Policy: dedupe.FillBlanks}, {Policy: dedupe.Overwrite}, {Policy: dedupe.DoNotUpdate}, {MergeConflicts: true},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			w := dedupe.NewWorkspace(ids(), false)
			c := existing(w, customer.Customer{ID: "cust_a", FirstName: "Ann", Email: "ann@example.com", Phone: "+14155550100", PhoneValid: true})
			in := rec("ann@example.com", "+9664155550100", "", customer.Customer{FirstName: "Ann"})
			in.PhoneValid = false
			r, err := w.Apply(in, opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.CustomerID != "cust_a" || c.Phone != "+14155550100" || !c.PhoneValid {
				t.Fatalf("result %+v, phone %s valid %v", r, c.Phone, c.PhoneValid)
			}
			if s := keyState(w, "phone", "9664155550100"); s == nil || s.Primary || s.CustomerID != "cust_a" {
				t.Fatalf("invalid phone key %+v, want an alias of cust_a", s)
			}
			if s := keyState(w, "phone", "14155550100"); s != nil && !s.Primary {
				t.Fatalf("valid phone demoted: %+v", s)
			}
			warns := w.PhoneWarnings(in, r.CustomerID)
			if len(warns) != 1 || warns[0].Code != dedupe.WarningInvalidPhone || warns[0].Field != "phone" ||
				warns[0].Message != "phone +9664155550100 is not a valid number; kept as an alias, the valid +14155550100 stays primary" {
				t.Fatalf("warnings %+v", warns)
			}
		})
	}
}

func TestApplyPhoneWarnings(t *testing.T) {
	w := dedupe.NewWorkspace(ids(), false)
	existing(w, customer.Customer{ID: "cust_b", Email: "bob@example.com", Phone: "+14155550199", PhoneValid: true})
	// A valid phone warns about nothing.
	valid := rec("a@example.com", "+14155550100", "", customer.Customer{})
	r, _ := w.Apply(valid, dedupe.Options{})
	if warns := w.PhoneWarnings(valid, r.CustomerID); len(warns) != 0 {
		t.Fatalf("valid phone warned: %+v", warns)
	}
	// An invalid phone on a new customer is its primary, kept as given.
	invalid := rec("c@example.com", "+15550999", "", customer.Customer{})
	invalid.PhoneValid = false
	r, _ = w.Apply(invalid, dedupe.Options{})
	if warns := w.PhoneWarnings(invalid, r.CustomerID); len(warns) != 1 ||
		warns[0].Message != "phone +15550999 is not a valid number; kept as given" {
		t.Fatalf("warnings %+v", warns)
	}
	// An invalid phone an invalid primary gives way to under overwrite.
	again := rec("c@example.com", "+15550888", "", customer.Customer{})
	again.PhoneValid = false
	r, _ = w.Apply(again, dedupe.Options{Policy: dedupe.Overwrite})
	if c := w.Customer(r.CustomerID); c.Phone != "+15550888" {
		t.Fatalf("overwrite between invalid phones: primary %s", c.Phone)
	}
	// A phone left on another customer (a conflict) is not this one's.
	other := rec("a@example.com", "+15550999", "", customer.Customer{})
	other.PhoneValid = false
	r, _ = w.Apply(other, dedupe.Options{})
	if warns := w.PhoneWarnings(other, r.CustomerID); len(warns) != 0 || len(r.Conflicts) != 1 {
		t.Fatalf("conflict warned: %+v %+v", warns, r)
	}
}

// The other side of the rule: a valid number takes the place of an invalid
// primary (kept as an alias) unless the policy is do_not_update.
func TestApplyValidPhoneReplacesInvalidPrimary(t *testing.T) {
	for _, tc := range []struct {
		opts    dedupe.Options
		primary string
	}{
		{dedupe.Options{}, "+14155550100"},
		{dedupe.Options{Policy: dedupe.Overwrite}, "+14155550100"},
		{dedupe.Options{MergeConflicts: true}, "+14155550100"},
		{dedupe.Options{Policy: dedupe.DoNotUpdate}, "+9664155550100"},
	} {
		t.Run(fmt.Sprintf("%+v", tc.opts), func(t *testing.T) {
			w := dedupe.NewWorkspace(ids(), false)
			c := existing(w, customer.Customer{ID: "cust_a", Email: "ann@example.com", Phone: "+9664155550100"})
			in := rec("ann@example.com", "+14155550100", "", customer.Customer{})
			r, err := w.Apply(in, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.Phone != tc.primary || c.PhoneValid != (tc.primary == "+14155550100") || r.Action != dedupe.ActionUpdated {
				t.Fatalf("primary %s valid %v action %s, want %s", c.Phone, c.PhoneValid, r.Action, tc.primary)
			}
			for _, k := range []string{"14155550100", "9664155550100"} {
				s := keyState(w, "phone", k)
				if wantPrimary := "+"+k == tc.primary; s == nil && !wantPrimary || s != nil && (s.Primary != wantPrimary || s.CustomerID != "cust_a") {
					t.Fatalf("key %s: %+v", k, s)
				}
			}
			if warns := w.PhoneWarnings(in, r.CustomerID); len(warns) != 0 {
				t.Fatalf("a valid phone warned: %+v", warns)
			}
		})
	}
}
