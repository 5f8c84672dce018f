package litewavemetric

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/otelconv"
)

// componentType is otel.component.type: the language's name of the type.
const componentType otelconv.ComponentTypeAttr = "github.com/aiorch/litewavemetric.Exporter"

// exporterIDs numbers the exporters of a process for otel.component.name.
var exporterIDs atomic.Int64

// selfMetrics reports the exporter's own health: OpenTelemetry's semantic
// conventions for SDK exporters, measured around each Export, and usage in
// its own units, read from Stats when the provider collects. Without a
// provider every instrument is a no-op: nothing is recorded, nothing costs.
type selfMetrics struct {
	enabled  bool
	exported otelconv.SDKExporterMetricDataPointExported
	inflight otelconv.SDKExporterMetricDataPointInflight
	duration otelconv.SDKExporterOperationDuration
	attrs    []attribute.KeyValue
	reg      metric.Registration
}

// observabilityProvider is the provider the exporter reports on, or nil:
// global is OTEL_GO_X_OBSERVABILITY=true, otel-go's switch for the SDK's
// and exporters' own metrics.
func observabilityProvider(mp metric.MeterProvider, global bool) metric.MeterProvider {
	if mp == nil && global {
		return otel.GetMeterProvider()
	}
	return mp
}

// newSelfMetrics creates the instruments on mp (nil: none). server is the
// backend's address, stats reads the counters.
func newSelfMetrics(mp metric.MeterProvider, server string, stats func() Stats) (*selfMetrics, error) {
	m := &selfMetrics{}
	if mp == nil {
		return m, nil
	}
	m.enabled = true
	meter := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version), metric.WithSchemaURL(semconv.SchemaURL))
	var err error
	if m.exported, err = otelconv.NewSDKExporterMetricDataPointExported(meter); err != nil {
		return nil, err
	}
	if m.inflight, err = otelconv.NewSDKExporterMetricDataPointInflight(meter); err != nil {
		return nil, err
	}
	if m.duration, err = otelconv.NewSDKExporterOperationDuration(meter); err != nil {
		return nil, err
	}
	m.attrs = []attribute.KeyValue{
		m.exported.AttrComponentName("litewave_exporter/" + strconv.FormatInt(exporterIDs.Add(1)-1, 10)),
		m.exported.AttrComponentType(componentType),
	}
	if host, port := hostPort(server); host != "" {
		m.attrs = append(m.attrs, m.exported.AttrServerAddress(host))
		if port > 0 {
			m.attrs = append(m.attrs, m.exported.AttrServerPort(port))
		}
	}
	m.reg, err = registerUsageMetrics(meter, m.attrs, stats)
	return m, err
}

// usageMetrics are the observable instruments in usage units.
type usageMetrics struct {
	delivered, notBilled, lookups, retries metric.Int64ObservableCounter
	owed, rejected, spool                  metric.Int64ObservableUpDownCounter
}

func registerUsageMetrics(meter metric.Meter, attrs []attribute.KeyValue, stats func() Stats) (metric.Registration, error) {
	var u usageMetrics
	var err error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		var c metric.Int64ObservableCounter
		if err == nil {
			c, err = meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		}
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableUpDownCounter {
		var g metric.Int64ObservableUpDownCounter
		if err == nil {
			g, err = meter.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		}
		return g
	}
	u.delivered = counter("litewave.usage.delivered", "{unit}", "Usage delivered to the billing backend.")
	u.notBilled = counter("litewave.usage.not_billed", "{unit}", "Usage that could not be billed, by litewave.reason.")
	u.lookups = counter("litewave.lookups", "{lookup}", "Customer lookups, by litewave.lookup.result.")
	u.retries = counter("litewave.delivery.retries", "{attempt}", "Failed delivery attempts that will be retried.")
	u.owed = gauge("litewave.usage.owed", "{unit}", "Usage owed to the billing backend, not delivered yet.")
	u.rejected = gauge("litewave.usage.rejected", "{unit}", "Usage the backend rejected, kept until sent again.")
	u.spool = gauge("litewave.spool.size", "By", "Size of the records the spool holds.")
	if err != nil {
		return nil, err
	}
	common := metric.WithAttributes(attrs...)
	with := func(k, v string) metric.ObserveOption {
		return metric.WithAttributes(append(append([]attribute.KeyValue(nil), attrs...), attribute.String(k, v))...)
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := stats()
		o.ObserveInt64(u.delivered, st.DeliveredUnits, common)
		o.ObserveInt64(u.owed, st.OwedUnits, common)
		o.ObserveInt64(u.rejected, st.RejectedUnits, common)
		o.ObserveInt64(u.spool, st.SpoolBytes, common)
		o.ObserveInt64(u.retries, st.Retries, common)
		for reason, units := range map[string]float64{
			"unattributed":         st.UnattributedUnits,
			"cardinality_overflow": st.CardinalityOverflowUnits,
			"invalid_id":           st.InvalidUnits,
			"refused":              st.RefusedUnits,
			"backend_rejected":     float64(st.RejectedEventUnits),
		} {
			o.ObserveInt64(u.notBilled, int64(units), with("litewave.reason", reason))
		}
		for result, n := range map[string]int64{
			"requested":  st.Lookups.Requests,
			"cache_hit":  st.Lookups.CacheHits,
			"no_account": st.Lookups.NoAccount,
			"failed":     st.Lookups.Failures,
		} {
			o.ObserveInt64(u.lookups, n, with("litewave.lookup.result", result))
		}
		return nil
	}, u.delivered, u.notBilled, u.lookups, u.retries, u.owed, u.rejected, u.spool)
}

// exportOp measures one Export.
type exportOp struct {
	m      *selfMetrics
	start  time.Time
	points int64
}

// begin starts measuring an Export of rm: its points are in flight.
func (m *selfMetrics) begin(ctx context.Context, rm *metricdata.ResourceMetrics) exportOp {
	if !m.enabled {
		return exportOp{}
	}
	op := exportOp{m: m, start: time.Now(), points: countPoints(rm)}
	m.inflight.Add(ctx, op.points, m.attrs...)
	return op
}

// end records the Export's outcome: points that could not be billed as
// counted failed, with error.type their problem; the rest were taken.
func (op exportOp) end(ctx context.Context, errs []error) {
	m := op.m
	if m == nil {
		return
	}
	m.inflight.Add(ctx, -op.points, m.attrs...)
	failed := int64(0)
	firstType := ""
	for _, err := range errs {
		typ, points := errorType(err, op.points)
		if firstType == "" {
			firstType = typ
		}
		failed += points
		m.exported.Add(ctx, points, append(m.attrs, semconv.ErrorTypeKey.String(typ))...)
	}
	m.exported.Add(ctx, max(op.points-failed, 0), m.attrs...)
	attrs := m.attrs
	if firstType != "" {
		attrs = append(attrs[:len(attrs):len(attrs)], semconv.ErrorTypeKey.String(firstType))
	}
	m.duration.Record(ctx, time.Since(op.start).Seconds(), attrs...)
}

// errorType is the low-cardinality error.type of an Export error and the
// points it concerns.
func errorType(err error, all int64) (string, int64) {
	switch e := err.(type) {
	case *UsageError:
		return e.Problem, int64(e.Points)
	case *RejectedError:
		return "rejected", 0 // an event, counted in litewave.usage.rejected
	}
	if errors.Is(err, sdkmetric.ErrExporterShutdown) {
		return "shutdown", all
	}
	return "spool_write", all
}

func (m *selfMetrics) close() {
	if m.reg != nil {
		_ = m.reg.Unregister()
	}
}

func countPoints(rm *metricdata.ResourceMetrics) int64 {
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, met := range sm.Metrics {
			switch d := met.Data.(type) {
			case metricdata.Sum[int64]:
				n += int64(len(d.DataPoints))
			case metricdata.Sum[float64]:
				n += int64(len(d.DataPoints))
			}
		}
	}
	return n
}

// hostPort splits a backend address: a URL, or host:port.
func hostPort(server string) (string, int) {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		server = u.Host
	}
	host, p, err := net.SplitHostPort(server)
	if err != nil {
		return server, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}
