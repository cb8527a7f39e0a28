package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Index is one index a capability package needs. Only what both engines
// support: plain and unique indexes, no TTL, text or geo indexes.
type Index struct {
	Collection string
	Name       string
	Keys       bson.D
	Unique     bool
}

// EnsureIndexes creates the indexes that are missing; it is idempotent.
func (s *Store) EnsureIndexes(ctx context.Context, idx ...Index) error {
	for _, ix := range idx {
		ctx, cancel := s.opCtx(ctx)
		m := mongo.IndexModel{Keys: ix.Keys, Options: options.Index().SetName(ix.Name)}
		if ix.Unique {
			m.Options.SetUnique(true)
		}
		_, err := s.db.Collection(ix.Collection).Indexes().CreateOne(ctx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("store: index %s.%s: %w", ix.Collection, ix.Name, err)
		}
	}
	return nil
}
