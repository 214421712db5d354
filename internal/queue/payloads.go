package queue

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Payloads live outside SQLite, in append-only segment files beside the
// database (webhooks.db.payloads/<n>.seg). In the B-tree a 7.7 KB payload
// spans two overflow pages that every commit writes to the WAL and every
// checkpoint copies again; appended here it is one write per batch, and the
// row keeps only (segment, offset, length, CRC-32C).
//
// Crash safety: a batch's payloads are written before its rows commit, and
// a delivery is answered only after both this file and the WAL are synced
// (Intake.syncLoop). A row whose payload did not reach the disk (power cut
// after the WAL sync but before this one) was therefore never answered;
// Open deletes such rows, and the provider's retry stores it anew. Only the
// newest segment that rows point into can hold such rows: a segment is
// synced whole before the next one is started, and Open syncs the one it
// checked.

// segmentMax is the size at which the writer starts a new segment; the
// start-up check reads at most one segment.
const segmentMax = 64 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// payloadRef locates a payload in the segments.
type payloadRef struct {
	seg, off, n int64
	crc         uint32
}

// segments is the set of segment files of one database.
type segments struct {
	dir string

	mu      sync.Mutex
	cur     *os.File // appended to by the intake writer only
	curN    int64
	curSize int64
	readers map[int64]*os.File
	buf     []byte // the writer's batch buffer; only append uses it
	created bool
	syncErr error // sticky, as DB.walErr // a new segment must have its directory entry synced
}

func openSegments(dbPath string) (*segments, error) {
	dir := dbPath + ".payloads"
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("payload segments: %w", err)
	}
	return &segments{dir: dir, readers: map[int64]*os.File{}}, nil
}

func (s *segments) path(n int64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016d.seg", n))
}

// list returns the numbers of the existing segment files, ascending.
func (s *segments) list() ([]int64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("payload segments: %w", err)
	}
	var ns []int64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(name, 10, 64); err == nil {
			ns = append(ns, n)
		}
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i] < ns[j] })
	return ns, nil
}

// append writes the payloads at the end of the current segment (starting a
// new one first when it is full) and returns where each went. It does not
// sync: Sync does, before anyone is answered.
func (s *segments) append(payloads [][]byte) ([]payloadRef, error) {
	total := int64(0)
	for _, p := range payloads {
		total += int64(len(p))
	}
	s.mu.Lock()
	if s.cur == nil || (s.curSize > 0 && s.curSize+total > segmentMax) {
		if err := s.rotate(); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	f, seg, at := s.cur, s.curN, s.curSize
	s.mu.Unlock()
	// Only the intake writer appends, so the write itself needs no lock:
	// readers and Sync are not held up by it.
	refs := make([]payloadRef, len(payloads))
	buf := s.buf[:0]
	off := at
	for i, p := range payloads {
		refs[i] = payloadRef{seg: seg, off: off, n: int64(len(p)), crc: crc32.Checksum(p, crcTable)}
		off += int64(len(p))
		buf = append(buf, p...)
	}
	if cap(buf) <= 1<<20 {
		s.buf = buf[:0] // reused by the next batch; a huge one is let go
	}
	if len(buf) > 0 {
		// One write per batch. A failed or short write leaves curSize
		// where it was, so the next batch overwrites the bytes no row
		// points to.
		if _, err := f.WriteAt(buf, at); err != nil {
			return nil, fmt.Errorf("write payload segment %d: %w", seg, err)
		}
	}
	s.mu.Lock()
	s.curSize = off
	s.mu.Unlock()
	return refs, nil
}

// rotate syncs and leaves the current segment (to readers) and starts the
// next one. Called with mu held.
func (s *segments) rotate() error {
	if s.cur != nil {
		if err := syscall.Fdatasync(int(s.cur.Fd())); err != nil {
			return fmt.Errorf("sync payload segment %d: %w", s.curN, err)
		}
		// Kept open for reads (and for a Sync that may still hold it).
		s.readers[s.curN] = s.cur
		s.cur = nil
		s.curN++
	} else {
		ns, err := s.list()
		if err != nil {
			return err
		}
		s.curN = 1
		if len(ns) > 0 {
			s.curN = ns[len(ns)-1] + 1
		}
	}
	f, err := os.OpenFile(s.path(s.curN), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("create payload segment: %w", err)
	}
	s.cur, s.curSize, s.created = f, 0, true
	return nil
}

// Sync makes every payload appended so far durable (older segments were
// synced when they were left).
func (s *segments) Sync() error {
	s.mu.Lock()
	f, created, serr := s.cur, s.created, s.syncErr
	s.created = false
	s.mu.Unlock()
	if serr != nil {
		return serr
	}
	if f == nil {
		return nil
	}
	if created {
		if err := syncDir(s.dir); err != nil {
			s.mu.Lock()
			s.created = true
			s.mu.Unlock()
			return err
		}
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		// As for the WAL: a later fsync could succeed without the pages
		// this one failed to write, so refuse from now on.
		err = fmt.Errorf("sync payload segment (refusing deliveries until restarted): %w", err)
		s.mu.Lock()
		s.syncErr = err
		s.mu.Unlock()
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync payload directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync payload directory: %w", err)
	}
	return nil
}

// errTorn is a payload whose bytes are missing or do not match their CRC.
var errTorn = errors.New("payload missing or torn")

// read returns the payload at ref, checked against its CRC.
func (s *segments) read(ref payloadRef) ([]byte, error) {
	f, err := s.reader(ref.seg)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, ref.n)
	if _, err := f.ReadAt(buf, ref.off); err != nil {
		return nil, fmt.Errorf("read payload (segment %d at %d): %w: %w", ref.seg, ref.off, errTorn, err)
	}
	if crc32.Checksum(buf, crcTable) != ref.crc {
		return nil, fmt.Errorf("read payload (segment %d at %d): %w", ref.seg, ref.off, errTorn)
	}
	return buf, nil
}

func (s *segments) reader(n int64) (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.readers[n]; ok {
		return f, nil
	}
	if s.cur != nil && n == s.curN {
		return s.cur, nil
	}
	f, err := os.Open(s.path(n))
	if err != nil {
		return nil, fmt.Errorf("open payload segment %d: %w: %w", n, errTorn, err)
	}
	s.readers[n] = f
	return f, nil
}

// removeBelow deletes the segment files numbered below n, which no row
// points into any more. The newest file is always kept: an Intake (perhaps
// in another process) may be appending to it for rows not yet committed.
func (s *segments) removeBelow(n int64) error {
	ns, err := s.list()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for i, k := range ns {
		if k >= n || i == len(ns)-1 || (s.cur != nil && k >= s.curN) {
			break
		}
		if f, ok := s.readers[k]; ok {
			_ = f.Close()
			delete(s.readers, k)
		}
		if err := os.Remove(s.path(k)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove payload segments: %w", err)
	}
	return nil
}

func (s *segments) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.cur != nil {
		errs = append(errs, s.cur.Close())
		s.cur = nil
	}
	for n, f := range s.readers {
		errs = append(errs, f.Close())
		delete(s.readers, n)
	}
	return errors.Join(errs...)
}
