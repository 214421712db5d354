package chain

import (
	"context"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// Policy is what the guard enforces besides the sandbox/live rules.
type Policy struct {
	// ReadOnly refuses every tool that is not read-only.
	ReadOnly bool
}

// Guard applies the sandbox/live rules to the credentials a tool would use,
// and the policy. The error names the rule and the variable.
func Guard(env string, secrets config.Secrets, p Policy) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, c *Call) (Result, error) {
			if p.ReadOnly && !c.Tool.ReadOnly {
				return Result{}, Errorf(KindPolicy, "read-only rule: READ_ONLY=true refuses %s, which changes %s", c.Tool.Name, c.Tool.Provider)
			}
			for _, name := range c.Tool.Credentials {
				s, ok := secrets.Get(name)
				if !ok {
					continue
				}
				if err := config.CheckCredential(env, name, s); err != nil {
					return Result{}, &Error{Kind: KindPolicy, Message: err.Error()}
				}
			}
			return next(ctx, c)
		}
	}
}

// Secrets puts the tool's credentials on the call. A tool that needs a
// credential and has none gets an error naming the variables to set.
func Secrets(secrets config.Secrets) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, c *Call) (Result, error) {
			if len(c.Tool.Credentials) > 0 {
				c.Credentials = make(map[string]config.Secret, len(c.Tool.Credentials))
				for _, name := range c.Tool.Credentials {
					if s, ok := secrets.Get(name); ok {
						c.Credentials[name] = s
					}
				}
				if len(c.Credentials) == 0 {
					names := make([]string, 0, 2*len(c.Tool.Credentials))
					for _, n := range c.Tool.Credentials {
						names = append(names, n, n+"_FILE")
					}
					return Result{}, Errorf(KindCredential, "missing credential: %s needs %s to be set", c.Tool.Name, orList(names))
				}
			}
			return next(ctx, c)
		}
	}
}

func orList(names []string) string {
	s := ""
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			s += " or "
		default:
			s += ", "
		}
		s += n
	}
	return s
}
