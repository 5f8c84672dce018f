package spool

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// deletionsHeld is a Spool whose commits that delete events wait until
// released: acknowledged events stay stored as long as the test needs.
type deletionsHeld struct {
	*Spool
	gate chan struct{}
	once sync.Once
}

func (d *deletionsHeld) Commit(ch *outbox.Change) error {
	if len(ch.DeleteEvents) > 0 {
		<-d.gate
	}
	return d.Spool.Commit(ch)
}

func (d *deletionsHeld) release() { d.once.Do(func() { close(d.gate) }) }

// rejecting delivers every event but those of device "refused".
type rejecting struct{}

func (rejecting) MaxBatch() int { return 1 }
func (rejecting) Close() error  { return nil }
func (rejecting) Send(_ context.Context, batch []usage.Event, out []usage.Outcome) {
	for i, ev := range batch {
		out[i] = usage.Outcome{Result: usage.Delivered}
		if ev.Key.Device == "refused" {
			out[i] = usage.Outcome{Result: usage.Rejected, Err: errors.New("no such meter")}
		}
	}
}

type oneCustomer struct{}

func (oneCustomer) Cached(string) (string, bool)                    { return "cus-1", true }
func (oneCustomer) Resolve(context.Context, string) (string, error) { return "cus-1", nil }
func (oneCustomer) Forget(string)                                   {}

// copyDir copies the spool directory's files: what a process killed at
// this moment leaves on disk.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range entries {
		in, err := os.Open(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		out, err := os.Create(filepath.Join(to, e.Name()))
		require.NoError(t, err)
		_, err = io.Copy(out, in)
		require.NoError(t, errors.Join(err, in.Close(), out.Close()))
	}
	return to
}

// An event the backend acknowledged is not sent again by a restart after a
// crash, although the commit deleting its record had not happened: the
// outbox recorded the acknowledgement beside the spool. A rejected event is
// not recorded so: until its rejected record is committed, its event record
// is what keeps its usage.
func TestAcknowledgedEventIsNotRestoredAfterACrash(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	store := &deletionsHeld{Spool: sp, gate: make(chan struct{})}
	o := outbox.New(outbox.Config{
		Instance: "test", MaxSeries: 100, Concurrency: 2, IdleTTL: time.Hour,
		Retry:   retry.Policy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxRetryAfter: time.Minute},
		Backend: rejecting{}, Customers: oneCustomer{}, Store: store,
	})
	o.Start()
	defer func() {
		store.release()
		require.NoError(t, o.Close())
	}()

	delivered := outbox.Key{Tenant: "t1", Device: "ok", Meter: "pages"}
	refused := outbox.Key{Tenant: "t1", Device: "refused", Meter: "pages"}
	var col outbox.Collection
	col.IntKey(delivered, nil, 3)
	col.IntKey(refused, nil, 5)
	r, _ := o.Ingest(&col)
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the events were not settled")
	}
	require.Eventually(t, func() bool { return ackBytes(t, dir) >= ackHeaderSize+ackRecordSize },
		10*time.Second, time.Millisecond, "the acknowledgement is recorded")

	crashed := copyDir(t, dir)
	sp2, c, err := Open(crashed, Options{})
	require.NoError(t, err)
	defer sp2.Close()
	require.Len(t, c.Events, 1, "only the rejected event is restored")
	assert.Equal(t, refused, c.Events[0].Key)
	assert.Equal(t, 1, c.Recovery.Cleared)
}
