package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/linkittest"
)

// TestClientAgainstTheAPI drives the generated client against the real
// service: typed requests and answers, the key sent, errors as *APIError
// carrying the documented body.
func TestClientAgainstTheAPI(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t)
	ctx := t.Context()
	c, err := client.New(s.URL+"/", s.Key, client.WithUserAgent("client-test/1"))
	if err != nil {
		t.Fatal(err)
	}

	created, err := client.OK(c.CreateCustomerWithResponse(ctx, nil, client.CustomerInput{
		FirstName: client.Ptr("Sarah"), LastName: client.Ptr("Smith"),
		Email: client.Ptr(" Sarah@Example.COM "), Phone: client.Ptr("+966509876543"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if created.StatusCode() != http.StatusCreated || created.JSON201 == nil {
		t.Fatalf("create answered %d: %s", created.StatusCode(), created.Body)
	}
	sarah := created.JSON201.Data
	if client.Deref(sarah.Email) != "sarah@example.com" || client.Deref(sarah.Phone) != "+966509876543" || !strings.HasPrefix(sarah.Id, "cust_") {
		t.Fatalf("created %+v", sarah)
	}

	found, err := client.OK(c.LookupCustomerWithResponse(ctx, &client.LookupCustomerParams{Email: client.Ptr("sarah@example.com")}))
	if err != nil {
		t.Fatal(err)
	}
	if found.JSON200 == nil || found.JSON200.Data.Id != sarah.Id {
		t.Fatalf("lookup answered %d: %s", found.StatusCode(), found.Body)
	}

	up, err := client.OK(c.UpsertCustomerWithResponse(ctx, nil, client.UpsertCustomerJSONRequestBody{
		Email: client.Ptr("sarah@example.com"), CompanyName: client.Ptr("Smith & Co"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if up.JSON200 == nil || up.JSON200.Data.Id != sarah.Id || up.JSON200.Meta.Action != "updated" {
		t.Fatalf("upsert answered %d: %s", up.StatusCode(), up.Body)
	}

	// A 4xx is an *APIError naming the field, as the document says.
	_, err = client.OK(c.CreateCustomerWithResponse(ctx, nil, client.CustomerInput{Email: client.Ptr("not-an-email")}))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || ae.Body.Code != 422 || ae.Body.Error == "" {
		t.Fatalf("invalid email: err = %v", err)
	}
	var details map[string]string
	if json.Unmarshal(ae.Body.Details, &details) != nil || details["email"] == "" || !strings.Contains(err.Error(), "email: ") {
		t.Fatalf("details do not name email: %s (%v)", ae.Raw, err)
	}
	if ae.Transient() {
		t.Fatal("a 422 is not transient")
	}

	// Another organization's id is 404; a wrong key 401.
	_, err = client.OK(c.GetCustomerWithResponse(ctx, "cust_00000000000000000000000000"))
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("unknown id: err = %v", err)
	}
	wrong, err := client.New(s.URL, "lk_wrong")
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.OK(wrong.GetSettingsWithResponse(ctx))
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Body.Error == "" {
		t.Fatalf("wrong key: err = %v", err)
	}

	// The plain client streams; Check turns a non-2xx into the same error.
	res, err := c.ImportErrors(ctx, "imp_00000000000000000000000000", &client.ImportErrorsParams{Format: client.Ptr(client.Csv)})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Check(res); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("errors of an unknown import: err = %v", err)
	}
}

// TestClientLocationScopedErrors: the location-scoped error shape
// ({"success": false, "message", "errors"}) fills the same APIError fields.
func TestClientLocationScopedErrors(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	c, err := client.New(s.URL, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.OK(c.ListLocationCustomersWithResponse(t.Context(), "loc_00000000000000000000000000", nil))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Body.Error == "" {
		t.Fatalf("unknown location: err = %v", err)
	}
}
