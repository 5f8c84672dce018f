package main

import (
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric/internal/events"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// collection is one collection of n series spread over tenants, as the SDK
// hands it to the exporter, with its strings freshly allocated.
func collection(n, tenants int) *metricdata.ResourceMetrics {
	pts := make([]metricdata.DataPoint[int64], n)
	for i := range pts {
		pts[i] = metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(attribute.String("tenant.id", tenant(i, tenants)), attribute.String("device.id", device(i, tenants))),
			Value:      int64(1 + i%9),
		}
	}
	return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{
		Name: "pages.processed",
		Data: metricdata.Sum[int64]{Temporality: metricdata.DeltaTemporality, IsMonotonic: true, DataPoints: pts},
	}}}}}
}

func tenant(i, tenants int) string { return fmt.Sprintf("tenant-%04d", i%tenants) }
func device(i, tenants int) string { return fmt.Sprintf("device-%06d", i/tenants) }

// request is one usage event as the baselines send it.
type request struct {
	tenant, device, key string
	body                []byte
}

// requests are the events of collection(n, tenants), encoded as the
// exporter encodes them.
func requests(n, tenants int) []request {
	out := make([]request, n)
	for i := range out {
		out[i] = request{
			tenant: tenant(i, tenants), device: device(i, tenants),
			key:  fmt.Sprintf("00000000-0000-8000-8000-%012d", i),
			body: events.AppendBody(nil, &usage.Event{Key: usage.Key{Meter: "pages.processed"}, Units: int64(1 + i%9), Customer: "cus_bench"}),
		}
	}
	return out
}
