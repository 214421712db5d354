package queue

import (
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/saas-mcp/saas-mcp/internal/dirs"
)

// Payloads live outside SQLite, in append-only segment files beside the
// database (webhooks.db.payloads/<n>.seg). In the B-tree a 7.7 KB payload
// spans two overflow pages that every commit writes to the WAL and every
// checkpoint copies again; appended here it is one write per batch, and the
// row keeps only (segment, offset, length, CRC-32C) of the payload.
//
// The segment is also the intake's write-ahead log: each delivery is a
// self-describing record (record.go) holding the row's fields as well, so
// the durability of an answered delivery rests on one fdatasync of the
// segment, not on the SQLite WAL (see recover.go for what a crash leaves
// and how Open-time recovery mends it). A batch's records are written
// before its rows commit, and a delivery is answered only after the
// segment is synced past its record (Intake.syncLoop). A segment is synced
// whole, its directory entry too, before the next one is started, and only
// the Intake that holds the directory's lock (intake.lock) appends.

// segmentMax is the size at which the writer starts a new segment; the
// start-up check reads the tail of one segment, and whole segments only
// when SQLite lost its segment mark.
const segmentMax = 64 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openSegment is an open segment file. Reads and syncs use it outside
// segments.mu, so it is closed only once it is let go (its segment was left
// by the writer, pruned, or deleted by another process) and the last of
// them is done with it: closing it under a read would fail the read as a
// torn payload, and under a sync would fail the sync, which refuses every
// delivery from then on.
type openSegment struct {
	f       *os.File
	users   int  // reads and syncs using f; guarded by segments.mu
	dropped bool // let go: f is closed when users drops to 0
}

// payloadRef locates a payload in the segments.
type payloadRef struct {
	seg, off, n int64
	crc         uint32
}

// segments is the set of segment files of one database.
type segments struct {
	dir string

	mu      sync.Mutex
	cur     *openSegment // appended to by the intake writer only
	curN    int64
	curSize int64
	// readers caches the files of other segments for reads. Each one is
	// let go once its file is gone or no row points into it any more
	// (forget), so that a process does not hold the disk space of
	// segments another process pruned.
	readers map[int64]*openSegment
	buf     []byte // the writer's batch buffer; only append uses it
	created bool   // a new segment must have its directory entry synced
	synced  int64  // bytes of cur known to be on disk
	syncErr error  // sticky, as DB.walErr
	// floor: a segment the writer starts is numbered above it, so that
	// the number of a segment lost in a crash is not used again while the
	// mark still names it (recover.go).
	floor int64
	// syncFile is fdatasync; tests hold a sync back with it.
	syncFile func(*os.File) error
	// syncDirOf is syncDir; tests fail it.
	syncDirOf func(string) error
	// recovering is recovery.lock while the Intake that took it recovers
	// (recover.go).
	recovering *os.File
}

// appended is where one batch went: the payloads' refs, and the segment
// mark the batch's transaction records (see recover.go).
type appended struct {
	refs []payloadRef
	mark segMark
}

func openSegments(dbPath string) (*segments, error) {
	dir := dbPath + ".payloads"
	// Sync only makes the segments' entries in dir durable; a power cut
	// that lost dir's own entry would lose them all, so MkdirAll syncs
	// the entry of a dir it creates.
	if err := dirs.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("payload segments: %w", err)
	}
	return &segments{dir: dir, readers: map[int64]*openSegment{}, syncFile: fdatasyncFile, syncDirOf: syncDir}, nil
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

// append writes the records of ds at the end of the current segment
// (starting a new one first when it is full) and returns where each payload
// went. It does not sync: Sync does, before anyone is answered. Only the
// intake writer calls it.
func (s *segments) append(ds []*NewDelivery) (appended, error) {
	total := int64(0)
	for _, d := range ds {
		total += int64(recordSize(d))
	}
	s.mu.Lock()
	if s.cur == nil || (s.curSize > 0 && s.curSize+total > segmentMax) {
		if err := s.rotate(); err != nil {
			s.mu.Unlock()
			return appended{}, err
		}
	}
	f, seg, at, durable := s.cur.f, s.curN, s.curSize, s.synced
	s.mu.Unlock()
	// Only the intake writer appends, so the write itself needs no lock:
	// readers and Sync are not held up by it.
	refs := make([]payloadRef, len(ds))
	buf := s.buf[:0]
	for i, d := range ds {
		recAt := at + int64(len(buf))
		var hdr int
		var crc uint32
		buf, hdr, crc = appendRecord(buf, d, durable)
		refs[i] = payloadRef{seg: seg, off: recAt + int64(hdr), n: int64(len(d.Payload)), crc: crc}
	}
	end := at + int64(len(buf))
	// One write per batch. A failed or short write leaves curSize where
	// it was, so the next batch overwrites the bytes no row points to.
	_, err := f.WriteAt(buf, at)
	if cap(buf) <= 1<<20 {
		s.buf = buf[:0] // reused by the next batch; a huge one is let go
	}
	if err != nil {
		return appended{}, fmt.Errorf("write payload segment %d: %w", seg, err)
	}
	s.mu.Lock()
	s.curSize = end
	s.mu.Unlock()
	return appended{refs: refs, mark: segMark{seg: seg, start: at, end: end, durable: durable}}, nil
}

// rotate syncs and leaves the current segment and starts the next one.
// Called with mu held.
func (s *segments) rotate() error {
	fresh := s.cur == nil
	if !fresh {
		if err := s.syncFile(s.cur.f); err != nil {
			// As in Sync: the batches in this segment still waiting for
			// their answer must not get it from a later sync that succeeds
			// without the pages this one failed to write.
			err = fmt.Errorf("sync payload segment %d (refusing deliveries until restarted): %w", s.curN, err)
			s.syncErr = err
			return err
		}
		// Its directory entry too: the commit of a batch in the next
		// segment may reach the disk before any Sync syncs the directory,
		// and recovery takes the segments before the mark's for whole.
		if err := s.syncDirOf(s.dir); err != nil {
			return fmt.Errorf("leave payload segment %d: %w", s.curN, err)
		}
		// Not kept open: a receiver that does not prune (--no-worker)
		// would hold every segment it ever wrote, deleted or not, until it
		// exits. A read opens it again; a Sync still using it closes it.
		s.drop(s.cur)
		s.cur = nil
		s.curN++
	}
	// The directory is listed once per segment written, which also lets
	// go of the readers of segments another process pruned, in a
	// process that never prunes itself.
	ns, err := s.list()
	if err != nil {
		return err
	}
	s.forget(ns, 0, nil)
	if fresh {
		s.curN = s.floor + 1
		if len(ns) > 0 {
			s.curN = max(s.curN, ns[len(ns)-1]+1)
		}
	}
	f, err := os.OpenFile(s.path(s.curN), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("create payload segment: %w", err)
	}
	s.cur, s.curSize, s.synced, s.created = &openSegment{f: f}, 0, 0, true
	return nil
}

// drop lets sf go: it is closed now, or by the last read or sync still
// using it. Called with mu held.
func (s *segments) drop(sf *openSegment) {
	sf.dropped = true
	if sf.users == 0 {
		_ = sf.f.Close()
	}
}

// release ends one use of sf (see acquire), closing it if it was let go
// meanwhile.
func (s *segments) release(sf *openSegment) {
	s.mu.Lock()
	sf.users--
	last := sf.users == 0 && sf.dropped
	s.mu.Unlock()
	if last {
		_ = sf.f.Close()
	}
}

// forget lets go of the cached readers of segments numbered below bound,
// into which no row points any more, and of those not among listed, the
// existing segment files: a file another process deleted is otherwise
// kept on disk by its open descriptor. A read that needs one again opens
// it from its path. Called with mu held.
func (s *segments) forget(listed []int64, bound int64, keep map[int64]bool) {
	exists := make(map[int64]bool, len(listed))
	for _, n := range listed {
		exists[n] = true
	}
	for n, sf := range s.readers {
		if (n < bound && !keep[n]) || !exists[n] {
			s.drop(sf)
			delete(s.readers, n)
		}
	}
}

// numberAbove makes every segment started from now on numbered above n.
func (s *segments) numberAbove(n int64) {
	s.mu.Lock()
	s.floor = max(s.floor, n)
	s.mu.Unlock()
}

// Sync makes every payload appended so far durable (older segments were
// synced when they were left).
func (s *segments) Sync() error {
	s.mu.Lock()
	cur, n, size, created, serr := s.cur, s.curN, s.curSize, s.created, s.syncErr
	if serr == nil && cur != nil {
		// The writer may leave this segment while it is synced.
		cur.users++
	}
	s.created = false
	s.mu.Unlock()
	if serr != nil {
		return serr
	}
	if cur == nil {
		return nil
	}
	defer s.release(cur)
	if created {
		if err := s.syncDirOf(s.dir); err != nil {
			s.mu.Lock()
			s.created = true
			s.mu.Unlock()
			return err
		}
	}
	if err := s.syncFile(cur.f); err != nil {
		// As for the WAL: a later fsync could succeed without the pages
		// this one failed to write, so refuse from now on.
		err = fmt.Errorf("sync payload segment (refusing deliveries until restarted): %w", err)
		s.mu.Lock()
		s.syncErr = err
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	if s.curN == n && size > s.synced {
		s.synced = size
	}
	s.mu.Unlock()
	return nil
}

func syncDir(dir string) error {
	if err := dirs.Sync(dir); err != nil {
		return fmt.Errorf("payload segments: %w", err)
	}
	return nil
}

// ErrTorn is a payload whose bytes are missing or do not match their CRC:
// damage that no retry mends (Delivery.PayloadErr wraps it).
var ErrTorn = errors.New("payload missing or torn")

// errTorn is ErrTorn under the name the recovery code uses.
var errTorn = ErrTorn

// read returns the payload at ref, checked against its CRC.
func (s *segments) read(ref payloadRef) ([]byte, error) {
	sf, err := s.acquire(ref.seg)
	if err != nil {
		return nil, err
	}
	defer s.release(sf)
	buf := make([]byte, ref.n)
	if _, err := sf.f.ReadAt(buf, ref.off); err != nil {
		return nil, fmt.Errorf("read payload (segment %d at %d): %w: %w", ref.seg, ref.off, errTorn, err)
	}
	if crc32.Checksum(buf, crcTable) != ref.crc {
		return nil, fmt.Errorf("read payload (segment %d at %d): %w", ref.seg, ref.off, errTorn)
	}
	return buf, nil
}

// acquire returns the open file of segment n for a read, which must
// release it when done: the file is not closed under the read.
func (s *segments) acquire(n int64) (*openSegment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sf, ok := s.readers[n]
	if !ok && s.cur != nil && n == s.curN {
		sf, ok = s.cur, true
	}
	if ok {
		sf.users++
		return sf, nil
	}
	f, err := os.Open(s.path(n))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open payload segment %d: %w: %w", n, errTorn, err)
	}
	if err != nil {
		// Out of descriptors, say: the file may well be whole.
		return nil, fmt.Errorf("open payload segment %d: %w", n, err)
	}
	sf = &openSegment{f: f, users: 1}
	s.readers[n] = sf
	return sf, nil
}

// removeBelow deletes the segment files numbered below n but not in keep,
// which no row points into any more, and lets go of the readers of those
// and of the files another process deleted. The newest file is always kept: an Intake
// (perhaps in another process) may be appending to it for rows not yet
// committed.
func (s *segments) removeBelow(n int64, keep map[int64]bool) error {
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
		if keep[k] {
			continue
		}
		if err := os.Remove(s.path(k)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.forget(ns, n, keep)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove payload segments: %w", err)
	}
	return nil
}

func (s *segments) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	closeNow := func(sf *openSegment) {
		sf.dropped = true
		if sf.users == 0 {
			errs = append(errs, sf.f.Close())
		}
	}
	if s.cur != nil {
		closeNow(s.cur)
		s.cur = nil
	}
	for n, sf := range s.readers {
		closeNow(sf)
		delete(s.readers, n)
	}
	return errors.Join(errs...)
}

// loadPayload fills d.Payload from its segment when the row keeps it there.
func (db *DB) loadPayload(d *Delivery, seg sql.NullInt64, off, n int64, crc uint32) error {
	if !seg.Valid {
		return nil
	}
	p, err := db.segs.read(payloadRef{seg: seg.Int64, off: off, n: n, crc: crc})
	if err != nil {
		return fmt.Errorf("delivery %d: %w", d.ID, err)
	}
	d.Payload = p
	return nil
}

// SyncPayloads makes the records appended so far durable: what answers an
// intake batch. It does nothing under Options.Synchronous "NORMAL".
func (db *DB) SyncPayloads() error {
	if !db.fullSync() {
		return nil
	}
	if err := db.segs.Sync(); err != nil {
		return fmt.Errorf("sync webhook payloads: %w", err)
	}
	return nil
}
