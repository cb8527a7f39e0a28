package handoff_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"civico/internal/posts"
	"civico/internal/testutil"
)

// Two volunteers taking the same request at once: the first is recorded
// and named on the post, the second hears that it is taken. Taking it
// again oneself changes nothing.
func TestConcurrentTakesRecordOneVolunteer(t *testing.T) {
	s := testutil.Start(t)
	admin, author, coord := s.Register(t, "Anna"), s.Register(t, "Maria"), s.Register(t, "Clara")
	vols := []*testutil.User{coord, s.Register(t, "Vito"), s.Register(t, "Ugo")}
	sid := s.StreetWithMembers(t, admin, "Via Saragozza", author)
	aid := s.Association(t, coord, "Portinaio Saragozza", 500)
	for _, v := range vols[1:] {
		s.Volunteer(t, coord, aid, v, "volunteer")
	}
	s.Link(t, admin, coord, sid, aid)
	pid := s.Request(t, author, sid, "repairs", "Perde il lavandino")

	var wg sync.WaitGroup
	errs := make([]error, len(vols))
	for i, v := range vols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.App.Handoff.Take(t.Context(), me(v), aid, pid)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("both %s and %s took the request", vols[winner].Name, vols[i].Name)
		case err == nil:
			winner = i
		case !errors.Is(err, posts.ErrDeskTaken):
			t.Fatalf("%s: %v, want already_taken", vols[i].Name, err)
		}
	}
	if winner < 0 {
		t.Fatalf("nobody took the request: %v", errs)
	}
	var post struct {
		Desk *struct {
			VolunteerName string `json:"volunteer_name"`
		} `json:"desk"`
	}
	s.Do(t, "GET", "/posts/"+pid, nil, author.Token).Expect(t, http.StatusOK).JSON(t, &post)
	if post.Desk == nil || post.Desk.VolunteerName != vols[winner].Name {
		t.Fatalf("the post names %+v, the winner is %s", post.Desk, vols[winner].Name)
	}
	// The winner's own retry is fine; the others are still refused.
	if _, err := s.App.Handoff.Take(t.Context(), me(vols[winner]), aid, pid); err != nil {
		t.Fatalf("the winner taking again: %v", err)
	}
	loser := vols[(winner+1)%len(vols)]
	s.Do(t, "POST", "/associations/"+aid+"/unanswered/"+pid+"/take", nil, loser.Token).ExpectError(t, http.StatusConflict, "already_taken")
}
