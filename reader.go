package litewavemetric

import sdkmetric "go.opentelemetry.io/otel/sdk/metric"

// CardinalityLimit is an sdkmetric.CardinalityLimitSelector for billing
// readers: counters get the exporter's limit (WithCardinalityLimit; by
// default the series cap), other kinds the provider's. The SDK's default of
// 2000 attribute sets per instrument would merge the usage of the 2001st
// tenant into an overflow set with no tenant at all.
func (e *Exporter) CardinalityLimit(k sdkmetric.InstrumentKind) (int, bool) {
	switch k {
	case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindObservableCounter:
		return e.cfg.cardinality, false
	}
	return 0, true
}

// NewPeriodicReader returns a PeriodicReader that exports to exp with a
// cardinality limit that fits billing (see CardinalityLimit). Further
// options, such as sdkmetric.WithInterval, apply after it.
func NewPeriodicReader(exp *Exporter, opts ...sdkmetric.PeriodicReaderOption) *sdkmetric.PeriodicReader {
	all := append([]sdkmetric.PeriodicReaderOption{sdkmetric.WithCardinalityLimitSelector(exp.CardinalityLimit)}, opts...)
	return sdkmetric.NewPeriodicReader(exp, all...)
}
