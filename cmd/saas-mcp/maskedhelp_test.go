package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// The webhooks and worker help name every credential serve reads and the
// shortest length one may have, as config and redact define them (a
// reviewer's observation: the text is written out by hand).
func TestTheWebhookHelpNamesServesCredentialsAndTheirShortestLength(t *testing.T) {
	t.Parallel()
	for name, help := range map[string]string{"webhooks": webhooksHelp, "worker": workerHelp} {
		for _, v := range config.CredentialNames {
			assert.Contains(t, help, v, "%s help", name)
		}
		assert.Contains(t, help, fmt.Sprintf("shorter than %d characters", redact.MinSecret), "%s help", name)
	}
}
