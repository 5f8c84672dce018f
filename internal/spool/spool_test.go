package spool

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/usage"
)

func key(i int) outbox.Key {
	return outbox.Key{Tenant: fmt.Sprintf("tenant-%03d", i%17), Device: fmt.Sprintf("dev-%04d", i), Meter: "pages"}
}

func event(seq uint64, i int) outbox.EventRecord {
	k := key(i)
	return outbox.EventRecord{Seq: seq, Key: k, Units: int64(i + 1), Start: int64(seq), End: int64(seq) + 1,
		ID: usage.DeriveID("inst", usage.Session{}, k, seq), Customer: fmt.Sprintf("cus-%03d", i%17)}
}

// state is what a spool should hold.
type state struct {
	events   map[uint64]outbox.EventRecord
	opens    map[outbox.Key]outbox.OpenRecord
	rejected map[outbox.Key]outbox.RejectedRecord
	streams  map[outbox.StreamID]outbox.StreamRecord
}

func newState() state {
	return state{events: map[uint64]outbox.EventRecord{}, opens: map[outbox.Key]outbox.OpenRecord{},
		rejected: map[outbox.Key]outbox.RejectedRecord{}, streams: map[outbox.StreamID]outbox.StreamRecord{}}
}

func (s state) clone() state {
	c := newState()
	maps.Copy(c.events, s.events)
	maps.Copy(c.opens, s.opens)
	maps.Copy(c.rejected, s.rejected)
	maps.Copy(c.streams, s.streams)
	return c
}

func (s *state) apply(ch *outbox.Change) {
	for _, q := range ch.DeleteEvents {
		delete(s.events, q)
	}
	for _, k := range ch.DeleteOpen {
		delete(s.opens, k)
	}
	for _, k := range ch.DeleteRejected {
		delete(s.rejected, k)
	}
	for _, id := range ch.DeleteStreams {
		delete(s.streams, id)
	}
	for _, r := range ch.PutEvents {
		s.events[r.Seq] = r
	}
	for _, r := range ch.PutOpen {
		s.opens[r.Key] = r
	}
	for _, r := range ch.PutRejected {
		s.rejected[r.Key] = r
	}
	for _, r := range ch.PutStreams {
		s.streams[r.ID] = r
	}
}

func (s state) records() int { return len(s.events) + len(s.opens) + len(s.rejected) + len(s.streams) }

func contentsState(c Contents) state {
	s := newState()
	for _, r := range c.Events {
		s.events[r.Seq] = r
	}
	for _, r := range c.Opens {
		s.opens[r.Key] = r
	}
	for _, r := range c.Rejected {
		s.rejected[r.Key] = r
	}
	for _, r := range c.Streams {
		s.streams[r.ID] = r
	}
	return s
}

// build writes a history of commits like an outbox's: events frozen,
// acknowledged and deleted, open amounts written and cleared, usage rejected
// and stream states kept. It returns the states after each commit.
func build(t testing.TB, dir string, commits int) []state {
	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	require.Empty(t, c.Events)
	cur := newState()
	var states []state
	seq := uint64(0)
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range commits {
		ch := &outbox.Change{}
		for i := range 40 {
			seq++
			ch.PutEvents = append(ch.PutEvents, event(seq, n*40+i))
		}
		for q := range cur.events {
			if rng.IntN(3) == 0 {
				ch.DeleteEvents = append(ch.DeleteEvents, q)
			}
		}
		for i := range 10 {
			k := key(n*10 + i)
			ch.PutOpen = append(ch.PutOpen, outbox.OpenRecord{Key: k, Units: int64(i), Start: int64(n), Rem: outbox.Remainder{Hi: 0.5}})
		}
		for k := range cur.opens {
			if rng.IntN(4) == 0 {
				ch.DeleteOpen = append(ch.DeleteOpen, k)
			}
		}
		ch.PutRejected = append(ch.PutRejected, outbox.RejectedRecord{Key: key(1000 + n), Units: int64(n + 1), Reason: "HTTP 400", Since: int64(n)})
		ch.PutStreams = append(ch.PutStreams, outbox.StreamRecord{ID: outbox.StreamID{byte(n)}, Start: int64(n), Int: int64(10 * n), Float: 0.5})
		require.NoError(t, sp.Commit(ch))
		cur.apply(ch)
		states = append(states, cur.clone())
	}
	require.NoError(t, sp.Close())
	return states
}

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	states := build(t, dir, 6)
	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.False(t, c.Recovery.Repaired)
	assert.True(t, sameState(states[len(states)-1], contentsState(c)))
}

func TestOtherFormatIsRefusedAndLeftAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket(bucketMeta)
		return b.Put(keyFormat, []byte("litewavemetric-spool-v9"))
	}))
	require.NoError(t, db.Close())
	before := fileHash(t, path)
	_, _, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrVersion)
	assert.Contains(t, err.Error(), "v9")
	assert.Equal(t, before, fileHash(t, path))
}

func TestGarbageFileIsCorruptAndLeftAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	require.NoError(t, os.WriteFile(path, []byte("this is not a bbolt file, but it could be someone's data"), 0o600))
	_, _, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, "this is not a bbolt file, but it could be someone's data", string(must(os.ReadFile(path))))
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	_, _, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrLocked)
}

// A damaged record is dropped and counted, the others survive, and the
// damaged file is kept beside the repaired one.
func TestRepairDropsOnlyTheDamagedRecord(t *testing.T) {
	dir := t.TempDir()
	states := build(t, dir, 3)
	path := filepath.Join(dir, FileName)
	raw := must(os.ReadFile(path))
	last := states[len(states)-1]
	var victim outbox.EventRecord
	for _, r := range last.events {
		victim = r
		break
	}
	// bbolt copies pages on write, so stale copies of the record may sit in
	// freed pages: damage every copy, the live one among them.
	rec := encodeEvent(victim)
	copies := 0
	for at := bytes.Index(raw, rec); at >= 0; at = bytes.Index(raw, rec) {
		raw[at+10] ^= 0x01
		copies++
	}
	require.Positive(t, copies, "record bytes found in the file")
	require.NoError(t, os.WriteFile(path, raw, 0o600))

	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.True(t, c.Recovery.Repaired)
	assert.Equal(t, 1, c.Recovery.Dropped)
	assert.FileExists(t, c.Recovery.MovedTo)
	want := last.clone()
	delete(want.events, victim.Seq)
	assert.True(t, sameState(want, contentsState(c)), "every other record survives the repair")

	// The repaired spool is clean on the next start.
	require.NoError(t, sp.Close())
	sp2, c2, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp2.Close()
	assert.False(t, c2.Recovery.Repaired)
	assert.True(t, sameState(want, contentsState(c2)))
}

// corruptionCheck opens a damaged copy and holds the outcome to the
// promise: no panic; a clear error, or a start whose records all come from
// the spool's latest state (or, after a damaged newest meta page, the
// previous one), with every record missing from it reported as dropped.
func corruptionCheck(t *testing.T, dir string, states []state, what string) (outcome string) {
	t.Helper()
	sp, c, err := Open(dir, Options{})
	if err != nil {
		require.Truef(t, isClear(err), "%s: unclear error %v", what, err)
		return "error"
	}
	defer sp.Close()
	got := contentsState(c)
	candidates := states[len(states)-1:]
	if len(c.Recovery.Notes) > 0 {
		candidates = states[len(states)-2:]
	}
	for _, want := range candidates {
		if subset(got, want) && want.records()-got.records() == c.Recovery.Dropped {
			if c.Recovery.Dropped > 0 {
				return "repaired"
			}
			return "intact"
		}
	}
	t.Fatalf("%s: opened without error but holds records not in the spool's state, or loses some silently (dropped=%d, notes=%v)",
		what, c.Recovery.Dropped, c.Recovery.Notes)
	return ""
}

func TestBitFlipsNeverPanicNorInventNorSilentlyLose(t *testing.T) {
	src := t.TempDir()
	states := build(t, src, 4)
	raw := must(os.ReadFile(filepath.Join(src, FileName)))
	offsets := flipOffsets(len(raw), testing.Short())
	outcomes := map[string]int{}
	for _, off := range offsets {
		dir := t.TempDir()
		d := append([]byte(nil), raw...)
		d[off] ^= 1 << (off % 8)
		require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), d, 0o600))
		outcomes[corruptionCheck(t, dir, states, fmt.Sprintf("flip at %d", off))]++
	}
	t.Logf("%d bit flips over a %d-byte spool: %v", len(offsets), len(raw), outcomes)
	assert.Positive(t, outcomes["error"])
	assert.Positive(t, outcomes["repaired"])
	assert.Positive(t, outcomes["intact"])
}

func TestTruncationNeverPanics(t *testing.T) {
	src := t.TempDir()
	states := build(t, src, 4)
	raw := must(os.ReadFile(filepath.Join(src, FileName)))
	used := usedBytes(t, filepath.Join(src, FileName))
	outcomes := map[string]int{}
	for n := 1; n < len(raw); n += 509 {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), raw[:n], 0o600))
		got := corruptionCheck(t, dir, states, fmt.Sprintf("truncated to %d", n))
		if int64(n) < used {
			assert.Equal(t, "error", got, "cut at %d, inside the %d bytes in use", n, used)
		}
		outcomes[got]++
	}
	// Cuts past the pages in use only remove bbolt's preallocated space.
	t.Logf("truncations of a %d-byte spool (%d in use): %v", len(raw), used, outcomes)
}

// flipOffsets covers every page header, the start of every page's
// elements, and a spread of other bytes.
func flipOffsets(size int, short bool) []int {
	const page = 4096
	var out []int
	rng := rand.New(rand.NewPCG(3, 4))
	perPage := 48
	if short {
		perPage = 8
	}
	for p := 0; p*page < size; p++ {
		base := p * page
		for i := 0; i < 16+64; i += 3 {
			out = append(out, base+i)
		}
		for range perPage {
			out = append(out, base+rng.IntN(page))
		}
	}
	return slices.DeleteFunc(out, func(o int) bool { return o >= size })
}

func isClear(err error) bool {
	for _, target := range []error{ErrCorrupt, ErrVersion} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func subset(got, want state) bool {
	return subsetOf(got.events, want.events) && subsetOf(got.opens, want.opens) &&
		subsetOf(got.rejected, want.rejected) && subsetOf(got.streams, want.streams)
}

func subsetOf[K, V comparable](got, want map[K]V) bool {
	for k, r := range got {
		if w, ok := want[k]; !ok || w != r {
			return false
		}
	}
	return true
}

func fileHash(t *testing.T, path string) [32]byte { return sha256.Sum256(must(os.ReadFile(path))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// usedBytes is the size of the pages bbolt has in use, below its
// preallocated tail.
func usedBytes(t *testing.T, path string) int64 {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	var n int64
	require.NoError(t, db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }))
	return n
}

func sameState(a, b state) bool { return a.records() == b.records() && subset(a, b) }

// Regression (review): a file whose meta page 1 is torn and which holds a
// valid-looking meta page further on must be judged by the meta pages
// bbolt opens, not by the stray one; otherwise bbolt would walk a tree
// nobody validated and fault.
func TestValidatorUsesTheMetaPagesBboltUses(t *testing.T) {
	dir := t.TempDir()
	build(t, dir, 1)
	path := filepath.Join(dir, FileName)
	data := must(os.ReadFile(path))
	const ps = 4096
	newest := data[:ps]
	if readMeta(data[ps:2*ps]).txid > readMeta(newest).txid {
		newest = data[ps : 2*ps]
	}
	good := append([]byte(nil), newest[:pageHeaderSize+64]...)
	const stray, wild = 16, 17
	out := make([]byte, (wild+1)*ps)
	copy(out, data)
	// A valid meta at page 16, where a scan for meta page 1 would look.
	copy(out[stray*ps:], good)
	ne.PutUint64(out[stray*ps+pageHeaderSize+48:], 50)
	sealMeta(out[stray*ps:])
	// Meta 0 valid but rooted at a page that points far outside the file.
	copy(out, good)
	ne.PutUint64(out[0:], 0)
	ne.PutUint64(out[pageHeaderSize+16:], wild)
	ne.PutUint64(out[pageHeaderSize+40:], wild+1)
	ne.PutUint64(out[pageHeaderSize+48:], 1)
	sealMeta(out)
	// Meta 1 torn: the highest txid, a bad checksum.
	copy(out[ps:], good)
	ne.PutUint64(out[ps:], 1)
	ne.PutUint64(out[ps+pageHeaderSize+48:], 100)
	// Page 17: a branch with a child far beyond the file.
	br := out[wild*ps:]
	ne.PutUint64(br, wild)
	ne.PutUint16(br[8:], branchPage)
	ne.PutUint16(br[10:], 1)
	ne.PutUint32(br[pageHeaderSize:], elementSize)
	ne.PutUint32(br[pageHeaderSize+4:], 1)
	ne.PutUint64(br[pageHeaderSize+8:], 1<<30)
	br[pageHeaderSize+elementSize] = 'k'
	require.NoError(t, os.WriteFile(path, out, 0o600))

	_, _, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "out of range")
}

// A repair interrupted before its rename leaves the original in place and
// its work beside it; the next start discards the work and repairs again.
func TestInterruptedRepairStartsOver(t *testing.T) {
	dir := t.TempDir()
	states := build(t, dir, 2)
	path := filepath.Join(dir, FileName)
	require.NoError(t, os.WriteFile(path+repairSuffix, []byte("half-written repair"), 0o600))
	sp, c, err := Open(dir, Options{})
	require.NoError(t, err)
	defer sp.Close()
	assert.NoFileExists(t, path+repairSuffix)
	assert.True(t, sameState(states[len(states)-1], contentsState(c)))
}

func sealMeta(page []byte) {
	b := page[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(b[:56])
	ne.PutUint64(b[56:], h.Sum64())
}
