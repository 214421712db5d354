package chain

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// The schema library is our patched copy (third_party/jsonschema, see its
// PATCHES.md): each draft's meta-schema is compiled on first use instead of
// in init. These tests keep both halves of that true: importing the package
// costs (almost) nothing, and every draft still checks schemas against its
// meta-schema, also when several goroutines load a draft at once.

// initTrace matches GODEBUG=inittrace=1's line for the schema library:
// "init github.com/santhosh-tekuri/jsonschema/v6 @2.8 ms, 3.3 ms clock, 1700984 bytes, 21283 allocs".
var initTrace = regexp.MustCompile(`init github\.com/santhosh-tekuri/jsonschema/v6 @[^,]+, [^,]+, (\d+) bytes`)

func TestImportingTheSchemaLibraryCompilesNoMetaSchemaAtInit(t *testing.T) {
	t.Parallel()
	if os.Getenv("SAAS_MCP_INITTRACE_CHILD") != "" {
		return // the child only initialises its packages
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestImportingTheSchemaLibraryCompilesNoMetaSchemaAtInit$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "SAAS_MCP_INITTRACE_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var initBytes int
	if m := initTrace.FindSubmatch(out); m != nil { // no line: the package's init did no work at all
		initBytes, err = strconv.Atoi(string(m[1]))
		require.NoError(t, err)
	}
	// Upstream's init compiles all five drafts: about 1.7 MB in 21,000
	// allocations. The patched init only builds the Draft values.
	require.Less(t, initBytes, 100_000,
		"the schema library's init allocated %d bytes: is third_party/jsonschema's lazy load still in use (go.mod replace)?", initBytes)
}

func TestEveryDraftStillChecksSchemasAgainstItsMetaSchemaWhenLoadedConcurrently(t *testing.T) {
	t.Parallel()
	drafts := []struct {
		name  string
		draft *jsonschema.Draft
	}{
		{"draft-04", jsonschema.Draft4},
		{"draft-06", jsonschema.Draft6},
		{"draft-07", jsonschema.Draft7},
		{"2019-09", jsonschema.Draft2019},
		{"2020-12", jsonschema.Draft2020},
	}
	cases := []struct {
		name   string
		schema string
		valid  bool
	}{
		{"valid", `{"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]}`, true},
		{"type is not a type name", `{"type": 5}`, false},
		{"negative minLength", `{"type": "string", "minLength": -1}`, false},
		{"required is not a list", `{"required": "n"}`, false},
	}
	// Every draft and case at once, several times over: the first
	// goroutines to reach a draft load it while the others wait for it.
	var wg sync.WaitGroup
	errs := make(chan error, len(drafts)*len(cases)*4)
	for round := range 4 {
		for _, d := range drafts {
			for _, tc := range cases {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := compileWith(d.draft, fmt.Sprintf("mem:///%d/%s/%s.json", round, d.name, strings.ReplaceAll(tc.name, " ", "-")), tc.schema, tc.valid); err != nil {
						errs <- fmt.Errorf("%s, %s: %w", d.name, tc.name, err)
					}
				}()
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// compileWith compiles schema under draft and checks that the compiler
// accepted it (and that it then validates) or refused it against the
// meta-schema, as valid says.
func compileWith(draft *jsonschema.Draft, url, schema string, valid bool) error {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(draft)
	if err := c.AddResource(url, doc); err != nil {
		return err
	}
	s, err := c.Compile(url)
	if !valid {
		var sve *jsonschema.SchemaValidationError
		if !errors.As(err, &sve) {
			return fmt.Errorf("compile: want a meta-schema violation, got %v", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	if err := s.Validate(map[string]any{"n": 0}); err == nil {
		return errors.New(`{"n": 0} passed a schema with minimum 1`)
	}
	return s.Validate(map[string]any{"n": 2})
}
