package litewavemetric

import (
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// overflowKey marks the attribute set into which the SDK merges measurements
// past an instrument's cardinality limit.
const overflowKey = attribute.Key("otel.metric.overflow")

// ScopeName is the instrumentation scope of the exporter's own metrics
// (see WithMeterProvider). Its metrics are never billed, nor are
// OpenTelemetry's own (named otel.sdk.*).
const ScopeName = "github.com/aiorch/litewavemetric"

// mapper turns data points into usage per (tenant, device, meter).
type mapper struct {
	tenantKey, deviceKey attribute.Key
	meterIDs             map[string]string
	instruments          map[string]bool
	deltas               *deltaTracker
	cache                *seriesCache
	collection           outbox.Collection // reused from one collection to the next
}

// mapReport counts what mapping could not attribute, or refused.
type mapReport struct {
	unattributed, overflow, untracked, invalid, overlap outbox.Issue
}

// resourceIDs are the ids of the resource, the fallback for points
// without their own.
type resourceIDs struct {
	tenant, device string
	res            attribute.Distinct
}

func (m *mapper) resourceIDsOf(r *resource.Resource) resourceIDs {
	if r == nil {
		return resourceIDs{}
	}
	set := r.Set()
	return resourceIDs{tenant: attrString(set, m.tenantKey), device: attrString(set, m.deviceKey), res: r.Equivalent()}
}

// attrString returns the attribute's value as a string ("" if absent); ids
// carried as numbers are billed under their text form.
func attrString(set *attribute.Set, k attribute.Key) string {
	v, ok := set.Value(k)
	if !ok {
		return ""
	}
	if v.Type() == attribute.STRING {
		return v.AsString()
	}
	return v.String()
}

// meterID returns the meter an instrument is billed under, and whether it
// is billed at all.
func (m *mapper) meterID(instrument string) (string, bool) {
	if m.instruments != nil && !m.instruments[instrument] {
		return "", false
	}
	if id, ok := m.meterIDs[instrument]; ok {
		return id, true
	}
	return instrument, true
}

// billed reports whether a metric may be billed at all: OpenTelemetry's own
// metrics and the exporter's never are, whatever provider carries them.
func billed(scope, name string) bool {
	return scope != ScopeName && !strings.HasPrefix(name, "otel.sdk.")
}

// ingest hands every monotonic sum point of rm to the outbox. Points of one
// series that differ in other attributes add up in the series. The points
// are mapped without the outbox's lock, which its Ingest takes only to add
// them up.
func (m *mapper) ingest(box *outbox.Outbox, rm *metricdata.ResourceMetrics, now int64) (*outbox.FirstAttempts, outbox.IngestReport, mapReport) {
	rep := m.collect(rm, now)
	first, irep := box.Ingest(&m.collection)
	m.cache.endExport(&m.collection)
	return first, irep, rep
}

// collect maps rm's points into m.collection.
func (m *mapper) collect(rm *metricdata.ResourceMetrics, now int64) mapReport {
	c := &m.collection
	var rep mapReport
	res := m.resourceIDsOf(rm.Resource)
	for si := range rm.ScopeMetrics {
		sm := &rm.ScopeMetrics[si]
		var scope scopeKey
		scopeSet := false
		for mi := range sm.Metrics {
			met := &sm.Metrics[mi]
			if !billed(sm.Scope.Name, met.Name) {
				continue
			}
			meter, ok := m.meterID(met.Name)
			if !ok {
				continue
			}
			cumulative, float, n := false, false, 0
			switch d := met.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					continue
				}
				cumulative, n = d.Temporality == metricdata.CumulativeTemporality, len(d.DataPoints)
			case metricdata.Sum[float64]:
				if !d.IsMonotonic {
					continue
				}
				cumulative, float, n = d.Temporality == metricdata.CumulativeTemporality, true, len(d.DataPoints)
			default:
				continue
			}
			if err := usage.CheckMeterID(meter); err != nil {
				n, units := pointsOf(met.Data)
				rep.invalid.Points += n
				rep.invalid.Units += units
				if rep.invalid.Example.Meter == "" {
					rep.invalid.Example.Meter, rep.invalid.Reason = printable(meter), err.Error()
				}
				continue
			}
			if !scopeSet {
				scope = scopeKey{sm.Scope.Name, sm.Scope.Version, sm.Scope.SchemaURL, sm.Scope.Attributes.Equivalent()}
				scopeSet = true
			}
			inst := instrumentKey{resource: res.res, scope: scope, name: met.Name, unit: met.Unit, description: met.Description, float: float}
			p := points{meter: meter, name: met.Name, cumulative: cumulative, float: float, res: res, scope: scope, now: now,
				resource: rm.Resource, instScope: &sm.Scope,
				cached: m.cache.scope(cacheScope{meter: meter, tenant: res.tenant, device: res.device, instrument: inst}, n)}
			switch d := met.Data.(type) {
			case metricdata.Sum[int64]:
				collectPoints(m, c, &rep, d.DataPoints, p)
			case metricdata.Sum[float64]:
				collectPoints(m, c, &rep, d.DataPoints, p)
			}
		}
	}
	if len(m.deltas.streams) > 0 {
		m.deltas.sweep(c, now, false)
	}
	return rep
}

// pointsOf counts the points of a sum and their usage, for a report.
func pointsOf(data metricdata.Aggregation) (int, float64) {
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		var u float64
		for _, p := range d.DataPoints {
			u += float64(max(p.Value, 0))
		}
		return len(d.DataPoints), u
	case metricdata.Sum[float64]:
		var u float64
		for _, p := range d.DataPoints {
			u += max(p.Value, 0)
		}
		return len(d.DataPoints), u
	}
	return 0, 0
}

// points is what the points of one metric share.
type points struct {
	meter, name string
	cumulative  bool
	float       bool // the points' type: N is float64
	res         resourceIDs
	scope       scopeKey
	now         int64
	resource    *resource.Resource
	instScope   *instrumentation.Scope
	cached      map[attribute.Distinct]*cachedStream
}

// collectPoints adds a metric's points to c: through the handle the cache
// keeps when the point's stream was seen before (the steady state), else
// by reading its ids. Points collected twice are refused (see overlap.go).
func collectPoints[N int64 | float64](m *mapper, c *outbox.Collection, rep *mapReport, pts []metricdata.DataPoint[N], p points) {
	// A metric whose streams the cache has not seen adds all its points by
	// key: a first collection.
	firstSeen := len(p.cached) == 0
	c.Grow(len(pts), firstSeen)
	if firstSeen {
		m.cache.grow(len(pts))
	}
	for i := range pts {
		dp := &pts[i]
		v := dp.Value
		if v == 0 && !p.cumulative {
			continue
		}
		e := m.cache.get(p.cached, &dp.Attributes)
		if p.cumulative {
			st := stream{key: streamKey{resource: p.res.res, scope: p.scope, name: p.name, attrs: dp.Attributes.Equivalent()},
				res: p.resource, scope: p.instScope, attrs: &dp.Attributes}
			var cached **streamState
			if e != nil {
				cached = &e.stream
			}
			d, status := delta(m.deltas, c, st, cached, dp.StartTime, dp.Time, v, p.now)
			switch status {
			case baseline:
				continue
			case untracked:
				rep.untracked.Add(usage.Key{Meter: p.meter}, 0, "cumulative stream cap reached: its delta cannot be known")
				continue
			case overlapping:
				rep.overlap.Add(usage.Key{Meter: p.meter}, 0, overlapReason) // its delta is unknown
				continue
			}
			if v = d; v == 0 {
				continue
			}
		}
		var end int64 // of the stream's last delta interval taken, then of this one
		if e != nil {
			end = e.end
		}
		if !p.cumulative {
			if deltaOverlaps(end, dp.StartTime) {
				rep.overlap.Add(e.series.Key(), max(float64(v), 0), overlapReason)
				continue
			}
			if !dp.Time.IsZero() {
				end = dp.Time.UnixNano()
			}
		}
		if e != nil {
			if p.float {
				c.Float(&e.series, float64(v))
			} else {
				c.Int(&e.series, int64(v))
			}
			e.end = end
			continue
		}
		k, ok := m.key(&dp.Attributes, p.res, p.meter)
		if !ok {
			issue, reason := &rep.unattributed, ""
			switch {
			case dp.Attributes.HasValue(overflowKey):
				issue = &rep.overflow
			case issue.Points == 0: // the report's example
				reason = m.missing(&dp.Attributes, p.res)
			}
			issue.Add(usage.Key{Meter: p.meter}, max(float64(v), 0), reason)
			continue
		}
		if err := validKey(k); err != nil {
			rep.invalid.Add(usage.Key{Tenant: printable(k.Tenant), Device: printable(k.Device), Meter: p.meter}, max(float64(v), 0), err.Error())
			continue
		}
		if h := m.cache.put(p.cached, &dp.Attributes, end); p.float {
			c.FloatKey(k, h, float64(v))
		} else {
			c.IntKey(k, h, int64(v))
		}
	}
}

// validKey checks the ids of a new series before they enter the outbox.
func validKey(k usage.Key) error {
	if err := ValidateID(k.Tenant); err != nil {
		return err
	}
	return ValidateID(k.Device)
}

// key returns the series of a point: ids from its attributes, else from
// the resource; ok is false when either id is missing.
func (m *mapper) key(attrs *attribute.Set, res resourceIDs, meter string) (usage.Key, bool) {
	tenant := attrString(attrs, m.tenantKey)
	if tenant == "" {
		tenant = res.tenant
	}
	device := attrString(attrs, m.deviceKey)
	if device == "" {
		device = res.device
	}
	return usage.Key{Tenant: tenant, Device: device, Meter: meter}, tenant != "" && device != ""
}

// maxKeysShown bounds the attribute keys a report lists.
const maxKeysShown = 10

// missing says which ids a point lacks, under the keys expected, and which
// keys it has: `has no "tenant.id" attribute (it has: tenant_id, region)`.
func (m *mapper) missing(attrs *attribute.Set, res resourceIDs) string {
	var lacks []string
	for _, want := range []struct {
		key     attribute.Key
		fromRes string
	}{{m.tenantKey, res.tenant}, {m.deviceKey, res.device}} {
		if attrString(attrs, want.key) != "" || want.fromRes != "" {
			continue
		}
		what := "no"
		if attrs.HasValue(want.key) {
			what = "an empty"
		}
		lacks = append(lacks, what+" "+strconv.Quote(string(want.key)))
	}
	has := make([]string, 0, min(attrs.Len(), maxKeysShown+1))
	for i, kv := range attrs.ToSlice() {
		if i == maxKeysShown {
			has = append(has, fmt.Sprintf("and %d more", attrs.Len()-i))
			break
		}
		has = append(has, shownKey(kv.Key))
	}
	list := "none"
	if len(has) > 0 {
		list = strings.Join(has, ", ")
	}
	return fmt.Sprintf("has %s attribute (it has: %s)", strings.Join(lacks, " and "), list)
}

// shownKey is an attribute key as a report shows it: bare when it is a
// plain name, quoted and cut otherwise (keys come from application code).
func shownKey(k attribute.Key) string {
	if len(k) > 64 {
		return printable(string(k))
	}
	for _, r := range k {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._-/", r)) {
			return printable(string(k))
		}
	}
	return string(k)
}
