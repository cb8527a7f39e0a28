package posts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Idempotent writes. The PWA's outbox sends a post or a reply written
// offline with an Idempotency-Key and sends it again, with the same key,
// until it gets an answer: a request whose answer was lost must not make a
// second post. Each key is claimed first, in a document whose _id is the
// key's scope (user, kind of write, key) so that the lookup is by _id and
// the engine's unique _id lets only one request win the claim. The claim
// fixes the id of the object to write and a hash of the request; the object
// is written second. A retry finds the claim: with the same request it gets
// the object already written (created false: the api answers 200 instead
// of 201) or, when the object was never written (a failed write, a crash
// between the two), writes it now; with a different request it is a
// conflict. In one process, requests with one key are serialised, so
// concurrent duplicates wait for the first and then replay it; across
// processes the claim's unique _id lets one win and the other answers
// ErrIdempotencyBusy. The rate limit counts a key once: only a new claim
// is charged.

// Key bounds: long enough not to collide by chance, short enough for an
// _id; printable ASCII only (a header value).
const (
	MinKeyLen = 8
	MaxKeyLen = 128
	// ClaimTTL is how long a key is remembered at least: a retry later than
	// this makes a new post. The outbox retries within minutes or hours.
	ClaimTTL = 24 * time.Hour
	// ClaimGrace is how long a claim whose post is not written yet is left
	// to the request that made it (perhaps on another process) before a
	// retry takes it over as the claim of a request that died.
	ClaimGrace = 2 * time.Minute
	// claimSweepEvery spaces out the sweeps of old claims: each scans the
	// claims collection on the embedded engine.
	claimSweepEvery = 10 * time.Minute
)

// Kinds of idempotent write: a key is scoped to one of them.
const (
	claimPost  = "post"  // POST /streets/:sid/posts
	claimDesk  = "desk"  // POST /associations/:aid/members/:mid/posts (OnBehalf)
	claimReply = "reply" // POST /posts/:pid/replies
)

// Errors of idempotent writes.
var (
	ErrBadIdempotencyKey   = fault.New(fault.BadRequest, "invalid_idempotency_key", "Idempotency-Key must be 8 to 128 printable ASCII characters")
	ErrIdempotencyConflict = fault.New(fault.Conflict, "idempotency_conflict", "this idempotency key was already used for a different request")
	// ErrIdempotencyBusy is a claim won by another process for the same
	// request, not yet written: the client should retry. Duplicates on one
	// process never see it (they wait for each other).
	ErrIdempotencyBusy = fault.New(fault.Conflict, "idempotency_in_progress", "a request with this idempotency key is still being processed")
)

// claimDoc is one used idempotency key.
type claimDoc struct {
	ID     string `bson:"_id"` // user:kind:key
	UserID string `bson:"user_id"`
	Kind   string `bson:"kind"`
	// Target is the street (posts) or post (replies) written to.
	Target string `bson:"target"`
	// Hash identifies the request: the same key with another hash is a conflict.
	Hash string `bson:"hash"`
	// ObjectID is the post or reply the key stands for, fixed before it is written.
	ObjectID  bson.ObjectID `bson:"object_id"`
	CreatedAt time.Time     `bson:"created_at"`
}

// claimSweep remembers when old claims were last swept.
type claimSweep struct {
	mu   sync.Mutex
	next time.Time
}

// CheckKey tells whether key may be used as an idempotency key; the empty
// key (none sent) is fine.
func CheckKey(key string) error {
	if key == "" {
		return nil
	}
	if len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return ErrBadIdempotencyKey
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return ErrBadIdempotencyKey
		}
	}
	return nil
}

func claimID(userID, kind, key string) string { return userID + ":" + kind + ":" + key }

// requestHash is a digest of a request's normalised parts, each
// length-prefixed so that no two requests share it by concatenation.
func requestHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		l := uint64(len(p))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func timeKey(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// postClaim is the claim a new post's key would make; in has been
// validated and normalised (trimmed, when in UTC), behalf trimmed.
func postClaim(p auth.Principal, streetID string, in NewPost, behalf *OnBehalf) *claimDoc {
	kind := claimPost
	parts := []string{streetID, in.Kind, in.Category, in.Title, in.Body, "", ""}
	if w := normalizeWhen(in.When); w != nil {
		parts[5], parts[6] = timeKey(w.From), timeKey(w.To)
	}
	parts = append(parts, photoKey(in.Photos)...) // none: the hash of before
	if behalf != nil {
		// The member's display name is left out: the roster may shorten it
		// differently between a request and its retry.
		kind = claimDesk
		parts = append(parts, behalf.AssociationID, behalf.MemberID)
	}
	return &claimDoc{ID: claimID(p.UserID, kind, in.IdempotencyKey), UserID: p.UserID, Kind: kind, Target: streetID,
		Hash: requestHash(parts...), ObjectID: bson.NewObjectID()}
}

// replyClaim is the claim a new reply's key would make; body is trimmed.
func replyClaim(p auth.Principal, postID, body, key string, photo []PhotoIn) *claimDoc {
	return &claimDoc{ID: claimID(p.UserID, claimReply, key), UserID: p.UserID, Kind: claimReply, Target: postID,
		Hash: requestHash(append([]string{postID, body}, photoKey(photo)...)...), ObjectID: bson.NewObjectID()}
}

// findClaim returns the claim already made on want's key, nil when there is
// none; a claim made for another request is a conflict.
func (s *Service) findClaim(ctx context.Context, want *claimDoc) (*claimDoc, error) {
	var c claimDoc
	err := s.claims.FindOne(ctx, bson.M{"_id": want.ID}, &c)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.Hash != want.Hash || c.Kind != want.Kind || c.Target != want.Target {
		return nil, ErrIdempotencyConflict
	}
	return &c, nil
}

// takeClaim writes a new claim. Losing it to a concurrent request means
// another street (a conflict) or another process (busy).
func (s *Service) takeClaim(ctx context.Context, c *claimDoc) error {
	c.CreatedAt = s.now()
	_, err := s.claims.InsertOne(ctx, c)
	if err == nil || !store.IsDuplicate(err) {
		return err
	}
	if _, err := s.findClaim(ctx, c); err != nil {
		return err
	}
	return ErrIdempotencyBusy
}

// settlePost resolves a new post's key, under the key's lock: it
// returns the post already written for it (a replay), or the id to write
// the post with. A claim whose post was never written is taken over with a
// fresh id, since the street's journal may already name the old one (a
// crash between the journal and the post), and a name in the journal must
// stand for at most one post. Only a new claim is charged to the rate limit.
func (s *Service) settlePost(ctx context.Context, p auth.Principal, streetID string, in NewPost, behalf *OnBehalf) (bson.ObjectID, *postDoc, error) {
	want := postClaim(p, streetID, in, behalf)
	prev, err := s.findClaim(ctx, want)
	if err != nil {
		return bson.ObjectID{}, nil, err
	}
	if prev == nil {
		if ok, wait := s.allowed(s.postLimit.Allow(ctx, p.UserID)); !ok {
			return bson.ObjectID{}, nil, ErrPostRateLimited.WithRetry(wait)
		}
		if err := s.takeClaim(ctx, want); err != nil {
			return bson.ObjectID{}, nil, err
		}
		return want.ObjectID, nil, nil
	}
	d, err := s.load(ctx, prev.ObjectID.Hex())
	if err == nil {
		return d.ID, d, nil
	}
	if !errors.Is(err, ErrPostNotFound) {
		return bson.ObjectID{}, nil, err
	}
	// No post yet: its request may still be writing it on another
	// process. Only a claim older than ClaimGrace is taken over, by one
	// request: the update is conditional on the id it names.
	now := s.now()
	if now.Sub(prev.CreatedAt) < ClaimGrace {
		return bson.ObjectID{}, nil, ErrIdempotencyBusy
	}
	id := bson.NewObjectID()
	r, err := s.claims.UpdateOne(ctx, bson.M{"_id": prev.ID, "object_id": prev.ObjectID},
		bson.M{"$set": bson.M{"object_id": id, "created_at": now}})
	if err != nil {
		return bson.ObjectID{}, nil, err
	}
	if r.MatchedCount == 0 {
		return bson.ObjectID{}, nil, ErrIdempotencyBusy
	}
	return id, nil, nil
}

// replayReply looks a new reply's key up, under the key's lock: it
// returns the reply already written and listed on the post (a replay), or
// the claim to write the reply under (prev, when a claim exists whose reply
// never made it onto the post: it is written now, with the claim's id; or
// want, a new claim, to take with takeClaim once the post is known to take
// the reply).
func (s *Service) replayReply(ctx context.Context, cur *postDoc, want *claimDoc) (*claimDoc, *replyDoc, bool, error) {
	prev, err := s.findClaim(ctx, want)
	if err != nil {
		return nil, nil, false, err
	}
	if prev == nil {
		return want, nil, true, nil
	}
	id := prev.ObjectID.Hex()
	for _, rid := range cur.ReplyIDs {
		if rid == id {
			r, err := s.loadReply(ctx, id)
			if err != nil {
				return nil, nil, false, err
			}
			return prev, r, false, nil
		}
	}
	return prev, nil, false, nil
}

// SweepClaims forgets idempotency keys older than ClaimTTL. It runs at most
// every ten minutes (it scans the claims collection); the app calls it with
// the other sweeps. Several processes sweeping is harmless: each deletes by
// age, and a claim is a unique _id, so no sweep can undo another's work or
// let a key be claimed twice.
func (s *Service) SweepClaims(ctx context.Context) error {
	now := s.now()
	s.claimSweep.mu.Lock()
	if now.Before(s.claimSweep.next) {
		s.claimSweep.mu.Unlock()
		return nil
	}
	s.claimSweep.next = now.Add(claimSweepEvery)
	s.claimSweep.mu.Unlock()
	_, err := s.claims.DeleteMany(ctx, bson.M{"created_at": bson.M{"$lt": now.Add(-ClaimTTL)}})
	if err != nil {
		return err
	}
	return nil
}

// CreateOnce is Create that also tells whether the post was created now:
// false when in.IdempotencyKey was used before for the same request by the
// same user, and the post is the one that request created.
func (s *Service) CreateOnce(ctx context.Context, p auth.Principal, streetID string, in NewPost) (Post, bool, error) {
	return s.create(ctx, p, streetID, in)
}

// ReplyOnce is Reply with an idempotency key (may be empty): the same key
// again from the same user, for the same reply, answers the reply already
// written with created false.
func (s *Service) ReplyOnce(ctx context.Context, p auth.Principal, postID, body, key string) (Reply, bool, error) {
	return s.reply(ctx, p, postID, NewReply{Body: body}, key)
}

// ReplyWith is ReplyOnce with a photo.
func (s *Service) ReplyWith(ctx context.Context, p auth.Principal, postID string, in NewReply, key string) (Reply, bool, error) {
	return s.reply(ctx, p, postID, in, key)
}
