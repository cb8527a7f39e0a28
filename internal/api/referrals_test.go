package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/clock"
	"civico/internal/testutil"
)

type referralView struct {
	ID         string   `json:"id"`
	PlaceID    string   `json:"place_id"`
	PlaceName  string   `json:"place_name"`
	PostID     string   `json:"post_id"`
	MemberID   string   `json:"member_id"`
	Note       string   `json:"note"`
	ByUserID   string   `json:"by_user_id"`
	FollowUpTo string   `json:"follow_up_to"`
	Status     string   `json:"status"`
	Outcome    string   `json:"outcome"`
	Outcomes   []string `json:"outcomes"`
}

type referralList struct {
	Items      []referralView `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// fresh empties l before an answer is decoded into it: a field the answer
// omits must not keep the last page's value.
func fresh(l *referralList) *referralList {
	*l = referralList{}
	return l
}

// A volunteer refers the author of a request the desk took to a place;
// a week later the author finds the follow-up among their referrals,
// answers it once, and the association's list and impact figures show
// it. Strangers neither refer nor see.
func TestReferralCreateOutcomeLists(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 4, 6, 9, 0, 0, 0, time.UTC))
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	coord, author, vol, stranger := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Vito"), s.Register(t, "Sara")
	sid := s.StreetWithMembers(t, coord, "Via Tibaldi", author)
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")
	s.Link(t, coord, coord, sid, aid)
	pid := s.Request(t, author, sid, "errands", "Aiuto con le bollette")
	s.Do(t, "POST", "/associations/"+aid+"/unanswered/"+pid+"/take", nil, vol.Token).Expect(t, http.StatusOK)
	var place struct {
		ID string `json:"id"`
	}
	s.Do(t, "POST", "/associations/"+aid+"/places", map[string]any{"name": "Sportello sociale Navile", "kind": "social_services"},
		vol.Token).Expect(t, http.StatusCreated).JSON(t, &place)

	body := map[string]any{"place_id": place.ID, "post_id": pid, "note": "Chiedere di Marta, martedì mattina"}
	s.Do(t, "POST", "/associations/"+aid+"/referrals", body, stranger.Token).ExpectError(t, http.StatusNotFound, "association_not_found")
	s.Do(t, "POST", "/associations/"+aid+"/referrals", map[string]any{"place_id": place.ID, "post_id": pid, "member_id": pid, "note": "x"},
		vol.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	var r referralView
	s.Do(t, "POST", "/associations/"+aid+"/referrals", body, vol.Token).Expect(t, http.StatusCreated).JSON(t, &r)
	if r.Status != "open" || r.FollowUpTo != "resident" || r.PlaceName != "Sportello sociale Navile" || r.PostID != pid {
		t.Fatalf("referral %+v", r)
	}
	// Four roster members met at the desk: five people, so the figures show.
	for _, name := range []string{"Rina Bianchi", "Ugo Neri", "Lia Rossi", "Ada Verdi"} {
		m := s.Member(t, vol.Token, aid, map[string]any{"full_name": name})
		s.Do(t, "POST", "/associations/"+aid+"/referrals", map[string]any{"place_id": place.ID, "member_id": m.ID, "note": "Sportello"},
			vol.Token).Expect(t, http.StatusCreated)
	}

	var list referralList
	s.Do(t, "GET", "/associations/"+aid+"/referrals?limit=2", nil, coord.Token).Expect(t, http.StatusOK).JSON(t, fresh(&list))
	if len(list.Items) != 2 || list.NextCursor == "" || list.Items[0].MemberID == "" {
		t.Fatalf("first page %+v", list)
	}
	s.Do(t, "GET", "/associations/"+aid+"/referrals?limit=2&cursor="+list.NextCursor, nil, coord.Token).Expect(t, http.StatusOK).JSON(t, fresh(&list))
	s.Do(t, "GET", "/associations/"+aid+"/referrals?limit=2&cursor="+list.NextCursor, nil, coord.Token).Expect(t, http.StatusOK).JSON(t, fresh(&list))
	if len(list.Items) != 1 || list.Items[0].ID != r.ID || list.NextCursor != "" {
		t.Fatalf("last page %+v, want the first referral", list)
	}
	s.Do(t, "GET", "/associations/"+aid+"/referrals", nil, stranger.Token).ExpectError(t, http.StatusNotFound, "association_not_found")
	s.Do(t, "GET", "/associations/"+aid+"/referrals?status=lost", nil, vol.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	s.Do(t, "GET", "/associations/"+aid+"/referrals?cursor=forged", nil, vol.Token).ExpectError(t, http.StatusBadRequest, "bad_cursor")
	s.Do(t, "GET", "/me/referrals", nil, author.Token).Expect(t, http.StatusOK).JSON(t, fresh(&list))
	if len(list.Items) != 0 {
		t.Fatalf("asked of the author before the follow-up: %+v", list)
	}

	fake.Advance(7 * 24 * time.Hour)
	if err := s.App.Referrals.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	signIn(t, s, coord, author, vol, stranger)
	s.Do(t, "GET", "/me/referrals", nil, author.Token).Expect(t, http.StatusOK).JSON(t, fresh(&list))
	if len(list.Items) != 1 || list.Items[0].ID != r.ID || list.Items[0].Status != "asked" || len(list.Items[0].Outcomes) != 3 {
		t.Fatalf("asked of the author: %+v", list)
	}
	s.Do(t, "GET", "/me/referrals", nil, vol.Token).Expect(t, http.StatusOK).JSON(t, fresh(&list))
	if len(list.Items) != 4 {
		t.Fatalf("asked of the volunteer: %d, want the 4 members' referrals", len(list.Items))
	}
	var got referralView
	s.Do(t, "GET", "/referrals/"+r.ID, nil, author.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.Note != body["note"] || got.ByUserID != "" {
		t.Fatalf("the author sees %+v", got)
	}
	s.Do(t, "GET", "/referrals/"+r.ID, nil, stranger.Token).ExpectError(t, http.StatusNotFound, "referral_not_found")
	s.Do(t, "POST", "/referrals/"+r.ID+"/outcome", map[string]string{"outcome": "helped"}, stranger.Token).ExpectError(t, http.StatusNotFound, "referral_not_found")
	s.Do(t, "POST", "/referrals/"+r.ID+"/outcome", map[string]string{"outcome": "helped"}, author.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.Status != "answered" || got.Outcome != "helped" || len(got.Outcomes) != 0 {
		t.Fatalf("answered %+v", got)
	}
	s.Do(t, "POST", "/referrals/"+r.ID+"/outcome", map[string]string{"outcome": "not_helped"}, vol.Token).ExpectError(t, http.StatusConflict, "referral_answered")
	s.Do(t, "GET", "/me/referrals", nil, author.Token).Expect(t, http.StatusOK).JSON(t, fresh(&list))
	if len(list.Items) != 0 {
		t.Fatalf("still asked after the answer: %+v", list)
	}
	s.Do(t, "GET", "/associations/"+aid+"/referrals?status=answered", nil, vol.Token).Expect(t, http.StatusOK).JSON(t, fresh(&list))
	if len(list.Items) != 1 || list.Items[0].ID != r.ID {
		t.Fatalf("answered referrals %+v", list)
	}

	var figures struct {
		Referrals *struct {
			Suppressed bool `json:"suppressed"`
			Made       *int `json:"made"`
			FollowedUp *int `json:"followed_up"`
			Helped     *int `json:"helped"`
		} `json:"referrals"`
	}
	from, to := fake.Now().AddDate(0, 0, -30).Format("2006-01-02"), fake.Now().AddDate(0, 0, 1).Format("2006-01-02")
	s.Do(t, "GET", "/associations/"+aid+"/impact?from="+from+"&to="+to, nil, coord.Token).Expect(t, http.StatusOK).JSON(t, &figures)
	f := figures.Referrals
	if f == nil || f.Suppressed || f.Made == nil || *f.Made != 5 || *f.FollowedUp != 1 || *f.Helped != 1 {
		t.Fatalf("impact referrals %+v", f)
	}
}
