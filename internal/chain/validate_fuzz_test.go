package chain

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/saas-mcp/saas-mcp/schemas"
)

// FuzzValidate feeds any JSON to every tool's schema: the validator must
// never panic, and a rejection is always a KindInvalid error naming a field.
func FuzzValidate(f *testing.F) {
	names := []string{"sendMessage", "createTicket", "recordPaymentEvent", "writeAudit"}
	inputs := map[string][]byte{}
	for _, n := range names {
		in, err := schemas.Input(n)
		if err != nil {
			f.Fatal(err)
		}
		inputs[n] = in
	}
	v, err := NewValidator(inputs)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{}`, `{"channel":"C1","text":"hi"}`, `{"repo":"a/b","title":"t","labels":["x","x"]}`,
		`{"eventId":"evt_1","idempotencyKey":"` + strings.Repeat("k", 300) + `"}`,
		`{"provider":"p","action":"a","target":"t","details":{"a":[1,{"b":null}]}}`,
		`{"text":1e400}`, `{"channel":"\u0000"}`, `[]`, `null`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var args map[string]any
		if json.Unmarshal([]byte(doc), &args) != nil {
			return
		}
		for _, n := range names {
			err := v.Check(n, args)
			if err == nil {
				continue
			}
			if KindOf(err) != KindInvalid {
				t.Fatalf("%s: got kind %s for %q: %v", n, KindOf(err), doc, err)
			}
			if !strings.Contains(err.Error(), ": ") {
				t.Fatalf("%s: error names no field: %v", n, err)
			}
		}
	})
}
