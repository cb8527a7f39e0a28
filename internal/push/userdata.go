package push

import (
	"context"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// userData keeps the subscriptions and settings collections in memory on
// the embedded engine. That engine answers "these users' documents" only
// by reading a collection whole, and every post's fan-out needs both for
// all of the street's members: a copy read once serves every fan-out until
// this process writes either collection again (on the embedded engine it
// is the only writer). Every write calls changed when it is done.
type userData struct {
	mu     sync.Mutex
	gen    int64 // bumped by every write
	loaded int64 // the gen the copy was read at; -1: none
	subs   map[string][]subscriptionDoc
	prefs  map[string]prefs
}

func newUserData() *userData { return &userData{loaded: -1} }

// changed says a write to either collection is done: the copy is stale.
func (u *userData) changed() {
	u.mu.Lock()
	u.gen++
	u.mu.Unlock()
}

// userCopy returns the copy, reading it first if a write made it stale. The
// maps are shared: callers only read them.
func (s *Service) userCopy(ctx context.Context) (map[string][]subscriptionDoc, map[string]prefs, error) {
	u := s.userData
	u.mu.Lock()
	if u.loaded == u.gen {
		subs, prefs := u.subs, u.prefs
		u.mu.Unlock()
		return subs, prefs, nil
	}
	gen := u.gen
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	subs := map[string][]subscriptionDoc{}
	if err := s.subs.Each(ctx, bson.M{}, func(raw bson.Raw) error {
		var d subscriptionDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		subs[d.UserID] = append(subs[d.UserID], d)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	prefsByUser := map[string]prefs{}
	if err := s.settings.Each(ctx, bson.M{}, func(raw bson.Raw) error {
		var d settingsDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		prefsByUser[d.UserID] = d.prefs()
		return nil
	}); err != nil {
		return nil, nil, err
	}
	u.mu.Lock()
	if u.gen == gen { // no write finished meanwhile: the copy is current
		u.subs, u.prefs, u.loaded = subs, prefsByUser, gen
	}
	u.mu.Unlock()
	return subs, prefsByUser, nil
}
