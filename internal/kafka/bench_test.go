package kafka

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// BenchmarkSend produces 10 000 events per iteration, in Sends of 1000 as
// the exporter batches them, to a 3-broker kfake cluster that discards
// what it is sent (so broker storage is not measured), for comparison with
// the REST paths.
func BenchmarkSend(b *testing.B) {
	const events1, batch = 10_000, 1000
	c := newCluster(b, kfake.NumBrokers(3), kfake.SeedTopics(6, topic), kfake.BlackholeProduce())
	be := newBackend(b, Config{Brokers: c.ListenAddrs(), MaxBatch: batch})
	evs := events(events1, 500)
	out := make([]usage.Outcome, batch)
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := 0; i < events1; i += batch {
			be.Send(ctx, evs[i:i+batch], out)
			for _, o := range out {
				if o.Result != usage.Delivered {
					b.Fatalf("not delivered: %v", o.Err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.N*events1)/b.Elapsed().Seconds(), "events/s")
}
