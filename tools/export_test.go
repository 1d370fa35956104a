package tools

// Subscribers reports how many clients hold subscriptions, for tests.
func Subscribers(s *Server) int {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	return len(s.subs.clients)
}
