package api_test

import (
	"net/http"
	"testing"

	"civico/internal/testutil"
)

func TestRegisterLoginMe(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna Rossi")
	var me struct {
		ID, Email, Name, Locale string
	}
	s.Do(t, "GET", "/me", nil, u.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if me.ID != u.ID || me.Name != "Anna Rossi" || me.Locale != "it" {
		t.Fatalf("me = %+v", me)
	}
	s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").Expect(t, http.StatusOK)
}
