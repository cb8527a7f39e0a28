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
