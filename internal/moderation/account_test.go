package moderation_test

import (
	"encoding/json"
	"strings"
	"testing"

	"civico/internal/events"
	"civico/internal/moderation"
	"civico/internal/pseudonym"
)

func TestEraseKeepsReportsWithoutTheName(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.User("Anna"), e.User("Bruno Segreto"), e.User("Carla")
	sid := e.Street(anna, bruno, carla)
	spam := e.post(carla, sid, "Compro oro")
	filed, err := e.Moderation.Create(e.Ctx, bruno, moderation.NewReport{Target: moderation.TargetPost, ID: spam.ID, Reason: "pubblicità"})
	if err != nil {
		t.Fatal(err)
	}
	about, err := e.Moderation.Create(e.Ctx, carla, moderation.NewReport{Target: moderation.TargetUser, ID: bruno.UserID, StreetID: sid, Reason: "insulti"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Moderation.Export(e.Ctx, bruno.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if rs := v.(moderation.AccountData).Reports; len(rs) != 1 || rs[0].ID != filed.ID || rs[0].Target != "post" || rs[0].Reason != "pubblicità" || rs[0].Status != "open" {
		t.Fatalf("exported reports %+v", rs)
	}
	alias := pseudonym.With("k", bruno.UserID)
	if err := e.Moderation.Erase(e.Ctx, bruno.UserID, alias); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*moderation.Service{e.Moderation, e.newService()} {
		byID := map[string]moderation.Report{}
		for _, status := range []string{moderation.StatusOpen, moderation.StatusResolved} {
			list, _, err := svc.List(e.Ctx, anna, sid, status, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(list)
			if strings.Contains(string(raw), "Bruno") || strings.Contains(string(raw), bruno.UserID) {
				t.Fatalf("%s reports still name Bruno: %s", status, raw)
			}
			for _, r := range list {
				byID[r.ID] = r
			}
		}
		if r := byID[filed.ID]; r.Status != moderation.StatusOpen || r.ReporterID != alias || r.ReporterName != "" || r.Reason != "pubblicità" {
			t.Fatalf("Bruno's report %+v: should stay open, for the admins to judge", r)
		}
		if r := byID[about.ID]; r.Status != moderation.StatusResolved || r.Action != moderation.ActionDismiss ||
			r.Resolution != moderation.ReasonAccountDeleted || r.AuthorName != "" || r.TargetName != "" {
			t.Fatalf("report on Bruno %+v: should be dismissed, unnamed", r)
		}
	}
	if got := e.Published(events.ReportResolved); len(got) != 1 {
		t.Fatalf("report.resolved events %d, want 1 for the admins' lists", len(got))
	}
}
