package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// KeyField is the tool argument that carries an explicit idempotency key. It
// is never part of the arguments hash: the key names the call, it is not what
// the call does.
const KeyField = "idempotencyKey"

// Default times for a Policy.
const (
	// DefaultWindow is how long identical calls without an explicit key are
	// taken for one call (IDEMPOTENCY_WINDOW).
	DefaultWindow = 10 * time.Minute
	// DefaultKeyTTL is how long an explicit key is remembered, as at Stripe.
	DefaultKeyTTL = 24 * time.Hour
	// DefaultLease is how long a claim stays InProgress for others while its
	// owner runs; past it the claim is in doubt. Long calls Extend it.
	DefaultLease = 2 * time.Minute
)

// Key prefixes keep explicit and derived keys in separate name spaces, so a
// client can never pick an explicit key that collides with a derived one.
// A client may still bring a derived key back (a result shows it, an
// in-doubt error names it): NewClaim then takes it for the derived key it
// is, or refuses it.
const (
	explicitPrefix = "key:"
	derivedPrefix  = "auto:"
)

// ErrInvalidKey is returned for an explicit key that is empty, too long, not
// UTF-8 or holds a character that cannot be printed.
var ErrInvalidKey = errors.New("invalid idempotency key")

// ErrDerivedKeyMismatch is returned for an explicit key in the name space of
// derived keys ("auto:...") that is not the key derived from the call that
// brings it: another tool's, or one of other arguments, or one saas-mcp never
// derived. Stored as an explicit key it would claim a fresh row and act
// again, while its caller believes it is retrying the call the key names.
var ErrDerivedKeyMismatch = errors.New("idempotency key is derived from another call")

// ValidateKey checks an explicit key: 1 to MaxKeyLength characters, all
// printable, so it is safe to store, log and show to the model.
func ValidateKey(key string) error {
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	}
	n := utf8.RuneCountInString(key)
	if n == 0 || n > MaxKeyLength {
		return fmt.Errorf("%w: length %d, want 1 to %d characters", ErrInvalidKey, n, MaxKeyLength)
	}
	for _, r := range key {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: character %U is not printable", ErrInvalidKey, r)
		}
	}
	return nil
}

// ExplicitKey returns the stored form of a key the caller chose.
func ExplicitKey(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return explicitPrefix + key, nil
}

// CallerKey returns a stored key as the caller knows it, the form every
// audit record of a tool call carries: an explicit key without its
// name-space prefix, a derived key unchanged. Records written about a stored
// row (the start-up list of keys in doubt, doctor) use it, so one search of
// the audit log by key finds them with the calls.
func CallerKey(stored string) string {
	if k, ok := strings.CutPrefix(stored, explicitPrefix); ok {
		return k
	}
	return stored
}

// DerivedKey returns the key of a call that brought no explicit key: the tool
// and its arguments hash, so identical calls share it. Its row lives for the
// idempotency window (see Policy), or until its call ends if that is later,
// which is what makes identical calls inside the window one call and those
// after it new ones.
func DerivedKey(tool, argsHash string) string {
	return derivedPrefix + tool + ":" + argsHash
}

// EnvArgsHash returns the hash a call is claimed under in the integration
// environment env (INTEGRATION_ENV), given the hash of its arguments. Servers
// in different environments may share one DATA_DIR (a sandbox and a live
// entry in one .mcp.json both default to data/), and a sandbox call must
// never be answered with a live call's result, nor the reverse. So every
// environment but live hashes in its own name space; live keeps the plain
// hash, as all calls did before environments had name spaces, so that a
// live call retried across that upgrade still finds its first call.
func EnvArgsHash(env, argsHash string) string {
	switch env {
	case "live":
		return argsHash
	case "":
		env = "sandbox" // INTEGRATION_ENV's default
	}
	return sum([]byte("env\x00" + env + "\x00" + argsHash))
}

// IsDerivedKey reports whether key is DerivedKey(tool, argsHash), without
// building it: every call with an explicit key asks.
func IsDerivedKey(key, tool, argsHash string) bool {
	rest, ok := strings.CutPrefix(key, derivedPrefix)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, tool)
	return ok && len(rest) == 1+len(argsHash) && rest[0] == ':' && rest[1:] == argsHash
}

// ArgsHash returns the hex SHA-256 of the tool name and the canonical JSON of
// its arguments, without KeyField and without any top-level field named in
// exclude. args is raw JSON (json.RawMessage or []byte) or any value that
// encoding/json can marshal, such as the map an MCP request carries (with
// numbers as json.Number, to keep them exact, or float64). Missing
// arguments (nil or JSON null) hash as an empty object.
//
// Strings and object keys are hashed in Unicode normalization form C, so
// canonically equivalent text is the same argument. A tool's own sameness
// (defaults, empty values, sets) is CallForm.ArgsHash.
func ArgsHash(tool string, args any, exclude ...string) (string, error) {
	return argsHash(tool, args, nil, exclude)
}

func argsHash(tool string, args any, f *CallForm, exclude []string) (string, error) {
	var buf bytes.Buffer
	buf.WriteString(tool)
	buf.WriteByte(0) // a tool name can never run into its arguments
	if m, ok := args.(map[string]any); ok {
		// The map an MCP request carries holds only what JSON decodes to, so
		// it can be written as it is: marshalling it and decoding it again
		// (below) would give the same value, at several times the cost.
		err := f.hashForm(&buf, m, exclude)
		if err == nil {
			return sum(buf.Bytes()), nil
		}
		if !errors.Is(err, errNotJSONValue) {
			return "", fmt.Errorf("hash arguments of %s: %w", tool, err)
		}
		buf.Truncate(len(tool) + 1)
	}
	var raw []byte
	switch a := args.(type) {
	case json.RawMessage:
		raw = a
	case []byte:
		raw = a
	default:
		var err error
		if raw, err = json.Marshal(args); err != nil {
			return "", fmt.Errorf("hash arguments of %s: %w", tool, err)
		}
	}
	if len(raw) == 0 {
		raw = []byte("null")
	}
	v, err := decodeOne(raw)
	if err != nil {
		return "", fmt.Errorf("hash arguments of %s: %w", tool, err)
	}
	switch obj := v.(type) {
	case nil:
		err = f.hashForm(&buf, map[string]any{}, exclude)
	case map[string]any:
		err = f.hashForm(&buf, obj, exclude)
	default:
		err = writeHash(&buf, v)
	}
	if err != nil {
		return "", fmt.Errorf("hash arguments of %s: %w", tool, err)
	}
	return sum(buf.Bytes()), nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Policy holds how long claims and keys live. A zero field takes its default.
type Policy struct {
	// Window is how long a derived key dedupes identical calls.
	Window time.Duration
	// KeyTTL is how long an explicit key is remembered.
	KeyTTL time.Duration
	// Lease is how long a claim may run before it is taken for in doubt.
	Lease time.Duration
}

// NewClaim builds the row a call claims: under its explicit key when it has
// one, else under the key derived from tool and argsHash. The row expires
// after KeyTTL or Window, measured from now, but not while its lease runs
// (see Claim.Expired), so a call slower than the window keeps its key.
//
// An explicit key equal to the key derived from tool and argsHash is the
// derived key: a caller repeating the key saas-mcp showed it retries that
// very call, so it claims the derived row, with the window's lifetime, and
// gets its stored result or its reconciliation. Any other explicit key that
// starts like a derived one is refused with ErrDerivedKeyMismatch.
func (p Policy) NewClaim(tool, explicitKey, argsHash, target, owner string, now time.Time) (Claim, error) {
	p = p.withDefaults()
	c := Claim{
		Tool:       tool,
		ArgsHash:   argsHash,
		Target:     target,
		Owner:      owner,
		State:      StateClaimed,
		ClaimedAt:  now,
		LeaseUntil: now.Add(p.Lease),
	}
	switch {
	case explicitKey == "" || IsDerivedKey(explicitKey, tool, argsHash):
		c.Key, c.ExpiresAt = DerivedKey(tool, argsHash), now.Add(p.Window)
	case strings.HasPrefix(explicitKey, derivedPrefix):
		return Claim{}, fmt.Errorf("%w: %q is not the key derived from this %s call", ErrDerivedKeyMismatch, explicitKey, tool)
	default:
		k, err := ExplicitKey(explicitKey)
		if err != nil {
			return Claim{}, err
		}
		c.Key, c.ExpiresAt = k, now.Add(p.KeyTTL)
	}
	return c, nil
}

func (p Policy) withDefaults() Policy {
	if p.Window <= 0 {
		p.Window = DefaultWindow
	}
	if p.KeyTTL <= 0 {
		p.KeyTTL = DefaultKeyTTL
	}
	if p.Lease <= 0 {
		p.Lease = DefaultLease
	}
	return p
}
