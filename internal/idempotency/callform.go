package idempotency

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// CallForm says which spellings of one tool's arguments are the same call,
// so that they hash alike (ArgsHash): a call without an explicit key that is
// spelled differently must still be deduplicated, and an explicit key
// retried with a different spelling of the same call must replay, not be
// refused as reused with other arguments.
//
// Beyond what every args hash ignores (key order, whitespace, the spelling of
// a number, the Unicode normalization form of a string), a CallForm, read
// from the tool's input schema, also takes for the same call:
//
//   - a property given with the value its schema declares as "default" and
//     the property left out (the tool must apply that default, as
//     writeAudit's status does);
//   - a property the tool declares empty-means-absent, given as "", [] or
//     {}, and the property left out (createTicket's body, labels, assignees);
//   - an array property whose schema says uniqueItems, in any order: such
//     a list is a set (labels, assignees), as the provider takes it.
//
// Only top-level properties are read from the schema. What the tool runs
// with, and what goes to the provider, is the arguments as the agent gave
// them: a CallForm only shapes the hash.
//
// The canonical form is the shortest: a default or an empty value is left
// out rather than filled in, and a list already in order stays as it is, so
// a call spelled the shortest way hashes as it did before CallForm existed
// and the derived keys of such calls survive an upgrade.
type CallForm struct {
	props map[string]propForm
}

// propForm is what a CallForm knows of one top-level property.
type propForm struct {
	// def is the hash form (see writeHash) of the schema's default; nil
	// when the schema declares none.
	def []byte
	// set: the schema says uniqueItems, so the order of the array is not
	// part of the call.
	set bool
	// emptyIsAbsent: "", [] and {} mean to the tool and the provider what
	// leaving the property out means.
	emptyIsAbsent bool
}

// NewCallForm reads a tool's input schema (JSON Schema) for defaults and
// set-like arrays; emptyIsAbsent names the optional properties for which
// the tool, and the provider behind it, take "", [] and {} for not given.
// A name there that is not an optional property of the schema is an error:
// a required property given empty is refused, not absent.
func NewCallForm(inputSchema []byte, emptyIsAbsent ...string) (*CallForm, error) {
	var s struct {
		Properties map[string]struct {
			Default     json.RawMessage `json:"default"`
			UniqueItems bool            `json:"uniqueItems"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(inputSchema, &s); err != nil {
		return nil, fmt.Errorf("read input schema for the call form: %w", err)
	}
	f := &CallForm{props: make(map[string]propForm, len(s.Properties))}
	for name, p := range s.Properties {
		var pf propForm
		if p.Default != nil {
			v, err := decodeOne(p.Default)
			if err != nil {
				return nil, fmt.Errorf("default of %s: %w", name, err)
			}
			var buf bytes.Buffer
			if err := writeHash(&buf, v); err != nil {
				return nil, fmt.Errorf("default of %s: %w", name, err)
			}
			pf.def = buf.Bytes()
		}
		pf.set = p.UniqueItems
		f.props[name] = pf
	}
	for _, name := range emptyIsAbsent {
		pf, ok := f.props[name]
		if !ok {
			return nil, fmt.Errorf("call form: %s is not a property of the schema", name)
		}
		if slices.Contains(s.Required, name) {
			return nil, fmt.Errorf("call form: %s is required, so empty cannot mean absent", name)
		}
		pf.emptyIsAbsent = true
		f.props[name] = pf
	}
	return f, nil
}

// ArgsHash is the package's ArgsHash with f's sameness applied to the
// top-level properties. A nil f is the plain ArgsHash.
func (f *CallForm) ArgsHash(tool string, args any) (string, error) {
	return argsHash(tool, args, f, nil)
}

// hashForm writes the arguments object m in its hash form, with f applied
// and the excluded fields left out.
func (f *CallForm) hashForm(buf *bytes.Buffer, m map[string]any, exclude []string) error {
	keep := make(map[string]any, len(m))
	for k, v := range m {
		if k == KeyField || slices.Contains(exclude, k) {
			continue
		}
		var p propForm
		if f != nil {
			p = f.props[k]
		}
		if p.emptyIsAbsent && isEmpty(v) {
			continue
		}
		if !p.set && p.def == nil {
			keep[k] = v
			continue
		}
		var vb bytes.Buffer
		var err error
		if arr, ok := v.([]any); ok && p.set {
			err = writeSet(&vb, arr)
		} else {
			err = writeHash(&vb, v)
		}
		if err != nil {
			return err
		}
		if p.def != nil && bytes.Equal(vb.Bytes(), p.def) {
			continue
		}
		keep[k] = hashed(vb.Bytes())
	}
	return writeHash(buf, keep)
}

// isEmpty reports whether v is "", [] or {}.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// hashed is a value already written in hash form.
type hashed []byte

// writeSet writes a set-like array in hash form, its elements in the byte
// order of their hash forms, so that any order of one set writes alike.
// Elements are not merged: the schema's uniqueItems refuses a repeat.
func writeSet(buf *bytes.Buffer, arr []any) error {
	elems := make([][]byte, len(arr))
	for i, e := range arr {
		var b bytes.Buffer
		if err := writeHash(&b, e); err != nil {
			return err
		}
		elems[i] = b.Bytes()
	}
	slices.SortFunc(elems, bytes.Compare)
	buf.WriteByte('[')
	for i, e := range elems {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(e)
	}
	buf.WriteByte(']')
	return nil
}

// writeHash writes v as Canonical does, but with every string and object
// key in Unicode normalization form C: "é" as one code point or as "e" and
// a combining accent look alike to people and to the providers' search,
// and are one argument. It takes what jsonForm.write takes: the values JSON
// decodes to, and hashed.
func writeHash(buf *bytes.Buffer, v any) error {
	return jsonForm{nfc: true}.write(buf, v)
}
