package chain

// enter marks key as held by a running call of this process, whose
// arguments hash to argsHash; if one already holds it, it returns that
// call's hash and false.
func (m *Idempotency) enter(key, argsHash string) (held string, ok bool) {
	m.runningMu.Lock()
	defer m.runningMu.Unlock()
	if h, busy := m.running[key]; busy {
		return h, false
	}
	if m.running == nil {
		m.running = map[string]string{}
	}
	m.running[key] = argsHash
	return "", true
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
