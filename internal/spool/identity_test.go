package spool

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// The transactional id is stored once, when a spool without one is opened
// (a new one, or one a 0.1 exporter wrote), and every later open returns
// the stored one, whatever it proposes; the mark is the last committed.
func TestIdentityIsStoredOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	sp, c, err := Open(dir, Options{}) // as 0.1 did: no id
	require.NoError(t, err)
	assert.Empty(t, c.TransactionalID)
	fill(t, sp, 0, 2)
	require.NoError(t, sp.Close())

	sp, c, err = Open(dir, Options{TransactionalID: "litewavemetric-first"})
	require.NoError(t, err)
	assert.Equal(t, "litewavemetric-first", c.TransactionalID)
	assert.Len(t, c.Events, 2, "the records are kept")
	require.NoError(t, sp.Commit(&outbox.Change{Mark: []byte("m1")}))
	require.NoError(t, sp.Commit(&outbox.Change{DeleteEvents: []uint64{0}}), "a change without a mark keeps the stored one")
	require.NoError(t, sp.Close())

	sp, c, err = Open(dir, Options{TransactionalID: "litewavemetric-second"})
	require.NoError(t, err)
	assert.Equal(t, "litewavemetric-first", c.TransactionalID)
	assert.Equal(t, []byte("m1"), c.Mark)
	require.NoError(t, sp.Close())
}

// A spool file removed under a running exporter is started afresh with the
// same id: the next start recovers under it.
func TestFreshFileKeepsTheIdentity(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{TransactionalID: "litewavemetric-kept"})
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, FileName)))
	require.ErrorIs(t, sp.Commit(&outbox.Change{}), outbox.ErrStoreLost)
	require.NoError(t, sp.Close())
	sp, c, err := Open(dir, Options{TransactionalID: "litewavemetric-other"})
	require.NoError(t, err)
	defer sp.Close()
	assert.Equal(t, "litewavemetric-kept", c.TransactionalID)
}
