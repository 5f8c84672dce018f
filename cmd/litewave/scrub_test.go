package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/spool"
)

// A 0.1 spool holds rejection reasons that were never scrubbed: inspect
// prints them with the configured key masked.
func TestInspectScrubsOldReasons(t *testing.T) {
	const key = "sk_live_old0key"
	dir := t.TempDir()
	sp, _, err := spool.Open(dir, spool.Options{})
	require.NoError(t, err)
	require.NoError(t, sp.Commit(&outbox.Change{PutRejected: []outbox.RejectedRecord{{
		Key: outbox.Key{Tenant: "t1", Device: "d1", Meter: "pages"}, Units: 3,
		Reason: `usage post: HTTP 400: "{\"detail\":\"bad key ` + key + `\"}"`,
	}}}))
	require.NoError(t, sp.Close())

	res := litewave(t, []string{"LITEWAVE_API_KEY=" + key}, "spool", "inspect", dir)
	require.Zero(t, res.code)
	assert.Contains(t, res.stdout, "bad key [REDACTED]")
	assert.NotContains(t, res.stdout+res.stderr, key)
}
