package dedupe_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

var nameCheck = dedupe.Options{NameCheck: true}

func TestApplyNameCheck(t *testing.T) {
	phone := dedupe.Key{Kind: dedupe.KindPhone, Value: "14155550100"}
	for _, tc := range []struct {
		name     string
		incoming customer.Customer
		opts     dedupe.Options
		want     string // "ann" (matched) or "new"
		shared   bool
	}{
		{"same person", customer.Customer{FirstName: "Ann", LastName: "Lee"}, nameCheck, "ann", false},
		{"nickname", customer.Customer{FirstName: "Annie", LastName: "Lee"}, nameCheck, "ann", false},
		{"no name", customer.Customer{}, nameCheck, "ann", false},
		{"placeholder name", customer.Customer{Name: "Walk-in Customer"}, nameCheck, "ann", false},
		{"another person", customer.Customer{FirstName: "Jon", LastName: "Doe"}, nameCheck, "new", true},
		{"other family name", customer.Customer{FirstName: "Ann", LastName: "Stone"}, nameCheck, "new", true},
		{"check off", customer.Customer{FirstName: "Jon", LastName: "Doe"}, dedupe.Options{}, "ann", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := dedupe.NewWorkspace(ids(), false)
			ann := existing(w, customer.Customer{ID: "cust_ann", FirstName: "Ann", LastName: "Lee", Email: "ann@example.com", Phone: "+14155550100"})
			r, err := w.Apply(rec("jon@example.com", "+14155550100", "", tc.incoming), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := "new"
			if r.CustomerID == ann.ID {
				got = "ann"
			}
			sk := w.SharedKeys()
			if got != tc.want || (len(sk) == 1) != tc.shared {
				t.Fatalf("got %s (shared %v), want %s (shared %v): %+v", got, sk, tc.want, tc.shared, r)
			}
			if !tc.shared {
				return
			}
			if sk[0] != (dedupe.SharedKey{Key: phone, Reason: dedupe.ReasonNamesDiffer}) {
				t.Fatalf("shared %v", sk)
			}
			if ann.Email != "ann@example.com" || ann.FirstName != "Ann" || len(w.Updated()) != 0 {
				t.Fatalf("the record reached Ann: %+v, updated %v", ann, w.Updated())
			}
			var carriers []string
			for _, c := range w.Carriers() {
				carriers = append(carriers, c.CustomerID)
			}
			if !slices.Equal(carriers, []string{"cust_ann", r.CustomerID}) {
				t.Fatalf("carriers %v", carriers)
			}
			if len(r.Warnings) != 1 || r.Warnings[0].Code != dedupe.WarningSharedIdentifier || r.Warnings[0].Field != "phone" ||
				r.Warnings[0].CustomerID != "cust_ann" {
				t.Fatalf("warnings %+v", r.Warnings)
			}
			if p := w.Pairs(); len(p) != 1 || p[0].Reason != dedupe.PairSharedIdentifier {
				t.Fatalf("pairs %+v", p)
			}
			// The new customer keeps the phone, and owns the email alone.
			c := w.Customer(r.CustomerID)
			if c.Phone != "+14155550100" || w.Owner(dedupe.Key{Kind: dedupe.KindEmail, Value: "jon@example.com"}) != c.ID ||
				w.Owner(phone) != "cust_ann" {
				t.Fatalf("new customer %+v", c)
			}
		})
	}
}

func TestApplySharedKeyNeedsAgreeingName(t *testing.T) {
	phone := dedupe.Key{Kind: dedupe.KindPhone, Value: "14155550100"}
	setup := func() *dedupe.Workspace {
		w := dedupe.NewWorkspace(ids(), false)
		existing(w, customer.Customer{ID: "cust_ann", FirstName: "Ann", LastName: "Lee", Phone: "+14155550100"})
		existing(w, customer.Customer{ID: "cust_bob", FirstName: "Bob", LastName: "Dylan"})
		existing(w, customer.Customer{ID: "cust_anon"})
		w.LoadShared(phone, dedupe.ReasonNamesDiffer, "cust_bob", "cust_anon")
		return w
	}
	w := setup()
	r, err := w.Apply(rec("", "+14155550100", "", customer.Customer{FirstName: "Robert", LastName: "Dylan"}), nameCheck)
	// Bob had no phone: the shared one becomes his primary.
	if err != nil || r.CustomerID != "cust_bob" || r.Action != dedupe.ActionUpdated || len(r.Warnings) != 0 ||
		w.Customer("cust_bob").Phone != "+14155550100" {
		t.Fatalf("Bob: %+v %v", r, err)
	}
	// Nobody's name agrees (a carrier without one does not count): new.
	r, err = setup().Apply(rec("", "+14155550100", "", customer.Customer{FirstName: "Cy", LastName: "Young"}), nameCheck)
	if err != nil || r.Action != dedupe.ActionCreated || len(r.Warnings) != 1 || r.Warnings[0].CustomerID != "" {
		t.Fatalf("Cy: %+v %v", r, err)
	}
	// No name: which carrier? Refused with all of them.
	_, err = setup().Apply(rec("", "+14155550100", "", customer.Customer{}), nameCheck)
	var serr *dedupe.SharedError
	if !errors.As(err, &serr) || !slices.Equal(serr.Candidates, []string{"cust_ann", "cust_bob", "cust_anon"}) || !slices.Equal(serr.Fields, []string{"phone"}) {
		t.Fatalf("no name: %v", err)
	}
	// No name but another identifier: a new customer carrying the phone.
	w = setup()
	r, err = w.Apply(rec("new@example.com", "+14155550100", "", customer.Customer{}), nameCheck)
	if err != nil || r.Action != dedupe.ActionCreated || w.Customer(r.CustomerID).Phone != "+14155550100" {
		t.Fatalf("no name with an email: %+v %v", r, err)
	}
}

func TestApplyBlocklistedKeyIsShared(t *testing.T) {
	opts := dedupe.Options{NameCheck: true, Blocklist: []string{"0000000000", "test@test.com"}}
	w := dedupe.NewWorkspace(ids(), false)
	existing(w, customer.Customer{ID: "cust_old", FirstName: "Ann", LastName: "Lee", Email: "test@test.com"})
	// Blocklisted: found through it, the owner is not matched without a name.
	_, err := w.Apply(rec("test@test.com", "", "", customer.Customer{}), opts)
	var serr *dedupe.SharedError
	if !errors.As(err, &serr) {
		t.Fatalf("err %v", err)
	}
	r, err := w.Apply(rec("test@test.com", "", "", customer.Customer{FirstName: "Ann"}), opts)
	if err != nil || r.CustomerID != "cust_old" {
		t.Fatalf("Ann: %+v %v", r, err)
	}
	// A blocklisted phone nobody carries yet: a new customer carries it.
	r, err = w.Apply(rec("", "+10000000000", "", customer.Customer{FirstName: "Bo"}), opts)
	if err != nil || r.Action != dedupe.ActionCreated || len(w.Carriers()) == 0 || w.Owner(dedupe.Key{Kind: dedupe.KindPhone, Value: "10000000000"}) != "" {
		t.Fatalf("blocklisted phone: %+v %v, carriers %v", r, err, w.Carriers())
	}
}

func TestApplyMatchKeys(t *testing.T) {
	st := customer.DefaultSettings()
	st.MatchKeys = []string{customer.MatchKeyPhone}
	opts := dedupe.OptionsOf(st, "")
	w := dedupe.NewWorkspace(ids(), false)
	existing(w, customer.Customer{ID: "cust_ann", FirstName: "Ann", Email: "ann@example.com"})
	r, err := w.Apply(rec("ann@example.com", "+14155550100", "", customer.Customer{FirstName: "Ann"}), opts)
	if err != nil || r.Action != dedupe.ActionCreated || len(r.Conflicts) != 1 || w.Customer(r.CustomerID).Email != "" {
		t.Fatalf("email matched with match_keys [phone]: %+v %v", r, err)
	}
	if w.Owner(dedupe.Key{Kind: dedupe.KindEmail, Value: "ann@example.com"}) != "cust_ann" {
		t.Fatal("the email left its owner")
	}
}

func TestOptionsOf(t *testing.T) {
	st := customer.DefaultSettings()
	st.DefaultMergePolicy = "overwrite"
	st.Blocklist.Phones = []string{"+10000000000"}
	o := dedupe.OptionsOf(st, "")
	if o.Policy != dedupe.Overwrite || !o.NameCheck || !slices.Equal(o.Priority, dedupe.DefaultPriority) || len(o.Blocklist) != 1 {
		t.Fatalf("%+v", o)
	}
	if o := dedupe.OptionsOf(st, "merge_conflicts"); o.Policy != dedupe.FillBlanks || !o.MergeConflicts {
		t.Fatalf("%+v", o)
	}
}

// BenchmarkApplyNameCheck is the engine's cost of one matching record with
// the name check on and off (a name variant, the usual re-import).
//
//	go test ./dedupe -run '^$' -bench BenchmarkApplyNameCheck
func BenchmarkApplyNameCheck(b *testing.B) {
	for _, opts := range []dedupe.Options{{}, nameCheck} {
		b.Run(fmt.Sprintf("name_check=%v", opts.NameCheck), func(b *testing.B) {
			w := dedupe.NewWorkspace(ids(), false)
			existing(w, customer.Customer{ID: "cust_jon", FirstName: "Jonathan", LastName: "García-López", Email: "jon@example.com", Phone: "+14155550100"})
			in := rec("jon@example.com", "+14155550100", "", customer.Customer{FirstName: "Jon", LastName: "Garcia"})
			for b.Loop() {
				if r, err := w.Apply(in, opts); err != nil || r.CustomerID != "cust_jon" || len(w.SharedKeys()) > 0 {
					b.Fatal(r, err)
				}
			}
		})
	}
}

// FuzzApplyNameCheck applies a record of any name on a phone two people
// already share and on one person's email: the record goes to a customer of
// the view, never one whose name clearly differs, and nothing of it reaches
// a customer it did not go to.
func FuzzApplyNameCheck(f *testing.F) {
	for _, n := range [][2]string{{"Ann", "Lee"}, {"Bob", "Dylan"}, {"", ""}, {"Guest", ""}, {"Дмитрий", "Иванов"}, {"J.", "Lee"}} {
		f.Add(n[0], n[1], true)
		f.Add(n[0], n[1], false)
	}
	f.Fuzz(func(t *testing.T, first, last string, withEmail bool) {
		w := dedupe.NewWorkspace(ids(), false)
		existing(w, customer.Customer{ID: "cust_ann", FirstName: "Ann", LastName: "Lee", Email: "ann@example.com", Phone: "+14155550100"})
		existing(w, customer.Customer{ID: "cust_bob", FirstName: "Bob", LastName: "Dylan"})
		w.LoadShared(dedupe.Key{Kind: dedupe.KindPhone, Value: "14155550100"}, dedupe.ReasonNamesDiffer, "cust_bob")
		email := ""
		if withEmail {
			email = "ann@example.com"
		}
		in := customer.Customer{FirstName: first, LastName: last}
		r, err := w.Apply(rec(email, "+14155550100", "", in), nameCheck)
		var serr *dedupe.SharedError
		if errors.As(err, &serr) {
			if withEmail || dedupe.HasName(dedupe.PersonNameOf(&in)) {
				t.Fatalf("refused %q %q (email %v): %v", first, last, withEmail, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		c := w.Customer(r.CustomerID)
		if c == nil {
			t.Fatalf("result %+v names no customer of the view", r)
		}
		if !w.IsCreated(c.ID) && dedupe.NamesDiffer(dedupe.PersonNameOf(&in), dedupe.PersonName{First: c.FirstName, Last: c.LastName}) {
			t.Fatalf("%q %q went to %s (%s %s)", first, last, c.ID, c.FirstName, c.LastName)
		}
		for id := range w.Updated() {
			if id != r.CustomerID {
				t.Fatalf("%s changed though the record went to %s", id, r.CustomerID)
			}
		}
	})
}
