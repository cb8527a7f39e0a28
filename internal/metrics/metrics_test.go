package metrics

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
)

func TestCommandCollection(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  bson.D
		want string
	}{
		{"find", bson.D{{Key: "find", Value: "posts"}, {Key: "filter", Value: bson.D{}}}, "posts"},
		{"insert", bson.D{{Key: "insert", Value: "events"}}, "events"},
		{"hourly collection", bson.D{{Key: "insert", Value: "push_done_2026120715"}}, "push_done_*"},
		{"getMore names a cursor", bson.D{{Key: "getMore", Value: int64(42)}, {Key: "collection", Value: "posts"}}, ""},
		{"ping", bson.D{{Key: "ping", Value: 1}}, ""},
		{"empty", bson.D{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := bson.Marshal(tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if got := commandCollection(&event.CommandStartedEvent{Command: raw}); got != tc.want {
				t.Errorf("collection of %v = %q, want %q", tc.cmd, got, tc.want)
			}
		})
	}
}
