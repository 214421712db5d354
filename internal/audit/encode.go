package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// appendRecord appends r as one JSON line: byte for byte what encoding/json's
// Encoder with SetEscapeHTML(false) writes for a Record (FuzzAppendRecord
// holds it to that), without reflection on the fixed fields. Every tool call
// writes two records and every webhook delivery one or two, so this is on
// the hot path; Details, rare and free-form, still goes through
// encoding/json.
func appendRecord(dst []byte, r *Record, scratch *bytes.Buffer) ([]byte, error) {
	dst = append(dst, `{"ts":"`...)
	var err error
	if dst, err = r.TS.AppendText(dst); err != nil {
		return dst, fmt.Errorf("json: error calling MarshalJSON for type time.Time: %w", err)
	}
	dst = append(dst, `","actor":`...)
	dst = appendString(dst, r.Actor)
	dst = append(dst, `,"provider":`...)
	dst = appendString(dst, r.Provider)
	dst = append(dst, `,"action":`...)
	dst = appendString(dst, r.Action)
	dst = append(dst, `,"target":`...)
	dst = appendString(dst, r.Target)
	dst = append(dst, `,"idempotencyKey":`...)
	dst = appendString(dst, r.IdempotencyKey)
	dst = append(dst, `,"status":`...)
	dst = appendString(dst, r.Status)
	if r.Tool != "" {
		dst = append(dst, `,"tool":`...)
		dst = appendString(dst, r.Tool)
	}
	if r.Env != "" {
		dst = append(dst, `,"env":`...)
		dst = appendString(dst, r.Env)
	}
	if r.CallID != "" {
		dst = append(dst, `,"callId":`...)
		dst = appendString(dst, r.CallID)
	}
	dst = append(dst, `,"attempts":`...)
	dst = strconv.AppendInt(dst, int64(r.Attempts), 10)
	dst = append(dst, `,"durationMs":`...)
	if dst, err = appendFloat(dst, r.DurationMs); err != nil {
		return dst, err
	}
	if r.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendString(dst, r.Error)
	}
	if len(r.Details) > 0 {
		dst = append(dst, `,"details":`...)
		scratch.Reset()
		enc := json.NewEncoder(scratch)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r.Details); err != nil {
			return dst, err
		}
		dst = append(dst, bytes.TrimSuffix(scratch.Bytes(), []byte("\n"))...)
	}
	return append(dst, "}\n"...), nil
}

// appendFloat formats like encoding/json: the shortest representation, in
// exponent form only for very small or very large magnitudes.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does without
// HTML escaping: invalid UTF-8 becomes U+FFFD, control characters and the
// JavaScript line separators are escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
