package litewavetest

import (
	"context"
	"errors"
	"testing"

	"github.com/aiorch/litewavemetric"
)

// NewExporter returns an exporter that bills this server and nothing
// else, whatever LITEWAVE_* variables the environment holds: events,
// customer lookups and Kafka REST Proxy produces all go to the server, with
// its [WithAPIKey] key (none without it), on the events backend, without a
// spool. opts come after, so they may change any of that
// (litewavemetric.WithBackend(litewavemetric.BackendKafkaREST) bills the
// server's REST Proxy endpoint). Shut it down, usually through its
// MeterProvider. In a test, [Server.Exporter] does that for you.
func (s *Server) NewExporter(ctx context.Context, opts ...litewavemetric.Option) (*litewavemetric.Exporter, error) {
	wiring, err := s.options()
	if err != nil {
		return nil, err
	}
	all := make([]litewavemetric.Option, 0, len(wiring)+len(opts))
	for _, o := range wiring {
		all = append(all, o)
	}
	return litewavemetric.New(ctx, append(all, opts...)...)
}

// NewClient returns a litewavemetric.Client wired to this server alone, as
// [Server.NewExporter] wires an exporter. Close it when done.
func (s *Server) NewClient(opts ...litewavemetric.ClientOption) (*litewavemetric.Client, error) {
	wiring, err := s.options()
	if err != nil {
		return nil, err
	}
	return litewavemetric.NewClient(append(wiring, opts...)...)
}

// Exporter is [Server.NewExporter] for a test: it stops the test if the
// exporter cannot be built, and shuts the exporter down when the test
// ends, without waiting for delivery (flush or shut the provider down in
// the test to see what was billed), so that none of its goroutines
// outlives the test.
func (s *Server) Exporter(t testing.TB, opts ...litewavemetric.Option) *litewavemetric.Exporter {
	t.Helper()
	exp, err := s.NewExporter(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled: stop at once. A provider that
		// shut the exporter down first leaves nothing to do.
		_ = exp.Shutdown(t.Context())
	})
	return exp
}

// options wire an exporter or a Client to this server alone.
func (s *Server) options() ([]litewavemetric.ClientOption, error) {
	if s.URL == "" {
		return nil, errors.New("litewavetest: a Server from NewHandler does not listen; build the exporter with litewavemetric.New and your listener's URL")
	}
	return []litewavemetric.ClientOption{
		litewavemetric.WithoutEnvironment(),
		litewavemetric.WithBackend(litewavemetric.BackendEvents),
		litewavemetric.WithEndpoint(s.URL),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTProxyURL: s.URL}),
		litewavemetric.WithAPIKey(s.apiKey),
	}, nil
}
