package push

import (
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Limits of subscriptions.
const (
	// MaxEndpointLength bounds an endpoint URL (real ones are under 600).
	MaxEndpointLength = 2048
	// MaxDevices is how many subscriptions one user keeps; a new one
	// beyond it replaces the least recently refreshed.
	MaxDevices = 20
)

// Subscription is one device's push subscription.
type Subscription struct {
	ID        string    `json:"id"`
	Endpoint  string    `json:"endpoint"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NewSubscription is what a browser's PushSubscription.toJSON() gives.
type NewSubscription struct {
	Endpoint string
	P256dh   string
	Auth     string
}

type subscriptionDoc struct {
	ID        string    `bson:"_id"` // hash of the endpoint: one document per device
	UserID    string    `bson:"user_id"`
	Endpoint  string    `bson:"endpoint"`
	P256dh    string    `bson:"p256dh"`
	Auth      string    `bson:"auth"`
	CreatedAt time.Time `bson:"created_at"`
	UpdatedAt time.Time `bson:"updated_at"`
}

func (d subscriptionDoc) public() Subscription {
	return Subscription{ID: d.ID, Endpoint: d.Endpoint, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// subscriptionID names a subscription by its endpoint, so the same device
// subscribing again (under any user) finds the same document.
func subscriptionID(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	return hex.EncodeToString(sum[:16])
}

// Subscribe saves a device's subscription for userID. The same endpoint
// subscribed again by another user moves to that user; new keys replace
// the old ones. It reports whether the subscription is new.
func (s *Service) Subscribe(ctx context.Context, userID string, in NewSubscription) (Subscription, bool, error) {
	defer s.userData.changed()
	f := fault.Fields{}
	endpoint := s.checkEndpoint(f, "endpoint", strings.TrimSpace(in.Endpoint))
	p256dh := checkKey(f, "keys.p256dh", in.P256dh, 65)
	authKey := checkKey(f, "keys.auth", in.Auth, 16)
	if p256dh != nil {
		if _, err := ecdh.P256().NewPublicKey(p256dh); err != nil {
			f.Add("keys.p256dh", "invalid")
		}
	}
	if err := f.Err(); err != nil {
		return Subscription{}, false, err
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	id := subscriptionID(endpoint)
	doc := subscriptionDoc{ID: id, UserID: userID, Endpoint: endpoint,
		P256dh: base64.RawURLEncoding.EncodeToString(p256dh), Auth: base64.RawURLEncoding.EncodeToString(authKey),
		CreatedAt: now, UpdatedAt: now}
	var before subscriptionDoc
	err := s.subs.FindOneAndUpdate(ctx, bson.M{"_id": id},
		bson.M{"$set": bson.M{"user_id": doc.UserID, "endpoint": doc.Endpoint, "p256dh": doc.P256dh, "auth": doc.Auth, "updated_at": now},
			"$setOnInsert": bson.M{"created_at": now}},
		&before, options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before))
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return Subscription{}, false, err
	}
	if !created {
		doc.CreatedAt = before.CreatedAt
		if before.UserID != userID || before.P256dh != doc.P256dh || before.Auth != doc.Auth {
			// Pushes made for the previous owner or keys must not reach
			// this device any more.
			s.revoke(id)
		}
	}
	if created || before.UserID != userID {
		if err := s.trimDevices(ctx, userID, id); err != nil {
			s.log.Warn("trim devices", "user", userID, "err", err)
		}
	}
	return doc.public(), created, nil
}

// trimDevices keeps a user's subscriptions within MaxDevices by removing
// the least recently refreshed ones (browsers re-subscribe on every visit).
func (s *Service) trimDevices(ctx context.Context, userID, keep string) error {
	var docs []subscriptionDoc
	if err := s.subs.FindAll(ctx, bson.M{"user_id": userID}, &docs,
		options.Find().SetSort(bson.D{{Key: "updated_at", Value: -1}}).SetProjection(bson.M{"_id": 1, "updated_at": 1})); err != nil {
		return err
	}
	for i := MaxDevices; i < len(docs); i++ {
		if docs[i].ID == keep {
			continue
		}
		if _, err := s.subs.DeleteOne(ctx, bson.M{"_id": docs[i].ID}); err != nil {
			return err
		}
		s.revoke(docs[i].ID)
	}
	return nil
}

// Unsubscribe removes userID's subscription of endpoint. It is idempotent:
// an endpoint that is not (or no longer) the user's changes nothing.
func (s *Service) Unsubscribe(ctx context.Context, userID, endpoint string) error {
	defer s.userData.changed()
	endpoint = strings.TrimSpace(endpoint)
	if endpoint == "" {
		return fault.Validation("endpoint", "required")
	}
	if len(endpoint) > MaxEndpointLength {
		return fault.Validation("endpoint", "too_long")
	}
	id := subscriptionID(endpoint)
	n, err := s.subs.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}})
	if err != nil {
		return err
	}
	if n > 0 {
		s.revoke(id)
	}
	return nil
}

// Logout is the api's LogoutHook: the device that signs out stops getting
// the user's pushes.
func (s *Service) Logout(ctx context.Context, userID, endpoint string) {
	if endpoint == "" {
		return
	}
	if err := s.Unsubscribe(ctx, userID, endpoint); err != nil && fault.KindOf(err) == fault.Internal {
		s.log.Warn("remove subscription at logout", "user", userID, "err", err)
	}
}

// Subscriptions lists a user's devices, newest first (at most MaxDevices).
func (s *Service) Subscriptions(ctx context.Context, userID string) ([]Subscription, error) {
	var docs []subscriptionDoc
	if err := s.subs.FindAll(ctx, bson.M{"user_id": userID}, &docs,
		options.Find().SetSort(bson.D{{Key: "updated_at", Value: -1}}).SetLimit(MaxDevices)); err != nil {
		return nil, err
	}
	out := make([]Subscription, len(docs))
	for i, d := range docs {
		out[i] = d.public()
	}
	return out, nil
}

// removeGone deletes a subscription the push service called gone (404/410).
func (s *Service) removeGone(ctx context.Context, id string) {
	defer s.userData.changed()
	if _, err := s.subs.DeleteOne(ctx, bson.M{"_id": id}); err != nil {
		s.log.Warn("delete gone subscription", "subscription", id, "err", err)
	}
	s.revoke(id)
}

// checkEndpoint accepts https URLs, and http on loopback when insecure
// endpoints are allowed (tests, development). A literal address the
// sender would refuse to dial is refused here already, so the user hears
// of it instead of their pushes silently failing; names are resolved, and
// checked, only when sending.
func (s *Service) checkEndpoint(f fault.Fields, field, endpoint string) string {
	if endpoint == "" {
		f.Add(field, "required")
		return ""
	}
	if len(endpoint) > MaxEndpointLength {
		f.Add(field, "too_long")
		return ""
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		f.Add(field, "invalid")
		return ""
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !s.opts.AllowInsecure || !isLoopbackHost(u.Hostname()) {
			f.Add(field, "insecure")
			return ""
		}
	default:
		f.Add(field, "invalid")
		return ""
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !dialable(ip, s.opts.AllowInsecure) {
		f.Add(field, "forbidden_address")
		return ""
	}
	return endpoint
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkKey decodes a base64url key (standard base64 and padding tolerated)
// of exactly n bytes.
func checkKey(f fault.Fields, field, v string, n int) []byte {
	if v == "" {
		f.Add(field, "required")
		return nil
	}
	if len(v) > 4*n {
		f.Add(field, "invalid")
		return nil
	}
	b, err := decodeKey(v)
	if err != nil || len(b) != n {
		f.Add(field, "invalid")
		return nil
	}
	return b
}

// Export is what push keeps of a user, for GET /me/export.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	subs, err := s.Subscriptions(ctx, userID)
	if err != nil {
		return nil, err
	}
	settings, err := s.Settings(ctx, userID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"subscriptions": subs, "settings": settings}, nil
}

// Erase deletes a user's devices and settings when the account is deleted.
func (s *Service) Erase(ctx context.Context, userID string) error {
	defer s.userData.changed()
	var docs []subscriptionDoc
	if err := s.subs.FindAll(ctx, bson.M{"user_id": userID}, &docs, options.Find().SetProjection(bson.M{"_id": 1})); err != nil {
		return err
	}
	for _, d := range docs {
		if _, err := s.subs.DeleteOne(ctx, bson.M{"_id": d.ID}); err != nil {
			return err
		}
		s.revoke(d.ID)
	}
	_, err := s.settings.DeleteOne(ctx, bson.M{"_id": userID})
	return err
}
