package litewaveexporter

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// convert turns the monotonic sums of one resource into what the library's
// Exporter takes. Every other kind of metric is left out: only counters
// are billed. Nothing is merged: each point stays a point, with its own
// attributes, start and time, so that the library's stream identity
// (resource, scope, instrument, attributes) and its cumulative state see
// what the client sent. It reports whether anything was billable.
func convert(rm pmetric.ResourceMetrics) (*metricdata.ResourceMetrics, bool) {
	out := &metricdata.ResourceMetrics{
		Resource: resource.NewWithAttributes(rm.SchemaUrl(), attributes(rm.Resource().Attributes())...),
	}
	any := false
	for _, sm := range rm.ScopeMetrics().All() {
		scope := metricdata.ScopeMetrics{Scope: instrumentation.Scope{
			Name:       sm.Scope().Name(),
			Version:    sm.Scope().Version(),
			SchemaURL:  sm.SchemaUrl(),
			Attributes: attribute.NewSet(attributes(sm.Scope().Attributes())...),
		}}
		for _, m := range sm.Metrics().All() {
			if m.Type() != pmetric.MetricTypeSum || !m.Sum().IsMonotonic() {
				continue
			}
			temporality, ok := temporalities[m.Sum().AggregationTemporality()]
			if !ok {
				continue
			}
			ints, floats := points(m.Sum().DataPoints())
			if len(ints) > 0 {
				scope.Metrics = append(scope.Metrics, metricdata.Metrics{Name: m.Name(), Description: m.Description(), Unit: m.Unit(),
					Data: metricdata.Sum[int64]{DataPoints: ints, Temporality: temporality, IsMonotonic: true}})
			}
			if len(floats) > 0 {
				scope.Metrics = append(scope.Metrics, metricdata.Metrics{Name: m.Name(), Description: m.Description(), Unit: m.Unit(),
					Data: metricdata.Sum[float64]{DataPoints: floats, Temporality: temporality, IsMonotonic: true}})
			}
		}
		if len(scope.Metrics) > 0 {
			out.ScopeMetrics = append(out.ScopeMetrics, scope)
			any = true
		}
	}
	return out, any
}

// temporalities leaves out AggregationTemporalityUnspecified, which OTLP
// calls invalid: such a point cannot be billed without guessing.
var temporalities = map[pmetric.AggregationTemporality]metricdata.Temporality{
	pmetric.AggregationTemporalityDelta:      metricdata.DeltaTemporality,
	pmetric.AggregationTemporalityCumulative: metricdata.CumulativeTemporality,
}

// points splits a sum's points by value type, leaving out the points that
// carry no value (a stream's end, flagged by the sender).
func points(dps pmetric.NumberDataPointSlice) ([]metricdata.DataPoint[int64], []metricdata.DataPoint[float64]) {
	var ints []metricdata.DataPoint[int64]
	var floats []metricdata.DataPoint[float64]
	for _, dp := range dps.All() {
		if dp.Flags().NoRecordedValue() {
			continue
		}
		attrs := attribute.NewSet(attributes(dp.Attributes())...)
		start, end := dp.StartTimestamp().AsTime(), dp.Timestamp().AsTime()
		if dp.StartTimestamp() == 0 {
			start = time.Time{}
		}
		switch dp.ValueType() {
		case pmetric.NumberDataPointValueTypeInt:
			ints = append(ints, metricdata.DataPoint[int64]{Attributes: attrs, StartTime: start, Time: end, Value: dp.IntValue()})
		case pmetric.NumberDataPointValueTypeDouble:
			floats = append(floats, metricdata.DataPoint[float64]{Attributes: attrs, StartTime: start, Time: end, Value: dp.DoubleValue()})
		}
	}
	return ints, floats
}

// attributes converts OTLP attributes. Values the Go API has no type for
// (maps, byte strings, mixed or nested slices) keep their OTLP text form,
// so that they still tell streams apart.
func attributes(m pcommon.Map) []attribute.KeyValue {
	kvs := make([]attribute.KeyValue, 0, m.Len())
	for k, v := range m.All() {
		kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(k), Value: value(v)})
	}
	return kvs
}

func value(v pcommon.Value) attribute.Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return attribute.StringValue(v.Str())
	case pcommon.ValueTypeInt:
		return attribute.Int64Value(v.Int())
	case pcommon.ValueTypeDouble:
		return attribute.Float64Value(v.Double())
	case pcommon.ValueTypeBool:
		return attribute.BoolValue(v.Bool())
	case pcommon.ValueTypeSlice:
		if s, ok := uniformSlice(v.Slice()); ok {
			return s
		}
	}
	return attribute.StringValue(v.AsString())
}

// uniformSlice converts a slice whose elements are all strings, all ints,
// all doubles or all bools.
func uniformSlice(s pcommon.Slice) (attribute.Value, bool) {
	if s.Len() == 0 {
		return attribute.Value{}, false
	}
	t := s.At(0).Type()
	for _, e := range s.All() {
		if e.Type() != t {
			return attribute.Value{}, false
		}
	}
	switch t {
	case pcommon.ValueTypeStr:
		out := make([]string, 0, s.Len())
		for _, e := range s.All() {
			out = append(out, e.Str())
		}
		return attribute.StringSliceValue(out), true
	case pcommon.ValueTypeInt:
		out := make([]int64, 0, s.Len())
		for _, e := range s.All() {
			out = append(out, e.Int())
		}
		return attribute.Int64SliceValue(out), true
	case pcommon.ValueTypeDouble:
		out := make([]float64, 0, s.Len())
		for _, e := range s.All() {
			out = append(out, e.Double())
		}
		return attribute.Float64SliceValue(out), true
	case pcommon.ValueTypeBool:
		out := make([]bool, 0, s.Len())
		for _, e := range s.All() {
			out = append(out, e.Bool())
		}
		return attribute.BoolSliceValue(out), true
	}
	return attribute.Value{}, false
}
