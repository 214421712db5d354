package config

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// .env.example says: copy it to .env and load it with
// `set -a; . ./.env; set +a` (README: Configuration). A user turns a setting
// on by uncommenting its line. Each line, uncommented, must load as it
// reads: the shell must accept it, and the variable must get the value the
// line shows. Six lines carried their bounds after the value in bare
// parentheses ("IDEMPOTENCY_WINDOW=10m      (1s to 8760h)"): the shell
// stopped at such a line with a syntax error, and nothing from there to the
// end of the file was loaded (READ_ONLY=true, set further down, was lost
// and serve wrote to the providers; found in review).
func TestEachEnvExampleLineLoadsAsItReadsOnceUncommented(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	f, err := os.Open(filepath.Join("..", "..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^(?:# )?([A-Z][A-Z0-9_]*)=(\S*)`)
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		text, name, want, n := strings.TrimPrefix(sc.Text(), "# "), m[1], m[2], n
		if strings.HasPrefix(want, "#") {
			want = ""
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(env, []byte(text+"\nAFTER=loaded\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(sh, "-c", `set -a; . "$1"; set +a; printf '%s|%s' "${`+name+`-<unset>}" "${AFTER-<unset>}"`, "sh", env)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != want+"|loaded" {
				t.Errorf(".env.example line %d %q, uncommented and loaded as the README says: got %q (err %v), want %s=%q and the lines after it loaded",
					n, text, out, err, name, want)
			}
		})
	}
}

// The value each commented line of .env.example shows is the default the
// binary uses (a user reading the file takes it for the default).
func TestEnvExampleShowsTheDefaultOfEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(?:# )?([A-Z][A-Z0-9_]*)=(\S*)`).FindAllStringSubmatch(string(b), -1) {
		shown[m[1]] = m[2]
	}
	for _, spec := range []any{Serve{}, Webhook{}} {
		rt := reflect.TypeOf(spec)
		for i := 0; i < rt.NumField(); i++ {
			key, def := rt.Field(i).Tag.Get("envconfig"), rt.Field(i).Tag.Get("default")
			if key == "" || def == "" {
				continue
			}
			v, ok := shown[key]
			if !ok {
				t.Errorf("%s is not in .env.example", key)
				continue
			}
			if v != def {
				t.Errorf(".env.example shows %s=%s, the default is %s", key, v, def)
			}
		}
	}
}
