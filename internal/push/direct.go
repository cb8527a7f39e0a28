package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"civico/internal/events"
	"civico/internal/store"
)

// Notes: pushes to one user that no street event carries (the warm
// hand-off asks a post's author how it went). They go through the same
// outbox as events: one job, expanded into one delivery per device in the
// user's language, held by quiet hours, retried, surviving restarts.

// typeDirect is the job type of a note.
const typeDirect events.Type = "push.note"

// Action is a button on a notification; the service worker shows it and
// opens the note's URL with ?answer=<action> when it is tapped.
type Action struct {
	Action string `json:"action"`
	Title  string `json:"title"`
}

// NoteText is a note in one language.
type NoteText struct {
	Title   string   `json:"title"`
	Body    string   `json:"body"`
	Actions []Action `json:"actions,omitempty"`
}

// Note is a push to one user.
type Note struct {
	// Key makes the note idempotent: a second Notify with the same key
	// while the first is still in the outbox does nothing.
	Key      string
	UserID   string
	StreetID string
	URL, Tag string
	// Texts by locale; "it" is used for any other locale.
	Texts map[string]NoteText
	// TTL is how long a push service keeps it for a phone that is off.
	TTL time.Duration
}

// noteDoc is a note as its job's payload.
type noteDoc struct {
	URL   string              `json:"url"`
	Tag   string              `json:"tag"`
	Texts map[string]NoteText `json:"texts"`
	TTL   int                 `json:"ttl"`
}

// notePayload is what the service worker receives for a note.
type notePayload struct {
	Payload
	Actions []Action `json:"actions,omitempty"`
}

// ErrNoteInvalid says a note lacks a key, a user or texts.
var ErrNoteInvalid = errors.New("push: a note needs a key, a user and an Italian text")

// Notify queues a note to n.UserID's devices. It returns once the note is
// in the outbox (persisted): a restart still sends it.
func (s *Service) Notify(ctx context.Context, n Note) error {
	if n.Key == "" || n.UserID == "" || n.Texts["it"].Title == "" {
		return ErrNoteInvalid
	}
	if n.TTL <= 0 {
		n.TTL = 24 * time.Hour
	}
	payload, err := json.Marshal(noteDoc{URL: n.URL, Tag: n.Tag, Texts: n.Texts, TTL: int(n.TTL / time.Second)})
	if err != nil {
		return err
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	j := jobDoc{ID: "note:" + n.Key, Type: string(typeDirect), StreetID: n.StreetID, Payload: string(payload),
		SubjectID: n.UserID, At: now, CreatedAt: now, Owner: s.owners.Self()}
	s.mu.Lock()
	if _, ok := s.jobs[j.ID]; ok {
		s.mu.Unlock()
		return nil
	}
	j.Bucket = s.buckets.pinNew(now)
	st := &jobState{doc: j, bucket: j.Bucket, writing: true}
	s.jobs[j.ID] = st
	s.mu.Unlock()
	if _, err := s.jobColl.InsertOne(ctx, j); err != nil {
		s.forgetJob(j.ID)
		if store.IsDuplicate(err) {
			// Already in the outbox (queued by another process, or left
			// by a previous run): its owner sends it.
			return nil
		}
		return err
	}
	s.written(st)
	if s.started.Load() && !s.closed.Load() {
		s.queueJob(j, st)
	}
	return nil
}

// composeNote renders a note's job for locale.
func composeNote(j jobDoc, locale string) (message, bool) {
	m := message{urgency: "normal"}
	var d noteDoc
	if json.Unmarshal([]byte(j.Payload), &d) != nil {
		return m, false
	}
	t, ok := d.Texts[locale]
	if !ok {
		t = d.Texts["it"]
	}
	if t.Title == "" {
		return m, false
	}
	p := notePayload{Payload: Payload{Title: clean(t.Title, maxTitleRunes), Body: clean(t.Body, maxBodyRunes), URL: d.URL, Tag: d.Tag}}
	for _, a := range t.Actions {
		p.Actions = append(p.Actions, Action{Action: clean(a.Action, 32), Title: clean(a.Title, 40)})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(p) != nil {
		return m, false
	}
	m.payload = bytes.TrimRight(buf.Bytes(), "\n")
	if len(m.payload) > maxPayload {
		// Titles and bodies are bounded above, and actions are ours: only
		// a note built wrongly gets here; drop the actions, then shorten.
		m.payload = p.Payload.encode()
	}
	m.ttl, m.topic = d.TTL, topic(d.Tag)
	return m, true
}
