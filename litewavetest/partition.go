package litewavetest

// partitions is the partition count of every topic.
const partitions = 3

// murmur2 is Kafka's hash of a record key, as the Java client computes it
// (org.apache.kafka.common.utils.Utils.murmur2; franz-go's KafkaHasher is the
// same). Java's wrapping int arithmetic and >>> are uint32 arithmetic and >>.
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// partitionOf is the Java producer's default partition of a keyed record:
// (murmur2(key) & 0x7fffffff) % partitions. Redpanda's proxy skips the mask,
// which moves keys whose hash has the high bit set; the fake uses the Java
// rule in both answer forms so a record's partition does not depend on the
// form. A keyless record goes to partition 0, where the Java client's sticky
// partitioner could pick any, so tests stay deterministic.
func partitionOf(key []byte) int32 {
	if key == nil {
		return 0
	}
	return int32((murmur2(key) & 0x7fffffff) % partitions)
}
