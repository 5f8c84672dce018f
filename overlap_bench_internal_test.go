package litewavemetric

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// BenchmarkExportIntervals is BenchmarkExportHotPath with the intervals the
// SDK gives delta points: each collection starts where the previous one
// ended, so every point goes through the overlap check and is taken.
func BenchmarkExportIntervals(b *testing.B) {
	rms := [2]*metricdata.ResourceMetrics{
		benchCollection(benchPoints, metricdata.DeltaTemporality, time.Time{}),
		benchCollection(benchPoints, metricdata.DeltaTemporality, time.Time{}),
	}
	base := time.Unix(1_700_000_000, 0)
	// collection is the k-th collection: a copy whose interval follows the
	// previous one's.
	collection := func(k int) *metricdata.ResourceMetrics {
		rm := rms[k%2]
		pts := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints
		start, end := base.Add(time.Duration(k)*time.Minute), base.Add(time.Duration(k+1)*time.Minute)
		for i := range pts {
			pts[i].StartTime, pts[i].Time = start, end
		}
		return rm
	}
	run := func(b *testing.B, box *outbox.Outbox, delivered bool) {
		m := benchMapper()
		for k := range b.N + 1 {
			b.StopTimer() // setting intervals and delivery are not the hot path
			rm := collection(k)
			if k == 1 {
				b.ReportAllocs()
				b.ResetTimer()
			}
			b.StartTimer()
			r, _, _ := m.ingest(box, rm, 0)
			if delivered {
				b.StopTimer()
				<-r.Done()
				b.StartTimer()
			}
		}
		reportPerPoint(b)
	}
	b.Run("accumulate", func(b *testing.B) {
		box := benchOutbox() // not started: events stay pending
		defer box.Close()
		run(b, box, false)
	})
	b.Run("new-event", func(b *testing.B) {
		box := benchOutbox()
		box.Start()
		defer box.Close()
		run(b, box, true)
	})
}
