package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
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
const format = "litewavemetric-spool-v1"

var (
	bucketMeta   = []byte("meta")
	bucketEvents = []byte("events")
	bucketOpen   = []byte("open")
	keyFormat    = []byte("format")
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
	MaxBytes int64 // Full reports true past this size
}

// Spool is an outbox.Store in a bbolt file.
type Spool struct {
	db       *bolt.DB
	maxBytes int64
	size     atomic.Int64
}

// Contents is what a spool held when it was opened.
type Contents struct {
	Events   []outbox.EventRecord
	Opens    []outbox.OpenRecord
	Recovery Recovery
}

// Recovery tells what opening a damaged spool had to do.
type Recovery struct {
	Repaired bool   // unreadable records were dropped; the file was rewritten
	Dropped  int    // records dropped
	MovedTo  string // where the damaged file was kept
	Notes    []string
}

func (r Recovery) String() string {
	var parts []string
	if r.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable records dropped", r.Dropped))
	}
	if r.MovedTo != "" {
		parts = append(parts, "damaged file kept at "+r.MovedTo)
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
// damaged file.
func Open(dir string, opts Options) (*Spool, Contents, error) {
	var c Contents
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, c, err
	}
	path := filepath.Join(dir, FileName)
	// A repair that did not finish left its work beside the original, which
	// is still in place: start over from the original.
	if err := os.Remove(path + repairSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, c, fmt.Errorf("removing an unfinished repair: %w", err)
	}
	var want uint64 // the transaction validateFile vouched for; 0 for a new file
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		v, err := validateFile(path)
		switch {
		case errors.Is(err, errStructure):
			return nil, c, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
		case err != nil:
			return nil, c, fmt.Errorf("reading spool: %w", err)
		}
		c.Recovery.Notes, want = v.notes, v.txid
	}
	db, err := openBolt(path)
	if err != nil {
		return nil, c, err
	}
	s := &Spool{db: db, maxBytes: opts.MaxBytes}
	dropped, err := s.load(&c, want)
	if err != nil {
		_ = db.Close()
		return nil, c, err
	}
	if dropped > 0 {
		if err := s.repair(path, &c, dropped); err != nil {
			return nil, c, err
		}
	}
	return s, c, nil
}

// openBolt opens the file with bbolt, turning a panic inside bbolt into an
// error: validateFile vouches for the structure, this is the second line.
func openBolt(path string) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("%w: %s: bbolt: %v", ErrCorrupt, path, p)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case err != nil:
		return nil, fmt.Errorf("opening spool: %w", err)
	}
	return db, nil
}

// load checks the format and the structure, creates the buckets of a new
// spool, and decodes every record; it returns how many were unreadable.
func (s *Spool) load(c *Contents, want uint64) (dropped int, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: reading records: %v", ErrCorrupt, p)
		}
	}()
	fresh := false
	err = s.db.View(func(tx *bolt.Tx) error {
		if want != 0 && uint64(tx.ID()) != want {
			return fmt.Errorf("%w: bbolt opened transaction %d, the validated one is %d", ErrCorrupt, tx.ID(), want)
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketEvents) != nil || tx.Bucket(bucketOpen) != nil {
				return fmt.Errorf("%w: no format marker", ErrVersion)
			}
			fresh = true
			return nil
		}
		if f := meta.Get(keyFormat); string(f) != format {
			return fmt.Errorf("%w: %q, this version reads %q", ErrVersion, f, format)
		}
		var problems []string
		for e := range tx.Check() {
			problems = append(problems, e.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("%w: %s", ErrCorrupt, strings.Join(first(problems, 5), "; "))
		}
		events, open := tx.Bucket(bucketEvents), tx.Bucket(bucketOpen)
		if events == nil || open == nil {
			return fmt.Errorf("%w: missing bucket", ErrCorrupt)
		}
		s.size.Store(tx.Size())
		if err := decodeAll(events, decodeEvent, &c.Events, &dropped); err != nil {
			return err
		}
		return decodeAll(open, decodeOpen, &c.Opens, &dropped)
	})
	if err == nil && fresh {
		err = s.db.Update(initBuckets)
	}
	return dropped, err
}

// decodeAll decodes every record of b into out, counting the unreadable
// ones in dropped.
func decodeAll[R any](b *bolt.Bucket, decode func(k, v []byte) (R, error), out *[]R, dropped *int) error {
	return b.ForEach(func(k, v []byte) error {
		if r, err := decode(k, v); err == nil {
			*out = append(*out, r)
		} else {
			*dropped++
		}
		return nil
	})
}

func initBuckets(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyFormat, []byte(format)); err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(bucketEvents); err != nil {
		return err
	}
	_, err = tx.CreateBucketIfNotExists(bucketOpen)
	return err
}

// repairSuffix names the file a repair is built in before it replaces the
// spool.
const repairSuffix = ".repair"

// repair keeps a copy of the damaged file and replaces the spool, in one
// rename, with a new file holding the readable records: whenever the
// process may die, the spool is either the damaged original (and the next
// start repairs again) or the repaired file.
func (s *Spool) repair(path string, c *Contents, dropped int) error {
	if err := s.db.Close(); err != nil {
		return err
	}
	aside := fmt.Sprintf("%s.damaged-%d", path, time.Now().UnixNano())
	if err := copyFile(path, aside); err != nil {
		return fmt.Errorf("spool repair: keeping the damaged file: %w", err)
	}
	tmp := path + repairSuffix
	db, err := openBolt(tmp)
	if err != nil {
		return fmt.Errorf("spool repair: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		return write(tx, &outbox.Change{PutEvents: c.Events, PutOpen: c.Opens})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("spool repair: %w", err)
	}
	if s.db, err = openBolt(path); err != nil {
		return fmt.Errorf("spool repair: %w", err)
	}
	c.Recovery.Repaired, c.Recovery.Dropped, c.Recovery.MovedTo = true, dropped, aside
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

// Commit writes one change in one synced transaction.
func (s *Spool) Commit(ch *outbox.Change) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return write(tx, ch) }); err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		s.size.Store(tx.Size())
		return nil
	})
}

func write(tx *bolt.Tx, ch *outbox.Change) error {
	events, open := tx.Bucket(bucketEvents), tx.Bucket(bucketOpen)
	// Events are keyed by freezing order and mostly appended: fill pages.
	events.FillPercent = 0.9
	for _, seq := range ch.DeleteEvents {
		if err := events.Delete(eventKey(seq)); err != nil {
			return err
		}
	}
	for _, k := range ch.DeleteOpen {
		if err := open.Delete(openKey(k)); err != nil {
			return err
		}
	}
	for _, r := range ch.PutEvents {
		if err := events.Put(eventKey(r.Seq), encodeEvent(r)); err != nil {
			return err
		}
	}
	for _, r := range ch.PutOpen {
		if err := open.Put(openKey(r.Key), encodeOpen(r)); err != nil {
			return err
		}
	}
	return nil
}

// Full reports whether the file has grown past its cap.
func (s *Spool) Full() bool { return s.maxBytes > 0 && s.size.Load() > s.maxBytes }

// Close closes the file.
func (s *Spool) Close() error { return s.db.Close() }

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
