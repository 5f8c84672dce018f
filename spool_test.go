package litewavemetric_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// With a spool, Shutdown leaves undelivered usage on disk and says so; the
// next exporter on the same directory sends it with the original keys and
// bytes before anything new.
func TestSpoolCarriesUsageAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
		if r.Method == http.MethodPost {
			return litewavetest.Fault{Drop: litewavetest.DropAfterRecord} // recorded, never acknowledged
		}
		return litewavetest.Fault{}
	})
	p := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	p.counter("pages").Add(context.Background(), 12, at("t1", "d1"))
	var de *litewavemetric.DeferredError
	require.ErrorAs(t, p.collect(), &de)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := p.exp.Shutdown(ctx)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.True(t, ue.Spooled)
	assert.Equal(t, int64(12), ue.Units)
	assert.Contains(t, err.Error(), "kept in the spool")
	first := srv.Events()[0]

	srv.SetFaultFunc(nil)
	p2 := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	require.NoError(t, p2.flush())
	events := srv.Events()
	last := events[len(events)-1]
	assert.Equal(t, first.IdempotencyKey, last.IdempotencyKey, "replayed with its original key")
	assert.Equal(t, first.Body, last.Body, "and its original bytes")
	assert.True(t, last.Duplicate, "so the backend counts it once")
	assert.Equal(t, int64(12), srv.Total())
}

func TestDamagedSpoolIsAClearErrorAndLeftAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	require.NoError(t, os.WriteFile(path, []byte("not a spool at all, but maybe usage worth saving"), 0o600))
	_, err := litewavemetric.New(context.Background(), litewavemetric.WithSpoolDir(dir))
	require.ErrorIs(t, err, litewavemetric.ErrSpoolCorrupt)
	assert.Contains(t, err.Error(), dir)
	data, _ := os.ReadFile(path)
	assert.Equal(t, "not a spool at all, but maybe usage worth saving", string(data))
}

func TestSpoolInUseIsAClearError(t *testing.T) {
	dir := t.TempDir()
	srv := newServer(t)
	newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	_, err := litewavemetric.New(context.Background(), litewavemetric.WithSpoolDir(dir))
	require.ErrorIs(t, err, litewavemetric.ErrSpoolLocked)
}

// Past the spool size cap, new series are refused with a counted error;
// series already held keep accumulating.
func TestSpoolSizeCapRefusesNewSeries(t *testing.T) {
	srv := newServer(t, customers(400)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return litewavetest.Fault{Status: 503} })
	p := newPipeline(t, srv, litewavemetric.WithSpoolDir(t.TempDir()), litewavemetric.WithMaxSpoolBytes(64<<10))
	c := p.counter("pages")
	for i := range 400 {
		c.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	_ = p.collect()
	for i := range 400 {
		c.Add(context.Background(), 1, at(tenantID(i), "other-device"))
	}
	err := p.collect()
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, litewavemetric.OverCapacity, ue.Problem)
	assert.Contains(t, ue.Reason, "spool size cap")
	assert.Positive(t, p.exp.Stats().RejectedPoints)
}

// Past the series cap, the same.
func TestSeriesCapRefusesNewSeries(t *testing.T) {
	srv := newServer(t, customers(5)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return litewavetest.Fault{Status: 503} })
	p := newPipeline(t, srv, litewavemetric.WithMaxSeries(3), litewavemetric.WithCardinalityLimit(0))
	c := p.counter("pages")
	for i := range 5 {
		c.Add(context.Background(), 10, at(tenantID(i), "d"))
	}
	err := p.collect()
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, litewavemetric.OverCapacity, ue.Problem)
	assert.Equal(t, 2, ue.Points)
	assert.Equal(t, 20.0, ue.Units)
	st := p.exp.Stats()
	assert.Equal(t, 3, st.Series)
	assert.Equal(t, int64(30), st.OwedUnits)
	assert.Equal(t, 20.0, st.RejectedUnits)
}

// No goroutine outlives Shutdown: workers, scheduler, lookups, requests in
// flight, idle connections.
func TestNoGoroutineSurvivesShutdown(t *testing.T) {
	srv := litewavetest.NewServer(customers(4)...)
	srv.Script(
		litewavetest.Fault{Target: litewavetest.Events, Status: 503},
		litewavetest.Fault{Target: litewavetest.Events, Delay: time.Hour},
	)
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL),
		litewavemetric.WithSpoolDir(t.TempDir()), litewavemetric.WithTimeout(time.Minute), fastRetry)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = exp.Export(ctx, usage(4))
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = exp.Shutdown(ctx) // one request is stalled: Shutdown abandons it
	srv.Close()
	goleak.VerifyNone(t)
}
