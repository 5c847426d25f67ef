package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
)

// Fuzz targets for the API's request decoding and validation: whatever the body, a request is
// either refused with 400, 413 or (not application/json) 415 and a JSON {"error": ...} body, or it decodes into a request
// whose tenants, phases and datasets are all valid. Seeds live in testdata/fuzz/<target>; run
// one with, for example,
//
//	go test ./internal/httpapi -run '^$' -fuzz '^FuzzWarmRequest$' -fuzztime 10s

// decodeBody runs decode on body as a POST would bring it. If decoding fails, it checks the
// refusal and returns false.
func decodeBody(t *testing.T, body []byte, contentType string, v any) bool {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/cache/x", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	if decode(w, r, v) {
		if w.Body.Len() != 0 {
			t.Fatalf("decode succeeded but wrote %q", w.Body.String())
		}
		return true
	}
	jsonType := jsonContentType(contentType)
	if !jsonType && w.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("decode refused %q of type %q with %d, want 415", body, contentType, w.Code)
	}
	if jsonType && w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("decode refused %q with %d", body, w.Code)
	}
	if jsonType && len(body) > MaxBodyBytes && w.Code != http.StatusRequestEntityTooLarge && json.Valid(body) {
		t.Fatalf("a valid body of %d bytes refused with %d, want 413", len(body), w.Code)
	}
	var refusal map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &refusal); err != nil || refusal["error"] == "" || len(refusal) != 1 {
		t.Fatalf("refusal of %q is not {\"error\": ...}: %q", body, w.Body.String())
	}
	if !utf8.ValidString(refusal["error"]) {
		t.Fatalf("refusal message is not UTF-8: %q", refusal["error"])
	}
	return false
}

func FuzzWarmRequest(f *testing.F) {
	for _, s := range []string{
		`{"tenants":["t1","t2"]}`, `{"all":true}`, `{"all":true,"phases":["critical","high"]}`,
		`{"tenants":["t1"],"all":true}`, `{}`, `{"tenants":[]}`, `{"tenants":["t1:*"]}`, `{"tenants":["{t1}"]}`,
		`{"tenants":["t1"],"phases":["low"]}`, `{"tenants":["t1"],"extra":1}`, `{"tenants":"t1"}`, `{"tenants":[null]}`,
		`{"tenants":["t1"]} {"all":true}`, `[`, ``, `null`, `{"tenants":["\u0000"]}`, `{"phases":["critical","critical"],"all":true}`,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{"all":true}`), "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		var req WarmRequest
		if !decodeBody(t, body, contentType, &req) {
			return
		}
		phases, err := req.Validate()
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty validation error")
			}
			return
		}
		if req.All == (len(req.Tenants) > 0) {
			t.Fatalf("accepted %q: want tenants or all, not both", body)
		}
		for _, id := range req.Tenants {
			if _, err := cache.ParseTenant(id); err != nil {
				t.Fatalf("accepted %q with tenant %q: %v", body, id, err)
			}
		}
		for _, p := range phases {
			if !slices.Contains(catalog.Phases, p) {
				t.Fatalf("accepted %q with phase %q", body, p)
			}
		}
	})
}

func FuzzInvalidateRequest(f *testing.F) {
	for _, s := range []string{
		`{"tenant":"t1"}`, `{"tenant":"t1","datasets":["chart_of_accounts"],"rewarm":false}`,
		`{"eventType":"ACCOUNT_CREATED","tenantId":"t1","entityId":"42"}`, `{"eventType":"NOPE","tenantId":"t1"}`,
		`{"eventType":"ACCOUNT_CREATED","tenant":"t1"}`, `{"tenant":"t1*"}`, `{"tenant":"t1","datasets":["*"]}`,
		`{"tenant":""}`, `{}`, `{"tenant":"t1","datasets":[""]}`, `{"tenantId":"t1"}`, `{"tenant":"t1","rewarm":"yes"}`,
	} {
		f.Add([]byte(s))
	}
	cat, err := catalog.Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req InvalidateRequest
		if !decodeBody(t, body, "application/json", &req) {
			return
		}
		tn, datasets, rewarm, err := req.Resolve(cat)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty validation error")
			}
			return
		}
		if _, err := cache.ParseTenant(tn.String()); err != nil {
			t.Fatalf("accepted %q with tenant %q: %v", body, tn, err)
		}
		for _, d := range datasets {
			if _, err := cat.Lookup(d); err != nil {
				t.Fatalf("accepted %q with dataset %q", body, d)
			}
		}
		if req.Rewarm != nil && *req.Rewarm != rewarm {
			t.Fatalf("rewarm %v resolved to %v", *req.Rewarm, rewarm)
		}
		if req.EventType != "" && (req.Tenant != "" || len(req.Datasets) > 0) {
			t.Fatalf("accepted %q mixing the event form and the tenant form", body)
		}
	})
}
