package outbox

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// A flush ends once every owed event was refused during it for a
// configuration problem retrying cannot fix; what stays owed is still
// owed, and a later flush tries again.
func TestFlushEndsOnUnfixableConfiguration(t *testing.T) {
	refused := usage.Outcome{Result: usage.Retry, Err: usage.Misconfigured(errors.New("HTTP 401"), "check the key")}
	var attempts atomic.Int64
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome { attempts.Add(1); return refused }}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) {
		c.Retry.InitialInterval, c.Retry.MaxInterval = time.Hour, time.Hour // only flushes retry
	})
	r, _ := ingestInts(o, map[Key]int64{k1: 2, key("t1", "d2", "pages"): 3})
	wait(t, r)
	before := attempts.Load()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.ErrorIs(t, o.Flush(ctx), ErrUnfixable)
	assert.Equal(t, before+2, attempts.Load(), "each owed event was attempted again, once")
	assert.Equal(t, int64(5), o.Stats().OwedUnits)

	b.setRespond(nil)
	flush(t, o)
	assert.Zero(t, o.Stats().OwedUnits)
}

// What waiting may fix keeps the flush waiting while ctx lasts: an outage
// beside a configuration problem, a host that does not resolve (unless a
// store keeps the usage), a problem the backend's data may fix.
func TestFlushWaitsForWhatWaitingMayFix(t *testing.T) {
	dns := usage.Misconfigured(&net.DNSError{Name: "h", IsNotFound: true}, "check the host")
	cases := map[string]struct {
		respond func(usage.Event) usage.Outcome
		store   bool
		want    error
	}{
		"outage beside a configuration problem": {respond: func(ev usage.Event) usage.Outcome {
			if ev.Key.Device == "d1" {
				return retryWith(errors.New("503"))
			}
			return retryWith(usage.Misconfigured(errors.New("HTTP 403"), "check the key"))
		}, want: context.DeadlineExceeded},
		"host that does not resolve": {respond: func(usage.Event) usage.Outcome { return retryWith(dns) }, want: context.DeadlineExceeded},
		"host that does not resolve, with a store": {respond: func(usage.Event) usage.Outcome { return retryWith(dns) }, store: true,
			want: ErrUnfixable},
		"account not created yet": {respond: func(usage.Event) usage.Outcome {
			return retryWith(usage.Misconfigured(awaits{}, "create the account"))
		}, want: context.DeadlineExceeded},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := &fakeBackend{respond: tc.respond}
			o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) {
				if tc.store {
					c.Store = newMemStore()
				}
			})
			ingestInts(o, map[Key]int64{k1: 2, key("t1", "d2", "pages"): 3})
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, o.Flush(ctx), tc.want)
		})
	}
}

// awaits is a configuration problem that the backend's data may fix.
type awaits struct{}

func (awaits) Error() string       { return "no account yet" }
func (awaits) AwaitsBackend() bool { return true }
