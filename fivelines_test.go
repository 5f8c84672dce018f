package litewavemetric_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// The README's first snippet, run as a newcomer runs it against a backend:
// it bills 24 pages to acme, and its only output is one line saying so,
// counted from what the backend acknowledged.
func TestFiveLinesSaysWhatItBilled(t *testing.T) {
	t.Parallel()
	goBin := goCommand(t)
	srv := newServer(t, litewavetest.WithCustomer("acme", "cus_001"), litewavetest.WithAPIKey("dev"))
	env := environ(map[string]string{"LITEWAVE_ENDPOINT": srv.URL, "LITEWAVE_API_KEY": "dev"})

	out := run(t, 3*time.Minute, env, goBin, "run", "./examples/fivelines")

	assert.Equal(t, "billed 24 units of pages.processed for tenant acme, device scanner-1\n", out)
	assert.Equal(t, map[litewavetest.Series]int64{{Tenant: "acme", Device: "scanner-1", Meter: "pages.processed"}: 24}, srv.Totals())
	assert.Len(t, srv.Events(), 1, "one collection, one event")
}
