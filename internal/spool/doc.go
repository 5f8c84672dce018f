// Package spool keeps the outbox on disk, in a bbolt file, so that usage
// accepted by Export survives a crash.
//
// Every record carries a CRC-32C and repeats its key, so that damage to a
// data page (bbolt checksums only its meta pages) is detected record by
// record. Before bbolt is let near an existing file, validateFile walks the
// file's page tree with bounds-checked reads: bbolt dereferences page ids
// into its memory map unchecked, and a truncated or bit-flipped file would
// otherwise crash the process with a fault that cannot be recovered.
//
// Beside the file, an acknowledgement log (acklog.go) names the delivered
// events whose records no synced commit has deleted yet. It is written but
// never synced, which a killed process does not lose: its restart does not
// send them again, and the commits that delete them can wait.
package spool
