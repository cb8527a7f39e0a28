package streets

import (
	"context"
	"errors"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// migrate completes what was written before streets were read from the
// database on every use: street documents with no admin_count (nor member
// count, folded name and city) or no slug (slug.go; also given lazily on
// read, for streets a process of an older version writes meanwhile), and
// users with no user_streets list. It
// runs at every start and is idempotent; two processes starting together
// compute the same values, and each write's $exists:false filter (or
// $addToSet) makes the second a no-op.
func (s *Service) migrate(ctx context.Context) error {
	if err := s.countStreets(ctx); err != nil {
		return err
	}
	if err := s.backfillSlugs(ctx); err != nil {
		return err
	}
	return s.indexUsers(ctx)
}

// countStreets gives each street written without them its counts of
// active members and admins, read once from its memberships.
func (s *Service) countStreets(ctx context.Context) error {
	var old []streetDoc
	if err := s.streets.FindAll(ctx, bson.M{"admin_count": bson.M{"$exists": false}}, &old); err != nil {
		return err
	}
	for _, d := range old {
		var ms []memberDoc
		if err := s.members.FindAll(ctx, bson.M{"street_id": d.ID.Hex()}, &ms); err != nil {
			return err
		}
		members, admins := 0, 0
		for _, m := range ms {
			dm, da := delta(Member{}, m.member())
			members, admins = members+dm, admins+da
		}
		_, err := s.streets.UpdateOne(ctx, bson.M{"_id": d.ID, "admin_count": bson.M{"$exists": false}},
			bson.M{"$set": bson.M{"admin_count": admins, "member_count": members, "name_key": foldKey(d.Name), "city_key": foldKey(d.City)}})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrationUserStreets names the migration that wrote user_streets.
const migrationUserStreets = "user_streets"

// indexUsers writes every user's list of streets from the memberships,
// once: reading every membership is what the embedded engine does slowly.
func (s *Service) indexUsers(ctx context.Context) error {
	var done struct {
		ID string `bson:"_id"`
	}
	err := s.meta.FindOne(ctx, bson.M{"_id": migrationUserStreets}, &done)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	byUser := map[string][]string{}
	err = s.members.Each(ctx, bson.M{}, func(raw bson.Raw) error {
		var d memberDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		byUser[d.UserID] = append(byUser[d.UserID], d.StreetID)
		return nil
	}, options.Find().SetProjection(bson.M{"street_id": 1, "user_id": 1}))
	if err != nil {
		return err
	}
	for uid, sids := range byUser {
		_, err := s.userIndex.UpdateOne(ctx, bson.M{"_id": uid}, bson.M{"$addToSet": bson.M{"streets": bson.M{"$each": sids}}},
			options.UpdateOne().SetUpsert(true))
		if err != nil {
			return err
		}
	}
	if _, err := s.meta.InsertOne(ctx, bson.M{"_id": migrationUserStreets}); err != nil && !store.IsDuplicate(err) {
		return err
	}
	return nil
}
