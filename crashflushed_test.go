package litewavemetric_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/spool"
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
// nothing, though the flush did not wait for the commit that deletes the
// delivered events' records. Workers record acknowledgements beside the
// spool before their outcomes count, and the restart reads them. The
// backend counts every post, duplicates included.
func TestSIGKILLAfterForceFlushSendsNothingAgain(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const series = 500
	// The kill lands before or after the deletion's commit, whichever
	// comes first; the test goes on until one has landed before it.
	beforeCommit := 0
	for attempt := 0; attempt < 8 && beforeCommit == 0; attempt++ {
		srv := newServer(t, customers(7)...)
		dir := t.TempDir()
		cmd, rep := startCrashChild(t, srv.URL, dir, series, crashFlushedEnv+"=1")
		kill(t, cmd)
		atKill := srv.Stats()
		require.Equal(t, int64(series), atKill.Accepted, "ForceFlush returned with everything delivered")

		sp, held, err := spool.Open(copyDir(t, dir), spool.Options{})
		require.NoError(t, err)
		require.NoError(t, sp.Close())
		if held.Recovery.Cleared > 0 {
			beforeCommit++
		}

		recoverFromSpool(t, srv, dir)
		st := srv.Stats()
		assert.Equal(t, atKill.Posts, st.Posts, "attempt %d: the restart posts nothing", attempt)
		assert.Zero(t, st.Duplicates, "attempt %d: no key is posted twice", attempt)
		assert.Empty(t, mismatches(rep.Counted, totalsByKey(srv)), "attempt %d: [counted, billed]", attempt)
		t.Logf("attempt %d: at the kill the spool still held %d delivered events, named in the acknowledgement log",
			attempt, held.Recovery.Cleared)
	}
	require.Positive(t, beforeCommit, "no kill landed before the commit that deletes the delivered events")
}

// copyDir copies dir's files, as a killed process left them, so that
// opening the copy leaves dir for the restart.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		in, err := os.Open(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out, err := os.Create(filepath.Join(to, e.Name()))
		require.NoError(t, err)
		_, err = io.Copy(out, in)
		require.NoError(t, errors.Join(err, in.Close(), out.Close()))
	}
	return to
}
