// Strict query parameters: each GET route declares the ones it reads.

package api

import (
	"net/http"
	"slices"

	"github.com/linkitworks/customers/customer"
)

// The query parameters of the GET routes (routes.go wraps each with
// accepts). A parameter no route reads is refused rather than ignored: a
// misspelt filter (updated_from for updated_since) would otherwise answer
// every customer as if it had filtered them.
var (
	noParams   []string
	pageParams = []string{"page", "limit", "page_size"}
	// syncParams continue a customer list incrementally (SPEC §10.4).
	syncParams         = []string{"sort", "updated_since", "cursor"}
	customerListParams = concat(pageParams, syncParams, []string{"search", "status", "type", "created_from",
		"created_to", "location_id", "tag", "group_id"})
	erpListParams           = concat(pageParams, syncParams, []string{"is_active", "search"})
	locationCustomersParams = concat(pageParams, syncParams, []string{"q"})
	lookupParams            = []string{"email", "phone"}
	tagListParams           = concat(pageParams, []string{"location_id", "prefix"})
	importErrorParams       = concat(pageParams, []string{"severity", "format"})
	orderListParams         = concat(pageParams, []string{"status", "date_from", "date_to"})
	analyticsParams         = []string{"period"}
	duplicateListParams     = concat(pageParams, []string{"status", "min_score", "customer_id"})
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// accepts refuses, with a 422 naming each, the query parameters h does not
// read. It runs after authentication and before h, so h's own errors
// (a bad value, an unknown id) come after.
func accepts(allowed []string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		unknown := map[string]string{}
		for name := range r.URL.Query() {
			if !slices.Contains(allowed, name) {
				unknown[name] = "unknown parameter"
			}
		}
		if len(unknown) > 0 {
			return &customer.Error{Code: customer.EINVALID, Message: "Unknown query parameter", Details: unknown}
		}
		return h(w, r)
	}
}
