package idempotency

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCallFormHash: the arguments come from the client. Hashing them must
// never panic, must give the same hash for the same arguments, must not
// change them, and must give another hash for arguments that differ in a
// way the form does not normalize (here: one more property).
func FuzzCallFormHash(f *testing.F) {
	schema := []byte(`{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"},
		"labels":{"type":"array","items":{"type":"string"},"uniqueItems":true},"status":{"type":"string","default":"succeeded"}},
		"required":["title"]}`)
	form, err := NewCallForm(schema, "body", "labels")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"title":"Deploy failed","labels":["b","a"],"body":""}`))
	f.Add([]byte(`{"title":"e\u0301","status":"succeeded","n":9007199254740993,"d":{"x":[1,2.0,1e1]}}`))
	f.Add([]byte(`{"title":null,"labels":[[],{}],"\u00e9":1,"e\u0301":2}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var args map[string]any
		if dec.Decode(&args) != nil || args == nil {
			return
		}
		before, _ := json.Marshal(args)
		h1, err1 := form.ArgsHash("createTicket", args)
		h2, err2 := form.ArgsHash("createTicket", args)
		if (err1 == nil) != (err2 == nil) || h1 != h2 {
			t.Fatalf("not deterministic: %q %v / %q %v", h1, err1, h2, err2)
		}
		after, _ := json.Marshal(args)
		if !bytes.Equal(before, after) {
			t.Fatalf("hashing changed the arguments:\n%s\n%s", before, after)
		}
		if err1 != nil {
			return
		}
		if _, taken := args["zz-extra"]; taken {
			return
		}
		args["zz-extra"] = "x"
		h3, err := form.ArgsHash("createTicket", args)
		if err == nil && h3 == h1 {
			t.Fatalf("one more argument gave the same hash %s", h1)
		}
	})
}
