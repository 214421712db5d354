package chain

// enter marks key as held by a running call of this process; false if one
// already holds it.
func (m *Idempotency) enter(key string) bool {
	m.runningMu.Lock()
	defer m.runningMu.Unlock()
	if m.running[key] {
		return false
	}
	if m.running == nil {
		m.running = map[string]bool{}
	}
	m.running[key] = true
	return true
}

// leave ends enter's hold on key.
func (m *Idempotency) leave(key string) {
	m.runningMu.Lock()
	defer m.runningMu.Unlock()
	delete(m.running, key)
}

func (m *Idempotency) hit(point string) {
	if m.Failpoint != nil {
		m.Failpoint(point)
	}
}
