package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

func fill(t *testing.T, sp *Spool, from, n int) []uint64 {
	t.Helper()
	var ch outbox.Change
	var seqs []uint64
	for i := from; i < from+n; i++ {
		ch.PutEvents = append(ch.PutEvents, event(uint64(i+1), i))
		seqs = append(seqs, uint64(i+1))
	}
	require.NoError(t, sp.Commit(&ch))
	return seqs
}

// The cap bounds what is held, not the file's history: once delivered
// records are deleted the spool takes new series again, and so does the
// next start.
func TestCapBoundsWhatIsHeld(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{MaxBytes: 64 << 10})
	require.NoError(t, err)
	assert.False(t, sp.Full(0))
	seqs := fill(t, sp, 0, 2000)
	assert.True(t, sp.Full(0))
	require.NoError(t, sp.Commit(&outbox.Change{DeleteEvents: seqs}))
	assert.False(t, sp.Full(0), "delivered records no longer count")
	assert.Zero(t, sp.HeldBytes())
	require.NoError(t, sp.Close())

	sp, _, err = Open(dir, Options{MaxBytes: 64 << 10})
	require.NoError(t, err)
	defer sp.Close()
	assert.False(t, sp.Full(0), "nor after a restart on the delivered spool")
	fill(t, sp, 5000, 10)
	assert.Positive(t, sp.HeldBytes())
}

// A file that is mostly free space after an outage drained is compacted at
// the next start, and keeps every record.
func TestMostlyFreeFileIsCompacted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	var seqs []uint64
	for i := range 10 {
		seqs = append(seqs, fill(t, sp, i*2000, 2000)...)
	}
	keep := fill(t, sp, 100_000, 5)
	require.NoError(t, sp.Commit(&outbox.Change{DeleteEvents: seqs}))
	require.NoError(t, sp.Close())
	before := must(os.Stat(path)).Size()

	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.True(t, c.Recovery.Compacted)
	after := must(os.Stat(path)).Size()
	assert.Less(t, after*4, before, "compacted from %d to %d bytes", before, after)
	require.Len(t, c.Events, len(keep))
	fill(t, sp, 200_000, 1) // and it is writable
}

// A spool file removed while in use (a tmp cleaner) is noticed at the next
// commit: nothing of that commit is assumed written, a fresh file takes
// its place, and what is written next is on disk for the next start.
func TestRemovedFileIsNoticed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	fill(t, sp, 0, 3)
	require.NoError(t, os.Remove(path))
	err = sp.Commit(&outbox.Change{PutEvents: []outbox.EventRecord{event(10, 10)}})
	require.ErrorIs(t, err, outbox.ErrStoreLost)
	assert.Contains(t, err.Error(), "removed")
	assert.FileExists(t, path)
	fill(t, sp, 20, 2)
	require.NoError(t, sp.Close())

	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.Len(t, c.Events, 2, "the fresh file holds what was written after the loss")
}

// A spool file replaced under the process is kept aside, not written into.
func TestReplacedFileIsNoticed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	fill(t, sp, 0, 1)
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.WriteFile(path, []byte("someone else's file"), 0o600))
	err = sp.Commit(&outbox.Change{})
	require.True(t, errors.Is(err, outbox.ErrStoreLost), "%v", err)
	assert.Contains(t, err.Error(), "replaced")
	matches, _ := filepath.Glob(path + ".replaced-*")
	require.Len(t, matches, 1)
	assert.Equal(t, "someone else's file", string(must(os.ReadFile(matches[0]))))
	fill(t, sp, 5, 1)
}

// Inspect reads what a spool holds without changing a byte, and says so
// clearly while an exporter holds it.
func TestInspectReadsWithoutChanging(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	states := build(t, dir, 3)
	before := fileHash(t, path)
	in, err := Inspect(dir)
	require.NoError(t, err)
	assert.True(t, sameState(states[len(states)-1], contentsState(in.Contents)))
	assert.Zero(t, in.Unreadable)
	assert.Equal(t, before, fileHash(t, path))

	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	_, err = Inspect(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, sp.Close())

	_, err = Inspect(t.TempDir())
	require.ErrorIs(t, err, os.ErrNotExist)
}
