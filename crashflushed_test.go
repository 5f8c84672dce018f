package litewavemetric_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashFlushedEnv selects crashFlushedChild.
const crashFlushedEnv = "LITEWAVE_CRASH_FLUSHED"

// crashFlushedChild is the child of TestSIGKILLAfterForceFlushSendsNothingAgain:
// it counts one collection of n series, delivers it with the provider's
// ForceFlush, reports what it counted once that returned nil, and waits to
// be killed.
func crashFlushedChild(n int) int {
	ctx := context.Background()
	p, err := newCrashPipeline(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := range n {
		p.add(ctx, tenantID(i%7), "dev-"+strconv.Itoa(i), int64(i%5+1))
	}
	if err := p.flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "flush:", err)
		return 2
	}
	if err := p.printReport(); err != nil {
		return 2
	}
	time.Sleep(time.Hour) // wait for SIGKILL
	return 0
}

// A process killed with SIGKILL as soon as its ForceFlush returned, with
// everything delivered, is restarted on its spool: the restart sends
// nothing, because ForceFlush returns once the delivered events' records
// are deleted. The backend counts every post, duplicates included.
func TestSIGKILLAfterForceFlushSendsNothingAgain(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const series = 500
	srv := newServer(t, customers(7)...)
	dir := t.TempDir()
	cmd, rep := startCrashChild(t, srv.URL, dir, series, crashFlushedEnv+"=1")
	kill(t, cmd)
	atKill := srv.Stats()
	require.Equal(t, int64(series), atKill.Accepted, "ForceFlush returned with everything delivered")

	recoverFromSpool(t, srv, dir)
	st := srv.Stats()
	assert.Equal(t, atKill.Posts, st.Posts, "the restart posts nothing")
	assert.Zero(t, st.Duplicates, "no key is posted twice")
	assert.Empty(t, mismatches(rep.Counted, totalsByKey(srv)), "[counted, billed]")
}
