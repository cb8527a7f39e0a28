package hub

// Uncache drops the frames kept for replays in the streets, after their
// kept events were rewritten (events.Log.Forget, when an account is
// deleted). Replays are safe without it, here and on the other processes
// (cached checks each frame against the payload it replays); this only
// frees the stale frames at once.
func (h *Hub) Uncache(streetIDs ...string) {
	for _, sid := range streetIDs {
		h.mu.RLock()
		r := h.rooms[sid]
		h.mu.RUnlock()
		if r == nil {
			continue
		}
		r.mu.Lock()
		clear(r.recent)
		r.mu.Unlock()
	}
}

// Watching tells whether this process holds an open socket on the channel
// (a street, or a user's own channel): the conversations push only to
// those who are not connected anywhere.
func (h *Hub) Watching(channel string) bool {
	h.mu.RLock()
	r := h.rooms[channel]
	h.mu.RUnlock()
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.conns) > 0
}
