package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// A checkpoint is the record each transaction writes, keyed by the
// transactional id, to partition 0 of the checkpoint topic. It lists every
// event the transaction delivers and every event delivered earlier that the
// spool may still hold, so that the latest committed checkpoint alone tells
// a restart which held events must not be produced again.
//
// Its value: "lwcp", a version byte, the transaction's nonce (8 bytes), then
// the events' ids, 16 bytes each.
const (
	checkpointMagic     = "lwcp\x01"
	checkpointPartition = 0
	checkpointHeader    = len(checkpointMagic) + 8
)

type checkpoint struct {
	found  bool
	offset int64
	nonce  uint64
	ids    []usage.ID
}

func appendCheckpoint(dst []byte, nonce uint64, ids ...[]usage.ID) []byte {
	dst = append(dst, checkpointMagic...)
	dst = binary.BigEndian.AppendUint64(dst, nonce)
	for _, part := range ids {
		for _, id := range part {
			dst = append(dst, id[:]...)
		}
	}
	return dst
}

func parseCheckpoint(v []byte) (checkpoint, error) {
	if len(v) < checkpointHeader || string(v[:len(checkpointMagic)]) != checkpointMagic || (len(v)-checkpointHeader)%16 != 0 {
		return checkpoint{}, errors.New("unreadable checkpoint record")
	}
	cp := checkpoint{found: true, nonce: binary.BigEndian.Uint64(v[len(checkpointMagic):])}
	ids := v[checkpointHeader:]
	cp.ids = make([]usage.ID, len(ids)/16)
	for i := range cp.ids {
		copy(cp.ids[i][:], ids[i*16:])
	}
	return cp, nil
}

// encodeMark and decodeMark store the offset of the latest committed
// checkpoint known, from which the next read-back starts.
func encodeMark(offset int64) []byte {
	if offset < 0 {
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(offset))
}

func decodeMark(b []byte) int64 {
	if len(b) != 8 {
		return -1
	}
	return int64(binary.BigEndian.Uint64(b))
}

// Recovery is what one read-back of the checkpoint topic found and cost.
type Recovery struct {
	Took    time.Duration
	Scanned int // records read, every replica's and control records included
	Found   int // held events a committed transaction already delivered
}

// readLatest reads partition 0 of the checkpoint topic read_committed from
// offset from up to its last stable offset, and returns the last checkpoint
// written under id and how many records it read. base are the client
// options without a producer's.
func readLatest(ctx context.Context, admin *kgo.Client, base []kgo.Opt, topic, id string, from int64) (checkpoint, int, error) {
	offsets, err := kadm.NewClient(admin).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = offsets.Error()
	}
	end, ok := offsets.Lookup(topic, checkpointPartition)
	if err == nil && !ok {
		err = kerr.UnknownTopicOrPartition
	}
	if err != nil {
		return checkpoint{}, 0, fmt.Errorf("listing the checkpoint topic's offsets: %w", err)
	}
	from = max(from, 0)
	if from >= end.Offset {
		return checkpoint{}, 0, nil
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {checkpointPartition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records are the commit and abort markers: they are what
		// ends the partition below its last stable offset, so they tell
		// the read that it has reached the end.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond),
	)...)
	if err != nil {
		return checkpoint{}, 0, err
	}
	defer cl.Close()
	var (
		latest  checkpoint
		scanned int
		bad     error
	)
	for next := from; next < end.Offset; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return checkpoint{}, scanned, fmt.Errorf("reading the checkpoint topic: %w", err)
		}
		for _, fe := range fs.Errors() {
			return checkpoint{}, scanned, fmt.Errorf("reading the checkpoint topic: %w", fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			scanned++
			next = r.Offset + 1
			if r.Attrs.IsControl() || string(r.Key) != id {
				return
			}
			cp, err := parseCheckpoint(r.Value)
			// Only the last checkpoint counts: a later readable one
			// supersedes an unreadable one.
			bad = err
			if err != nil {
				bad = fmt.Errorf("checkpoint at offset %d: %w", r.Offset, err)
				return
			}
			cp.offset = r.Offset
			latest = cp
		})
	}
	if bad != nil {
		return checkpoint{}, scanned, bad
	}
	return latest, scanned, nil
}
