package litewavemetric_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	t.Parallel()
	dir := t.TempDir()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
		if r.Method == http.MethodPost {
			return litewavetest.Fault{DropAfterRecord: true} // recorded, never acknowledged
		}
		return litewavetest.Fault{}
	})
	p := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	p.counter("pages").Add(context.Background(), 12, at("t1", "d1"))
	err := p.shutdownWithin(200 * time.Millisecond)
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
	t.Parallel()
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
	t.Parallel()
	dir := t.TempDir()
	srv := newServer(t)
	newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	_, err := litewavemetric.New(context.Background(), litewavemetric.WithSpoolDir(dir))
	require.ErrorIs(t, err, litewavemetric.ErrSpoolLocked)
}

// Past the spool size cap, new series are refused with a counted error;
// series already held keep accumulating.
func TestSpoolSizeCapRefusesNewSeries(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(400)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return litewavetest.Fault{Status: 503} })
	p := newPipeline(t, srv, litewavemetric.WithSpoolDir(t.TempDir()), litewavemetric.WithMaxSpoolBytes(16<<10))
	c := p.counter("pages")
	for i := range 400 {
		c.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	err := p.flushWithin(time.Second)
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "over_capacity", ue.Problem)
	assert.Contains(t, ue.Reason, "spool size cap")
	assert.Positive(t, p.exp.Stats().RefusedPoints)
}

// The spool cap bounds what is held, not the file's history: after an
// outage filled it and everything was delivered, new tenants are billed
// again, and a restart on the delivered spool bills everything.
func TestSpoolCapIsNotAHighWaterMark(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := newServer(t, customers(600)...)
	down := outage(srv)
	capOpt := litewavemetric.WithMaxSpoolBytes(16 << 10)
	p := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir), capOpt)
	c := p.counter("pages")
	for i := range 300 {
		c.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, p.flushWithin(time.Second), &ue, "the outage fills the cap")
	accepted := p.exp.Stats().AcceptedUnits
	down.Store(false)
	require.NoError(t, p.flush())
	for i := 300; i < 400; i++ {
		c.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	require.NoError(t, p.flush(), "new tenants are taken again once the spool drained")
	assert.Equal(t, accepted+100, srv.Total())
	require.NoError(t, p.shutdownWithin(5*time.Second))

	p2 := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir), capOpt)
	c2 := p2.counter("pages")
	for i := 400; i < 500; i++ {
		c2.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	require.NoError(t, p2.flush(), "after a restart on the delivered spool, all usage is billed")
	assert.Equal(t, accepted+200, srv.Total())
}

// Past the series cap, the same.
func TestSeriesCapRefusesNewSeries(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(5)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return litewavetest.Fault{Status: 503} })
	p := newPipeline(t, srv, litewavemetric.WithMaxSeries(3))
	c := p.counter("pages")
	for i := range 5 {
		c.Add(context.Background(), 10, at(tenantID(i), "d"))
	}
	err := p.flushWithin(owedWait)
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "over_capacity", ue.Problem)
	assert.Equal(t, 2, ue.Points)
	assert.Equal(t, 20.0, ue.Units)
	st := p.exp.Stats()
	assert.Equal(t, 3, st.Series)
	assert.Equal(t, int64(30), st.OwedUnits)
	assert.Equal(t, 20.0, st.RefusedUnits)
}

// The spool file removed under a running exporter (a tmp cleaner) is
// noticed at the next commit and reported, everything held is written to a
// fresh file, and a restart on it bills everything: Spooled claims only
// what is on disk.
func TestRemovedSpoolIsNoticedAndWrittenAgain(t *testing.T) {
	reports := handleErrors(t)
	dir := t.TempDir()
	srv := newServer(t, customers(3)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return litewavetest.Fault{Status: 503} })
	p := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	c := p.counter("pages")
	c.Add(context.Background(), 5, at(tenantID(0), "d"))
	require.Error(t, p.flushWithin(100*time.Millisecond))
	require.NoError(t, os.Remove(filepath.Join(dir, "outbox.db")))
	c.Add(context.Background(), 7, at(tenantID(1), "d"))
	err := p.shutdownWithin(200 * time.Millisecond)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.True(t, ue.Spooled)
	var lost []string
	for _, e := range reports.all() {
		if containsAll(e.Error(), "removed", "written to it again") {
			lost = append(lost, e.Error())
		}
	}
	require.NotEmpty(t, lost, "the loss was reported: %v", reports.all())
	assert.Contains(t, lost[0], `spool in WithSpoolDir("`+dir+`")`, "the report names the setting")

	srv.SetFaultFunc(nil)
	p2 := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	require.NoError(t, p2.flush())
	assert.Equal(t, int64(12), srv.Total(), "everything counted before and after the removal")
}

// Keys are unique however instance ids are configured: four exporters in
// one process sharing LITEWAVE_INSTANCE_ID bill the same series at the same
// moment, and an idempotent backend counts every unit.
func TestExportersSharingAnInstanceIDNeverShareAKey(t *testing.T) {
	t.Setenv("LITEWAVE_INSTANCE_ID", "pod-7")
	srv := newServer(t, customers(1)...)
	ps := make([]*pipeline, 4)
	for i := range ps {
		ps[i] = newPipeline(t, srv)
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := p.counter("pages")
			for range 3 {
				c.Add(context.Background(), 1, at(tenantID(0), "d"))
				assert.NoError(t, p.flush())
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(12), srv.Total(), "every unit counted")
	assert.Zero(t, srv.Stats().Duplicates)
	assert.Empty(t, srv.Conflicts())
}

// Two starts on one spool never reuse a key.
func TestTwoStartsOnOneSpoolNeverReuseAKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := newServer(t, customers(1)...)
	for range 2 {
		p := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir), litewavemetric.WithInstanceID("same"))
		p.counter("pages").Add(context.Background(), 1, at(tenantID(0), "d"))
		require.NoError(t, p.shutdownWithin(10*time.Second))
	}
	events := srv.Events()
	require.Len(t, events, 2)
	assert.NotEqual(t, events[0].IdempotencyKey, events[1].IdempotencyKey)
	assert.Equal(t, int64(2), srv.Total())
}

// No goroutine outlives the provider's Shutdown: the reader, workers,
// scheduler, lookups, requests in flight, idle connections.
func TestNoGoroutineSurvivesShutdown(t *testing.T) {
	srv := litewavetest.NewServer(customers(4)...)
	srv.Script(
		litewavetest.Fault{Target: "events", Status: 503},
		litewavetest.Fault{Target: "events", Delay: time.Hour},
	)
	p := newPipelineWith(t, srv, pipelineOpts{}, litewavemetric.WithSpoolDir(t.TempDir()), litewavemetric.WithTimeout(time.Minute))
	c := p.counter("pages")
	for i := range 4 {
		c.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	_ = p.flushWithin(200 * time.Millisecond)
	_ = p.shutdownWithin(200 * time.Millisecond) // one request is stalled: Shutdown abandons it
	srv.Close()
	goleak.VerifyNone(t)
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
