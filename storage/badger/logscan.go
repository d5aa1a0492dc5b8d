package badger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"syscall"
)

// Badger keeps the writes not yet in its tables in logs: each memtable's
// write-ahead log (*.mem) and the value log (*.vlog, values of 1 MiB or more).
// On open it replays them and stops at the first entry whose checksum fails,
// or at an entry of an unfinished transaction, and truncates the file there
// (memtable.go UpdateSkipList, logFile.iterate): silently, so one flipped
// byte in the middle of a log drops every write after it, acknowledged or not.
// A crash (kill -9) also leaves a log ending in a torn entry or an unfinished
// transaction, which must be dropped: neither was acknowledged.
//
// scanLog tells the two apart before Badger opens the store. A log is written
// in order, one entry after the other, into a file that was zero: after a
// crash, nothing follows the torn entry but zeros. So if a whole entry (its
// checksum correct) lies anywhere after the point where replay stops, that
// point is damage, and what follows was written later and would be lost.
// What stays invisible: damage to the last entry of a log (nothing whole
// follows it; it looks like a crash in mid-write), a log cut short, a log
// deleted.

// The log format (Badger v4, value.go and memtable.go): a 20-byte file header
// (key ID, 8 bytes, zero without encryption; a base IV), then entries:
// meta(1) userMeta(1) uvarint(klen) uvarint(vlen) uvarint(expiresAt) key value
// crc32c(4, big-endian, over all before it). Keys end with 8 bytes of version.
const (
	logHeaderSize  = 20
	bitTxn         = 1 << 6 // the entry is part of a transaction
	bitFinTxn      = 1 << 7 // the entry ends a transaction; its value is the version
	logKnownBits   = 0b1100_1111
	maxLogKeyLen   = 1 << 16
	maxTornEntry   = 1<<20 + maxLogKeyLen + 64 // the largest entry a memtable log holds
	maxResyncBytes = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logEntry is one decoded log entry.
type logEntry struct {
	meta     byte
	key, val []byte
	size     int
}

// decodeLogEntry decodes the entry at the start of b, as Badger's safeRead
// does; ok is false where Badger's replay would stop.
func decodeLogEntry(b []byte) (e logEntry, ok bool) {
	if len(b) < 2 {
		return e, false
	}
	i := 2
	var n [3]uint64
	for j := range n {
		v, w := binary.Uvarint(b[i:])
		if w <= 0 {
			return e, false
		}
		n[j], i = v, i+w
	}
	klen, vlen := n[0], n[1]
	if klen > maxLogKeyLen || vlen > uint64(len(b)) {
		return e, false
	}
	end := i + int(klen) + int(vlen)
	if end+4 > len(b) || crc32.Checksum(b[:end], castagnoli) != binary.BigEndian.Uint32(b[end:]) {
		return e, false
	}
	return logEntry{meta: b[0], key: b[i : i+int(klen)], val: b[i+int(klen) : end], size: end + 4}, true
}

// declaredSize is the size the entry header at the start of b gives, or 0.
func declaredSize(b []byte) int {
	i := 2
	var n [3]uint64
	for j := range n {
		if i >= len(b) {
			return 0
		}
		v, w := binary.Uvarint(b[i:])
		if w <= 0 {
			return 0
		}
		n[j], i = v, i+w
	}
	if n[0] > maxLogKeyLen || n[1] > uint64(len(b)) {
		return 0
	}
	return i + int(n[0]) + int(n[1]) + 4
}

// replayEnd returns where Badger's replay of the log data keeps everything
// before (the end of the last whole transaction or entry outside one), and
// where it stops reading.
func replayEnd(data []byte) (keep, stop int) {
	off := logHeaderSize
	keep = off
	var open uint64 // the version of the transaction being read; 0 between them
	for {
		e, ok := decodeLogEntry(data[off:])
		if !ok || len(e.key) == 0 {
			return keep, off
		}
		switch {
		case e.meta&bitTxn != 0:
			ts := keyVersion(e.key)
			if open == 0 {
				open = ts
			}
			if open != ts {
				return keep, off
			}
		case e.meta&bitFinTxn != 0:
			ts, err := strconv.ParseUint(string(e.val), 10, 64)
			if err != nil || open != ts {
				return keep, off
			}
			open, keep = 0, off+e.size
		default:
			if open != 0 {
				return keep, off
			}
			keep = off + e.size
		}
		off += e.size
	}
}

// keyVersion reads the version Badger appends to a key (y.ParseTs).
func keyVersion(k []byte) uint64 {
	if len(k) <= 8 {
		return 0
	}
	return ^binary.BigEndian.Uint64(k[len(k)-8:])
}

// LogDamage is what scanLog found: writes after the point where Badger's
// replay stops, which opening the store would drop.
type LogDamage struct {
	// ReplayEnd is where replay keeps the log up to (it truncates there);
	// ResumeAt the first whole entry after the damage; DataEnd the end of
	// what was written.
	ReplayEnd, ResumeAt, DataEnd int64
	// Transactions counts the committed transactions after the damage (in a
	// memtable log; a value log holds no transaction marks), Entries the
	// whole entries.
	Transactions, Entries int
}

func (d *LogDamage) String() string {
	what := fmt.Sprintf("%d whole entries", d.Entries)
	if d.Transactions > 0 {
		what = fmt.Sprintf("%d committed transactions (%d entries)", d.Transactions, d.Entries)
	}
	if d.Entries == 0 {
		what = "data that does not decode"
	}
	return fmt.Sprintf("damaged log: replay stops at byte %d, but the log holds %s from byte %d to %d, written after that point: opening the store would drop them",
		d.ReplayEnd, what, d.ResumeAt, d.DataEnd)
}

// scanLog reads the Badger log file at path (without changing it) and
// returns where Badger's replay keeps it up to (the size it truncates it to),
// and the damage it finds, or nil.
func scanLog(path string) (keep int64, damage *LogDamage, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	if fi.Size() <= logHeaderSize {
		return fi.Size(), nil, nil // Badger rewrites a log this short; it held nothing
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return 0, nil, fmt.Errorf("map %s: %w", path, err)
	}
	defer syscall.Munmap(data)
	if binary.BigEndian.Uint64(data[:8]) != 0 {
		return 0, nil, fmt.Errorf("the log is encrypted (key %d): this build does not encrypt", binary.BigEndian.Uint64(data[:8]))
	}
	end, err := dataEnd(f, data)
	if err != nil {
		return 0, nil, err
	}
	data = data[:max(end, logHeaderSize)]
	k, stop := replayEnd(data)
	resume := resync(data, stop+1)
	if resume < 0 {
		if end-stop <= max(maxTornEntry, declaredSize(data[stop:])) {
			return int64(k), nil, nil // a torn tail (or damage in the last entry: invisible)
		}
		resume = stop
	}
	keep = int64(k)
	d := &LogDamage{ReplayEnd: keep, ResumeAt: int64(resume), DataEnd: int64(end)}
	for off := resume; off >= 0 && off < end; {
		e, ok := decodeLogEntry(data[off:])
		if !ok || len(e.key) == 0 {
			off = resync(data, off+1)
			continue
		}
		d.Entries++
		if e.meta&bitFinTxn != 0 {
			d.Transactions++
		}
		off += e.size
	}
	return keep, d, nil
}

// resync returns the offset of the first whole entry at or after from, or -1
// when there is none within maxResyncBytes.
func resync(data []byte, from int) int {
	for off := from; off < len(data) && off < from+maxResyncBytes; off++ {
		// Cheap tests first: known meta bits, a key of the length a version needs.
		if data[off]&^logKnownBits != 0 || off+3 > len(data) || data[off+2] < 9 && data[off+2]&0x80 == 0 {
			continue
		}
		if e, ok := decodeLogEntry(data[off:]); ok && len(e.key) > 8 {
			return off
		}
	}
	return -1
}

// SEEK_DATA and SEEK_HOLE (Linux lseek): Badger preallocates its logs sparse.
const (
	seekData = 3
	seekHole = 4
)

// dataEnd returns the offset after the last nonzero byte of the file, reading
// only its data extents where the file system reports them.
func dataEnd(f *os.File, data []byte) (int, error) {
	type extent struct{ start, end int64 }
	var extents []extent
	size := int64(len(data))
	for off := int64(0); off < size; {
		start, err := f.Seek(off, seekData)
		if err != nil {
			if errno, ok := err.(*os.PathError); ok && errno.Err == syscall.ENXIO {
				break // no data after off
			}
			extents = []extent{{0, size}} // no SEEK_DATA: read it all
			break
		}
		end, err := f.Seek(start, seekHole)
		if err != nil || end > size {
			end = size
		}
		extents = append(extents, extent{start, end})
		off = end
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	for i := len(extents) - 1; i >= 0; i-- {
		x := extents[i]
		if n := len(bytes.TrimRight(data[x.start:x.end], "\x00")); n > 0 {
			return int(x.start) + n, nil
		}
	}
	return 0, nil
}
