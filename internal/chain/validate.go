package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Validator checks tool arguments against the tools' input schemas. Schemas
// are compiled once, at start-up (CompileValidator: in the background).
type Validator struct {
	// ready is closed once schemas (or err) are set; Check waits for it.
	ready   chan struct{}
	schemas map[string]*jsonschema.Schema
	err     error
	printer *message.Printer
	// Redactor, when set, redacts each problem before it is cut to
	// length: a message may quote a value, and a secret cut in two would
	// no longer match and keep its first half.
	Redactor *redact.Redactor
}

// NewValidator compiles each tool's input schema (JSON Schema 2020-12),
// checking it against the 2020-12 meta-schema first.
func NewValidator(inputs map[string][]byte) (*Validator, error) {
	v := &Validator{ready: make(chan struct{}), printer: message.NewPrinter(language.English)}
	v.schemas, v.err = compileInputs(inputs, false)
	close(v.ready)
	if v.err != nil {
		return nil, v.err
	}
	return v, nil
}

// CompileValidator is NewValidator for schemas known to be valid, such as
// the embedded tool schemas (schemas.TestEveryEmbeddedSchemaPassesItsMetaSchema
// checks them): it does not check them against the meta-schema, and it
// returns at once, compiling in the background; Check (and Wait) wait for
// the compile to end. serve starts it before it answers its first request:
// compiling the four schemas took about 4 ms of CPU, over half of serve's own
// start-up, three quarters of it compiling the 2020-12 meta-schemas to check
// them against; nothing before the first tools/call needs the result.
func CompileValidator(inputs map[string][]byte) *Validator {
	v := &Validator{ready: make(chan struct{}), printer: message.NewPrinter(language.English)}
	go func() {
		defer close(v.ready)
		v.schemas, v.err = compileInputs(inputs, true)
	}()
	return v
}

// Wait waits for the schemas to be compiled and returns the compile's error.
func (v *Validator) Wait() error {
	<-v.ready
	return v.err
}

func compileInputs(inputs map[string][]byte, trusted bool) (schemas map[string]*jsonschema.Schema, err error) {
	defer func() {
		// Unchecked against its meta-schema, a malformed schema may make
		// the library panic rather than fail.
		if r := recover(); r != nil {
			schemas, err = nil, fmt.Errorf("compile input schemas: %v", r)
		}
	}()
	schemas = make(map[string]*jsonschema.Schema, len(inputs))
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseRegexpEngine(cachedRegexps())
	if trusted {
		c.SkipMetaSchemaValidation()
	}
	for name, raw := range inputs {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parse input schema of %s: %w", name, err)
		}
		url := "mem:///" + name + ".input.json"
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("add input schema of %s: %w", name, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compile input schema of %s: %w", name, err)
		}
		schemas[name] = s
	}
	return schemas, nil
}

// cachedRegexps is the schema compiler's regexp engine with each pattern
// compiled once: the checking compiler (NewValidator) compiles every pattern
// twice (checking the schema against its meta-schema, then for the schema
// itself), and the tools share some (idempotencyKey's). Go's regexp expands counted
// repetitions ({1,100}), so this was a third of the validator's start-up
// time, which is part of serve's.
func cachedRegexps() jsonschema.RegexpEngine {
	var mu sync.Mutex // the compiled schemas may call it while validating
	seen := map[string]*regexp.Regexp{}
	return func(pattern string) (jsonschema.Regexp, error) {
		mu.Lock()
		defer mu.Unlock()
		if re, ok := seen[pattern]; ok {
			return re, nil
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, err
		}
		seen[pattern] = re
		return re, nil
	}
}

// Check returns nil when args satisfy tool's schema, else an *Error of kind
// KindInvalid listing every violation by field.
//
// Numbers the schema library cannot afford are refused first (see
// checkNumbers), and the library runs on a copy where they are replaced;
// the rest of the arguments' problems are listed as usual.
func (v *Validator) Check(tool string, args map[string]any) error {
	if err := v.Wait(); err != nil {
		return Internal("the input schemas did not compile", err)
	}
	s, ok := v.schemas[tool]
	if !ok {
		return Errorf(KindInternal, "no input schema for tool %s", tool)
	}
	var doc any = args
	if args == nil {
		doc = map[string]any{}
	}
	nc := checkNumbers(doc)
	problems := nc.problems
	err := validateRecovered(s, nc.doc)
	var ve *jsonschema.ValidationError
	switch {
	case err == nil:
		if len(problems) == 0 {
			return nil
		}
	case errors.As(err, &ve):
		problems = v.flatten(ve, nc.refused, problems)
	case errors.Is(err, errUncheckable) || len(problems) > 0:
		problems = append(problems, "arguments: "+err.Error())
	default:
		return Errorf(KindInvalid, "invalid arguments for %s: %v", tool, err)
	}
	for i, p := range problems {
		// A message may quote the value (a pattern's): a 4 MB argument
		// must not come back to the agent, or go to the audit log, whole.
		// Cut generously first (a 4 MB value must not be redacted whole),
		// never so close that a secret could be cut in two before it is
		// redacted.
		problems[i] = v.Redactor.Clip(p, maxProblem)
	}
	sort.Strings(problems)
	problems = compactStrings(problems)
	return &Error{Kind: KindInvalid, Message: fmt.Sprintf("invalid arguments for %s: %s", tool, strings.Join(problems, "; "))}
}

// errUncheckable marks arguments the schema library panicked on.
var errUncheckable = errors.New("could not be checked against the schema")

// validateRecovered runs the schema library, turning a panic of it into an
// error: validation runs before anything is sent, so arguments it cannot
// judge are refused, not reported as a bug of ours that may have acted.
func validateRecovered(s *jsonschema.Schema, doc any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errUncheckable, p)
		}
	}()
	return s.Validate(doc)
}

// flatten turns the error tree into "field: problem" lines, one per leaf.
// At a refused number's field only a type problem is kept: others are about
// the stand-in the schema saw, not the number sent.
func (v *Validator) flatten(ve *jsonschema.ValidationError, refused map[string]bool, out []string) []string {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			out = v.flatten(c, refused, out)
		}
		return out
	}
	field := fieldName(ve.InstanceLocation)
	if _, isType := ve.ErrorKind.(*kind.Type); refused[field] && !isType {
		return out
	}
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			out = append(out, joinField(field, m)+": is required")
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			out = append(out, joinField(field, p)+": is not a known argument")
		}
	case *kind.FalseSchema:
		out = append(out, field+": is not allowed")
	default:
		out = append(out, field+": "+ve.ErrorKind.LocalizedString(v.printer))
	}
	return out
}

func fieldName(loc []string) string {
	if len(loc) == 0 {
		return "arguments"
	}
	var b strings.Builder
	for i, tok := range loc {
		if isIndex(tok) {
			b.WriteString("[" + tok + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func isIndex(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func joinField(parent, child string) string {
	if parent == "arguments" {
		return child
	}
	return parent + "." + child
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// Validate is the middleware: a call whose arguments break the schema goes
// no further.
func Validate(v *Validator) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, c *Call) (Result, error) {
			if err := v.Check(c.Tool.Name, c.Args); err != nil {
				return Result{}, err
			}
			if c.Tool.Check != nil {
				if err := c.Tool.Check(c); err != nil {
					msg := v.Redactor.Clip(err.Error(), maxProblem)
					return Result{}, &Error{Kind: KindInvalid, Message: fmt.Sprintf("invalid arguments for %s: %s", c.Tool.Name, msg)}
				}
			}
			return next(ctx, c)
		}
	}
}

// maxProblem bounds one "field: problem" line of a validation error.
const maxProblem = 300
