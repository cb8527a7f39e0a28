package auth

import (
	"strings"
	"unicode/utf8"

	"civico/internal/fault"
	"civico/internal/wording"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The profile's bounds: a presentation neighbours read at a glance, and a
// short list of skills, each a few words ("piccole riparazioni").
const (
	MaxBio      = 280
	MaxSkills   = 10
	MaxSkillLen = 40
)

// profileChanges validates the profile's part of ch into f and adds what
// it changes to set, the one $set of the update.
func profileChanges(f fault.Fields, ch Changes, set bson.M) {
	if ch.Bio != nil {
		bio, problem := cleanBio(*ch.Bio)
		if problem != "" {
			f.Add("bio", problem)
		}
		set["bio"] = bio
	}
	if ch.Skills != nil {
		skills, problem := cleanSkills(*ch.Skills)
		if problem != "" {
			f.Add("skills", problem)
		}
		set["skills"] = skills
	}
	if ch.ShareSkills != nil {
		set["share_skills"] = *ch.ShareSkills
	}
}

// cleanBio is the presentation in its normal form, or the problem with it.
// Several lines are fine (wording.Text); empty clears it.
func cleanBio(s string) (string, string) {
	if len(s) > 8*MaxBio {
		return "", "too_long" // before any work on it: no 280 characters take that many bytes, even decomposed
	}
	s = wording.Text(s)
	if utf8.RuneCountInString(s) > MaxBio {
		return "", "too_long"
	}
	if problem := wording.Problem(s); problem != "" {
		return "", problem
	}
	return s, ""
}

// cleanSkills is the list of skills in normal form (each one line,
// wording.Line), in the order given, or the first problem with it: more
// than MaxSkills, an empty or too long skill, one that hides what it says,
// or the same skill twice (SkillKey: case aside).
func cleanSkills(in []string) ([]string, string) {
	if len(in) > MaxSkills {
		return nil, "too_many"
	}
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if len(s) > 8*MaxSkillLen {
			return nil, "too_long"
		}
		s = wording.Line(s)
		switch {
		case s == "":
			return nil, "required"
		case utf8.RuneCountInString(s) > MaxSkillLen:
			return nil, "too_long"
		}
		if problem := wording.Problem(s); problem != "" {
			return nil, problem
		}
		k := SkillKey(s)
		if seen[k] {
			return nil, "duplicate"
		}
		seen[k] = true
		out = append(out, s)
	}
	return out, ""
}

// SkillKey is the form two spellings of one skill share ("Giardinaggio",
// "giardinaggio "): what the street's skills directory groups and sorts by.
func SkillKey(s string) string { return strings.ToLower(wording.Line(s)) }
