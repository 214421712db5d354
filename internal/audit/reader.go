package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Read decodes every record of an NDJSON audit log, calling fn for each in
// file order. It stops at the first error from fn.
//
// A line has no length limit: the Writer does not bound a record (a
// writeAudit call's details are free-form), and a log the Writer accepted
// must read back whole, not stop at its first long line.
func Read(r io.Reader, fn func(Record) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // a line longer than br's buffer, gathered
	line := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read audit log after line %d: %w", line, err)
		}
		b := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			b = long
		}
		if len(b) == 0 && err != nil {
			return nil // the end, after a newline or of an empty log
		}
		line++
		if text, ok := recordText(bytes.TrimSuffix(b, []byte("\n"))); ok {
			var rec Record
			if uerr := json.Unmarshal(text, &rec); uerr != nil {
				return fmt.Errorf("audit log line %d: %w", line, uerr)
			}
			if ferr := fn(rec); ferr != nil {
				return ferr
			}
		}
		long = long[:0]
		if err != nil {
			return nil
		}
	}
}

// recordText is the record a line of the log holds, the line given without
// its newline. As bufio.ScanLines reads lines, a carriage return before the
// newline is not part of the line; an empty line holds no record (ok is
// false). Read and ReadBackward both read lines by it, so that they read the
// same records.
func recordText(line []byte) (text []byte, ok bool) {
	text = bytes.TrimSuffix(line, []byte("\r"))
	return text, len(text) > 0
}
