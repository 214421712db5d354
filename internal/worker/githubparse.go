package worker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// parseGitHub reads the members of a GitHub payload that its audit record
// names into a githubPayload, as json.Unmarshal would: the same payloads
// refused, the same values kept (FuzzParseGitHubAsEncodingJSON compares
// them). A GitHub payload is 5 to 25 KB of which these are a few dozen
// bytes; json.Unmarshal validated the whole and then scanned it again to
// skip the rest, about 0.08 ms of the worker's 0.18 ms of CPU per delivery
// in the bench (pprof), where gjson's validator and one walk of the top
// level take a fifth of that. gjson is already in the build (River's).
//
// encoding/json's rules kept here: a key matches a field case-insensitively
// (an exact match first, which for these distinct names is the same); a
// later duplicate wins, and an object decoded into a struct already set
// keeps the members it does not name; null leaves a string as it was and
// sets a struct pointer to nil; a value of the wrong type is an error
// (json.Unmarshal goes on decoding, but handleGitHub refuses the payload
// either way); strings are decoded by encoding/json itself (its handling of
// invalid UTF-8 and lone surrogates).
func parseGitHub(raw []byte) (githubPayload, error) {
	var p githubPayload
	// The depth first: gjson's validator recurses once per level, and 10
	// MB of "[" overflowed the goroutine stack, a crash of the whole
	// process (found in review).
	if deeperThan(raw, maxJSONDepth) || !gjson.ValidBytes(raw) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return p, err // its words for the fault
		}
		return p, fmt.Errorf("invalid JSON")
	}
	root := gjson.ParseBytes(raw)
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	switch root.Type {
	case gjson.Null:
		return p, nil
	case gjson.JSON:
		if !root.IsObject() {
			return p, fmt.Errorf("cannot unmarshal array into a GitHub payload")
		}
	default:
		return p, fmt.Errorf("cannot unmarshal %s into a GitHub payload", kindOf(root))
	}
	root.ForEach(func(k, v gjson.Result) bool {
		switch name := k.Str; {
		case strings.EqualFold(name, "action"):
			fail(jsonString(v, &p.Action, "action"))
		case strings.EqualFold(name, "ref"):
			fail(jsonString(v, &p.Ref, "ref"))
		case strings.EqualFold(name, "repository"):
			fail(jsonObject(v, &p.Repository, "repository", func(k string, v gjson.Result) error {
				if strings.EqualFold(k, "full_name") {
					return jsonString(v, &p.Repository.FullName, "repository.full_name")
				}
				return nil
			}))
		case strings.EqualFold(name, "organization"):
			fail(jsonObject(v, &p.Organization, "organization", func(k string, v gjson.Result) error {
				if strings.EqualFold(k, "login") {
					return jsonString(v, &p.Organization.Login, "organization.login")
				}
				return nil
			}))
		case strings.EqualFold(name, "sender"):
			fail(jsonObject(v, &p.Sender, "sender", func(k string, v gjson.Result) error {
				if strings.EqualFold(k, "login") {
					return jsonString(v, &p.Sender.Login, "sender.login")
				}
				return nil
			}))
		case strings.EqualFold(name, "issue"):
			fail(jsonObject(v, &p.Issue, "issue", func(k string, v gjson.Result) error {
				if strings.EqualFold(k, "number") {
					return jsonInt(v, &p.Issue.Number, "issue.number")
				}
				return nil
			}))
		case strings.EqualFold(name, "release"):
			fail(jsonObject(v, &p.Release, "release", func(k string, v gjson.Result) error {
				if strings.EqualFold(k, "tag_name") {
					return jsonString(v, &p.Release.TagName, "release.tag_name")
				}
				return nil
			}))
		}
		return true
	})
	return p, firstErr
}

// jsonString decodes v into *dst as encoding/json would a string field.
func jsonString(v gjson.Result, dst *string, field string) error {
	switch v.Type {
	case gjson.Null:
		return nil
	case gjson.String:
		return json.Unmarshal([]byte(v.Raw), dst)
	}
	return fmt.Errorf("cannot unmarshal %s into the GitHub payload's %s, a string", kindOf(v), field)
}

// jsonInt decodes v into *dst as encoding/json would an int field.
func jsonInt(v gjson.Result, dst *int, field string) error {
	switch v.Type {
	case gjson.Null:
		return nil
	case gjson.Number:
		n, err := strconv.ParseInt(v.Raw, 10, 0)
		if err != nil {
			return fmt.Errorf("cannot unmarshal number %s into the GitHub payload's %s, an integer", v.Raw, field)
		}
		*dst = int(n)
		return nil
	}
	return fmt.Errorf("cannot unmarshal %s into the GitHub payload's %s, an integer", kindOf(v), field)
}

// jsonObject decodes v into *dst as encoding/json would a pointer to a
// struct whose members each handles: null sets it to nil, an object
// allocates it if nil and sets the members it names.
func jsonObject[T any](v gjson.Result, dst **T, field string, each func(key string, v gjson.Result) error) error {
	if v.Type == gjson.Null {
		*dst = nil
		return nil
	}
	if !v.IsObject() {
		return fmt.Errorf("cannot unmarshal %s into the GitHub payload's %s, an object", kindOf(v), field)
	}
	if *dst == nil {
		*dst = new(T)
	}
	var err error
	v.ForEach(func(k, m gjson.Result) bool {
		if e := each(k.Str, m); e != nil && err == nil {
			err = e
		}
		return true
	})
	return err
}

// kindOf names v's JSON type as encoding/json's errors do.
func kindOf(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return "string"
	case gjson.Number:
		return "number"
	case gjson.True, gjson.False:
		return "bool"
	case gjson.Null:
		return "null"
	}
	if v.IsArray() {
		return "array"
	}
	return "object"
}

// maxJSONDepth is encoding/json's nesting limit: a payload nested deeper
// is refused, as json.Unmarshal refused it (gjson's validator has no such
// limit, and recurses).
const maxJSONDepth = 10000

// deeperThan reports whether raw nests arrays and objects more than max
// deep, outside strings. Any bytes: it counts every bracket outside what
// it takes for strings, as gjson's validator would before failing, so a
// false here bounds the validator's recursion too.
func deeperThan(raw []byte, max int) bool {
	// No deeper than its openers are many: counted fast, so that the byte
	// by byte walk below runs only for a payload that might be too deep
	// (it was a third of the parse of every delivery).
	if bytes.Count(raw, []byte{'['})+bytes.Count(raw, []byte{'{'}) <= max {
		return false
	}
	depth, inString, escaped := 0, false, false
	for _, c := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
