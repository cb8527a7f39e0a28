package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Setting returns the value kept under name, creating it with generate on
// first use. Every server on one database gets the same value: the first
// insert wins and the others read it back.
func (s *Store) Setting(ctx context.Context, name string, generate func() (string, error)) (string, error) {
	c := s.Collection("settings")
	var doc struct {
		Value string `bson:"value"`
	}
	err := c.FindOne(ctx, bson.M{"_id": name}, &doc)
	if err == nil {
		return doc.Value, nil
	}
	if err != ErrNotFound {
		return "", err
	}
	v, err := generate()
	if err != nil {
		return "", fmt.Errorf("store: generate %s: %w", name, err)
	}
	if _, err := c.InsertOne(ctx, bson.M{"_id": name, "value": v, "created_at": time.Now().UTC()}); err != nil && !IsDuplicate(err) {
		return "", err
	}
	if err := c.FindOne(ctx, bson.M{"_id": name}, &doc); err != nil {
		return "", err
	}
	return doc.Value, nil
}
