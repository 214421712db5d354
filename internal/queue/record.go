package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// A segment record is one delivery as the intake writer appended it: the
// row's fields and the payload, so that the segment is the intake's
// write-ahead log and a row lost with an unsynced SQLite commit can be
// rebuilt from it (recover.go). Layout, little-endian:
//
//	[0:4]   magic "SMW" + format version 1
//	[4:8]   CRC-32C of bytes [8:hdrLen): the header, which holds the payload's CRC
//	[8:12]  hdrLen: bytes from the magic to the payload
//	[12:16] payload length
//	[16:20] CRC-32C of the payload (the row keeps it too, for reads)
//	[20:28] durable: the segment offset known fdatasynced when this record
//	        was written; recovery uses it to tell a torn write (never
//	        answered) from damage to a record that was on disk
//	[28:36] received_at, Unix milliseconds
//	then key, provider, event type, target, content type, each a uvarint
//	length and its bytes; then the payload.
//
// The magic makes a foreign file or a zeroed tail fail at once; the header
// CRC makes a torn header fail before its lengths are trusted.

// recordMagic starts every record; its last byte is the format version.
var recordMagic = [4]byte{'S', 'M', 'W', 1}

const (
	recordFixed = 36
	// maxRecordHeader and maxRecordPayload bound what a decoder believes
	// of lengths read from disk; the receiver's body limit is far lower.
	maxRecordHeader  = 64 << 10
	maxRecordPayload = 1 << 30
)

// errBadRecord is a record that does not decode: torn, zeroed or foreign.
var errBadRecord = errors.New("bad segment record")

// segRecord is a decoded record.
type segRecord struct {
	d          NewDelivery // Payload aliases the decoded buffer
	durable    int64
	payloadCRC uint32
	hdrLen     int // the payload starts hdrLen bytes into the record
}

// ErrFieldsTooLong refuses a delivery whose key, provider, event type,
// target and content type would not fit a record header a decoder believes:
// stored, it would read back as torn.
var ErrFieldsTooLong = errors.New("delivery fields too long to store")

// headerSize is the encoded size of d's record without its payload.
func headerSize(d *NewDelivery) int {
	return recordSize(d) - len(d.Payload)
}

// recordSize is the encoded size of d's record.
func recordSize(d *NewDelivery) int {
	n := recordFixed + len(d.Payload)
	for _, s := range [...]string{d.Key, d.Provider, d.EventType, d.Target, d.ContentType} {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// appendRecord appends d's record to buf and returns it with the offset of
// the payload within the record and the payload's CRC.
func appendRecord(buf []byte, d *NewDelivery, durable int64) ([]byte, int, uint32) {
	start := len(buf)
	payloadCRC := crc32.Checksum(d.Payload, crcTable)
	var fixed [recordFixed]byte
	copy(fixed[0:4], recordMagic[:])
	binary.LittleEndian.PutUint32(fixed[12:16], uint32(len(d.Payload)))
	binary.LittleEndian.PutUint32(fixed[16:20], payloadCRC)
	binary.LittleEndian.PutUint64(fixed[20:28], uint64(durable))
	binary.LittleEndian.PutUint64(fixed[28:36], uint64(d.ReceivedAt.UnixMilli()))
	buf = append(buf, fixed[:]...)
	for _, s := range [...]string{d.Key, d.Provider, d.EventType, d.Target, d.ContentType} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	hdrLen := len(buf) - start
	binary.LittleEndian.PutUint32(buf[start+8:], uint32(hdrLen))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+8:], crcTable))
	buf = append(buf, d.Payload...)
	return buf, hdrLen, payloadCRC
}

// decodeRecord decodes the record at the start of b and returns it with
// its length. It never panics and never trusts a length it has not
// checked: b is bytes read from disk.
func decodeRecord(b []byte) (segRecord, int, error) {
	var r segRecord
	if len(b) < recordFixed {
		return r, 0, fmt.Errorf("%w: %d bytes left, a header needs %d", errBadRecord, len(b), recordFixed)
	}
	if [4]byte(b[0:4]) != recordMagic {
		return r, 0, fmt.Errorf("%w: no magic", errBadRecord)
	}
	hdrLen := binary.LittleEndian.Uint32(b[8:12])
	payLen := binary.LittleEndian.Uint32(b[12:16])
	if hdrLen < recordFixed || hdrLen > maxRecordHeader || payLen > maxRecordPayload {
		return r, 0, fmt.Errorf("%w: implausible lengths %d+%d", errBadRecord, hdrLen, payLen)
	}
	if uint64(len(b)) < uint64(hdrLen) {
		return r, 0, fmt.Errorf("%w: header cut short", errBadRecord)
	}
	if crc32.Checksum(b[8:hdrLen], crcTable) != binary.LittleEndian.Uint32(b[4:8]) {
		return r, 0, fmt.Errorf("%w: header CRC mismatch", errBadRecord)
	}
	total := uint64(hdrLen) + uint64(payLen)
	if uint64(len(b)) < total {
		return r, 0, fmt.Errorf("%w: payload cut short", errBadRecord)
	}
	r.payloadCRC = binary.LittleEndian.Uint32(b[16:20])
	r.durable = int64(binary.LittleEndian.Uint64(b[20:28]))
	r.d.ReceivedAt = time.UnixMilli(int64(binary.LittleEndian.Uint64(b[28:36])))
	r.hdrLen = int(hdrLen)
	fields := b[recordFixed:hdrLen]
	for _, dst := range [...]*string{&r.d.Key, &r.d.Provider, &r.d.EventType, &r.d.Target, &r.d.ContentType} {
		n, k := binary.Uvarint(fields)
		if k <= 0 || n > uint64(len(fields)-k) {
			return segRecord{}, 0, fmt.Errorf("%w: header fields", errBadRecord)
		}
		*dst = string(fields[k : k+int(n)])
		fields = fields[k+int(n):]
	}
	if len(fields) != 0 || r.durable < 0 {
		return segRecord{}, 0, fmt.Errorf("%w: header fields", errBadRecord)
	}
	r.d.Payload = b[hdrLen:total:total]
	if crc32.Checksum(r.d.Payload, crcTable) != r.payloadCRC {
		return segRecord{}, 0, fmt.Errorf("%w: payload CRC mismatch", errBadRecord)
	}
	return r, int(total), nil
}
