package notices

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"time"

	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// What a user may choose for replies to their posts.
const (
	RepliesImmediately = "immediately"
	RepliesDigest      = "digest"
	RepliesOff         = "off"
)

// What a user may choose for the street digest.
const (
	DigestDaily  = "daily"
	DigestWeekly = "weekly"
	DigestOff    = "off"
)

// The settings an unsubscribe link may turn off.
const (
	SettingReplies = "replies"
	SettingDigest  = "digest"
)

// Settings are a user's email choices.
type Settings struct {
	// Replies to my posts: immediately (when no push device of mine can
	// tell), listed in the digest, or off. Default immediately.
	Replies string `json:"replies"`
	// Digest of the street's new requests and offers: daily, weekly
	// (Monday morning in my time zone) or off. Default weekly.
	Digest string `json:"digest"`
}

// Defaults are the choices of a user who made none.
var Defaults = Settings{Replies: RepliesImmediately, Digest: DigestWeekly}

// maxPending bounds the replies kept for a user's next digest; past it
// newer replies are not listed (the post shows them all).
const maxPending = 50

// settingsDoc is a user's document. Fields are absent until chosen.
type settingsDoc struct {
	UserID  string `bson:"_id"`
	Replies string `bson:"replies,omitempty"`
	Digest  string `bson:"digest,omitempty"`
	// Pending are the replies to list in the next digest, by reply id
	// (a map: an entry is added with $set and dropped with $unset, both
	// single-document updates the two engines apply alike).
	Pending map[string]pendingReply `bson:"pending,omitempty"`
	// Sent says, by street id, the last digest period queued for the user.
	Sent      map[string]sentMark `bson:"sent,omitempty"`
	UpdatedAt time.Time           `bson:"updated_at,omitempty"`
}

// pendingReply is a reply waiting for its digest.
type pendingReply struct {
	StreetID   string    `bson:"street_id" json:"street_id"`
	PostID     string    `bson:"post_id" json:"post_id"`
	PostTitle  string    `bson:"post_title" json:"post_title"`
	AuthorName string    `bson:"author_name" json:"author_name"`
	Body       string    `bson:"body" json:"body"`
	At         time.Time `bson:"at" json:"at"`
}

// sentMark is the last digest queued for one street: its period and when.
type sentMark struct {
	Period string    `bson:"p"`
	At     time.Time `bson:"at"`
}

// public is the document's choices, defaults filled in.
func (d settingsDoc) public() Settings {
	out := Defaults
	if d.Replies != "" {
		out.Replies = d.Replies
	}
	if d.Digest != "" {
		out.Digest = d.Digest
	}
	return out
}

// doc reads a user's document; a user without one gets an empty one.
func (s *Service) doc(ctx context.Context, userID string) (settingsDoc, error) {
	d := settingsDoc{UserID: userID}
	err := s.settings.FindOne(ctx, bson.M{"_id": userID}, &d)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return settingsDoc{}, err
	}
	return d, nil
}

// Settings returns the user's email choices.
func (s *Service) Settings(ctx context.Context, userID string) (Settings, error) {
	d, err := s.doc(ctx, userID)
	if err != nil {
		return Settings{}, err
	}
	return d.public(), nil
}

// SetSettings changes the user's email choices; an empty field keeps its
// value. An invalid value changes nothing.
func (s *Service) SetSettings(ctx context.Context, userID string, in Settings) (Settings, error) {
	f := fault.Fields{}
	f.Check(in.Replies != "" && !slices.Contains([]string{RepliesImmediately, RepliesDigest, RepliesOff}, in.Replies), "email.replies", "invalid")
	f.Check(in.Digest != "" && !slices.Contains([]string{DigestDaily, DigestWeekly, DigestOff}, in.Digest), "email.digest", "invalid")
	if err := f.Err(); err != nil {
		return Settings{}, err
	}
	set := bson.M{"updated_at": s.clock.Now().UTC().Truncate(time.Millisecond)}
	if in.Replies != "" {
		set["replies"] = in.Replies
	}
	if in.Digest != "" {
		set["digest"] = in.Digest
	}
	if err := s.upsert(ctx, userID, bson.M{"$set": set}); err != nil {
		return Settings{}, err
	}
	return s.Settings(ctx, userID)
}

// upsert applies update to the user's document, creating it if needed.
func (s *Service) upsert(ctx context.Context, userID string, update bson.M) error {
	_, err := s.settings.UpdateOne(ctx, bson.M{"_id": userID}, update, options.UpdateOne().SetUpsert(true))
	if store.IsDuplicate(err) { // two first writes at once: the document exists now
		_, err = s.settings.UpdateOne(ctx, bson.M{"_id": userID}, update)
	}
	return err
}

// Export is what notices keeps of a user, for GET /me/export.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	d, err := s.doc(ctx, userID)
	if err != nil {
		return nil, err
	}
	pending := make([]pendingReply, 0, len(d.Pending))
	for _, p := range d.Pending {
		pending = append(pending, p)
	}
	slices.SortFunc(pending, func(a, b pendingReply) int { return a.At.Compare(b.At) })
	return map[string]any{"settings": d.public(), "replies_for_digest": pending}, nil
}

// Erase deletes what notices keeps of a user whose account is deleted.
func (s *Service) Erase(ctx context.Context, userID string) error {
	_, err := s.settings.DeleteOne(ctx, bson.M{"_id": userID})
	return err
}

// storedSecret is the unsubscribe key kept in the database.
func storedSecret(ctx context.Context, st *store.Store) ([]byte, error) {
	v, err := st.Setting(ctx, "unsubscribe_secret", func() (string, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return base64.RawURLEncoding.EncodeToString(b), nil
	})
	if err != nil {
		return nil, err
	}
	return base64.RawURLEncoding.DecodeString(v)
}
