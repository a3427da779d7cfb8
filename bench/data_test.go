package main

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

// The generated identities must be unique, or loads and "new identity"
// upserts would collide.
func TestGeneratedIdentitiesAreUnique(t *testing.T) {
	t.Parallel()
	const n = 100_000
	g := newGen(1, "org_test", n)
	ids, emails, phones := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range n {
		p := g.person(i)
		if ids[p.ID] || emails[p.Email] || phones[p.PhoneKey] {
			t.Fatalf("customer %d repeats an id, email or phone: %+v", i, p)
		}
		ids[p.ID], emails[p.Email], phones[p.PhoneKey] = true, true, true
		if p.Email != strings.ToLower(p.Email) || "+"+p.PhoneKey != p.Phone {
			t.Fatalf("customer %d: keys not normalized: %+v", i, p)
		}
	}
}

// Every format the generator sends must normalize to the stored key.
func TestPhoneFormatsNormalizeToTheKey(t *testing.T) {
	t.Parallel()
	g := newGen(1, "org_test", 10_000)
	if notes := g.checkFormats("US", 500); len(notes) > 0 {
		t.Logf("dropped formats: %v", notes)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		p := g.person(rng.IntN(10_000))
		raw := g.phoneVariant(p, rng)
		ph, err := dedupe.NormalizePhone(raw, "US")
		if err != nil || dedupe.PhoneDigits(ph.Number) != p.PhoneKey {
			t.Fatalf("%q normalizes to %q (%v), want key %s", raw, ph.Number, err, p.PhoneKey)
		}
		if e, err := dedupe.NormalizeEmail(emailVariant(p.Email, rng)); err != nil || e != p.Email {
			t.Fatalf("email variant of %s normalizes to %q (%v)", p.Email, e, err)
		}
	}
}

func BenchmarkPerson(b *testing.B) {
	g := newGen(1, "org_test", 1_000_000)
	for i := 0; b.Loop(); i++ {
		_ = g.person(i % 1_000_000)
	}
}

func TestSearchTerms(t *testing.T) {
	g := newGen(1, "org", 100_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		p := g.person(i)
		if c := commonTerm(p, rng); len([]rune(c)) != 4 {
			t.Fatalf("commonTerm(%s) = %q", p.Name, c)
		}
		local, _, _ := strings.Cut(p.Email, "@")
		if r := rareTerm(p); len(r) != 6 || !strings.Contains(local, r) {
			t.Fatalf("rareTerm(%s) = %q", p.Email, r)
		}
	}
}
