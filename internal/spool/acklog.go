package spool

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// The acknowledgement log sits beside the spool file. It names delivered
// events whose records no synced commit has deleted yet, so that a restart
// does not send them again. It is appended with one write(2) per call and
// never synced: a process that is killed keeps what it wrote (the page
// cache outlives it), while a machine that crashes may lose the tail, and
// those events are then sent again with their keys. Duplicates, never a
// loss.
//
// It is a series of segment files, acked-N.log: a header (magic, the
// spool's log generation, CRC-32C of both), then fixed-size records, each
// an event's seq and the CRC-32C of the generation and the seq. A segment
// goes once every seq in it is deleted by a synced commit; the current one
// is cut back to its header instead, and a new one starts when it is full,
// so that steady delivery, which always has some seqs waiting, does not
// grow one file forever.
//
// Open reads the segments, deletes the records they name in its synced
// commit, stores a new generation in that commit, and only then removes
// them. The generation makes any segment of an earlier run worthless: a
// run on an empty spool numbers its events from 1 again, and a segment
// that came back after a machine crash must not name them.
const (
	ackPrefix       = "acked-"
	ackSuffix       = ".log"
	ackHeaderSize   = 16 // magic (4), generation (8), CRC (4)
	ackRecordSize   = 12 // seq (8), CRC (4)
	ackSegmentBytes = 64 << 10
	// ackReadMax bounds what Open reads of one segment: a segment is
	// ackSegmentBytes and a batch; anything beyond is not the exporter's.
	ackReadMax = 16 << 20
)

var (
	ackMagic      = [4]byte{'L', 'W', 'A', 'K'}
	keyGeneration = []byte("ack-log-generation")
)

type generation [8]byte

// segment is one acked-N.log file being written or waiting to go.
type segment struct {
	path     string
	f        *os.File
	size     int64
	live     int // its seqs whose records are not known to be deleted
	sealedAt int // the log's commits when it stopped taking records
}

// ackLog is the acknowledgement log of an open spool.
type ackLog struct {
	dir string
	gen generation
	crc uint32 // CRC-32C of the generation: each record's CRC goes on from it

	mu      sync.Mutex
	cur     *segment // nil until the first record
	sealed  []*segment
	live    map[uint64]*segment // seq → the segment that counts it
	next    int                 // the number of the next segment file
	commits int                 // successful commits seen
	buf     []byte
}

func newAckLog(dir string, gen generation, next int) *ackLog {
	return &ackLog{dir: dir, gen: gen, crc: crc32.Checksum(gen[:], castagnoli), live: map[uint64]*segment{}, next: next}
}

func (l *ackLog) header() []byte {
	b := append(append(make([]byte, 0, ackHeaderSize), ackMagic[:]...), l.gen[:]...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendAck(b []byte, crc uint32, seq uint64) []byte {
	b = binary.LittleEndian.AppendUint64(b, seq)
	return binary.LittleEndian.AppendUint32(b, crc32.Update(crc, castagnoli, b[len(b)-8:]))
}

// append records seqs as acknowledged, in one write.
func (l *ackLog) append(seqs []uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur == nil || l.cur.size >= ackSegmentBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	l.buf = l.buf[:0]
	for _, q := range seqs {
		l.buf = appendAck(l.buf, l.crc, q)
	}
	n, err := l.cur.f.Write(l.buf)
	if err != nil {
		// A torn record would hide the records after it: cut it off, or
		// write no more to this segment.
		if n > 0 && l.cur.f.Truncate(l.cur.size) != nil {
			l.seal()
		}
		return err
	}
	l.cur.size += int64(n)
	for _, q := range seqs {
		if _, ok := l.live[q]; !ok {
			l.live[q] = l.cur
			l.cur.live++
		}
	}
	return nil
}

// rotate seals the current segment and starts a new one. mu must be held.
func (l *ackLog) rotate() error {
	if l.cur != nil {
		l.seal()
	}
	path := filepath.Join(l.dir, ackPrefix+strconv.Itoa(l.next)+ackSuffix)
	l.next++
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(l.header()); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return err
	}
	l.cur = &segment{path: path, f: f, size: ackHeaderSize}
	return nil
}

// seal stops writing to the current segment; it goes once nothing in it is
// live. mu must be held.
func (l *ackLog) seal() {
	s := l.cur
	l.cur = nil
	if s.live == 0 {
		s.remove()
		return
	}
	s.sealedAt = l.commits
	l.sealed = append(l.sealed, s)
}

func (s *segment) remove() {
	_ = s.f.Close()
	_ = os.Remove(s.path)
}

// committed is told of the seqs a successful synced commit deleted. It
// returns the seqs that should have been deleted by now and were not:
// those of a segment sealed two commits ago, whose deletions were queued
// before they were appended. They are appended after their deletion was
// committed when the worker that appends them is slow, and would keep
// their segment forever; the caller checks them against the spool file.
func (l *ackLog) committed(deleted []uint64) (overdue []uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commits++
	l.drop(deleted)
	for _, s := range l.sealed {
		if l.commits-s.sealedAt < 2 {
			continue
		}
		for q, in := range l.live {
			if in == s {
				overdue = append(overdue, q)
			}
		}
	}
	return overdue
}

// forget drops seqs whose records the spool file does not hold.
func (l *ackLog) forget(gone []uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drop(gone)
}

// drop removes seqs from the live ones, removes the sealed segments left
// with none, and cuts the current one back to its header if it has none.
// mu must be held.
func (l *ackLog) drop(seqs []uint64) {
	for _, q := range seqs {
		if s, ok := l.live[q]; ok {
			delete(l.live, q)
			s.live--
		}
	}
	kept := l.sealed[:0]
	for _, s := range l.sealed {
		if s.live == 0 {
			s.remove()
		} else {
			kept = append(kept, s)
		}
	}
	clear(l.sealed[len(kept):])
	l.sealed = kept
	if c := l.cur; c != nil && c.live == 0 && c.size > ackHeaderSize {
		if c.f.Truncate(ackHeaderSize) == nil {
			c.size = ackHeaderSize
		} else {
			l.seal()
		}
	}
}

// close closes the segments; if none has a live seq (a clean stop), it
// removes them.
func (l *ackLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	segs := l.sealed
	if l.cur != nil {
		segs = append(segs, l.cur)
	}
	for _, s := range segs {
		if len(l.live) == 0 {
			s.remove()
		} else {
			_ = s.f.Close()
		}
	}
	l.cur, l.sealed = nil, nil
}

// found is what the segments in a spool directory say.
type found struct {
	acked map[uint64]bool
	files []string
	last  int // the highest segment number found
	notes []string
}

// readAckLogs reads the segments in dir written under gen; segments of
// another generation were read by an earlier start. Only records whose CRC
// holds are taken, up to the first that fails or is short (a torn tail
// after a machine crash): a damaged log can only send events again. It
// never fails: what it cannot read is noted.
func readAckLogs(dir string, gen []byte) found {
	fd := found{acked: map[uint64]bool{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		fd.notes = append(fd.notes, fmt.Sprintf("acknowledgement log unreadable (%v): its events are sent again", err))
		return fd
	}
	for _, e := range entries {
		n, ok := segmentNumber(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fd.files = append(fd.files, path)
		fd.last = max(fd.last, n)
		data, err := readAtMost(path, ackReadMax)
		if err != nil {
			fd.notes = append(fd.notes, fmt.Sprintf("acknowledgement log %s unreadable (%v): its events are sent again", e.Name(), err))
			continue
		}
		if note := readSegment(data, gen, fd.acked); note != "" {
			fd.notes = append(fd.notes, fmt.Sprintf("acknowledgement log %s: %s", e.Name(), note))
		}
	}
	return fd
}

// readSegment adds the seqs of data's valid records to acked and returns
// a note on what it could not read, if anything.
func readSegment(data, gen []byte, acked map[uint64]bool) string {
	if len(data) == 0 {
		return "" // created, never written
	}
	if len(data) < ackHeaderSize || [4]byte(data[:4]) != ackMagic ||
		binary.LittleEndian.Uint32(data[12:]) != crc32.Checksum(data[:12], castagnoli) {
		return fmt.Sprintf("damaged header; its %d bytes are ignored, and the events it named are sent again", len(data))
	}
	if len(gen) != len(generation{}) || string(data[4:12]) != string(gen) {
		return "" // an earlier start's, already read
	}
	crc := crc32.Checksum(gen, castagnoli)
	off := ackHeaderSize
	for ; off+ackRecordSize <= len(data); off += ackRecordSize {
		rec := data[off : off+ackRecordSize]
		seq := binary.LittleEndian.Uint64(rec)
		if seq == 0 || binary.LittleEndian.Uint32(rec[8:]) != crc32.Update(crc, castagnoli, rec[:8]) {
			break
		}
		acked[seq] = true
	}
	if rest := len(data) - off; rest > 0 {
		return fmt.Sprintf("%d bytes after record %d unreadable (a torn or damaged write); the events they named are sent again",
			rest, (off-ackHeaderSize)/ackRecordSize)
	}
	return ""
}

func segmentNumber(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, ackPrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ackSuffix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n >= 0
}

// readAtMost reads up to limit bytes of the file at path.
func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, min(st.Size(), limit))
	n, err := f.ReadAt(buf, 0)
	if n == len(buf) {
		err = nil
	}
	return buf[:n], err
}

// startAckLog deletes the records of the events the acknowledgement log
// names as delivered, in one synced commit that also stores a new log
// generation (and the spool's identity if it has none), and then removes
// the log. The events are left out of c; Recovery counts them.
func (s *Spool) startAckLog(c *Contents, id string) error {
	dir := filepath.Dir(s.path)
	fd := readAckLogs(dir, c.ackGen)
	var cleared []uint64
	kept := c.Events[:0]
	for _, r := range c.Events {
		if fd.acked[r.Seq] {
			cleared = append(cleared, r.Seq)
		} else {
			kept = append(kept, r)
		}
	}
	clear(c.Events[len(kept):])
	c.Events = kept
	var gen generation
	if _, err := rand.Read(gen[:]); err != nil {
		return err
	}
	setID := c.TransactionalID == "" && id != ""
	var delta int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		if setID {
			if err := putIdentity(tx, id); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keyGeneration, gen[:]); err != nil {
			return err
		}
		var err error
		delta, err = write(tx, &outbox.Change{DeleteEvents: cleared})
		return err
	})
	if err != nil {
		return fmt.Errorf("clearing acknowledged events: %w", err)
	}
	s.held.Add(delta)
	if setID {
		c.TransactionalID = id
	}
	for _, path := range fd.files {
		_ = os.Remove(path) // one left is of the old generation: ignored, removed next time
	}
	c.Recovery.Cleared = len(cleared)
	c.Recovery.Notes = append(c.Recovery.Notes, fd.notes...)
	s.acks = newAckLog(dir, gen, fd.last+1)
	return nil
}

// Acked records that the events of seqs were delivered (outbox.AckLog): a
// restart does not send them again, even if the process dies before the
// commit that deletes their records.
func (s *Spool) Acked(seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.acks.append(seqs)
}

// committedAcks tells the acknowledgement log what a successful commit
// deleted, and drops the seqs it still counts whose records are gone.
func (s *Spool) committedAcks(deleted []uint64) {
	overdue := s.acks.committed(deleted)
	if len(overdue) == 0 {
		return
	}
	var gone []uint64
	_ = read(s.db, func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		for _, q := range overdue {
			if events.Get(eventKey(q)) == nil {
				gone = append(gone, q)
			}
		}
		return nil
	})
	s.acks.forget(gone)
}
