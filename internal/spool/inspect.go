package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Inspection is what a spool holds, read without changing it.
type Inspection struct {
	Contents
	Unreadable int // records that fail their checksum
	// Acknowledged counts the events delivered but still stored, which the
	// acknowledgement log names: the next start deletes them, and they are
	// left out of Contents.
	Acknowledged int
}

// Inspect reads the spool in dir without changing anything: no repair, no
// compaction, no new file. It fails with ErrLocked while an exporter holds
// the spool, and with os.ErrNotExist where there is none.
func Inspect(dir string) (Inspection, error) {
	var in Inspection
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return in, err
	}
	want, err := validate(path, &in.Contents)
	if err != nil {
		return in, err
	}
	db, _, err := openBolt(path, true, 100*time.Millisecond)
	if err != nil {
		return in, err
	}
	defer db.Close()
	err = read(db, func(tx *bolt.Tx) error {
		if want != 0 && uint64(tx.ID()) != want {
			return fmt.Errorf("%w: bbolt opened transaction %d, the validated one is %d", ErrCorrupt, tx.ID(), want)
		}
		fresh, _, dropped, err := decodeFile(tx, &in.Contents)
		if fresh {
			return errors.New("not a spool yet: no records were ever written")
		}
		in.Unreadable = dropped
		return err
	})
	if err != nil {
		return in, err
	}
	fd := readAckLogs(dir, in.ackGen)
	kept := in.Events[:0]
	for _, r := range in.Events {
		if !fd.acked[r.Seq] {
			kept = append(kept, r)
		}
	}
	in.Acknowledged = len(in.Events) - len(kept)
	in.Events = kept
	in.Recovery.Notes = append(in.Recovery.Notes, fd.notes...)
	return in, nil
}
