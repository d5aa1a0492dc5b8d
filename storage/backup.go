package storage

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/google/uuid"
)

// A backup is a logical dump of the store, read in one snapshot: records, not
// the KV's keys, so that any engine under the KV seam can write and read it.
// It is JSON lines:
//
//	{"header":{"format":"policygraph-backup","formatVersion":1,"storeID":…,"version":…,"storeFormat":2,"createdAt":…}}
//	{"node":{…}}      every entity, by ID
//	{"text":{…}}      every source's full text, by ID
//	{"fact":{…}}      every fact, by ID
//	{"saved":{…}}     every saved query, by name
//	{"trailer":{"records":N,"sha256":"…"}}
//
// The records are those of a JSON-lines export (Record), saved queries
// added. The trailer counts the record lines and holds the SHA-256 of every
// byte before it (header and records, newlines included): a backup without
// its trailer is cut short, one whose sum differs is damaged. The indexes and
// adjacency are not in it: a restore rebuilds them (Restore).

// BackupFormat is the first field of a backup's header.
const BackupFormat = "policygraph-backup"

// BackupFormatVersion is the version of the backup format this build writes
// and reads.
const BackupFormatVersion = 1

// BackupHeader is the first line of a backup.
type BackupHeader struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"formatVersion"`
	// StoreID and Version name the store and the state it was in: every write
	// acknowledged before the backup began (at Version or below) is in it. A
	// write committing while the snapshot was taken may be in it too.
	StoreID uuid.UUID `json:"storeID"`
	Version uint64    `json:"version"`
	// StoreFormat is the store's on-disk format version (FormatVersion) when
	// the backup was taken; the records' shape is the backup format's.
	StoreFormat uint32    `json:"storeFormat"`
	CreatedAt   time.Time `json:"createdAt"`
}

// BackupTrailer is the last line of a backup.
type BackupTrailer struct {
	Records int64  `json:"records"`
	SHA256  string `json:"sha256"`
}

// backupLine is a header or trailer line; records are Records.
type backupLine struct {
	Header  *BackupHeader  `json:"header,omitempty"`
	Trailer *BackupTrailer `json:"trailer,omitempty"`
}

// trailerPrefix starts the trailer line, and no record line (each starts with
// its own field name).
var trailerPrefix = []byte(`{"trailer":`)

// BackupInfo describes a backup written: its header and its record count.
type BackupInfo struct {
	BackupHeader
	Records int64
}

// Backup writes a backup of the whole store to w, from one read snapshot,
// while the graph keeps serving (writes go on; they are not in it). Memory
// does not grow with the graph.
func (g *Graph) Backup(w io.Writer) (BackupInfo, error) {
	// Open checked the store's format (upgrading an older one) and read its ID.
	info := BackupInfo{BackupHeader: BackupHeader{Format: BackupFormat, FormatVersion: BackupFormatVersion,
		StoreID: g.storeID, StoreFormat: FormatVersion, CreatedAt: g.now()}}
	sum := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := g.view(func(s Snapshot) error {
		info.Version = s.Version()
		if err := enc.Encode(backupLine{Header: &info.BackupHeader}); err != nil {
			return err
		}
		record := func(r Record) error {
			info.Records++
			return enc.Encode(r)
		}
		if err := exportScan(s, record); err != nil {
			return err
		}
		return s.SavedQueries(func(q *SavedQuery) error { return record(Record{Saved: q}) })
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	// The trailer goes to w only: the sum covers what came before it.
	trailer, err := json.Marshal(backupLine{Trailer: &BackupTrailer{Records: info.Records, SHA256: hex.EncodeToString(sum.Sum(nil))}})
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	if _, err := w.Write(append(trailer, '\n')); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	return info, nil
}

// maxBackupLine bounds one line of a backup: the import's bound on a record
// (a source's text may be long).
const maxBackupLine = 64 << 20

// maxHeaderLine bounds the header line: anything longer is not a backup.
const maxHeaderLine = 64 << 10

// errLineTooLong is what readLine returns for a line past its bound.
var errLineTooLong = errors.New("line too long")

// readLine returns the next line of br, its newline included; io.EOF at the
// end; io.ErrUnexpectedEOF for a last line with no newline (a cut stream).
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > limit {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// readBackupHeader reads and checks a backup's first line, adding it to sum.
func readBackupHeader(br *bufio.Reader, sum io.Writer) (*BackupHeader, error) {
	line, err := readLine(br, maxHeaderLine)
	switch {
	case errors.Is(err, io.EOF):
		return nil, errors.New("the backup is empty")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errLineTooLong):
		return nil, errors.New("this is not a policygraph backup: it does not start with a backup header line")
	case err != nil:
		return nil, err
	}
	var l backupLine
	if err := json.Unmarshal(line, &l); err != nil || l.Header == nil || l.Header.Format != BackupFormat {
		return nil, errors.New("this is not a policygraph backup: it does not start with a backup header line")
	}
	if l.Header.FormatVersion != BackupFormatVersion {
		return nil, fmt.Errorf("backup format version %d; this build reads version %d", l.Header.FormatVersion, BackupFormatVersion)
	}
	sum.Write(line)
	return l.Header, nil
}

// feedRecords copies the record lines of br to w, adding them to sum, until
// the trailer, which it checks against them. Once a write to w fails (the
// reader stopped) it reads on without writing, so that a damaged backup is
// reported as damaged whatever its records did to the reader.
func feedRecords(br *bufio.Reader, sum hashWriter, w io.Writer) (records int64, err error) {
	writing := true
	for {
		line, err := readLine(br, maxBackupLine)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return records, fmt.Errorf("the backup is cut short after %d records: it has no trailer (an interrupted backup or a truncated file)", records)
		case errors.Is(err, errLineTooLong):
			return records, fmt.Errorf("the backup is damaged: record %d is longer than %d bytes", records+1, maxBackupLine)
		case err != nil:
			return records, fmt.Errorf("read the backup: %w", err)
		}
		if len(line) >= len(trailerPrefix) && string(line[:len(trailerPrefix)]) == string(trailerPrefix) {
			return records, checkTrailer(br, line, records, sum)
		}
		sum.Write(line)
		records++
		if writing {
			if _, err := w.Write(line); err != nil {
				writing = false
			}
		}
	}
}

// hashWriter is a hash.Hash's writing and summing.
type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func checkTrailer(br *bufio.Reader, line []byte, records int64, sum hashWriter) error {
	var l backupLine
	if err := json.Unmarshal(line, &l); err != nil || l.Trailer == nil {
		return errors.New("the backup is damaged: its trailer does not decode")
	}
	if _, err := br.Peek(1); !errors.Is(err, io.EOF) {
		return errors.New("the backup is damaged: data follows its trailer")
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != l.Trailer.SHA256 {
		return fmt.Errorf("the backup is damaged: its SHA-256 is %s, its trailer says %s", got, l.Trailer.SHA256)
	}
	if l.Trailer.Records != records {
		return fmt.Errorf("the backup is damaged: it holds %d records, its trailer says %d", records, l.Trailer.Records)
	}
	return nil
}

// RestoreReport says what a restore loaded (storage/badger's Restore).
type RestoreReport struct {
	// From is the backup's header: the store and version it was taken from.
	From BackupHeader
	// Records is how many records the backup held; Import what they were.
	Records int64
	Import  ImportReport
	// StoreID is the restored store's own, new ID, and Version its graph
	// version, above the backup's.
	StoreID uuid.UUID
	Version uint64
}

// Provenance is what a restored store records of the backup it came from
// (under the meta key "restored").
type Provenance struct {
	StoreID    uuid.UUID `json:"storeID"`
	Version    uint64    `json:"version"`
	CreatedAt  time.Time `json:"createdAt"`
	RestoredAt time.Time `json:"restoredAt"`
}

// ProvenanceRecord is the meta record a store restored from the backup h
// keeps: the key and value the engine's restore writes in the commit that
// raises the store's version above the backup's.
func (h BackupHeader) ProvenanceRecord(restoredAt time.Time) (key, value []byte, err error) {
	value, err = json.Marshal(Provenance{StoreID: h.StoreID, Version: h.Version, CreatedAt: h.CreatedAt, RestoredAt: restoredAt})
	return metaRestoredKey, value, err
}

// BackupReader reads a backup written by Backup, once: NewBackupReader
// checks its header before anything is made for it, then Load imports its
// records and checks its trailer.
type BackupReader struct {
	// Header is the backup's first line.
	Header BackupHeader
	br     *bufio.Reader
	sum    hash.Hash
}

// NewBackupReader reads and checks the header of the backup r: it fails for
// an empty input, one that is not a backup, or a backup format this build
// does not read.
func NewBackupReader(r io.Reader) (*BackupReader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	sum := sha256.New()
	h, err := readBackupHeader(br, sum)
	if err != nil {
		return nil, err
	}
	return &BackupReader{Header: *h, br: br, sum: sum}, nil
}

// errLoadStopped ends the reading of an import that Load gave up on.
var errLoadStopped = errors.New("backup load stopped")

// Load imports the backup's records into g, which must hold no graph
// (Import validates each record as a write would and rebuilds every index),
// and checks the trailer's record count and SHA-256. A damaged or cut backup
// is reported as such even when its records made the import fail first.
func (b *BackupReader) Load(g *Graph) (records int64, rep ImportReport, err error) {
	pr, pw := io.Pipe()
	type fed struct {
		records int64
		err     error
	}
	done := make(chan fed, 1)
	go func() {
		n, err := feedRecords(b.br, b.sum, pw)
		pw.CloseWithError(err) // nil: the import reads io.EOF
		done <- fed{n, err}
	}()
	imp, importErr := g.importAbove(pr, b.Header.Version)
	pr.CloseWithError(errLoadStopped) // the feeder reads on, writing nothing
	f := <-done
	switch {
	case f.err != nil:
		return f.records, imp, f.err
	case importErr != nil:
		return f.records, imp, fmt.Errorf("the backup is whole but does not load: %w", importErr)
	}
	if n := int64(imp.Nodes + imp.Texts + imp.Facts + imp.Revisions + imp.Saved); n != f.records {
		return f.records, imp, fmt.Errorf("the backup holds %d records but %d loaded", f.records, n)
	}
	return f.records, imp, nil
}
