package profiles_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/profiles"
	"civico/internal/streets"
)

// fakeMembers are the memberships of a few streets, as streets.Service
// answers them.
type fakeMembers map[string]streets.Member // street:user

func (f fakeMembers) RequireActive(_ context.Context, sid, uid string) (streets.Member, error) {
	m, ok := f[sid+":"+uid]
	if !ok || m.Status != streets.StatusActive {
		return streets.Member{}, streets.ErrStreetNotFound
	}
	return m, nil
}

func (f fakeMembers) Membership(_ context.Context, sid, uid string) (streets.Member, error) {
	m, ok := f[sid+":"+uid]
	if !ok {
		return streets.Member{}, streets.ErrMemberNotFound
	}
	return m, nil
}

func (f fakeMembers) ActiveMemberIDs(_ context.Context, sid string) ([]string, error) {
	out := []string{}
	for _, m := range f {
		if m.StreetID == sid && m.Status == streets.StatusActive {
			out = append(out, m.UserID)
		}
	}
	sort.Strings(out)
	return out, nil
}

// fakeAccounts are the live accounts, as auth.Service answers them.
type fakeAccounts map[string]auth.Account

func (f fakeAccounts) User(_ context.Context, id string) (auth.Account, error) {
	a, ok := f[id]
	if !ok {
		return auth.Account{}, auth.ErrUserNotFound
	}
	return a, nil
}

func (f fakeAccounts) Users(_ context.Context, ids []string) (map[string]auth.Account, error) {
	out := map[string]auth.Account{}
	for _, id := range ids {
		if a, ok := f[id]; ok {
			out[id] = a
		}
	}
	return out, nil
}

// Ids of the fixture: two streets, and people in either.
const (
	streetA = "64b000000000000000000a01"
	streetB = "64b000000000000000000b01"
	anna    = "64a000000000000000000001" // A, shares her skills
	bruno   = "64a000000000000000000002" // A, has skills, no consent
	carla   = "64a000000000000000000003" // A, shares hers
	dario   = "64a000000000000000000004" // B only, shares his
	elena   = "64a000000000000000000005" // asked to join A
	franco  = "64a000000000000000000006" // banned from A, shares his
	gina    = "64a000000000000000000007" // A, account deleted
	nobody  = "64a0000000000000000000ff"
)

var joined = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func fixture() (*profiles.Service, *cursor.Signer) {
	member := func(sid, uid, status string, days int) streets.Member {
		m := streets.Member{StreetID: sid, UserID: uid, Name: "member name", Role: streets.RoleMember, Status: status, UpdatedAt: joined}
		if status == streets.StatusActive || status == streets.StatusBanned {
			at := joined.AddDate(0, 0, days)
			m.JoinedAt = &at
		}
		return m
	}
	ms := fakeMembers{}
	for _, m := range []streets.Member{
		member(streetA, anna, streets.StatusActive, 0), member(streetA, bruno, streets.StatusActive, 1),
		member(streetA, carla, streets.StatusActive, 2), member(streetB, dario, streets.StatusActive, 3),
		member(streetA, elena, streets.StatusPending, 0), member(streetA, franco, streets.StatusBanned, 4),
		member(streetA, gina, streets.StatusActive, 5),
	} {
		ms[m.StreetID+":"+m.UserID] = m
	}
	acc := func(id, name, bio string, share bool, skills ...string) auth.Account {
		return auth.Account{ID: id, Email: name + "@example.org", Name: name, Locale: "it", Bio: bio, Skills: skills, ShareSkills: share}
	}
	as := fakeAccounts{}
	for _, a := range []auth.Account{
		acc(anna, "Anna Maria Rossi", "Maestra in pensione.", true, "Giardinaggio", "cucito"),
		acc(bruno, "Bruno", "Idraulico.", false, "idraulica"),
		acc(carla, "carla bianchi", "", true, "giardinaggio"),
		acc(dario, "Dario", "", true, "chitarra"),
		acc(elena, "Elena", "", true, "torte"),
		acc(franco, "Franco", "", true, "chitarra", "bricolage"),
	} {
		as[a.ID] = a
	}
	signer := cursor.NewWithKey([]byte("0123456789abcdef0123456789abcdef"))
	return profiles.New(profiles.Deps{Accounts: as, Members: ms}, signer), signer
}

func code(err error) string {
	if e, ok := fault.As(err); ok {
		return e.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// A profile is read through a street: the one asking and the one shown
// must both be its active members, else 404 (the street's when the caller
// is not in it, the member's otherwise); skills only with consent; never
// an email.
func TestProfile(t *testing.T) {
	s, _ := fixture()
	ctx := context.Background()
	for _, c := range []struct {
		name              string
		caller, sid, uid  string
		code              string
		wantName, initial string
		skills            []string
		since             int // days after joined
	}{
		{name: "a neighbour who shares her skills", caller: bruno, sid: streetA, uid: anna, wantName: "Anna Maria Rossi", initial: "AR",
			skills: []string{"Giardinaggio", "cucito"}},
		{name: "a neighbour who does not: no skills", caller: anna, sid: streetA, uid: bruno, wantName: "Bruno", initial: "B", since: 1},
		{name: "oneself", caller: carla, sid: streetA, uid: carla, wantName: "carla bianchi", initial: "CB", skills: []string{"giardinaggio"}, since: 2},
		{name: "through a street the caller is not in", caller: dario, sid: streetA, uid: anna, code: "street_not_found"},
		{name: "the caller's street, the other is not in it", caller: dario, sid: streetB, uid: anna, code: "member_not_found"},
		{name: "a street neither is in", caller: anna, sid: streetB, uid: dario, code: "street_not_found"},
		{name: "a pending member asks", caller: elena, sid: streetA, uid: anna, code: "street_not_found"},
		{name: "a pending member is shown", caller: anna, sid: streetA, uid: elena, code: "member_not_found"},
		{name: "a banned member is shown", caller: anna, sid: streetA, uid: franco, code: "member_not_found"},
		{name: "a banned member asks", caller: franco, sid: streetA, uid: anna, code: "street_not_found"},
		{name: "a deleted account", caller: anna, sid: streetA, uid: gina, code: "member_not_found"},
		{name: "an unknown user", caller: anna, sid: streetA, uid: nobody, code: "member_not_found"},
		{name: "a malformed user id", caller: anna, sid: streetA, uid: "x", code: "member_not_found"},
		{name: "a malformed street id", caller: anna, sid: "x", uid: anna, code: "street_not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := s.Profile(ctx, auth.Principal{UserID: c.caller}, c.sid, c.uid)
			if code(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			if c.code != "" {
				if fault.KindOf(err) != fault.NotFound {
					t.Fatalf("error %v is not a 404", err)
				}
				return
			}
			if p.ID != c.uid || p.Name != c.wantName || p.Initials != c.initial || !slices.Equal(p.Skills, c.skills) ||
				!p.MemberSince.Equal(joined.AddDate(0, 0, c.since)) {
				t.Fatalf("profile %+v", p)
			}
			b, _ := json.Marshal(p)
			var keys map[string]any
			_ = json.Unmarshal(b, &keys)
			for k := range keys {
				if !slices.Contains([]string{"id", "name", "initials", "bio", "skills", "member_since"}, k) {
					t.Fatalf("profile carries %q: %s", k, b)
				}
			}
			if strings.Contains(string(b), "@example.org") {
				t.Fatalf("profile shows an email: %s", b)
			}
		})
	}
}

// The skills directory lists what the street's consenting active members
// offer, grouped case aside, in alphabetical order, page by page; what a
// member without consent, a banned or pending one, or someone of another
// street offers is not there.
func TestSkills(t *testing.T) {
	s, signer := fixture()
	ctx := context.Background()
	type line struct {
		skill   string
		members []string
	}
	all := []line{{"cucito", []string{anna}}, {"Giardinaggio", []string{anna, carla}}}
	for _, c := range []struct {
		name     string
		caller   string
		sid      string
		after    string
		limit    int
		code     string
		want     []line
		wantNext bool
	}{
		{name: "the whole directory", caller: bruno, sid: streetA, want: all},
		{name: "first page", caller: anna, sid: streetA, limit: 1, want: all[:1], wantNext: true},
		{name: "a bad cursor", caller: anna, sid: streetA, after: "nope", code: "bad_cursor"},
		{name: "another street's cursor", caller: anna, sid: streetA, after: signer.Encode("skills", streetB, "a"), code: "bad_cursor"},
		{name: "from a cursor", caller: anna, sid: streetA, after: signer.Encode("skills", streetA, "cucito"), want: all[1:]},
		{name: "past the end", caller: anna, sid: streetA, after: signer.Encode("skills", streetA, "zzz"), want: []line{}},
		{name: "another street's", caller: dario, sid: streetB, want: []line{{"chitarra", []string{dario}}}},
		{name: "a street the caller is not in", caller: dario, sid: streetA, code: "street_not_found"},
		{name: "a pending member", caller: elena, sid: streetA, code: "street_not_found"},
		{name: "a banned member", caller: franco, sid: streetA, code: "street_not_found"},
		{name: "a malformed street id", caller: anna, sid: "x", code: "street_not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			items, next, err := s.Skills(ctx, auth.Principal{UserID: c.caller}, c.sid, c.after, c.limit)
			if code(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			if c.code != "" {
				return
			}
			got := []line{}
			for _, it := range items {
				l := line{skill: it.Skill}
				for _, m := range it.Members {
					l.members = append(l.members, m.ID)
				}
				got = append(got, l)
			}
			if !slices.EqualFunc(got, c.want, func(a, b line) bool { return a.skill == b.skill && slices.Equal(a.members, b.members) }) {
				t.Fatalf("directory %+v, want %+v", got, c.want)
			}
			if (next != "") != c.wantNext {
				t.Fatalf("next %q", next)
			}
			if next != "" {
				rest, again, err := s.Skills(ctx, auth.Principal{UserID: c.caller}, c.sid, next, c.limit)
				if err != nil || again != "" || len(rest) != 1 || rest[0].Skill != "Giardinaggio" {
					t.Fatalf("second page %+v %q %v", rest, again, err)
				}
			}
		})
	}
}

// Initials: the first letter (or number) of the first and the last word.
func TestInitials(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"Anna Maria Rossi", "AR"}, {"anna", "A"}, {"  bruno   verdi ", "BV"}, {"Émile Zola", "ÉZ"},
		{"(Gino) Neri", "GN"}, {"🌻 Lia", "L"}, {"🌻", ""}, {"", ""}, {"3B Condominio", "3C"},
	} {
		if got := profiles.Initials(c.name); got != c.want {
			t.Errorf("Initials(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
