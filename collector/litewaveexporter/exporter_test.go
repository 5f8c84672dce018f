package litewaveexporter

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// startExporter builds and starts the exporter as a Collector does,
// billing srv; it is shut down when the test ends.
func startExporter(t *testing.T, srv *litewavetest.Server, edit func(*Config)) exporter.Metrics {
	t.Helper()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Endpoint = srv.URL
	cfg.Retry = RetryConfig{InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond}
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	exp, err := NewFactory().CreateMetrics(t.Context(), exportertest.NewNopSettings(typ), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp
}

// sums is one request of monotonic sums: a point per (resource instance,
// tenant) with value v, ending at end.
type point struct {
	instance, tenant string
	start, end       time.Time
	v                int64
}

func sums(temporality pmetric.AggregationTemporality, pts ...point) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, p := range pts {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.instance.id", p.instance)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("api_calls")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(temporality)
		dp := sum.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("tenant.id", p.tenant)
		dp.Attributes().PutStr("device.id", "d1")
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(p.start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(p.end))
		dp.SetIntValue(p.v)
	}
	return md
}

// The Collector calls ConsumeMetrics from many goroutines at once: every
// unit of every call is billed once (run with -race).
func TestConcurrentConsumeBillsEveryUnitOnce(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	exp := startExporter(t, srv, nil)

	const senders, requests = 8, 25
	began := time.Now()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			instance := "sender-" + strconv.Itoa(s)
			start := began
			for r := range requests {
				end := start.Add(time.Millisecond)
				delta := sums(pmetric.AggregationTemporalityDelta, point{instance, "t1", start, end, int64(r + 1)})
				cumulative := sums(pmetric.AggregationTemporalityCumulative, point{instance, "t2", began, end, int64((r + 1) * 3)})
				require.NoError(t, exp.ConsumeMetrics(t.Context(), delta))
				require.NoError(t, exp.ConsumeMetrics(t.Context(), cumulative))
				start = end
			}
		})
	}
	wg.Wait()
	perSender := int64(requests * (requests + 1) / 2)
	require.Eventually(t, func() bool {
		return srv.Totals()[litewavetest.Series{Tenant: "t1", Device: "d1", Meter: "api_calls"}] == senders*perSender &&
			srv.Totals()[litewavetest.Series{Tenant: "t2", Device: "d1", Meter: "api_calls"}] == senders*requests*3
	}, 10*time.Second, 5*time.Millisecond)
}

// Usage that cannot be billed is reported with a permanent error, so
// that the receiver does not make its sender retry a request whose usage
// was taken: a retried delta would be billed twice.
func TestUnbillableUsageIsAPermanentError(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	exp := startExporter(t, srv, nil)
	now := time.Now()
	err := exp.ConsumeMetrics(t.Context(), sums(pmetric.AggregationTemporalityDelta, point{"i1", "", now, now.Add(time.Second), 5}))
	require.Error(t, err)
	require.True(t, consumererror.IsPermanent(err), "%v", err)
	require.Contains(t, err.Error(), `empty "tenant.id" attribute`)
}

// Shutdown reports what it could not deliver, and the spool keeps it for
// the next start.
func TestShutdownReportsWhatIsOwed(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Status: http.StatusServiceUnavailable}
	})
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Endpoint, cfg.SpoolDir, cfg.ShutdownTimeout = srv.URL, t.TempDir(), 200*time.Millisecond
	exp, err := NewFactory().CreateMetrics(t.Context(), exportertest.NewNopSettings(typ), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	now := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	require.NoError(t, exp.ConsumeMetrics(ctx, sums(pmetric.AggregationTemporalityDelta, point{"i1", "t1", now, now.Add(time.Second), 7})))
	err = exp.Shutdown(context.Background())
	require.ErrorContains(t, err, "7 units not delivered")
	require.ErrorContains(t, err, "kept in the spool")
}
