package litewavemetric_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// onError routes what the exporter passes to otel.Handle to fn for the rest
// of the test.
func onError(t *testing.T, fn func(error)) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(fn))
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) })) })
}

// An Export waiting for the first attempts of its events returns when a
// Shutdown stops delivery, even with a context that never ends; the
// Shutdown counts the usage.
func TestExportReturnsWhenShutdownStopsDelivery(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(2)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: "events", Delay: time.Hour}
	})
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL), fastRetry,
		litewavemetric.WithConcurrency(1))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- exp.Export(context.Background(), usage(2)) }() // one stalls, one waits behind it
	require.Eventually(t, func() bool { return srv.Stats().Posts == 1 }, 10*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, exp.Shutdown(ctx), &ue)
	assert.Equal(t, int64(2), ue.Units)
	assert.NoError(t, within(t, done, "Export"), "its usage was taken: Shutdown reports it")
}

// A ForceFlush waiting for an outage to end returns when Shutdown stops
// delivery.
func TestForceFlushReturnsWhenShutdownStopsDelivery(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(1)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return litewavetest.Fault{Status: 503} })
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL), fastRetry)
	require.NoError(t, err)
	require.NoError(t, exp.Export(context.Background(), usage(1)))
	done := make(chan error, 1)
	go func() { done <- exp.ForceFlush(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.Error(t, exp.Shutdown(ctx))
	err = within(t, done, "ForceFlush")
	assert.ErrorIs(t, err, sdkmetric.ErrExporterShutdown)
	var ue *litewavemetric.UndeliveredError
	if errors.As(err, &ue) {
		assert.Equal(t, int64(1), ue.Units)
	}
}

// Errors are reported outside the exporter's locks: an error handler that
// asks the exporter for its state does not deadlock it.
func TestErrorHandlerMayCallTheExporter(t *testing.T) {
	srv := newServer(t, customers(1)...)
	srv.Script(
		litewavetest.Fault{Target: "events", Status: http.StatusServiceUnavailable},
		litewavetest.Fault{Target: "events", Status: http.StatusUnprocessableEntity},
	)
	var exp *litewavemetric.Exporter
	handled := make(chan litewavemetric.Stats, 2)
	onError(t, func(err error) {
		var de *litewavemetric.DeferredError
		var re *litewavemetric.RejectedError
		if errors.As(err, &de) || errors.As(err, &re) {
			handled <- exp.Stats()
		}
	})
	exp = newExporter(t, srv)
	require.NoError(t, exp.Export(context.Background(), usage(1)), "the first attempt fails; the retry is rejected later")
	within(t, handled, "the error handler calling Stats on the outage report")
	st := within(t, handled, "the error handler calling Stats on the rejection")
	assert.Equal(t, int64(1), st.RejectedEvents)
}

// A rejection that arrives after its Export stopped waiting is reported
// through otel.Handle: no rejection goes unreported.
func TestLateRejectionIsReported(t *testing.T) {
	srv := newServer(t, customers(1)...)
	release := make(chan struct{})
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		<-release
		return litewavetest.Fault{Target: "events", Status: http.StatusBadRequest}
	})
	reported := make(chan *litewavemetric.RejectedError, 1)
	onError(t, func(err error) {
		var re *litewavemetric.RejectedError
		if errors.As(err, &re) {
			reported <- re
		}
	})
	exp := newExporter(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.NoError(t, exp.Export(ctx, usage(1)), "Export stops waiting; the usage is owed")
	close(release)
	re := within(t, reported, "the late rejection's report")
	assert.Equal(t, tenantID(0), re.Tenant)
	assert.Equal(t, http.StatusBadRequest, re.StatusCode)
}
