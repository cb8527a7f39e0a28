package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Forget rewrites the kept events caused by or about userID (ActorID or
// SubjectID), when their account is deleted: in the ids and the payload
// their id becomes alias (their pseudonym), the name next to it is emptied
// and their posts and replies lose their body and photos (clients read the current
// text from the API), so a client resuming from an older event replays
// nothing that names them. Only the persisted log and its
// in-memory window change; subscribers are not called again (the services
// publish what changed as new events). It scans the log, which is bounded
// by count and age: fine for a deletion, never a hot path. It returns the
// streets whose events changed, for caches of encoded frames (the hub's).
func (l *Log) Forget(ctx context.Context, userID, alias string) ([]string, error) {
	if userID == "" || alias == "" || userID == alias {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := l.settle(ctx); err != nil {
		return nil, err
	}
	var recs []record
	if err := l.c.FindAll(ctx, bson.M{"$or": bson.A{bson.M{"actor_id": userID}, bson.M{"subject_id": userID}}}, &recs); err != nil {
		return nil, err
	}
	byStreet := map[string]map[int64]record{}
	for _, r := range recs {
		r.Payload = forgetPayload(r.Payload, userID, alias)
		if r.ActorID == userID {
			r.ActorID = alias
		}
		if r.SubjectID == userID {
			r.SubjectID = alias
		}
		if _, err := l.c.UpdateOne(ctx, bson.M{"_id": r.ID}, bson.M{"$set": bson.M{"payload": r.Payload, "actor_id": r.ActorID,
			"subject_id": r.SubjectID}}); err != nil {
			return nil, err
		}
		if byStreet[r.StreetID] == nil {
			byStreet[r.StreetID] = map[int64]record{}
		}
		byStreet[r.StreetID][r.Seq] = r
	}
	streets := make([]string, 0, len(byStreet))
	for sid, changed := range byStreet {
		streets = append(streets, sid)
		s := l.street(sid)
		s.mu.Lock()
		for i := range s.recent {
			if r, ok := changed[s.recent[i].Seq]; ok {
				// New values, not changes in place: Since hands out copies
				// that share the old payload.
				s.recent[i].Payload = json.RawMessage(r.Payload)
				s.recent[i].ActorID, s.recent[i].SubjectID = r.ActorID, r.SubjectID
				s.recent[i].Data = nil
			}
		}
		s.mu.Unlock()
	}
	sort.Strings(streets)
	return streets, nil
}

// forgetPayload replaces userID by alias in a payload's id fields and
// empties the names and post bodies that go with them.
func forgetPayload(payload, userID, alias string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return payload
	}
	changed := false
	if m["author_id"] == userID {
		m["author_id"], m["author_name"], m["author_deleted"] = alias, "", true
		delete(m, "body")
		delete(m, "photos") // they go with the account
		changed = true
	}
	if m["user_id"] == userID {
		m["user_id"], m["name"] = alias, ""
		changed = true
	}
	if m["post_author_id"] == userID {
		m["post_author_id"] = alias
		changed = true
	}
	if !changed {
		return payload
	}
	out, err := json.Marshal(m)
	if err != nil {
		return payload
	}
	return string(out)
}

// settle waits until every event published so far is persisted (early
// mode hands events out before), so that a scan of the log sees them.
func (l *Log) settle(ctx context.Context) error {
	for _, s := range l.allStreets() {
		s.mu.Lock()
		ch := s.persisted
		s.mu.Unlock()
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("events: waiting for the log to be written: %w", ctx.Err())
		}
	}
	return nil
}
