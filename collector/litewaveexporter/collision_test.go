package litewaveexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// Two senders whose resources do not differ send one stream identity:
// the second one's cumulative points are refused, not billed on top of the
// first's, and the Collector's log says why and what to change.
func TestCollidingStreamsAreWarnedAndNotBilledTwice(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	core, logs := observer.New(zapcore.WarnLevel)
	set := exportertest.NewNopSettings(typ)
	set.Logger = zap.New(core)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Endpoint = srv.URL
	exp, err := NewFactory().CreateMetrics(t.Context(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(t.Context())) })

	first, second := time.Now(), time.Now().Add(time.Millisecond)
	require.NoError(t, exp.ConsumeMetrics(t.Context(), sums(pmetric.AggregationTemporalityCumulative, point{"same", "t1", first, first.Add(time.Second), 10})))
	err = exp.ConsumeMetrics(t.Context(), sums(pmetric.AggregationTemporalityCumulative, point{"same", "t1", second, first.Add(1500 * time.Millisecond), 4}))
	require.ErrorContains(t, err, "collected twice")

	require.Eventually(t, func() bool { return srv.Total() == 10 }, 10*time.Second, 5*time.Millisecond)
	warned := logs.FilterMessageSnippet("streams collide").All()
	require.Len(t, warned, 1)
	require.Contains(t, warned[0].Message, "service.instance.id")
}
