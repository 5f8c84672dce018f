package main

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// Where usage came in, as the page names it.
const (
	viaEvents = "events API"
	viaREST   = "REST Proxy"
	viaKafka  = "Kafka"
)

// chartMinutes is how many minutes the page's chart shows, the current
// one last.
const chartMinutes = 15

// billedUsage is one event or record as the page counts it.
type billedUsage struct {
	series   litewavetest.Series
	customer string
	units    int64
}

// parseUsageRecord reads a usage record's value, as the REST Proxy and
// Kafka carry it (the library's usage.AppendRecord).
func parseUsageRecord(value []byte) (billedUsage, bool) {
	var v struct {
		Tenant   string `json:"tenant_id"`
		Device   string `json:"device_id"`
		Meter    string `json:"meter_id"`
		Customer string `json:"customer_id"`
		Units    *int64 `json:"total_usage"`
	}
	if json.Unmarshal(value, &v) != nil || v.Tenant == "" || v.Device == "" || v.Meter == "" || v.Units == nil {
		return billedUsage{}, false
	}
	return billedUsage{litewavetest.Series{Tenant: v.Tenant, Device: v.Device, Meter: v.Meter}, v.Customer, *v.Units}, true
}

// tally adds usage up per path and series, and per meter and minute for
// the chart. Meters are never added to one another: their units differ.
type tally struct {
	rows    map[rowKey]*seriesUsage
	minutes map[string]map[int64]int64 // meter → Unix minute → units
}

type rowKey struct {
	via    string
	series litewavetest.Series
}

func newTally() *tally {
	return &tally{rows: map[rowKey]*seriesUsage{}, minutes: map[string]map[int64]int64{}}
}

// add counts u, which came in through via at time at.
func (t *tally) add(via string, u billedUsage, at time.Time) {
	t.addRow(seriesUsage{Via: via, Tenant: u.series.Tenant, Device: u.series.Device, Meter: u.series.Meter,
		Customer: u.customer, Units: u.units, Last: at})
	t.addMinute(u.series.Meter, at.Unix()/60, u.units)
}

// addRow adds r's units to its row; the row shows the customer of its
// latest usage.
func (t *tally) addRow(r seriesUsage) {
	k := rowKey{r.Via, litewavetest.Series{Tenant: r.Tenant, Device: r.Device, Meter: r.Meter}}
	row := t.rows[k]
	if row == nil {
		row = &seriesUsage{Via: r.Via, Tenant: r.Tenant, Device: r.Device, Meter: r.Meter}
		t.rows[k] = row
	}
	row.Units += r.Units
	if !r.Last.Before(row.Last) {
		row.Last, row.Customer = r.Last, r.Customer
	}
}

func (t *tally) addMinute(meter string, minute, units int64) {
	m := t.minutes[meter]
	if m == nil {
		m = map[int64]int64{}
		t.minutes[meter] = m
	}
	m[minute] += units
}

// merge adds what o counted.
func (t *tally) merge(o *tally) {
	for _, r := range o.rows {
		t.addRow(*r)
	}
	for meter, m := range o.minutes {
		for minute, units := range m {
			t.addMinute(meter, minute, units)
		}
	}
}

// series is the rows, by tenant, device, meter and path.
func (t *tally) series() []seriesUsage {
	out := []seriesUsage{}
	for _, r := range t.rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b seriesUsage) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Device, b.Device),
			cmp.Compare(a.Meter, b.Meter), cmp.Compare(a.Via, b.Via))
	})
	return out
}

// meters is the total of each meter, and its units per minute over the
// chartMinutes minutes up to now's.
func (t *tally) meters(now time.Time) []meterUsage {
	totals := map[string]int64{}
	for _, r := range t.rows {
		totals[r.Meter] += r.Units
	}
	out := []meterUsage{}
	last := now.Unix() / 60
	for meter, units := range totals {
		per := make([]int64, chartMinutes)
		for i := range per {
			per[i] = t.minutes[meter][last-int64(chartMinutes-1-i)]
		}
		out = append(out, meterUsage{Meter: meter, Units: units, PerMinute: per})
	}
	slices.SortFunc(out, func(a, b meterUsage) int { return cmp.Compare(a.Meter, b.Meter) })
	return out
}
