package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// BackReader is an audit log whose records can be read back, newest first
// (a Writer): how writeAudit finds the record an earlier attempt of a call
// in doubt may have written.
type BackReader interface {
	// ReadBack calls fn for each record, from the last one written
	// towards the first, until fn returns false or an error. A log that
	// does not exist is read as an empty one: the caller decides what a
	// log that holds nothing old enough means.
	ReadBack(ctx context.Context, fn func(Record) (more bool, err error)) error
}

var _ BackReader = (*Writer)(nil)

// ReadBack reads the file the Writer's path names now, newest record
// first (see ReadBackward). It reads the path, not the file the Writer
// holds: after a rotation the path names the log that later records go to,
// and a caller that needs older ones can tell they are missing from the
// oldest record it reaches.
func (w *Writer) ReadBack(ctx context.Context, fn func(Record) (more bool, err error)) error {
	f, err := os.Open(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // rotated away, with no record since: nothing to read
	}
	if err != nil {
		return fmt.Errorf("open audit log %s to read it back: %w", w.path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read audit log %s back: %w", w.path, err)
	}
	if err := ReadBackward(ctx, f, st.Size(), fn); err != nil {
		return fmt.Errorf("read audit log %s back: %w", w.path, err)
	}
	return nil
}

// backChunk is how much ReadBackward reads at a time: a few hundred
// records of a typical size. A longer line doubles it until the line fits,
// so a huge record costs its size, not its size squared.
const backChunk = 64 << 10

// ReadBackward decodes the records of an NDJSON audit log of size bytes,
// read from r, calling fn for each from the last towards the first until fn
// returns false or an error. It reads from the end in chunks and stops
// reading where fn stops: a caller that wants the last minute of a log of
// gigabytes reads that minute, not the log.
//
// A last line without a newline is skipped, not reported: it is a record
// another process is appending right now, or one a crash cut short (the next
// Writer to append cuts it off). Lines are read as Read reads them (empty
// ones skipped, a carriage return before the newline dropped), and numbers
// in Details are json.Number, as written, so that no digit is lost.
func ReadBackward(ctx context.Context, r io.ReaderAt, size int64, fn func(Record) (more bool, err error)) error {
	b := backLines{r: r, pos: size, chunk: backChunk}
	// Cut the last line when it is not whole.
	for {
		if i := bytes.LastIndexByte(b.buf, '\n'); i >= 0 {
			b.buf = b.buf[:i+1]
			break
		}
		b.buf = b.buf[:0]
		if b.pos == 0 {
			return nil // no whole line at all
		}
		if err := b.more(ctx); err != nil {
			return err
		}
	}
	for {
		line, at, ok, err := b.prev(ctx)
		if err != nil || !ok {
			return err
		}
		text, hasRecord := recordText(line)
		if !hasRecord {
			continue
		}
		rec, err := decodeLine(text)
		if err != nil {
			return fmt.Errorf("audit log line at byte %d: %w", at, err)
		}
		more, err := fn(rec)
		if err != nil || !more {
			return err
		}
	}
}

// backLines hands out the lines of a file from the last to the first.
// buf holds the bytes from pos up to the end of the line handed out next
// (its newline included), of which the lines after the first whole one
// are split off one by one.
type backLines struct {
	r     io.ReaderAt
	pos   int64 // the file offset of buf[0]
	buf   []byte
	chunk int
}

// prev returns the last line left in buf, without its newline, and its
// offset in the file; ok is false once the file's first line was returned.
func (b *backLines) prev(ctx context.Context) (line []byte, at int64, ok bool, err error) {
	for {
		if len(b.buf) == 0 {
			return nil, 0, false, nil
		}
		body := b.buf[:len(b.buf)-1] // the line's newline off
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 || b.pos == 0 {
			line = body[i+1:] // i is -1 for the file's first line
			at = b.pos + int64(i+1)
			b.buf = b.buf[:i+1]
			return line, at, true, nil
		}
		if err := b.more(ctx); err != nil {
			return nil, 0, false, err
		}
	}
}

// more reads the chunk before pos in front of buf. When buf is larger than
// a chunk (a long line), it reads as much again, so a line of n bytes is
// read in log(n) reads and copied as often.
func (b *backLines) more(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := int64(max(b.chunk, len(b.buf)))
	n = min(n, b.pos)
	grown := make([]byte, int(n)+len(b.buf))
	if got, err := b.r.ReadAt(grown[:n], b.pos-n); int64(got) < n {
		if err == nil || errors.Is(err, io.EOF) {
			// Truncated (rotated with copytruncate) while being read.
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read audit log at byte %d: %w", b.pos-n, err)
	}
	copy(grown[n:], b.buf)
	b.buf, b.pos = grown, b.pos-n
	return nil
}

// decodeLine decodes one record, keeping Details' numbers as written.
func decodeLine(line []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var rec Record
	if err := dec.Decode(&rec); err != nil {
		return Record{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, errors.New("more than one JSON value on the line")
	}
	return rec, nil
}
