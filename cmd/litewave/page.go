package main

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// page is the live page: static HTML whose script renders /usage.json.
//
//go:embed page.html
var page []byte

// devHandler serves the page and its data beside the fake's endpoints. It
// matches exact paths instead of using http.ServeMux, which would clean
// paths and answer redirects: the fake answers a client's wrong path with
// a 404, so that the bug shows.
func devHandler(fake *litewavetest.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch p := r.URL.EscapedPath(); {
		case get && p == "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(page)
		case get && p == "/usage.json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(billed(fake))
		default:
			fake.ServeHTTP(w, r)
		}
	})
}

// usageReport is /usage.json: what the fake billed.
type usageReport struct {
	Series     []seriesUsage `json:"series"`
	Total      int64         `json:"total"`
	Events     int64         `json:"events"`     // event posts accepted
	Records    int64         `json:"records"`    // produced records accepted
	Duplicates int64         `json:"duplicates"` // replays of a key, not counted again
	Refused    int64         `json:"refused"`    // events and records answered with an error
}

type seriesUsage struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	Meter  string `json:"meter"`
	Units  int64  `json:"units"`
}

func billed(fake *litewavetest.Server) usageReport {
	st := fake.Stats()
	rep := usageReport{Series: []seriesUsage{}, Events: st.Accepted, Records: st.RecordsAccepted,
		Duplicates: st.Duplicates + st.RecordDuplicates,
		Refused:    st.Rejected + st.Conflicts + st.RecordErrors + st.Unauthorized}
	for s, units := range fake.Totals() {
		rep.Series = append(rep.Series, seriesUsage{s.Tenant, s.Device, s.Meter, units})
		rep.Total += units
	}
	slices.SortFunc(rep.Series, func(a, b seriesUsage) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Device, b.Device), cmp.Compare(a.Meter, b.Meter))
	})
	return rep
}
