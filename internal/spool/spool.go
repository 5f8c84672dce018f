package spool

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// FileName is the spool file inside the spool directory.
const FileName = "outbox.db"

// format is stored in the meta bucket; a file with another format is
// refused rather than misread.
const format = "litewavemetric-spool-v2"

var (
	bucketMeta     = []byte("meta")
	bucketEvents   = []byte("events")
	bucketOpen     = []byte("open")
	bucketRejected = []byte("parked") // its name on disk since 0.1
	bucketStreams  = []byte("streams")
	keyFormat      = []byte("format")
	// keyTransactionalID holds the spool's producer identity, drawn once
	// when the spool is created (or first opened by 0.2): a restart, or a
	// drain on another machine, fences and recovers under the same id.
	keyTransactionalID = []byte("transactional-id")
	// keyMark holds the backend's recovery mark, stored with each commit.
	keyMark = []byte("mark")
)

// Files a rebuild writes before it replaces the spool in one rename.
const (
	repairSuffix  = ".repair"
	compactSuffix = ".compact"
	freshSuffix   = ".fresh"
)

var (
	// ErrCorrupt: the file is damaged in a way that cannot be repaired
	// without risking double billing; it is left untouched.
	ErrCorrupt = errors.New("spool file is damaged")
	// ErrVersion: the file is not a spool of this format.
	ErrVersion = errors.New("spool file has another format")
	// ErrLocked: another process has the spool open.
	ErrLocked = errors.New("spool is in use by another process")
)

// Options configure a Spool.
type Options struct {
	MaxBytes int64 // Full reports true once the records held pass this
	// LockTimeout bounds the wait for another process's lock (default 1s).
	LockTimeout time.Duration
	// TransactionalID is stored as the spool's identity if it has none yet;
	// Contents.TransactionalID is the one stored.
	TransactionalID string
}

// Spool is an outbox.Store in a bbolt file.
type Spool struct {
	path     string
	db       *bolt.DB
	file     *os.File // bbolt's handle of the file, to tell whether path still names it
	maxBytes int64
	held     atomic.Int64 // bytes of the records held, keys included
	id       string       // the stored transactional id, written again to a fresh file
	acks     *ackLog
}

var _ outbox.Store = (*Spool)(nil)

// Contents is what a spool held when it was opened.
type Contents struct {
	outbox.Contents
	Recovery        Recovery
	TransactionalID string // the spool's identity (Options.TransactionalID)
	Mark            []byte // the last outbox.Change.Mark committed, if any
	ackGen          []byte // the generation of the acknowledgement log to read
}

// Recovery tells what opening a spool had to do.
type Recovery struct {
	Repaired  bool   // unreadable records were dropped; the file was rewritten
	Dropped   int    // records dropped
	MovedTo   string // where the damaged file was kept
	Compacted bool   // the file was mostly free space and was rewritten smaller
	// Cleared counts the events the acknowledgement log named as delivered:
	// their records were deleted, and they are not sent again.
	Cleared int
	Notes   []string
}

func (r Recovery) String() string {
	var parts []string
	if r.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable records dropped", r.Dropped))
	}
	if r.MovedTo != "" {
		parts = append(parts, "damaged file kept at "+r.MovedTo)
	}
	if r.Cleared > 0 {
		parts = append(parts, fmt.Sprintf("%d acknowledged events cleared", r.Cleared))
	}
	parts = append(parts, r.Notes...)
	return strings.Join(parts, "; ")
}

// Open opens or creates the spool in dir and returns what it holds.
//
// A damaged file is repaired when that is safe: records that fail their
// checksum are dropped and reported, and the damaged file is kept beside
// the new one. Damage to the page structure, which could make stale records
// look live, is an error wrapping ErrCorrupt, and the file is left as it
// is; so is a file of another format (ErrVersion). Open never panics on a
// damaged file. A file that is mostly free space (bbolt files never shrink)
// is compacted.
func Open(dir string, opts Options) (*Spool, Contents, error) {
	var c Contents
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, c, err
	}
	path := filepath.Join(dir, FileName)
	want, err := validate(path, &c)
	if err != nil {
		return nil, c, err
	}
	db, file, err := openBolt(path, false, opts.LockTimeout)
	if err != nil {
		return nil, c, err
	}
	s := &Spool{path: path, db: db, file: file, maxBytes: opts.MaxBytes}
	// A rebuild that did not finish left its work beside the original,
	// which is still in place: start over from the original. Only now, with
	// the lock held: the files may be another process's rebuild under way.
	for _, suffix := range []string{repairSuffix, compactSuffix, freshSuffix} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = db.Close()
			return nil, c, fmt.Errorf("removing an unfinished rebuild: %w", err)
		}
	}
	dropped, err := s.load(&c, want)
	if err != nil {
		_ = db.Close()
		return nil, c, err
	}
	if dropped > 0 {
		if err := s.repair(&c, dropped); err != nil {
			_ = s.db.Close()
			return nil, c, err
		}
	}
	if err := s.compactIfMostlyFree(&c); err != nil {
		_ = s.db.Close()
		return nil, c, err
	}
	if err := s.startAckLog(&c, opts.TransactionalID); err != nil {
		_ = s.db.Close()
		return nil, c, err
	}
	s.id = c.TransactionalID
	return s, c, nil
}

// validate checks an existing file's page structure before bbolt opens it,
// and returns the transaction it vouches for (0 for a new file).
func validate(path string, c *Contents) (uint64, error) {
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 {
		return 0, nil
	}
	v, err := validateFile(path)
	switch {
	case errors.Is(err, errStructure):
		return 0, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case err != nil:
		return 0, fmt.Errorf("reading spool: %w", err)
	}
	c.Recovery.Notes = v.notes
	return v.txid, nil
}

// openBolt opens the file with bbolt, turning a panic inside bbolt into an
// error: validateFile vouches for the structure, this is the second line.
// It returns bbolt's own handle of the file too.
func openBolt(path string, readOnly bool, lockTimeout time.Duration) (db *bolt.DB, file *os.File, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			db, file, err = nil, nil, fmt.Errorf("%w: %s: bbolt: %v", ErrCorrupt, path, p)
		}
	}()
	if lockTimeout <= 0 {
		lockTimeout = time.Second
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout, FreelistType: bolt.FreelistMapType, ReadOnly: readOnly,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case err != nil:
		return nil, nil, fmt.Errorf("opening spool: %w", err)
	}
	return db, file, nil
}

// load checks the format and the structure, creates the buckets of a new
// spool, and decodes every record; it returns how many were unreadable.
func (s *Spool) load(c *Contents, want uint64) (dropped int, err error) {
	fresh := false
	err = read(s.db, func(tx *bolt.Tx) error {
		if want != 0 && uint64(tx.ID()) != want {
			return fmt.Errorf("%w: bbolt opened transaction %d, the validated one is %d", ErrCorrupt, tx.ID(), want)
		}
		var held int64
		var err error
		fresh, held, dropped, err = decodeFile(tx, c)
		s.held.Store(held)
		return err
	})
	if err == nil && fresh {
		err = s.db.Update(initBuckets)
	}
	return dropped, err
}

// read runs fn in a read transaction, turning a fault on a damaged page
// into an error.
func read(db *bolt.DB, fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: reading records: %v", ErrCorrupt, p)
		}
	}()
	return db.View(fn)
}

// decodeFile checks the format and structure of the file tx reads and
// decodes its records into c. It returns whether the file is new (no
// buckets yet), the bytes the records hold, and how many were unreadable.
func decodeFile(tx *bolt.Tx, c *Contents) (fresh bool, held int64, dropped int, err error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if tx.Bucket(bucketEvents) != nil || tx.Bucket(bucketOpen) != nil {
			return false, 0, 0, fmt.Errorf("%w: no format marker", ErrVersion)
		}
		return true, 0, 0, nil
	}
	if f := meta.Get(keyFormat); string(f) != format {
		return false, 0, 0, fmt.Errorf("%w: %q, this version reads %q", ErrVersion, f, format)
	}
	var problems []string
	for e := range tx.Check() {
		problems = append(problems, e.Error())
	}
	if len(problems) > 0 {
		return false, 0, 0, fmt.Errorf("%w: %s", ErrCorrupt, strings.Join(first(problems, 5), "; "))
	}
	b := buckets(tx)
	if b.events == nil || b.open == nil || b.rejected == nil || b.streams == nil {
		return false, 0, 0, fmt.Errorf("%w: missing bucket", ErrCorrupt)
	}
	c.TransactionalID = string(meta.Get(keyTransactionalID))
	c.Mark = bytes.Clone(meta.Get(keyMark))
	c.ackGen = bytes.Clone(meta.Get(keyGeneration))
	acc := tally{}
	err = errors.Join(
		decodeAll(b.events, decodeEvent, &c.Events, &acc),
		decodeAll(b.open, decodeOpen, &c.Opens, &acc),
		decodeAll(b.rejected, decodeRejected, &c.Rejected, &acc),
		decodeAll(b.streams, decodeStream, &c.Streams, &acc),
	)
	return false, acc.held, acc.dropped, err
}

type tally struct {
	held    int64
	dropped int
}

// decodeAll decodes every record of b into out, counting the bytes of the
// readable ones and the unreadable ones.
func decodeAll[R any](b *bolt.Bucket, decode func(k, v []byte) (R, error), out *[]R, acc *tally) error {
	return b.ForEach(func(k, v []byte) error {
		if r, err := decode(k, v); err == nil {
			*out = append(*out, r)
			acc.held += int64(len(k) + len(v))
		} else {
			acc.dropped++
		}
		return nil
	})
}

type bucketSet struct{ events, open, rejected, streams *bolt.Bucket }

func buckets(tx *bolt.Tx) bucketSet {
	return bucketSet{tx.Bucket(bucketEvents), tx.Bucket(bucketOpen), tx.Bucket(bucketRejected), tx.Bucket(bucketStreams)}
}

func initBuckets(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyFormat, []byte(format)); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketEvents, bucketOpen, bucketRejected, bucketStreams} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// rebuild writes a new spool file with build and puts it in place of the
// old one in one rename, made while the old file is still open and locked,
// so that no other process can open the spool in between; then it switches
// to the new file. Whenever the process may die, the spool is either the
// old file or the new one.
func (s *Spool) rebuild(suffix string, build func(*bolt.DB) error) error {
	tmp := s.path + suffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, file, err := openBolt(tmp, false, 0)
	if err != nil {
		return err
	}
	err = build(db)
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(s.path))
	}
	if err != nil {
		_ = db.Close()
		_ = os.Remove(tmp)
		return err
	}
	old := s.db
	s.db, s.file = db, file
	_ = old.Close()
	return nil
}

// repair keeps a copy of the damaged file and replaces the spool with a
// new file holding the readable records.
func (s *Spool) repair(c *Contents, dropped int) error {
	aside := fmt.Sprintf("%s.damaged-%d", s.path, time.Now().UnixNano())
	if err := copyFile(s.path, aside); err != nil {
		return fmt.Errorf("spool repair: keeping the damaged file: %w", err)
	}
	err := s.rebuild(repairSuffix, func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			if err := initBuckets(tx); err != nil {
				return err
			}
			if err := putIdentity(tx, c.TransactionalID); err != nil {
				return err
			}
			_, err := write(tx, &outbox.Change{PutEvents: c.Events, PutOpen: c.Opens, PutRejected: c.Rejected, PutStreams: c.Streams, Mark: c.Mark})
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("spool repair: %w", err)
	}
	c.Recovery.Repaired, c.Recovery.Dropped, c.Recovery.MovedTo = true, dropped, aside
	return nil
}

// Compaction thresholds: a file of at least compactMinBytes whose records
// fill less than a quarter of it is rewritten at start.
const compactMinBytes = 1 << 20

func (s *Spool) compactIfMostlyFree(c *Contents) error {
	st, err := s.file.Stat()
	if err != nil {
		return err
	}
	if st.Size() < compactMinBytes || s.held.Load()*4 >= st.Size() {
		return nil
	}
	if err := s.rebuild(compactSuffix, func(db *bolt.DB) error { return bolt.Compact(db, s.db, 4<<20) }); err != nil {
		return fmt.Errorf("spool compaction: %w", err)
	}
	c.Recovery.Compacted = true
	return nil
}

// copyFile copies src to a new file dst and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Commit writes one change in one synced transaction. If the spool file
// was removed or replaced since the last commit, nothing of ch is written:
// a fresh file is started in its place and the error wraps
// outbox.ErrStoreLost, for the outbox to write everything it holds again.
func (s *Spool) Commit(ch *outbox.Change) error {
	if err := s.checkFile(); err != nil {
		return err
	}
	var delta int64
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		delta, err = write(tx, ch)
		return err
	})
	if err != nil {
		return err
	}
	s.held.Add(delta)
	s.committedAcks(ch.DeleteEvents)
	return nil
}

// checkFile makes sure the spool's path still names the file bbolt writes:
// a tmp cleaner may have removed it, or someone replaced it, and commits to
// an unlinked file are lost at exit.
func (s *Spool) checkFile() error {
	on, err := s.file.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(s.path)
	switch {
	case err == nil && os.SameFile(on, now):
		return nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return err
	}
	what := "removed"
	if err == nil {
		what = "replaced"
		aside := fmt.Sprintf("%s.replaced-%d", s.path, time.Now().UnixNano())
		if err := os.Rename(s.path, aside); err != nil {
			return fmt.Errorf("keeping the file that replaced the spool: %w", err)
		}
		what += "; the file found in its place was kept at " + aside
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	fresh := func(tx *bolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyGeneration, s.acks.gen[:]); err != nil {
			return err
		}
		return putIdentity(tx, s.id)
	}
	if err := s.rebuild(freshSuffix, func(db *bolt.DB) error { return db.Update(fresh) }); err != nil {
		return fmt.Errorf("%w: %s was %s, and starting a fresh one failed: %w", outbox.ErrStoreLost, s.path, what, err)
	}
	s.held.Store(0)
	return fmt.Errorf("%w: %s was %s while in use; a fresh spool was started in its place", outbox.ErrStoreLost, s.path, what)
}

// write applies ch in tx and returns how the bytes held change.
func write(tx *bolt.Tx, ch *outbox.Change) (int64, error) {
	b := buckets(tx)
	// Events are keyed by freezing order and mostly appended: fill pages.
	b.events.FillPercent = 0.9
	w := writer{}
	// The last key before this change's deletions: bbolt's Cursor.Last
	// loops on a leaf emptied earlier in the same transaction.
	last := lastKey(b.events, len(ch.PutEvents))
	w.deleteEvents(b.events, ch.DeleteEvents)
	for _, k := range ch.DeleteOpen {
		w.delete(b.open, seriesKey(k))
	}
	for _, k := range ch.DeleteRejected {
		w.delete(b.rejected, seriesKey(k))
	}
	for _, id := range ch.DeleteStreams {
		w.delete(b.streams, id[:])
	}
	w.putEvents(b.events, ch.PutEvents, last)
	for _, r := range ch.PutOpen {
		w.put(b.open, seriesKey(r.Key), encodeOpen(r))
	}
	for _, r := range ch.PutRejected {
		w.put(b.rejected, seriesKey(r.Key), encodeRejected(r))
	}
	for _, r := range ch.PutStreams {
		w.put(b.streams, r.ID[:], encodeStream(r))
	}
	if ch.Mark != nil && w.err == nil {
		w.err = tx.Bucket(bucketMeta).Put(keyMark, ch.Mark)
	}
	return w.delta, w.err
}

// putIdentity stores the spool's transactional id, if it has one.
func putIdentity(tx *bolt.Tx, id string) error {
	if id == "" {
		return nil
	}
	return tx.Bucket(bucketMeta).Put(keyTransactionalID, []byte(id))
}

// writer puts and deletes records, keeping the first error and the change
// in bytes held.
type writer struct {
	delta int64
	err   error
}

func (w *writer) delete(b *bolt.Bucket, k []byte) {
	if w.err != nil {
		return
	}
	// One search of the tree, where a Get and a Delete make two.
	c := b.Cursor()
	if key, v := c.Seek(k); bytes.Equal(key, k) {
		w.delta -= int64(len(k) + len(v))
		w.err = c.Delete()
	}
}

// deleteEvents deletes the records of seqs in key order: neighbouring
// keys share pages, which bbolt then finds in its cache.
func (w *writer) deleteEvents(b *bolt.Bucket, seqs []uint64) {
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	var k [8]byte
	for _, seq := range sorted {
		binary.BigEndian.PutUint64(k[:], seq)
		w.delete(b, k[:])
	}
}

// lastKey returns a copy of b's last key, if there are puts to compare
// with it.
func lastKey(b *bolt.Bucket, puts int) []byte {
	if puts == 0 {
		return nil
	}
	k, _ := b.Cursor().Last()
	return bytes.Clone(k)
}

// putEvents writes records in key order, their keys and values in a few
// large buffers that live as long as the transaction, as bbolt requires.
// A record whose seq is beyond last, at or past every stored one (a new
// event, the usual case), replaces nothing, so the search for an old one
// is skipped; in key order, bbolt appends it to the last page.
func (w *writer) putEvents(b *bolt.Bucket, records []outbox.EventRecord, last []byte) {
	order := make([]int32, len(records))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int { return cmp.Compare(records[i].Seq, records[j].Seq) })
	var buf []byte
	for _, i := range order {
		r := records[i]
		if w.err != nil {
			return
		}
		if need := 8 + eventSize(r); cap(buf)-len(buf) < need {
			buf = make([]byte, 0, max(need, 64<<10))
		}
		start := len(buf)
		buf = binary.BigEndian.AppendUint64(buf, r.Seq)
		key := buf[start:len(buf):len(buf)]
		buf = appendEvent(buf, r)
		value := buf[start+8 : len(buf) : len(buf)]
		if last != nil && bytes.Compare(key, last) <= 0 {
			w.put(b, key, value)
			continue
		}
		w.delta += int64(len(key) + len(value))
		w.err = b.Put(key, value)
		last = key // a seq repeated in records takes the search
	}
}

func (w *writer) put(b *bolt.Bucket, k, v []byte) {
	if w.err != nil {
		return
	}
	if old := b.Get(k); old != nil {
		w.delta -= int64(len(k) + len(old))
	}
	w.delta += int64(len(k) + len(v))
	w.err = b.Put(k, v)
}

// Full reports whether the records held, with pending bytes more, have
// passed the cap. Freed space counts as free: the cap bounds what is held,
// not the file's history.
func (s *Spool) Full(pending int64) bool { return s.maxBytes > 0 && s.held.Load()+pending > s.maxBytes }

// HeldBytes is the size of the records held.
func (s *Spool) HeldBytes() int64 { return s.held.Load() }

// Close closes the file and the acknowledgement log, which it removes if
// every event it names has had its record deleted.
func (s *Spool) Close() error {
	s.acks.close()
	return s.db.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
