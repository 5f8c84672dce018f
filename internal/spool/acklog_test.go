package spool

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// kill leaves the spool directory as a SIGKILL would: what was written
// stays (the page cache outlives the process) and nothing more is written
// or removed. Only the lock is released, for the next Open.
func kill(t *testing.T, sp *Spool) {
	t.Helper()
	sp.acks.mu.Lock()
	for _, s := range append(sp.acks.sealed, sp.acks.cur) {
		if s != nil {
			_ = s.f.Close()
		}
	}
	sp.acks.mu.Unlock()
	require.NoError(t, sp.db.Close())
}

func seqsOf(c Contents) []uint64 {
	var seqs []uint64
	for _, r := range c.Events {
		seqs = append(seqs, r.Seq)
	}
	slices.Sort(seqs)
	return seqs
}

// ackFiles are the acknowledgement log's segments in dir.
func ackFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, ackPrefix+"*"+ackSuffix))
	require.NoError(t, err)
	return files
}

func ackBytes(t *testing.T, dir string) (total int64) {
	t.Helper()
	for _, f := range ackFiles(t, dir) {
		total += must(os.Stat(f)).Size()
	}
	return total
}

// Events acknowledged and then killed before the commit that deletes their
// records are not restored, and their records are gone: a second start
// finds the same events, and no log.
func TestAcknowledgedEventsAreClearedAtRestart(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	fill(t, sp, 0, 10)
	require.NoError(t, sp.Acked([]uint64{1, 2, 3}))
	require.NoError(t, sp.Acked([]uint64{7}))
	kill(t, sp)

	in, err := Inspect(dir)
	require.NoError(t, err)
	assert.Equal(t, 4, in.Acknowledged, "inspect counts the acknowledged events")
	assert.Equal(t, []uint64{4, 5, 6, 8, 9, 10}, seqsOf(in.Contents), "and does not show them as owed")

	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, []uint64{4, 5, 6, 8, 9, 10}, seqsOf(c), "acknowledged events are not restored")
	assert.Equal(t, 4, c.Recovery.Cleared)
	assert.Contains(t, c.Recovery.String(), "4 acknowledged events cleared")
	assert.Empty(t, ackFiles(t, dir), "the log goes once its events are deleted")
	require.NoError(t, sp.Close())

	sp, c, err = Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.Equal(t, []uint64{4, 5, 6, 8, 9, 10}, seqsOf(c), "their records were deleted")
	assert.Zero(t, c.Recovery.Cleared)
}

// A torn last record (a machine crash mid-write) only sends its event
// again, and is cut off for good: records appended after the restart are
// read, and the torn one never becomes valid.
func TestTornAckLogTailOnlyResends(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	fill(t, sp, 0, 5)
	for q := range uint64(3) {
		require.NoError(t, sp.Acked([]uint64{q + 1}))
	}
	kill(t, sp)
	files := ackFiles(t, dir)
	require.Len(t, files, 1)
	require.NoError(t, os.Truncate(files[0], ackHeaderSize+3*ackRecordSize-5))

	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, []uint64{3, 4, 5}, seqsOf(c), "the torn record's event is sent again")
	assert.Equal(t, 2, c.Recovery.Cleared)
	assert.Contains(t, c.Recovery.String(), "7 bytes after record 2 unreadable")
	require.NoError(t, sp.Acked([]uint64{4}))
	kill(t, sp)

	sp, c, err = Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.Equal(t, []uint64{3, 5}, seqsOf(c))
	assert.Equal(t, 1, c.Recovery.Cleared)
}

// Whatever bit of the log is flipped, it never names an event that was not
// acknowledged: that event would never be sent. At worst acknowledged
// events are sent again.
func TestAckLogBitFlipsNeverClearAnEventNotAcknowledged(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	fill(t, sp, 0, 8)
	require.NoError(t, sp.Acked([]uint64{1, 2}))
	require.NoError(t, sp.Acked([]uint64{4}))
	gen := sp.acks.gen
	kill(t, sp)
	files := ackFiles(t, dir)
	require.Len(t, files, 1)
	clean := must(os.ReadFile(files[0]))
	acked := map[uint64]bool{1: true, 2: true, 4: true}

	for bit := range len(clean) * 8 {
		data := slices.Clone(clean)
		data[bit/8] ^= 1 << (bit % 8)
		require.NoError(t, os.WriteFile(files[0], data, 0o600))
		fd := readAckLogs(dir, gen[:])
		for q := range fd.acked {
			require.True(t, acked[q], "bit %d: seq %d was never acknowledged", bit, q)
		}
		require.NotEmpty(t, fd.notes, "bit %d: the damage is reported", bit)
	}

	// Seq 1 turned into seq 3, an event that is owed, through Open.
	data := slices.Clone(clean)
	data[ackHeaderSize] ^= 2
	require.NoError(t, os.WriteFile(files[0], data, 0o600))
	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.Contains(t, seqsOf(c), uint64(3), "the owed event is restored")
	assert.Zero(t, c.Recovery.Cleared, "nothing after the damaged record is trusted")
	assert.Contains(t, c.Recovery.String(), "unreadable")
}

// The log is cut back once every event it names is deleted, and goes at a
// clean stop. Under steady delivery some are always waiting for the next
// commit; it still stays bounded, even when an acknowledgement is appended
// after the commit that deleted its record (a slow worker).
func TestAckLogStaysBoundedAndGoes(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	fill(t, sp, 0, 3)
	require.NoError(t, sp.Acked([]uint64{1, 2, 3}))
	require.NoError(t, sp.Commit(&outbox.Change{DeleteEvents: []uint64{1, 2}}))
	assert.EqualValues(t, ackHeaderSize+3*ackRecordSize, ackBytes(t, dir), "kept while one of its events is stored")
	require.NoError(t, sp.Commit(&outbox.Change{DeleteEvents: []uint64{3}}))
	assert.EqualValues(t, ackHeaderSize, ackBytes(t, dir), "cut back once all are deleted")

	// A slow worker's acknowledgement, appended after its deletion.
	late := fill(t, sp, 3, 1)
	require.NoError(t, sp.Commit(&outbox.Change{DeleteEvents: late}))
	require.NoError(t, sp.Acked(late))

	// Steady delivery: each commit deletes the previous batch, while the
	// current one waits; 240 KB of records go through the log.
	var waiting []uint64
	most := int64(0)
	for i := range 200 {
		seqs := fill(t, sp, 100+i*100, 100)
		require.NoError(t, sp.Acked(seqs))
		require.NoError(t, sp.Commit(&outbox.Change{DeleteEvents: waiting}))
		waiting = seqs
		most = max(most, ackBytes(t, dir))
	}
	assert.LessOrEqual(t, most, int64(3*ackSegmentBytes), "the log stays bounded")
	require.NoError(t, sp.Commit(&outbox.Change{DeleteEvents: waiting}))
	require.NoError(t, sp.Close())
	assert.Empty(t, ackFiles(t, dir), "a clean stop leaves no log")
}

// A segment of an earlier run never clears the events of a later one,
// which numbers its events from 1 again on an empty spool: say a segment
// that Open removed comes back after a machine crash.
func TestAckLogOfAnEarlierRunNeverClearsANewEvent(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	fill(t, sp, 0, 3)
	require.NoError(t, sp.Acked([]uint64{1, 2, 3}))
	kill(t, sp)
	files := ackFiles(t, dir)
	require.Len(t, files, 1)
	old := must(os.ReadFile(files[0]))

	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	require.Empty(t, c.Events)
	fill(t, sp, 0, 3) // the same seqs, new events
	require.NoError(t, os.WriteFile(files[0], old, 0o600))
	kill(t, sp)

	sp, c, err = Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.Equal(t, []uint64{1, 2, 3}, seqsOf(c), "the new events are restored")
	assert.Zero(t, c.Recovery.Cleared)
}

// After the spool file was removed under the process and a fresh one
// started, acknowledgements still clear their events at the restart.
func TestAckLogGoesOnWithAFreshFile(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	fill(t, sp, 0, 1)
	require.NoError(t, os.Remove(filepath.Join(dir, FileName)))
	require.ErrorIs(t, sp.Commit(&outbox.Change{PutEvents: []outbox.EventRecord{event(2, 2)}}), outbox.ErrStoreLost)
	fill(t, sp, 1, 2)
	require.NoError(t, sp.Acked([]uint64{2}))
	kill(t, sp)

	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.Equal(t, []uint64{3}, seqsOf(c))
	assert.Equal(t, 1, c.Recovery.Cleared)
}
