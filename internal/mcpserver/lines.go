package mcpserver

import "bytes"

// lineSplitter hands each complete line to a func. A line that one Read
// holds whole is passed in place, whatever its length; the start of a line
// cut by a Read is copied, up to max bytes, beyond which the line is passed
// as long (and empty).
type lineSplitter struct {
	max  int
	line []byte
	long bool
	used bool // the current line has bytes (line or long)
}

func (l *lineSplitter) scan(b []byte, each func(line []byte, long bool)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.hold(b)
			return
		}
		part := b[:i]
		b = b[i+1:]
		if !l.used {
			each(part, false)
			continue
		}
		l.hold(part)
		each(l.line, l.long)
		l.line, l.long, l.used = l.line[:0], false, false
	}
}

func (l *lineSplitter) hold(b []byte) {
	l.used = true
	if l.long {
		return
	}
	if len(l.line)+len(b) > l.max {
		l.line, l.long = l.line[:0], true
		return
	}
	l.line = append(l.line, b...)
}

// end hands the line held, if any, to each: the input ended without its
// newline.
func (l *lineSplitter) end(each func(line []byte, long bool)) {
	if l.used {
		each(l.line, l.long)
		l.line, l.long, l.used = l.line[:0], false, false
	}
}
