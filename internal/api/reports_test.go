package api_test

import (
	"testing"

	"civico/internal/testutil"
)

func TestReportsAreForAdminsToResolve(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, carla := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla")
	sid := s.StreetWithMembers(t, anna, "Via Zamboni", bruno, carla)
	pid := s.CreatePost(t, bruno, sid, "offer", "Vendo auto")
	s.Do(t, "POST", "/reports", map[string]string{"target": "post", "id": pid}, carla.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "POST", "/reports", map[string]string{"target": "comment", "id": pid, "reason": "x"}, carla.Token).ExpectError(t, 422, "validation_failed")
	var rep struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Action string `json:"action"`
	}
	s.Do(t, "POST", "/reports", map[string]string{"target": "post", "id": pid, "reason": "pubblicità"}, carla.Token).Expect(t, 201).JSON(t, &rep)
	s.Do(t, "POST", "/reports", map[string]string{"target": "post", "id": pid, "reason": "ancora"}, carla.Token).ExpectError(t, 409, "already_reported")
	s.Do(t, "GET", "/streets/"+sid+"/reports", nil, carla.Token).ExpectError(t, 403, "not_admin")
	var list struct {
		Items []struct{ ID, Reason, ReporterName string } `json:"items"`
	}
	s.Do(t, "GET", "/streets/"+sid+"/reports?status=open", nil, anna.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != rep.ID || list.Items[0].Reason != "pubblicità" {
		t.Fatalf("open reports = %+v", list.Items)
	}
	s.Do(t, "GET", "/streets/"+sid+"/reports?status=maybe", nil, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "POST", "/reports/"+rep.ID+"/resolve", map[string]string{"action": "remove", "reason": "x"}, carla.Token).ExpectError(t, 403, "not_admin")
	s.Do(t, "POST", "/reports/"+rep.ID+"/resolve", map[string]string{"action": "ban"}, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "POST", "/reports/nope/resolve", map[string]string{"action": "dismiss"}, anna.Token).ExpectError(t, 404, "report_not_found")
	s.Do(t, "POST", "/reports/"+rep.ID+"/resolve", map[string]string{"action": "ban", "reason": "vende auto"}, anna.Token).Expect(t, 200).JSON(t, &rep)
	if rep.Status != "resolved" || rep.Action != "ban" {
		t.Fatalf("resolved = %+v", rep)
	}
	s.Do(t, "POST", "/reports/"+rep.ID+"/resolve", map[string]string{"action": "dismiss"}, anna.Token).ExpectError(t, 409, "report_resolved")
	s.Do(t, "GET", "/streets/"+sid+"/posts", nil, bruno.Token).ExpectError(t, 404, "street_not_found")
}
