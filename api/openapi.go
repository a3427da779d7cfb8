// The API's own description: GET /openapi.json and the page rendering it at GET /docs.

package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is authored as YAML (comments, anchors-free, reviewable) and
// served as JSON, which is what generators and renderers fetch.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// Redoc's standalone bundle, vendored from the redoc npm package with its
// licences (docsui/LICENSE, docsui/redoc.standalone.js.LICENSE.txt).
//
//go:embed docsui/redoc.standalone.js
var redocJS []byte

// OpenAPI returns the OpenAPI document as JSON, converted once.
var OpenAPI = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml to JSON: %w", err)
	}
	return out, nil
})

// docsPage loads the vendored renderer, which fetches /openapi.json: no
// inline script, so the CSP can forbid them.
const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Linkit Customers API</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
`

// docsCSP allows what Redoc needs: its own script, the styles it injects
// (styled-components), a worker it starts from a blob for search, and
// fetching the document from this origin.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsRoutes serves the document and its page: public (they describe the
// API, not anyone's data) and cacheable, unlike every other answer.
func (s *Server) docsRoutes() {
	doc, err := OpenAPI()
	if err != nil {
		// The embedded file is tested; a broken one must not start silently.
		panic(err)
	}
	s.mux.Handle("GET /openapi.json", staticAsset(doc, "application/json", ""))
	s.mux.Handle("GET /docs", staticAsset([]byte(docsPage), "text/html; charset=utf-8", docsCSP))
	s.mux.Handle("GET /docs/redoc.standalone.js", staticAsset(redocJS, "text/javascript; charset=utf-8", ""))
}

// staticAsset answers body with a strong ETag (304 on a match) and a short
// public cache lifetime, overriding the no-store the middleware sets.
func staticAsset(body []byte, contentType, csp string) http.Handler {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Type", contentType)
		if csp != "" {
			h.Set("Content-Security-Policy", csp)
		}
		// ServeContent handles If-None-Match, HEAD and ranges.
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}
