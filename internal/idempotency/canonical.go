package idempotency

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Canonical returns raw in one canonical JSON form, in the spirit of RFC 8785:
// object keys sorted by their UTF-8 bytes, no insignificant whitespace, strings
// escaped minimally, and every number written in one exact decimal form so
// that 1, 1.0 and 10e-1 are the same number. Two documents that mean the same
// thing give the same bytes, so a hash of them identifies the arguments of a
// call however the client spelled them.
//
// Unlike RFC 8785, numbers are not rounded through float64: two different
// amounts must never collide, however many digits they carry. A duplicate
// object key keeps its last value, as encoding/json does.
func Canonical(raw []byte) ([]byte, error) {
	v, err := decodeOne(raw)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := (jsonForm{}).write(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeOne decodes exactly one JSON value, keeping numbers as their text.
func decodeOne(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	// A second value, or any non-space after the first, is not one document.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("canonical json: trailing data after the value")
	}
	return v, nil
}

// errNotJSONValue says that a value is not one that JSON decodes to, so it
// must go through encoding/json first.
var errNotJSONValue = errors.New("not a decoded JSON value")

// jsonForm is one way of writing a decoded JSON value canonically. Canonical
// writes text as it came; the arguments hash (writeHash) writes it in
// Unicode normalization form C. Every other rule (key order, the spelling of
// numbers and strings) is one for both, so both are written by one walk.
type jsonForm struct {
	// nfc: every string and object key is written in normalization form C.
	nfc bool
}

// write writes v in form f. It takes the values JSON decodes to (json.Number
// or float64 for numbers) and hashed, a value CallForm has already written
// in this form; other values give errNotJSONValue.
func (f jsonForm) write(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case json.Number:
		return writeNumber(buf, string(x))
	case float64:
		return writeNumber(buf, strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		writeString(buf, f.text(x))
	case hashed:
		buf.Write(x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := f.write(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		return f.writeObject(buf, x)
	default:
		return errNotJSONValue
	}
	return nil
}

// text is s as form f writes it.
func (f jsonForm) text(s string) string {
	if f.nfc {
		return norm.NFC.String(s)
	}
	return s
}

// writeObject writes m with its keys, as f writes them, in code point order.
// Keys that would collide once normalized are kept as they are: two
// different keys are never merged into one.
func (f jsonForm) writeObject(buf *bytes.Buffer, m map[string]any) error {
	type entry struct{ name, key string }
	entries := make([]entry, 0, len(m))
	seen := make(map[string]bool, len(m))
	collide := false
	for k := range m {
		if !utf8.ValidString(k) {
			// encoding/json would turn two such keys into one "\ufffd";
			// only its own decoding says which value is kept.
			return errNotJSONValue
		}
		n := f.text(k)
		collide = collide || seen[n]
		seen[n] = true
		entries = append(entries, entry{name: n, key: k})
	}
	if collide {
		for i := range entries {
			entries[i].name = entries[i].key
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) }) // byte order of UTF-8, which is code point order
	buf.WriteByte('{')
	for i, e := range entries {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, e.name)
		buf.WriteByte(':')
		if err := f.write(buf, m[e.key]); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// writeNumber writes the JSON number s in its canonical form.
func writeNumber(buf *bytes.Buffer, s string) error {
	n, err := canonicalNumber(s)
	if err != nil {
		return err
	}
	buf.WriteString(n)
	return nil
}

// writeString escapes only what JSON requires, as RFC 8785 does, so the same
// string always has one spelling. Invalid UTF-8 (possible only when a caller
// passes Go values) becomes U+FFFD, as encoding/json would make it.
func writeString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				buf.WriteString(`\"`)
			case c == '\\':
				buf.WriteString(`\\`)
			case c == '\b':
				buf.WriteString(`\b`)
			case c == '\f':
				buf.WriteString(`\f`)
			case c == '\n':
				buf.WriteString(`\n`)
			case c == '\r':
				buf.WriteString(`\r`)
			case c == '\t':
				buf.WriteString(`\t`)
			case c < 0x20:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[c>>4])
				buf.WriteByte(hex[c&0xf])
			default:
				buf.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf.WriteRune(utf8.RuneError)
		} else {
			buf.WriteString(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}

// canonicalNumber rewrites a JSON number exactly: the significant digits with
// leading and trailing zeros removed, and a decimal exponent. Small numbers
// are written plainly (42, -0.5); very large or small ones in scientific form
// (1.5e+30, 2e-12), with JavaScript's thresholds (1e21 and 1e-7). Zero of any sign or spelling is "0". The exponent is a
// big.Int so that 1e999999999999999999999 cannot overflow.
func canonicalNumber(s string) (string, error) {
	orig := s
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	mant, expText := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expText = s[:i], s[i+1:]
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return "", fmt.Errorf("canonical json: bad number %q", orig)
	}
	exp := new(big.Int)
	if expText != "" {
		if _, ok := exp.SetString(strings.TrimPrefix(expText, "+"), 10); !ok {
			return "", fmt.Errorf("canonical json: bad number %q", orig)
		}
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	exp.Sub(exp, big.NewInt(int64(len(frac))))
	trimmed := strings.TrimRight(digits, "0")
	exp.Add(exp, big.NewInt(int64(len(digits)-len(trimmed))))
	digits = trimmed
	if digits == "" {
		return "0", nil
	}

	var out strings.Builder
	if neg {
		out.WriteByte('-')
	}
	n := int64(len(digits))
	switch {
	case exp.Sign() >= 0 && exp.Cmp(big.NewInt(21)) <= 0 && n+exp.Int64() <= 21:
		// An integer of up to 21 digits, written out as JavaScript would.
		out.WriteString(digits)
		out.WriteString(strings.Repeat("0", int(exp.Int64())))
	case exp.Sign() < 0 && exp.Cmp(big.NewInt(-(n+5))) >= 0:
		// A fraction no smaller than 1e-6: a decimal point, no exponent.
		point := n + exp.Int64() // digits before the point; may be <= 0
		if point > 0 {
			out.WriteString(digits[:point])
			out.WriteByte('.')
			out.WriteString(digits[point:])
		} else {
			out.WriteString("0.")
			out.WriteString(strings.Repeat("0", int(-point)))
			out.WriteString(digits)
		}
	default:
		// d.ddd e±N, where N is the exponent of the first digit.
		out.WriteByte(digits[0])
		if n > 1 {
			out.WriteByte('.')
			out.WriteString(digits[1:])
		}
		sci := new(big.Int).Add(exp, big.NewInt(n-1))
		out.WriteByte('e')
		if sci.Sign() >= 0 {
			out.WriteByte('+')
		}
		out.WriteString(sci.String())
	}
	return out.String(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
