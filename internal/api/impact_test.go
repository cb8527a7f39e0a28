package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/clock"
	"civico/internal/impact"
	"civico/internal/testutil"
)

type unansweredList struct {
	Items []struct {
		Post struct {
			ID   string `json:"id"`
			Desk *struct {
				AssociationName string `json:"association_name"`
			} `json:"desk"`
		} `json:"post"`
		StreetName   string `json:"street_name"`
		WaitingHours int    `json:"waiting_hours"`
		Desks        []struct {
			AssociationID string `json:"association_id"`
			DeskPhone     string `json:"desk_phone"`
			Members       []struct {
				Number   int64  `json:"number"`
				FullName string `json:"full_name"`
				Phone    string `json:"phone"`
			} `json:"members"`
		} `json:"desks"`
	} `json:"items"`
}

func signIn(t *testing.T, s *testutil.Server, users ...*testutil.User) {
	t.Helper()
	for _, u := range users {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").Expect(t, http.StatusOK).JSON(t, &out)
		u.Token = out.AccessToken
	}
}

func parseCSV(t *testing.T, r *testutil.Response) [][]string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q", ct)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	return rows
}

// Impact figures and their CSV: the street's admins and the linked
// association's staff only; a member is refused, anyone else does not
// learn the street or association exists.
func TestImpactAccessAndCSV(t *testing.T) {
	s := testutil.Start(t)
	admin, member, adminB, coord, vol, outsider := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Beppe"),
		s.Register(t, "Clara"), s.Register(t, "Vito"), s.Register(t, "Ugo")
	sid := s.StreetWithMembers(t, admin, "Via Saragozza", member)
	s.CreateStreet(t, adminB, "Via B")
	aid := s.Association(t, coord, "Portinaio Saragozza", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")

	cases := []struct {
		name, path string
		who        *testutil.User
		status     int
		code       string
	}{
		{"street admin", "/streets/" + sid + "/impact", admin, 200, ""},
		{"street member", "/streets/" + sid + "/impact", member, 403, "not_admin"},
		{"admin of street B", "/streets/" + sid + "/impact", adminB, 404, "street_not_found"},
		{"volunteer, street not linked", "/streets/" + sid + "/impact", vol, 404, "street_not_found"},
		{"csv, member", "/api/v1/streets/" + sid + "/impact.csv", member, 403, "not_admin"},
		{"bad period", "/streets/" + sid + "/impact?from=2026-05&to=2026-01", admin, 422, "validation_failed"},
		{"volunteer", "/associations/" + aid + "/impact", vol, 200, ""},
		{"association, non-volunteer", "/associations/" + aid + "/impact", outsider, 404, "association_not_found"},
		{"association, street admin", "/associations/" + aid + "/impact", admin, 404, "association_not_found"},
		{"association csv, non-volunteer", "/api/v1/associations/" + aid + "/impact.csv", member, 404, "association_not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(t, "GET", c.path, nil, c.who.Token)
			if c.code != "" {
				r.ExpectError(t, c.status, c.code)
				return
			}
			r.Expect(t, c.status)
			var rep struct {
				Suppressed bool             `json:"suppressed"`
				Monthly    []map[string]any `json:"monthly"`
				People     *int             `json:"people"`
			}
			r.JSON(t, &rep)
			if !rep.Suppressed || rep.People != nil || len(rep.Monthly) != impact.DefaultMonths {
				t.Fatalf("empty street: %+v", rep)
			}
		})
	}
	if r := s.Do(t, "GET", "/streets/"+sid+"/impact", nil, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.Status)
	}

	for _, path := range []string{"/api/v1/streets/" + sid + "/impact.csv?from=2026-01&to=2026-03", "/api/v1/associations/" + aid + "/impact.csv?from=2026-01&to=2026-03"} {
		who := admin
		if strings.HasPrefix(path, "/api/v1/associations") {
			who = coord
		}
		rows := parseCSV(t, s.Do(t, "GET", path, nil, who.Token).Expect(t, http.StatusOK))
		if !slices.Equal(rows[0], impact.CSVHeader()) {
			t.Fatalf("header %v", rows[0])
		}
		if len(rows) != 1+3+1 || rows[1][0] != "2026-01" || rows[3][0] != "2026-03" || rows[4][0] != "total" || rows[4][3] != "true" || rows[4][4] != "" {
			t.Fatalf("%s rows %v", path, rows)
		}
	}
}

// No wrong door: a request without replies after 48 hours is listed to the
// street's admins and, once the street and an association agreed to link,
// to the association's volunteers, with the roster members whose skills
// fit (contacts for the staff only). A volunteer takes it on; its author
// sees "the desk is on it". A reply takes it off the lists.
func TestUnansweredRequestsAndTheDesk(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	admin, member, author, adminB, coord, vol, outsider := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Maria"),
		s.Register(t, "Beppe"), s.Register(t, "Clara"), s.Register(t, "Vito"), s.Register(t, "Ugo")
	sid := s.StreetWithMembers(t, admin, "Via Saragozza", member, author)
	s.CreateStreet(t, adminB, "Via B")
	aid := s.Association(t, coord, "Portinaio Saragozza", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")
	plumber := s.Member(t, coord.Token, aid, map[string]any{"full_name": "Mario Rossi", "phone": "333 1234567", "skills": []string{"Idraulico"}})
	s.Member(t, coord.Token, aid, map[string]any{"full_name": "Lucia Bianchi", "phone": "333 7654321", "skills": []string{"cucina"}})
	handy := s.Member(t, coord.Token, aid, map[string]any{"full_name": "Paolo Verdi", "skills": []string{"small_repairs"}})

	pid := s.Request(t, author, sid, "repairs", "Perde il lavandino")
	replied := s.Request(t, author, sid, "errands", "Spesa")
	s.Reply(t, member, replied, "Vado io")
	fake.Advance(47 * time.Hour)
	if err := s.App.Handoff.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	signIn(t, s, admin, member, author, adminB, coord, vol, outsider)
	var list unansweredList
	s.Do(t, "GET", "/streets/"+sid+"/unanswered", nil, admin.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("unanswered before 48 hours: %+v", list)
	}
	fake.Advance(2 * time.Hour)
	if err := s.App.Handoff.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	signIn(t, s, admin, member, author, adminB, coord, vol, outsider)
	s.Do(t, "GET", "/streets/"+sid+"/unanswered", nil, admin.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].Post.ID != pid || list.Items[0].WaitingHours != 49 || len(list.Items[0].Desks) != 0 {
		t.Fatalf("admin's list %+v", list)
	}
	s.Do(t, "GET", "/streets/"+sid+"/unanswered", nil, member.Token).ExpectError(t, 403, "not_admin")
	s.Do(t, "GET", "/streets/"+sid+"/unanswered", nil, adminB.Token).ExpectError(t, 404, "street_not_found")
	s.Do(t, "GET", "/associations/"+aid+"/unanswered", nil, vol.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("volunteer sees an unlinked street: %+v", list)
	}

	// The link takes both sides.
	var link struct {
		Status string `json:"status"`
	}
	s.Do(t, "POST", "/streets/"+sid+"/links", map[string]string{"association_id": aid}, member.Token).ExpectError(t, 403, "not_admin")
	s.Do(t, "POST", "/streets/"+sid+"/links", map[string]string{"association_id": aid}, admin.Token).Expect(t, 200).JSON(t, &link)
	if link.Status != "awaiting_association" {
		t.Fatalf("link %+v", link)
	}
	s.Do(t, "GET", "/associations/"+aid+"/unanswered", nil, vol.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("volunteer sees a street before the association agreed: %+v", list)
	}
	s.Do(t, "POST", "/associations/"+aid+"/links", map[string]string{"street_id": sid}, vol.Token).ExpectError(t, 403, "coordinator_only")
	s.Do(t, "POST", "/associations/"+aid+"/links", map[string]string{"street_id": sid}, outsider.Token).ExpectError(t, 404, "association_not_found")
	s.Do(t, "POST", "/associations/"+aid+"/links", map[string]string{"street_id": sid}, coord.Token).Expect(t, 200).JSON(t, &link)
	if link.Status != "active" {
		t.Fatalf("link %+v", link)
	}

	// Admins see who could help, without contacts; volunteers with them.
	s.Do(t, "GET", "/streets/"+sid+"/unanswered", nil, admin.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 1 || len(list.Items[0].Desks) != 1 || list.Items[0].Desks[0].DeskPhone != "051 123456" {
		t.Fatalf("admin's list %+v", list)
	}
	ms := list.Items[0].Desks[0].Members
	if len(ms) != 2 || ms[0].FullName != "Mario Rossi" || ms[0].Number != plumber.Number || ms[1].FullName != "Paolo Verdi" ||
		ms[1].Number != handy.Number || ms[0].Phone != "" {
		t.Fatalf("admin's matches %+v", ms)
	}
	s.Do(t, "GET", "/associations/"+aid+"/unanswered", nil, vol.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].StreetName != "Via Saragozza" || list.Items[0].Desks[0].Members[0].Phone != "333 1234567" {
		t.Fatalf("volunteer's list %+v", list)
	}
	s.Do(t, "GET", "/associations/"+aid+"/unanswered", nil, outsider.Token).ExpectError(t, 404, "association_not_found")
	s.Do(t, "GET", "/associations/"+aid+"/unanswered", nil, admin.Token).ExpectError(t, 404, "association_not_found")

	// The desk takes it on; the author sees it, other members do not.
	s.Do(t, "POST", "/associations/"+aid+"/unanswered/"+pid+"/take", nil, member.Token).ExpectError(t, 404, "association_not_found")
	s.Do(t, "POST", "/associations/"+aid+"/unanswered/"+pid+"/take", nil, vol.Token).Expect(t, 200)
	var post struct {
		Desk *struct {
			AssociationName string `json:"association_name"`
			VolunteerName   string `json:"volunteer_name"`
		} `json:"desk"`
	}
	s.Do(t, "GET", "/posts/"+pid, nil, author.Token).Expect(t, 200).JSON(t, &post)
	if post.Desk == nil || post.Desk.AssociationName != "Portinaio Saragozza" || post.Desk.VolunteerName != "Vito" {
		t.Fatalf("author's post %+v", post)
	}
	post.Desk = nil
	s.Do(t, "GET", "/posts/"+pid, nil, member.Token).Expect(t, 200).JSON(t, &post)
	if post.Desk != nil {
		t.Fatalf("another member sees the desk note: %+v", post.Desk)
	}
	s.Do(t, "GET", "/associations/"+aid+"/unanswered", nil, vol.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].Post.Desk == nil {
		t.Fatalf("the list does not say the desk is on it: %+v", list)
	}

	// A reply takes the request off both lists.
	s.Reply(t, member, pid, "Passo io stasera")
	for _, c := range []struct{ path, token string }{{"/streets/" + sid + "/unanswered", admin.Token}, {"/associations/" + aid + "/unanswered", vol.Token}} {
		s.Do(t, "GET", c.path, nil, c.token).Expect(t, 200).JSON(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("%s after a reply: %+v", c.path, list)
		}
	}
	// Unlinking ends the volunteers' view.
	s.Do(t, "DELETE", "/associations/"+aid+"/links/"+sid, nil, coord.Token).Expect(t, 204)
	s.Do(t, "DELETE", "/streets/"+sid+"/links/"+aid, nil, admin.Token).ExpectError(t, 404, "link_not_found")
}
