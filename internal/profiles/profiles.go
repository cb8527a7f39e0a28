// Package profiles shows a member's profile to the other members of a
// street, and gathers the street's skills directory: who offers what.
//
// The profile itself (presentation, skills, the consent to list them) is
// part of the account and changed with it (internal/auth, PATCH /me);
// memberships are the streets'. This package owns no data: it reads both
// through the small interfaces below and decides who may see what. Every
// read goes through a street, and both the one asking and the one shown
// must be active members of that street: a neighbour in street A never
// reaches a profile through street B, and no profile carries an email or
// a phone number. Skills appear (on the profile and in the directory) only
// for members who consented to share them.
package profiles

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/store"
	"civico/internal/streets"
)

// Errors of this package. A member the caller may not see, or who is not
// an active member of the street, is not found (as the streets say it);
// a street the caller is not an active member of is streets' own 404.
var (
	ErrNotFound  = fault.New(fault.NotFound, "member_not_found", "member not found")
	ErrBadCursor = cursor.ErrInvalid
)

// Accounts reads accounts: the profile's fields and names (auth.Service).
type Accounts interface {
	User(ctx context.Context, id string) (auth.Account, error)
	Users(ctx context.Context, ids []string) (map[string]auth.Account, error)
}

// Members tells who belongs to a street (streets.Service). RequireActive
// answers the street's 404 for anyone but an active member; Membership
// reads one membership in any status, read from the database.
type Members interface {
	RequireActive(ctx context.Context, streetID, userID string) (streets.Member, error)
	Membership(ctx context.Context, streetID, userID string) (streets.Member, error)
	ActiveMemberIDs(ctx context.Context, streetID string) ([]string, error)
}

// Deps are the services profiles read.
type Deps struct {
	Accounts Accounts
	Members  Members
}

// Service answers profiles and skills directories.
type Service struct {
	deps    Deps
	cursors *cursor.Signer
}

// New returns the service; cursors signs the directory's pages.
func New(deps Deps, cursors *cursor.Signer) *Service {
	return &Service{deps: deps, cursors: cursors}
}

// Profile is a member as the street's other members see them: never an
// email or a phone number.
type Profile struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Initials string `json:"initials"`
	Bio      string `json:"bio"`
	// Skills are there only when the member consented to share them.
	Skills []string `json:"skills,omitempty"`
	// MemberSince is when they joined this street.
	MemberSince time.Time `json:"member_since"`
}

// Neighbour is a member listed in the skills directory.
type Neighbour struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Skill is one line of the street's skills directory: a skill and the
// consenting members who offer it, by name.
type Skill struct {
	Skill   string      `json:"skill"`
	Members []Neighbour `json:"members"`
}

// Profile returns userID's profile as seen in streetID by the caller.
// The caller's active membership is read once, from the database; the one
// shown must be an active member of the same street.
func (s *Service) Profile(ctx context.Context, p auth.Principal, streetID, userID string) (Profile, error) {
	if _, ok := store.ID(streetID); !ok {
		return Profile{}, streets.ErrStreetNotFound
	}
	if _, ok := store.ID(userID); !ok {
		return Profile{}, ErrNotFound
	}
	me, err := s.deps.Members.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return Profile{}, err
	}
	m := me
	if userID != p.UserID {
		m, err = s.deps.Members.Membership(ctx, streetID, userID)
		if errors.Is(err, streets.ErrMemberNotFound) {
			return Profile{}, ErrNotFound
		}
		if err != nil {
			return Profile{}, fmt.Errorf("profiles: membership: %w", err)
		}
	}
	if m.Status != streets.StatusActive {
		return Profile{}, ErrNotFound
	}
	acc, err := s.deps.Accounts.User(ctx, userID)
	if errors.Is(err, auth.ErrUserNotFound) {
		return Profile{}, ErrNotFound
	}
	if err != nil {
		return Profile{}, fmt.Errorf("profiles: account: %w", err)
	}
	since := m.UpdatedAt
	if m.JoinedAt != nil {
		since = *m.JoinedAt
	}
	out := Profile{ID: acc.ID, Name: acc.Name, Initials: Initials(acc.Name), Bio: acc.Bio, MemberSince: since.UTC()}
	if acc.ShareSkills && len(acc.Skills) > 0 {
		out.Skills = acc.Skills
	}
	return out, nil
}

// Skills lists the street's skills directory for one of its active
// members: every skill its consenting active members offer, in
// alphabetical order (case aside: auth.SkillKey), each with its members by
// name; a page holds limit skills, from after (a next_cursor) on.
//
// It reads the street's active members and their accounts at each call:
// the cost grows with the street, never with the rest of the database, and
// a consent withdrawn (on any process) is gone from the next page.
func (s *Service) Skills(ctx context.Context, p auth.Principal, streetID, after string, limit int) ([]Skill, string, error) {
	if _, ok := store.ID(streetID); !ok {
		return nil, "", streets.ErrStreetNotFound
	}
	if _, err := s.deps.Members.RequireActive(ctx, streetID, p.UserID); err != nil {
		return nil, "", err
	}
	limit = cursor.Limit(limit, 20)
	fromKey := ""
	if after != "" {
		c, ok := s.cursors.Decode(after, 3)
		if !ok || c[0] != "skills" || c[1] != streetID {
			return nil, "", ErrBadCursor
		}
		fromKey = c[2]
	}
	ids, err := s.deps.Members.ActiveMemberIDs(ctx, streetID)
	if err != nil {
		return nil, "", fmt.Errorf("profiles: members: %w", err)
	}
	accounts, err := s.deps.Accounts.Users(ctx, ids)
	if err != nil {
		return nil, "", fmt.Errorf("profiles: accounts: %w", err)
	}
	all := directory(ids, accounts)
	i := 0
	if after != "" {
		i = sort.Search(len(all), func(i int) bool { return all[i].key > fromKey })
	}
	out := []Skill{}
	next := ""
	for ; i < len(all); i++ {
		if len(out) == limit {
			next = s.cursors.Encode("skills", streetID, all[i-1].key)
			break
		}
		out = append(out, all[i].Skill)
	}
	return out, next, nil
}

type keyedSkill struct {
	key string
	Skill
}

// directory groups the consenting members' skills by auth.SkillKey, in
// key order. A skill spelled in several ways is shown as most of its
// members spell it (of equals, the first in byte order), so the page does
// not change with who joined first.
func directory(ids []string, accounts map[string]auth.Account) []keyedSkill {
	type group struct {
		spellings map[string]int
		members   []Neighbour
	}
	groups := map[string]*group{}
	for _, id := range ids {
		acc, ok := accounts[id]
		if !ok || !acc.ShareSkills {
			continue
		}
		seen := map[string]bool{}
		for _, sk := range acc.Skills {
			k := auth.SkillKey(sk)
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			g := groups[k]
			if g == nil {
				g = &group{spellings: map[string]int{}}
				groups[k] = g
			}
			g.spellings[sk]++
			g.members = append(g.members, Neighbour{ID: acc.ID, Name: acc.Name})
		}
	}
	out := make([]keyedSkill, 0, len(groups))
	for k, g := range groups {
		best, n := "", 0
		for sp, c := range g.spellings {
			if c > n || (c == n && sp < best) {
				best, n = sp, c
			}
		}
		sort.Slice(g.members, func(i, j int) bool {
			a, b := strings.ToLower(g.members[i].Name), strings.ToLower(g.members[j].Name)
			if a != b {
				return a < b
			}
			return g.members[i].ID < g.members[j].ID
		})
		out = append(out, keyedSkill{key: k, Skill: Skill{Skill: best, Members: g.members}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// Initials are what an avatar shows: the first letter or number of the
// name's first word and of its last, upper case ("Anna Maria Rossi": "AR";
// "anna": "A"); "" when the name has none. The PWA's avatar (avatar.js)
// computes the same from a name.
func Initials(name string) string {
	words := strings.Fields(name)
	first := func(w string) (rune, bool) {
		for _, r := range w {
			if unicode.IsLetter(r) || unicode.IsNumber(r) {
				return unicode.ToUpper(r), true
			}
		}
		return 0, false
	}
	var out []rune
	for i, w := range words {
		if i != 0 && i != len(words)-1 {
			continue
		}
		if r, ok := first(w); ok {
			out = append(out, r)
		}
	}
	return string(out)
}
