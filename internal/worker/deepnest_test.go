package worker

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// A payload nested 10 million deep (10 MB of "[", under GitHub's 25 MiB
// body limit) is refused as json.Unmarshal refused it. Found in review:
// gjson's validator, which recurses once per level, ran before the depth
// check, overflowed the 1 GB goroutine stack and killed the process. In a
// child process, so that such a crash fails this test only.
func TestADeeplyNestedGitHubPayloadIsRefusedWithoutACrash(t *testing.T) {
	t.Parallel()
	if os.Getenv("SAAS_MCP_TEST_DEEP_CHILD") == "1" {
		raw := bytes.Repeat([]byte("["), 10_000_000)
		var p githubPayload
		if json.Unmarshal(raw, &p) == nil {
			t.Fatal("encoding/json accepted it")
		}
		if _, err := parseGitHub(raw); err == nil {
			t.Fatal("parseGitHub accepted it")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestADeeplyNestedGitHubPayloadIsRefusedWithoutACrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SAAS_MCP_TEST_DEEP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		head := out
		if len(head) > 300 {
			head = head[:300]
		}
		t.Fatalf("parsing a deeply nested payload killed the process: %v\n%s", err, head)
	}
}
