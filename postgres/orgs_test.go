package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// Workers read settings by organization id; the API gets the same ones
// with the organization of a key.
func TestOrganizationSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := postgrestest.New(t)
	o := &customer.Organization{Name: "Acme", DefaultRegion: "SA"}
	if err := store.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	want := customer.DefaultSettings()
	want.DefaultRegion = "SA"
	want.Updated = o.Settings.Updated
	st, err := store.OrganizationSettings(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Updated.IsZero() || !reflect.DeepEqual(st, want) {
		t.Errorf("new org's settings = %+v, want %+v", st, want)
	}

	_, err = store.UpdateOrganizationSettings(ctx, o.ID, func(st *customer.Settings) error {
		st.DefaultRegion, st.MatchKeys, st.NameCheck = "US", []string{"phone"}, false
		st.Blocklist.Phones = []string{"+14155550100"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	key, err := store.CreateAPIKey(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() (*customer.Organization, error){
		"FindOrganization": func() (*customer.Organization, error) { return store.FindOrganization(ctx, o.ID) },
		"Authenticate":     func() (*customer.Organization, error) { return store.Authenticate(ctx, key.Secret) },
	} {
		got, err := load()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := got.Settings
		if got.DefaultRegion != "US" || s.DefaultRegion != "US" || !reflect.DeepEqual(s.MatchKeys, []string{"phone"}) ||
			s.NameCheck || !reflect.DeepEqual(s.Blocklist.Phones, []string{"+14155550100"}) || len(s.Blocklist.Emails) != 0 {
			t.Errorf("%s: region %q, settings %+v", name, got.DefaultRegion, s)
		}
	}

	_, err = store.OrganizationSettings(ctx, "org_missing")
	if e := customer.AsError(err); !errors.As(err, new(*customer.Error)) || e.Code != customer.ENOTFOUND {
		t.Errorf("unknown org: err = %v, want not found", err)
	}
}
