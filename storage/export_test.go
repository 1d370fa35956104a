package storage

// SubscriptionState reports, for tests, whether sub is fed from memory
// (live) and how many events it has queued.
func SubscriptionState(sub *Subscription) (live bool, queued int) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.live, len(sub.queue)
}
