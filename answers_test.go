package litewavemetric_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// oddBodies are 200 answers of a backend that recorded the event.
var oddBodies = map[string][]byte{
	"2 MiB":  bytes.Repeat([]byte(`{"x":1}`), (2<<20)/7+1),
	"empty":  {},
	"binary": {0x89, 'P', 'N', 'G', 0x00, 0xff, 0xfe, 0x1a},
}

// On the events API the status decides: a 2xx is delivery whatever its
// body, so each event is posted once, and a later flush posts only new
// events. Counted against every request the backend received, repeats
// included.
func TestTwoXXIsDeliveryWhateverItsBody(t *testing.T) {
	for name, body := range oddBodies {
		t.Run(name, func(t *testing.T) {
			reports := handleErrors(t)
			srv := newServer(t, customers(4)...)
			srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
				return litewavetest.Fault{Target: "events", Answer: body}
			})
			p := newPipeline(t, srv)
			c := p.counter("pages")
			for round := int64(1); round <= 2; round++ {
				for i := range 4 {
					c.Add(context.Background(), round*int64(i+1), at(tenantID(i), "d"))
				}
				err := p.flush()
				assert.Equal(t, 4*round, srv.Stats().Posts, "round %d: one post per event, none again", round)
				require.NoError(t, err, "round %d", round)
			}
			keys := map[string]int{}
			for _, ev := range srv.Events() {
				keys[ev.IdempotencyKey]++
			}
			assert.Len(t, keys, 8)
			for k, n := range keys {
				assert.Equal(t, 1, n, "key %s posted %d times", k, n)
			}
			assert.Equal(t, int64(3*(1+2+3+4)), srv.Total())
			assert.Empty(t, deferred(reports.all()), "nothing failed")
		})
	}
}

// The one-shot client shows what a 2xx answered, bounded, and takes it
// for delivery too.
func TestPostMeterUsageTakesAnyTwoXX(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(1)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: "events", Answer: oddBodies["2 MiB"]}
	})
	c, err := litewavemetric.NewClient(litewavemetric.WithEndpoint(srv.URL))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	answer, err := c.PostMeterUsage(context.Background(), tenantID(0), "d", "pages", 3)
	require.NoError(t, err)
	raw, _ := answer["raw"].(string)
	assert.Equal(t, 1<<20, len(raw), "the start of the answer, up to 1 MiB")
	assert.Equal(t, int64(1), srv.Stats().Posts)
}

// On the REST Proxy a 200 is not delivery: its records are answered one
// by one. One that cannot be read per record makes its records go again,
// same keys and values (a duplicate the consumer drops by key, rather than
// a loss), and is reported while it lasts.
func TestKafkaRESTUnreadable200IsResentAndReported(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t, customers(3)...)
	srv.Script(litewavetest.Fault{Target: "produces", Answer: []byte("<html>bad gateway</html>")})
	p := restPipeline(t, srv)
	c := p.counter("pages")
	for i := range 3 {
		c.Add(context.Background(), int64(i+1), at(tenantID(i), "d"))
	}
	require.NoError(t, p.flush())

	assert.Equal(t, int64(1+2+3), srv.Total(), "billed once by a consumer deduplicating by key")
	st := srv.Stats()
	assert.Equal(t, int64(3), st.RecordsAccepted)
	assert.Positive(t, st.RecordDuplicates, "the records of the unread answer were sent again")
	assert.Empty(t, srv.RecordConflicts(), "each key with one value")
	require.Eventually(t, func() bool {
		for _, d := range deferred(reports.all()) {
			if d.Failure == "outage" && strings.Contains(d.Error(), "unreadable answer, sent again") {
				t.Logf("a user sees: %v", d)
				return true
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond, "the unreadable answer is reported")
}
