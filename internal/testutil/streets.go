package testutil

import (
	"net/http"
	"testing"
)

// CreateStreet creates a street whose admin is admin and returns its id.
func (s *Server) CreateStreet(tb testing.TB, admin *User, name string) string {
	tb.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.Do(tb, "POST", "/streets", map[string]string{"name": name, "city": "Bologna", "description": "Via " + name},
		admin.Token).Expect(tb, http.StatusCreated).JSON(tb, &out)
	return out.ID
}

// Invite makes an invite code for the street (admin must be its admin).
func (s *Server) Invite(tb testing.TB, admin *User, streetID string) string {
	tb.Helper()
	var out struct {
		Code string `json:"code"`
	}
	s.Do(tb, "POST", "/streets/"+streetID+"/invites", map[string]int{"max_uses": 100}, admin.Token).
		Expect(tb, http.StatusCreated).JSON(tb, &out)
	return out.Code
}

// AddMember makes u an active member of the street through an invite.
func (s *Server) AddMember(tb testing.TB, admin, u *User, streetID string) {
	tb.Helper()
	code := s.Invite(tb, admin, streetID)
	s.Do(tb, "POST", "/streets/"+streetID+"/join", map[string]string{"invite_code": code}, u.Token).Expect(tb, http.StatusOK)
}

// StreetWithMembers creates a street administered by admin with members
// joined through an invite, and returns its id.
func (s *Server) StreetWithMembers(tb testing.TB, admin *User, name string, members ...*User) string {
	tb.Helper()
	sid := s.CreateStreet(tb, admin, name)
	for _, m := range members {
		s.AddMember(tb, admin, m, sid)
	}
	return sid
}

// CreatePost publishes a post as u and returns its id.
func (s *Server) CreatePost(tb testing.TB, u *User, streetID, kind, title string) string {
	tb.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.Do(tb, "POST", "/streets/"+streetID+"/posts", map[string]string{"kind": kind, "category": "repairs", "title": title,
		"body": "Body of " + title}, u.Token).Expect(tb, http.StatusCreated).JSON(tb, &out)
	return out.ID
}

// Reply answers a post as u and returns the reply's id.
func (s *Server) Reply(tb testing.TB, u *User, postID, body string) string {
	tb.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.Do(tb, "POST", "/posts/"+postID+"/replies", map[string]string{"body": body}, u.Token).Expect(tb, http.StatusCreated).JSON(tb, &out)
	return out.ID
}
