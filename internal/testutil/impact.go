package testutil

import (
	"net/http"
	"testing"
)

// Request publishes a request of the category as u and returns its id.
func (s *Server) Request(tb testing.TB, u *User, streetID, category, title string) string {
	tb.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.Do(tb, "POST", "/streets/"+streetID+"/posts", map[string]string{"kind": "request", "category": category, "title": title,
		"body": "Body of " + title}, u.Token).Expect(tb, http.StatusCreated).JSON(tb, &out)
	return out.ID
}

// Accept matches the author's post with a reply.
func (s *Server) Accept(tb testing.TB, author *User, postID, replyID string) {
	tb.Helper()
	s.Do(tb, "POST", "/posts/"+postID+"/accept", map[string]string{"reply_id": replyID}, author.Token).Expect(tb, http.StatusOK)
}

// Done marks the author's matched post done.
func (s *Server) Done(tb testing.TB, author *User, postID string) {
	tb.Helper()
	s.Do(tb, "POST", "/posts/"+postID+"/done", map[string]string{"thanks": "Grazie!"}, author.Token).Expect(tb, http.StatusOK)
}

// Link links a street to an association from both sides: streetAdmin asks
// from the street, coordinator accepts from the association.
func (s *Server) Link(tb testing.TB, streetAdmin, coordinator *User, streetID, aid string) {
	tb.Helper()
	s.Do(tb, "POST", "/streets/"+streetID+"/links", map[string]string{"association_id": aid}, streetAdmin.Token).Expect(tb, http.StatusOK)
	s.Do(tb, "POST", "/associations/"+aid+"/links", map[string]string{"street_id": streetID}, coordinator.Token).Expect(tb, http.StatusOK)
}
