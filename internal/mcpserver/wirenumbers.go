package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// A number in a call's arguments beyond float64's range (1e309) makes
// mcp-go refuse the whole tools/call as unparsable, with a JSON-RPC error
// that names no field and before the chain runs, so unaudited (found in a
// new-user walkthrough; the README promises such numbers are refused by
// field and audited, as the chain's number check does). The transport then
// hands mcp-go the call with each such number replaced by 0, which it can
// parse, and the handler the arguments as sent (argumentsAsSent), which
// the chain checks and refuses by field.

// argumentsAsSentKey carries a call's arguments as the client sent them,
// when the line mcp-go parsed had its out-of-range numbers replaced.
type argumentsAsSentKey struct{}

// argumentsAsSent returns the arguments Stdio.handle sets when it retries a
// call with its out-of-range numbers replaced (tameArguments).
func argumentsAsSent(ctx context.Context) (json.RawMessage, bool) {
	raw, ok := ctx.Value(argumentsAsSentKey{}).(json.RawMessage)
	return raw, ok
}

// unparsableNumber reports whether resp is mcp-go's refusal of a tools/call
// it could not decode for a number.
func unparsableNumber(resp mcp.JSONRPCMessage) bool {
	e, ok := resp.(mcp.JSONRPCError)
	return ok && e.Error.Code == mcp.INVALID_REQUEST &&
		strings.HasPrefix(e.Error.Message, "unparsable "+string(mcp.MethodToolsCall)+" request") &&
		strings.Contains(e.Error.Message, "cannot unmarshal number")
}

// tameArguments returns line with every number in its params.arguments
// that float64 cannot hold replaced by 0, and the arguments as sent; ok is
// false when there is none to replace (the line is refused as it was).
func tameArguments(line []byte) (tamed []byte, sent json.RawMessage, ok bool) {
	var msg map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if dec.Decode(&msg) != nil {
		return nil, nil, false
	}
	params, _ := msg["params"].(map[string]any)
	if params == nil {
		return nil, nil, false
	}
	var raw struct {
		Params struct {
			Arguments json.RawMessage `json:"arguments"`
		} `json:"params"`
	}
	if json.Unmarshal(line, &raw) != nil {
		return nil, nil, false
	}
	args, changed := tame(params["arguments"])
	if !changed {
		return nil, nil, false
	}
	params["arguments"] = args
	tamed, err := json.Marshal(msg)
	if err != nil {
		return nil, nil, false
	}
	return tamed, raw.Params.Arguments, true
}

// tame returns v with its out-of-range numbers replaced by 0.
func tame(v any) (any, bool) {
	switch x := v.(type) {
	case json.Number:
		// Overflow only (±Inf): what rounds to 0 decodes, and the chain
		// refuses it by field already.
		if f, err := strconv.ParseFloat(string(x), 64); errors.Is(err, strconv.ErrRange) && f != 0 {
			return json.Number("0"), true
		}
		return x, false
	case map[string]any:
		changed := false
		for k, e := range x {
			if t, c := tame(e); c {
				x[k], changed = t, true
			}
		}
		return x, changed
	case []any:
		changed := false
		for i, e := range x {
			if t, c := tame(e); c {
				x[i], changed = t, true
			}
		}
		return x, changed
	}
	return v, false
}
