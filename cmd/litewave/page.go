package main

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/aiorch/litewavemetric/internal/events"
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
func devHandler(fake *litewavetest.Server, kafka *devKafka) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch p := r.URL.EscapedPath(); {
		case get && p == "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			// The page loads nothing from elsewhere; the browser is told so.
			w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
			_, _ = w.Write(page)
		case get && p == "/usage.json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(billed(fake, kafka, time.Now()))
		default:
			fake.ServeHTTP(w, r)
		}
	})
}

// usageReport is /usage.json: what was billed through each path.
type usageReport struct {
	Series  []seriesUsage `json:"series"`
	Meters  []meterUsage  `json:"meters"`
	Paths   []pathUsage   `json:"paths"`
	Refused int64         `json:"refused"` // HTTP events and records answered with an error
}

// seriesUsage is one series' usage through one path.
type seriesUsage struct {
	Via      string    `json:"via"`
	Tenant   string    `json:"tenant"`
	Device   string    `json:"device"`
	Meter    string    `json:"meter"`
	Customer string    `json:"customer"` // of its latest usage
	Units    int64     `json:"units"`
	Last     time.Time `json:"last"` // when its latest usage came in
}

// meterUsage is a meter's total over every path and series.
type meterUsage struct {
	Meter     string  `json:"meter"`
	Units     int64   `json:"units"`
	PerMinute []int64 `json:"perMinute"` // the last chartMinutes minutes, the current one last
}

// pathUsage counts what came in through one path.
type pathUsage struct {
	Path     string `json:"path"`
	Where    string `json:"where"`
	Noun     string `json:"noun"`     // what it counts: "event" or "record"
	Accepted int64  `json:"accepted"` // billed
	Replays  int64  `json:"replays"`  // a key billed before, not billed again
	Unusable int64  `json:"unusable"` // Kafka records whose value is not usage
	Problem  string `json:"problem"`  // why Kafka is not read, if it is not
}

func billed(fake *litewavetest.Server, kafka *devKafka, now time.Time) usageReport {
	st := fake.Stats()
	t := newTally()
	for _, e := range fake.Events() {
		if !e.Duplicate {
			t.add(viaEvents, billedUsage{litewavetest.Series{Tenant: e.Tenant, Device: e.Device, Meter: e.Meter}, e.CustomerID, e.TotalUsage}, e.Received)
		}
	}
	for _, r := range fake.Records() {
		// The fake keeps only records whose value is usage.
		if u, ok := parseUsageRecord(r.Value); ok && !r.Duplicate {
			t.add(viaREST, u, r.Received)
		}
	}
	paths := []pathUsage{
		{Path: viaEvents, Where: "POST " + events.Path, Noun: "event", Accepted: st.Accepted, Replays: st.Duplicates},
		{Path: viaREST, Where: "POST /topics/{topic}", Noun: "record", Accepted: st.RecordsAccepted, Replays: st.RecordDuplicates},
		kafka.report(t),
	}
	return usageReport{Series: t.series(), Meters: t.meters(now), Paths: paths,
		Refused: st.Rejected + st.Conflicts + st.RecordErrors + st.Unauthorized}
}
