package push_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"civico/internal/push"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Settings round-trip with defaults filled in; bad ones are refused whole.
func TestSettingsValidateAndRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	uid := e.user("en", "Europe/London").ID
	got, err := e.svc.Settings(ctx, uid)
	if err != nil || got.QuietHours != nil || len(got.Streets) != 0 || !got.Defaults.Requests || len(got.Defaults.Categories) != len(push.Categories) {
		t.Fatalf("defaults %+v, %v", got, err)
	}
	sid := bson.NewObjectID().Hex()
	off := false
	saved, err := e.svc.SetSettings(ctx, uid, push.Choices{QuietHours: &push.QuietHours{Start: "22:30", End: "07:00"},
		Streets: []push.StreetChoice{{StreetID: sid, Offers: &off, Categories: []string{"repairs", "repairs", "lending"}}}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = e.svc.Settings(ctx, uid)
	if got.QuietHours == nil || *got.QuietHours != (push.QuietHours{Start: "22:30", End: "07:00"}) || got.TimeZone != "Europe/London" {
		t.Fatalf("quiet hours %+v", got)
	}
	want := push.StreetSettings{StreetID: sid, Requests: true, Offers: false, Categories: []string{"repairs", "lending"}, Replies: true}
	if len(got.Streets) != 1 || !sameStreet(got.Streets[0], want) || !sameStreet(saved.Streets[0], want) {
		t.Fatalf("streets %+v, want %+v", got.Streets, want)
	}

	many := make([]push.StreetChoice, push.MaxStreetSettings+1)
	for i := range many {
		many[i].StreetID = bson.NewObjectID().Hex()
	}
	bad := []struct {
		name  string
		c     push.Choices
		field string
		code  string
	}{
		{"quiet start", push.Choices{QuietHours: &push.QuietHours{Start: "24:00", End: "07:00"}}, "quiet_hours.start", "invalid"},
		{"quiet end", push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "7:00"}}, "quiet_hours.end", "invalid"},
		{"quiet empty span", push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "22:00"}}, "quiet_hours.end", "invalid"},
		{"street id", push.Choices{Streets: []push.StreetChoice{{StreetID: "nope"}}}, "streets.0.street_id", "invalid"},
		{"duplicate street", push.Choices{Streets: []push.StreetChoice{{StreetID: sid}, {StreetID: sid}}}, "streets.1.street_id", "duplicate"},
		{"category", push.Choices{Streets: []push.StreetChoice{{StreetID: sid, Categories: []string{"repairs", "drugs"}}}}, "streets.0.categories", "unknown"},
		{"too many categories", push.Choices{Streets: []push.StreetChoice{{StreetID: sid, Categories: slices.Repeat([]string{"other"}, 11)}}}, "streets.0.categories", "too_many"},
		{"too many streets", push.Choices{Streets: many}, "streets", "too_many"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.SetSettings(ctx, uid, c.c)
			if f := fieldsOf(err); f[c.field] != c.code {
				t.Fatalf("fields %v, want %s=%s", f, c.field, c.code)
			}
		})
	}
	if after, _ := e.svc.Settings(ctx, uid); after.QuietHours.Start != "22:30" || len(after.Streets) != 1 {
		t.Fatalf("refused settings changed what was saved: %+v", after)
	}
}

func sameStreet(a, b push.StreetSettings) bool {
	return a.StreetID == b.StreetID && a.Requests == b.Requests && a.Offers == b.Offers && a.Replies == b.Replies &&
		strings.Join(a.Categories, ",") == strings.Join(b.Categories, ",")
}
