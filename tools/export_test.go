package tools

// Subscribers reports how many clients hold subscriptions, for tests.
func Subscribers(s *Server) int { return s.Stats().Subscribers }
