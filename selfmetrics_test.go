package litewavemetric_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// observed is one collection of a provider, by metric name.
type observed map[string]metricdata.Metrics

func observe(t *testing.T, r *sdkmetric.ManualReader) observed {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := observed{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name == litewavemetric.ScopeName {
			for _, m := range sm.Metrics {
				out[m.Name] = m
			}
		}
	}
	return out
}

// value sums an int64 metric's points whose attributes include want.
func (o observed) value(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := o[name]
	require.True(t, ok, "metric %s reported", name)
	var pts []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		pts = d.DataPoints
	default:
		t.Fatalf("%s is %T", name, m.Data)
	}
	var total int64
	for _, p := range pts {
		match := true
		for _, kv := range want {
			if v, ok := p.Attributes.Value(kv.Key); !ok || v != kv.Value {
				match = false
			}
		}
		if match {
			total += p.Value
		}
	}
	return total
}

// The exporter's own metrics, read through a ManualReader after a delivery
// and after an outage, say what happened, in OpenTelemetry's conventions
// for SDK exporters and in usage units.
func TestOwnMetricsAfterDeliveryAndOutage(t *testing.T) {
	t.Parallel()
	obs := sdkmetric.NewManualReader()
	obsProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(obs))
	defer obsProvider.Shutdown(context.Background())
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	var down atomic.Bool
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		if down.Load() {
			return litewavetest.Fault{Target: "events", Status: http.StatusServiceUnavailable}
		}
		return litewavetest.Fault{}
	})
	p := newPipeline(t, srv, litewavemetric.WithMeterProvider(obsProvider))
	c := p.counter("pages")
	c.Add(context.Background(), 5, at("t1", "d1"))
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("device.id", "d1"))) // no tenant
	require.Error(t, p.flush(), "the unattributed usage is reported")

	o := observe(t, obs)
	assert.Equal(t, int64(5), o.value(t, "litewave.usage.delivered"))
	assert.Equal(t, int64(0), o.value(t, "litewave.usage.owed"))
	assert.Equal(t, int64(2), o.value(t, "litewave.usage.not_billed", attribute.String("litewave.reason", "unattributed")))
	assert.Equal(t, int64(1), o.value(t, "litewave.lookups", attribute.String("litewave.lookup.result", "requested")))
	assert.Equal(t, int64(1), o.value(t, "otel.sdk.exporter.metric_data_point.exported", attribute.String("otel.component.type", "github.com/aiorch/litewavemetric.Exporter"))-
		o.value(t, "otel.sdk.exporter.metric_data_point.exported", attribute.String("error.type", "unattributed")), "one point taken")
	assert.Equal(t, int64(1), o.value(t, "otel.sdk.exporter.metric_data_point.exported", attribute.String("error.type", "unattributed")))
	assert.Zero(t, o.value(t, "otel.sdk.exporter.metric_data_point.inflight"))
	dur := o["otel.sdk.exporter.operation.duration"].Data.(metricdata.Histogram[float64])
	require.NotEmpty(t, dur.DataPoints)
	name, ok := dur.DataPoints[0].Attributes.Value("otel.component.name")
	require.True(t, ok)
	assert.Regexp(t, `^litewave_exporter/\d+$`, name.AsString())
	addr, _ := dur.DataPoints[0].Attributes.Value("server.address")
	assert.Equal(t, "127.0.0.1", addr.AsString())

	down.Store(true)
	c.Add(context.Background(), 7, at("t1", "d1"))
	require.Error(t, p.flushWithin(200*time.Millisecond))
	o = observe(t, obs)
	assert.Equal(t, int64(5), o.value(t, "litewave.usage.delivered"))
	assert.Equal(t, int64(7), o.value(t, "litewave.usage.owed"))
	assert.Positive(t, o.value(t, "litewave.delivery.retries"))

	down.Store(false)
	require.NoError(t, p.flush())
	o = observe(t, obs)
	assert.Equal(t, int64(12), o.value(t, "litewave.usage.delivered"))
	assert.Zero(t, o.value(t, "litewave.usage.owed"))
}

// On the billing provider itself the exporter's metrics are never billed;
// OTEL_GO_X_OBSERVABILITY=true reports them on the global provider.
func TestOwnMetricsAreNeverBilledAndFollowTheGlobalSwitch(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	obs := sdkmetric.NewManualReader()
	global := sdkmetric.NewMeterProvider(sdkmetric.WithReader(obs))
	defer global.Shutdown(context.Background())
	before := otel.GetMeterProvider()
	otel.SetMeterProvider(global)
	t.Cleanup(func() { otel.SetMeterProvider(before) })
	t.Setenv("OTEL_GO_X_OBSERVABILITY", "true")

	p := newPipeline(t, srv)
	p.counter("pages").Add(context.Background(), 3, at("t1", "d1"))
	require.NoError(t, p.flush())
	assert.Equal(t, int64(3), observe(t, obs).value(t, "litewave.usage.delivered"))

	// One provider carrying both: billing and the exporter's own metrics.
	srv2 := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv2.URL))
	require.NoError(t, err)
	both := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	exp2, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv2.URL), litewavemetric.WithMeterProvider(both))
	require.NoError(t, err)
	defer exp2.Shutdown(context.Background())
	require.NoError(t, exp2.Export(context.Background(), usage(0)))
	c, _ := both.Meter("app").Int64Counter("pages")
	c.Add(context.Background(), 4, at("t1", "d1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, both.ForceFlush(ctx))
	require.NoError(t, both.Shutdown(ctx))
	assert.Equal(t, map[litewavetest.Series]int64{series("t1", "d1", "pages"): 4}, srv2.Totals(), "only the application's counter is billed")
	assert.Zero(t, exp.Stats().UnattributedPoints)
}

// One name per problem: each UsageError's Problem is the error.type its
// points carry in the exporter's own metrics, and rejected usage kept is
// the litewave.usage.rejected gauge, equal to Stats().RejectedUnits.
func TestProblemsAndRejectionsHaveTheirMetricsNames(t *testing.T) {
	t.Parallel()
	obs := sdkmetric.NewManualReader()
	obsProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(obs))
	defer obsProvider.Shutdown(context.Background())
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv.Script(litewavetest.Fault{Target: "events", Status: http.StatusUnprocessableEntity, Body: `{"detail":"unknown meter"}`})
	p := newPipeline(t, srv, litewavemetric.WithMeterProvider(obsProvider))
	c := p.counter("pages")
	c.Add(context.Background(), 3, at("t1", "d1"))
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("device.id", "d1"))) // no tenant
	c.Add(context.Background(), 4, at("../t1", "d1"))                                          // an id no header may carry

	problems := map[string]int{}
	var rejected *litewavemetric.RejectedError
	for _, err := range unjoin(p.flush()) {
		var ue *litewavemetric.UsageError
		if errors.As(err, &ue) {
			problems[ue.Problem] += ue.Points
		}
		errors.As(err, &rejected)
	}
	assert.Equal(t, map[string]int{"unattributed": 1, "invalid_id": 1}, problems)
	require.NotNil(t, rejected, "the flush reports the rejection")

	o := observe(t, obs)
	for problem, points := range problems {
		assert.Equal(t, int64(points), o.value(t, "otel.sdk.exporter.metric_data_point.exported", attribute.String("error.type", problem)), problem)
	}
	assert.Equal(t, int64(3), p.exp.Stats().RejectedUnits)
	assert.Equal(t, int64(3), o.value(t, "litewave.usage.rejected"))
	assert.Equal(t, int64(3), o.value(t, "litewave.usage.not_billed", attribute.String("litewave.reason", "backend_rejected")))
}

// unjoin flattens the errors errors.Join joined, at any depth.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}
