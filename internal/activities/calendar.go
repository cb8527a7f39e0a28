package activities

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The private calendar feed. Each user has at most one feed token, which
// a calendar app fetches without signing in: whoever holds the URL reads
// the events of the user's streets, so it is long, random, revocable
// (Rotate), and the database keeps only its hash as the lookup key.
//
// The token is HMAC(secret, user id ‖ nonce), base64url, where the nonce
// is random and kept in the user's feed document: GET /me/calendar can
// show the same URL again, the database alone (a backup, a leaked dump)
// does not give it, and a rotation draws a new nonce. A token is looked
// up by the SHA-256 of it (calendar_tokens, by _id) and checked against
// the user's current nonce, so a rotated token is refused even if the
// removal of its lookup document failed.

// TokenLen is a feed token's length: 24 bytes of HMAC, base64url.
const TokenLen = 32

// Feed window: events that ended up to feedPast ago stay in the feed
// (calendar apps keep recent history); at most feedPerStreet per street.
const (
	feedPast      = 30 * 24 * time.Hour
	feedPerStreet = 200
)

// feedDoc is a user's feed: the nonce its token is derived from.
type feedDoc struct {
	ID        string    `bson:"_id"` // the user's id
	Nonce     string    `bson:"nonce"`
	CreatedAt time.Time `bson:"created_at"`
}

// tokenDoc finds a feed by its token's hash.
type tokenDoc struct {
	ID     string `bson:"_id"` // hex SHA-256 of the token
	UserID string `bson:"user_id"`
}

func storedSecret(ctx context.Context, st *store.Store) ([]byte, error) {
	v, err := st.Setting(ctx, "calendar_secret", func() (string, error) {
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

func (s *Service) token(userID, nonce string) string {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(userID + "\x1f" + nonce))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:24])
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ParseToken reads a feed token from a URL's last segment ("<token>" or
// "<token>.ics"); ok is false for anything that cannot be one.
func ParseToken(raw string) (string, bool) {
	t := strings.TrimSuffix(raw, ".ics")
	if len(t) != TokenLen {
		return "", false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(t); err != nil {
		return "", false
	}
	return t, true
}

// FeedURL is where the feed of a token is read.
func (s *Service) FeedURL(token string) string {
	return s.public + "/api/v1/calendar/" + token + ".ics"
}

// CalendarURL returns the user's private feed URL, made on first use.
func (s *Service) CalendarURL(ctx context.Context, p auth.Principal) (string, error) {
	if p.UserID == "" {
		return "", ErrFeedNotFound
	}
	var f feedDoc
	err := s.feeds.FindOne(ctx, bson.M{"_id": p.UserID}, &f)
	if errors.Is(err, store.ErrNotFound) {
		return s.rotate(ctx, p.UserID, "")
	}
	if err != nil {
		return "", err
	}
	return s.FeedURL(s.token(p.UserID, f.Nonce)), nil
}

// RotateCalendar gives the user a new feed URL; the old one answers 404
// from then on.
func (s *Service) RotateCalendar(ctx context.Context, p auth.Principal) (string, error) {
	if p.UserID == "" {
		return "", ErrFeedNotFound
	}
	var f feedDoc
	err := s.feeds.FindOne(ctx, bson.M{"_id": p.UserID}, &f)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	return s.rotate(ctx, p.UserID, f.Nonce)
}

// rotate draws a new nonce for the user's feed in place of old ("" when
// there was none): the new lookup first, then the feed (conditional on
// the old nonce: of two rotations at once one wins, the other's lookup
// is removed), then the old lookup.
func (s *Service) rotate(ctx context.Context, userID, old string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	nonce := base64.RawURLEncoding.EncodeToString(b)
	tok := s.token(userID, nonce)
	if _, err := s.tokens.InsertOne(ctx, tokenDoc{ID: tokenHash(tok), UserID: userID}); err != nil {
		return "", err
	}
	won := false
	if old == "" {
		_, err := s.feeds.InsertOne(ctx, feedDoc{ID: userID, Nonce: nonce, CreatedAt: s.now()})
		switch {
		case store.IsDuplicate(err):
		case err != nil:
			return "", err
		default:
			won = true
		}
	} else {
		r, err := s.feeds.UpdateOne(ctx, bson.M{"_id": userID, "nonce": old}, bson.M{"$set": bson.M{"nonce": nonce}})
		if err != nil {
			return "", err
		}
		won = r.MatchedCount == 1
	}
	if !won {
		// Another request made or rotated the feed meanwhile: theirs
		// stands, and is the caller's URL too.
		if _, err := s.tokens.DeleteOne(ctx, bson.M{"_id": tokenHash(tok)}); err != nil {
			s.log.Warn("activities: unused feed token kept", "err", err)
		}
		var f feedDoc
		if err := s.feeds.FindOne(ctx, bson.M{"_id": userID}, &f); err != nil {
			return "", err
		}
		return s.FeedURL(s.token(userID, f.Nonce)), nil
	}
	if old != "" {
		if _, err := s.tokens.DeleteOne(ctx, bson.M{"_id": tokenHash(s.token(userID, old))}); err != nil {
			s.log.Warn("activities: old feed token kept (refused anyway)", "err", err)
		}
	}
	return s.FeedURL(tok), nil
}

// Feed is the calendar of a feed token: the events of all the user's
// streets (active memberships, read now) not ended more than 30 days
// ago. An unknown or rotated token gets ErrFeedNotFound.
func (s *Service) Feed(ctx context.Context, raw string) ([]byte, error) {
	tok, ok := ParseToken(raw)
	if !ok {
		return nil, ErrFeedNotFound
	}
	var td tokenDoc
	err := s.tokens.FindOne(ctx, bson.M{"_id": tokenHash(tok)}, &td)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrFeedNotFound
	}
	if err != nil {
		return nil, err
	}
	var f feedDoc
	err = s.feeds.FindOne(ctx, bson.M{"_id": td.UserID}, &f)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrFeedNotFound
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(s.token(td.UserID, f.Nonce)), []byte(tok)) != 1 {
		return nil, ErrFeedNotFound // rotated
	}
	mine, err := s.deps.Streets.UserStreets(ctx, td.UserID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var docs []eventDoc
	for _, st := range mine {
		if st.Status != streets.StatusActive {
			continue
		}
		page, _, err := s.page(ctx, st.StreetID, now.Add(-feedPast), nil, now, feedPerStreet)
		if err != nil {
			return nil, err
		}
		docs = append(docs, page...)
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].StartsAt.Before(docs[j].StartsAt) })
	return s.calendar(docs, "Civico"), nil
}

// eraseFeed removes the user's feed and its lookup.
func (s *Service) eraseFeed(ctx context.Context, userID string) error {
	var f feedDoc
	err := s.feeds.FindOne(ctx, bson.M{"_id": userID}, &f)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := s.tokens.DeleteOne(ctx, bson.M{"_id": tokenHash(s.token(userID, f.Nonce))}); err != nil {
		return err
	}
	_, err = s.feeds.DeleteOne(ctx, bson.M{"_id": userID})
	return err
}
