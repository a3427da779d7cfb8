package customer

import "testing"

// nullEmpty writes null for the named top-level members holding "" and
// leaves everything else byte for byte: other members, nested objects,
// and strings holding quotes, colons and braces.
func TestNullEmpty(t *testing.T) {
	keys := []string{"email", "phone", "notes"}
	for _, tc := range []struct{ in, want string }{
		{`{"email":"","phone":"+1","notes":""}`, `{"email":null,"phone":"+1","notes":null}`},
		{`{"name":"a \"b\": {\"email\":\"\"}","email":""}`, `{"name":"a \"b\": {\"email\":\"\"}","email":null}`},
		{`{"billing":{"email":""},"tags":[{"phone":""}],"phone":""}`, `{"billing":{"email":""},"tags":[{"phone":""}],"phone":null}`},
		{`{"other":"","email":"x@y.z"}`, `{"other":"","email":"x@y.z"}`},
		{`{"notes":"\\","email":""}`, `{"notes":"\\","email":null}`},
	} {
		if got := string(nullEmpty([]byte(tc.in), keys)); got != tc.want {
			t.Errorf("nullEmpty(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
