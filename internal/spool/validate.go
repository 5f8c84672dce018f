package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
)

// bbolt's on-disk format, version 2 (go.etcd.io/bbolt/internal/common):
// structs in native byte order, pages beginning with a 16-byte header.
const (
	boltMagic   = 0xED0CDAED
	boltVersion = 2

	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elementSize    = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	bucketHeader   = 16 // root pgid u64, sequence u64

	branchPage   = 0x01
	leafPage     = 0x02
	metaPage     = 0x04
	freelistPage = 0x10
	bucketLeaf   = 0x01

	noFreelist = ^uint64(0)
	maxDepth   = 64
)

var ne = binary.NativeEndian

// errStructure is wrapped by every structural problem validateFile finds.
var errStructure = errors.New("damaged page structure")

// meta is the part of a bbolt meta page validateFile needs.
type meta struct {
	valid          bool
	err            string
	pageSize       uint32
	root, freelist uint64
	hwm, txid      uint64
}

func readMeta(page []byte) meta {
	m := meta{}
	if len(page) < pageHeaderSize+64 {
		m.err = "short"
		return m
	}
	b := page[pageHeaderSize:]
	m.pageSize = ne.Uint32(b[8:])
	m.root = ne.Uint64(b[16:])
	m.freelist = ne.Uint64(b[32:])
	m.hwm = ne.Uint64(b[40:])
	m.txid = ne.Uint64(b[48:])
	h := fnv.New64a()
	h.Write(b[:56])
	switch {
	case ne.Uint32(b[0:]) != boltMagic:
		m.err = "bad magic"
	case ne.Uint32(b[4:]) != boltVersion:
		m.err = fmt.Sprintf("bbolt format version %d", ne.Uint32(b[4:]))
	case ne.Uint64(b[56:]) != h.Sum64():
		m.err = "checksum mismatch"
	default:
		m.valid = true
	}
	return m
}

// validation is what validateFile learnt: which meta page bbolt will use,
// and notes worth reporting.
type validation struct {
	notes []string
	txid  uint64 // of the meta page bbolt will open at
}

// validateFile checks, without trusting any offset, everything bbolt will
// dereference when opening and reading the file: the meta page it will
// choose, the freelist, and every page reachable from the root bucket. It
// returns an error wrapping errStructure for any inconsistency.
func validateFile(path string) (validation, error) {
	var v validation
	f, err := os.Open(path)
	if err != nil {
		return v, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return v, err
	}
	size := st.Size()

	// The page size as bbolt's getPageSize finds it: from meta page 0 if
	// it is valid, else from the first valid meta at 1 KiB << i below the
	// file's last KiB. Any other choice could validate a tree bbolt does not
	// open.
	pageSize := uint32(0)
	head := make([]byte, 4096)
	if n, _ := f.ReadAt(head, 0); n == len(head) {
		if m := readMeta(head); m.valid {
			pageSize = m.pageSize
		}
	}
	for i := 0; pageSize == 0 && i <= 14; i++ {
		pos := int64(1024) << i
		if pos >= size-1024 {
			break
		}
		buf := make([]byte, 4096)
		n, err := f.ReadAt(buf, pos)
		if err == nil || errors.Is(err, io.EOF) && int64(n) == size-pos {
			if m := readMeta(buf[:n]); m.valid {
				pageSize = m.pageSize
			}
		}
	}
	if !validPageSize(pageSize) {
		return v, fmt.Errorf("%w: no valid meta page", errStructure)
	}
	metas := [2]meta{}
	for id := range metas {
		buf := make([]byte, pageHeaderSize+64)
		if _, err := f.ReadAt(buf, int64(id)*int64(pageSize)); err != nil && !errors.Is(err, io.EOF) {
			return v, err
		}
		metas[id] = readMeta(buf)
	}
	// The same choice as bbolt's db.meta(): the higher txid if valid, else
	// the other.
	a, b := metas[0], metas[1]
	if b.txid > a.txid {
		a, b = b, a
	}
	chosen := a
	if !a.valid {
		chosen = b
		v.notes = append(v.notes, fmt.Sprintf("newest meta page invalid (%s): opened at the previous transaction %d", a.err, b.txid))
	}
	if !chosen.valid || chosen.pageSize != pageSize {
		return v, fmt.Errorf("%w: no usable meta page", errStructure)
	}
	v.txid = chosen.txid
	// bbolt's consistency check reads both meta pages and asserts on their
	// headers, valid or not.
	for id := range uint64(2) {
		hdr := make([]byte, pageHeaderSize)
		if _, err := f.ReadAt(hdr, int64(id)*int64(pageSize)); err != nil {
			return v, fmt.Errorf("%w: meta page %d: %v", errStructure, id, err)
		}
		if ne.Uint64(hdr) != id || ne.Uint16(hdr[8:]) != metaPage {
			return v, fmt.Errorf("%w: meta page %d has a damaged header", errStructure, id)
		}
	}

	c := &pageChecker{f: f, pageSize: int64(pageSize), hwm: chosen.hwm, seen: map[uint64]bool{}}
	if need := int64(chosen.hwm) * int64(pageSize); chosen.hwm < 2 || need > size {
		return v, fmt.Errorf("%w: file is %d bytes, its meta page needs %d: truncated", errStructure, size, need)
	}
	if chosen.freelist != noFreelist {
		if err := c.freelist(chosen.freelist); err != nil {
			return v, err
		}
	}
	return v, c.walk(chosen.root, 0)
}

func validPageSize(ps uint32) bool { return ps >= 512 && ps <= 1<<16 && ps&(ps-1) == 0 }

type pageChecker struct {
	f        *os.File
	pageSize int64
	hwm      uint64
	seen     map[uint64]bool
}

// page reads page id with its overflow pages, after checking its bounds and
// that its type is one of want (bbolt asserts a page has exactly one type).
func (c *pageChecker) page(id uint64, want ...uint16) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, fmt.Errorf("%w: page id %d out of range [2, %d)", errStructure, id, c.hwm)
	}
	if c.seen[id] {
		return nil, fmt.Errorf("%w: page %d referenced twice", errStructure, id)
	}
	c.seen[id] = true
	hdr := make([]byte, pageHeaderSize)
	if _, err := c.f.ReadAt(hdr, int64(id)*c.pageSize); err != nil {
		return nil, fmt.Errorf("%w: page %d: %v", errStructure, id, err)
	}
	overflow := uint64(ne.Uint32(hdr[12:]))
	switch flags := ne.Uint16(hdr[8:]); {
	case ne.Uint64(hdr) != id:
		return nil, fmt.Errorf("%w: page %d says it is page %d", errStructure, id, ne.Uint64(hdr))
	case !slices.Contains(want, flags):
		return nil, fmt.Errorf("%w: page %d has type %#x, want one of %#x", errStructure, id, flags, want)
	case id+overflow >= c.hwm:
		return nil, fmt.Errorf("%w: page %d overflows past the end (%d pages)", errStructure, id, overflow)
	}
	buf := make([]byte, (1+int64(overflow))*c.pageSize)
	if _, err := c.f.ReadAt(buf, int64(id)*c.pageSize); err != nil {
		return nil, fmt.Errorf("%w: page %d: %v", errStructure, id, err)
	}
	return buf, nil
}

func (c *pageChecker) freelist(id uint64) error {
	buf, err := c.page(id, freelistPage)
	if err != nil {
		return err
	}
	idx, count := 0, uint64(ne.Uint16(buf[10:]))
	if count == 0xFFFF {
		if len(buf) < pageHeaderSize+8 {
			return fmt.Errorf("%w: freelist page %d truncated", errStructure, id)
		}
		idx, count = 1, ne.Uint64(buf[pageHeaderSize:])
	}
	if count > uint64(len(buf)-pageHeaderSize)/8-uint64(idx) {
		return fmt.Errorf("%w: freelist page %d claims %d ids", errStructure, id, count)
	}
	for i := uint64(0); i < count; i++ {
		if p := ne.Uint64(buf[pageHeaderSize+8*(uint64(idx)+i):]); p < 2 || p >= c.hwm {
			return fmt.Errorf("%w: freelist holds page id %d out of range", errStructure, p)
		}
	}
	return nil
}

// walk checks a bucket's page tree rooted at page id.
func (c *pageChecker) walk(id uint64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: tree deeper than %d", errStructure, maxDepth)
	}
	buf, err := c.page(id, branchPage, leafPage)
	if err != nil {
		return err
	}
	if ne.Uint16(buf[8:]) == branchPage {
		return c.branch(id, buf, depth)
	}
	return c.leaf(fmt.Sprintf("page %d", id), buf, depth)
}

func (c *pageChecker) branch(id uint64, buf []byte, depth int) error {
	count := int(ne.Uint16(buf[10:]))
	if pageHeaderSize+count*elementSize > len(buf) {
		return fmt.Errorf("%w: branch page %d claims %d elements", errStructure, id, count)
	}
	for i := range count {
		off := pageHeaderSize + i*elementSize
		e := buf[off:]
		if err := span(buf, off, ne.Uint32(e), ne.Uint32(e[4:]), 0); err != nil {
			return fmt.Errorf("%w: branch page %d element %d: %v", errStructure, id, i, err)
		}
		if err := c.walk(ne.Uint64(e[8:]), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// leaf checks a leaf page, on disk or inline in a bucket value, and the
// buckets its elements hold.
func (c *pageChecker) leaf(where string, buf []byte, depth int) error {
	if len(buf) < pageHeaderSize {
		return fmt.Errorf("%w: %s: %d bytes", errStructure, where, len(buf))
	}
	if ne.Uint16(buf[8:]) != leafPage {
		return fmt.Errorf("%w: %s is not a leaf page", errStructure, where)
	}
	count := int(ne.Uint16(buf[10:]))
	if pageHeaderSize+count*elementSize > len(buf) {
		return fmt.Errorf("%w: %s claims %d elements", errStructure, where, count)
	}
	for i := range count {
		off := pageHeaderSize + i*elementSize
		e := buf[off:]
		flags, pos, ksize, vsize := ne.Uint32(e), ne.Uint32(e[4:]), ne.Uint32(e[8:]), ne.Uint32(e[12:])
		if err := span(buf, off, pos, ksize, vsize); err != nil {
			return fmt.Errorf("%w: %s element %d: %v", errStructure, where, i, err)
		}
		if flags&bucketLeaf == 0 {
			continue
		}
		start := off + int(pos) + int(ksize)
		value := buf[start : start+int(vsize)]
		if len(value) < bucketHeader {
			return fmt.Errorf("%w: %s element %d: bucket value of %d bytes", errStructure, where, i, len(value))
		}
		if root := ne.Uint64(value); root != 0 {
			if err := c.walk(root, depth+1); err != nil {
				return err
			}
			continue
		}
		if depth > maxDepth {
			return fmt.Errorf("%w: tree deeper than %d", errStructure, maxDepth)
		}
		if err := c.leaf(fmt.Sprintf("inline bucket in %s", where), value[bucketHeader:], depth+1); err != nil {
			return err
		}
	}
	return nil
}

// span checks that a key (and value) at pos from the element at off lie
// within buf.
func span(buf []byte, off int, pos, ksize, vsize uint32) error {
	end := uint64(off) + uint64(pos) + uint64(ksize) + uint64(vsize)
	if end > uint64(len(buf)) {
		return fmt.Errorf("data at %d+%d+%d+%d beyond %d bytes", off, pos, ksize, vsize, len(buf))
	}
	return nil
}
