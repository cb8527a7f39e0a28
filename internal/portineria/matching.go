package portineria

import (
	"context"
	"sort"
	"strings"
	"unicode"

	"civico/internal/store"

	"golang.org/x/text/unicode/norm"
)

// What "no wrong door" (package handoff) needs of an association: who is
// on its staff, and which roster members have the skills a request asks for.

// Lookup returns an association's public face (name, area, desk); anyone
// may see it, as in the directory.
func (s *Service) Lookup(ctx context.Context, aid string) (Association, error) {
	a, err := s.load(ctx, aid)
	if err != nil {
		return Association{}, err
	}
	return s.view(a, ""), nil
}

// RoleOf is userID's role in the association's staff, "" when none;
// ErrAssociationNotFound when there is no such association.
func (s *Service) RoleOf(ctx context.Context, aid, userID string) (Role, error) {
	a, err := s.load(ctx, aid)
	if err != nil {
		return "", err
	}
	return a.roleOf(userID), nil
}

// SkillMatch is a roster member whose skills fit a request. Phone and Email
// are filled only when asked for (the staff, who keep the roster).
type SkillMatch struct {
	MemberID string   `json:"member_id"`
	Number   int64    `json:"number"`
	FullName string   `json:"full_name"`
	Skills   []string `json:"skills"`
	// CardValid says the card is paid for this year or last year.
	CardValid bool   `json:"card_valid"`
	Phone     string `json:"phone,omitempty"`
	Email     string `json:"email,omitempty"`
}

// MatchSkills reads the roster once and returns, for each need (a name →
// keywords), up to limit members having a skill with a word that matches
// one of the keywords (see WordsMatch): valid cards first, then by number.
// Erased members are never matched.
func (s *Service) MatchSkills(ctx context.Context, aid string, needs map[string][]string, contacts bool, limit int) (map[string][]SkillMatch, error) {
	a, err := s.load(ctx, aid)
	if err != nil {
		return nil, err
	}
	out := map[string][]SkillMatch{}
	if len(needs) == 0 {
		return out, nil
	}
	ms, err := s.allMembers(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	y := a.year(s.clock.Now())
	b, err := s.yearBook(ctx, &a, y-1, y)
	if err != nil {
		return nil, err
	}
	// Each member's skills are split into words once, not once per need.
	words := make([][]string, len(ms))
	for i := range ms {
		if !ms[i].Erased {
			for _, sk := range ms[i].Skills {
				words[i] = append(words[i], Words(sk)...)
			}
		}
	}
	for need, raw := range needs {
		keys := compileKeys(raw)
		var found []SkillMatch
		for i := range ms {
			m := &ms[i]
			if m.Erased || !matchAny(words[i], keys) {
				continue
			}
			sm := SkillMatch{MemberID: m.ID.Hex(), Number: m.Number, FullName: m.FullName, Skills: m.Skills,
				CardValid: b.active(m, y) || b.active(m, y-1)}
			if sm.Skills == nil {
				sm.Skills = []string{}
			}
			if contacts {
				sm.Phone, sm.Email = m.Phone, m.Email
			}
			found = append(found, sm)
		}
		sort.SliceStable(found, func(i, j int) bool {
			if found[i].CardValid != found[j].CardValid {
				return found[i].CardValid
			}
			return found[i].Number < found[j].Number
		})
		if len(found) > limit {
			found = found[:limit]
		}
		out[need] = found
	}
	return out, nil
}

// Words splits text into its words in search form: lower case, accents
// and other marks removed (Unicode decomposition, so "Nicolò", "Ñandú" and
// "çà" fold too), split at anything that is not a letter or a digit
// ("small_repairs" is "small" and "repairs").
func Words(text string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, r := range norm.NFKD.String(text) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a combining accent: dropped, the word goes on
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if r == 'ß' {
				b.WriteString("ss")
				continue
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return out
}

// WordsMatch tells whether one of words matches one of keys. A key
// matches a whole word only ("cane" finds "cane", never "americane"); a
// key ending in "*" is a stem and matches the words starting with it
// ("ripar*" finds "riparazioni"). Keys are folded like the words.
func WordsMatch(words, keys []string) bool { return matchAny(words, compileKeys(keys)) }

type keyword struct {
	word string
	stem bool
}

// compileKeys folds keys once; a key that is empty or not one word
// matches nothing.
func compileKeys(keys []string) []keyword {
	out := make([]keyword, 0, len(keys))
	for _, k := range keys {
		kw := Words(strings.TrimSuffix(k, "*"))
		if len(kw) == 1 {
			out = append(out, keyword{word: kw[0], stem: strings.HasSuffix(k, "*")})
		}
	}
	return out
}

func matchAny(words []string, keys []keyword) bool {
	for _, k := range keys {
		for _, w := range words {
			if w == k.word || k.stem && strings.HasPrefix(w, k.word) {
				return true
			}
		}
	}
	return false
}

// RecordAudit adds a line to the association's audit trail for what
// another package did with it (a street link asked for, accepted or
// removed). Detail is machine-readable and holds no personal data. A
// failure is logged: the action is done already.
func (s *Service) RecordAudit(ctx context.Context, aid, actorID, action, detail string) {
	oid, ok := store.ID(aid)
	if !ok {
		return
	}
	s.trail(ctx, oid, actorID, action, auditRef{Detail: detail})
}
