package streets

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/text/unicode/norm"
)

// A street's slug is its readable public address (/s/via-fondazza-bologna):
// the name and city folded to lower-case ASCII words joined by "-". It is
// given once, when the street is made (or, for streets made before slugs,
// at the next start or the first time it is asked for), and never changes,
// not even when the street is renamed: links on flyers and in chats keep
// working. Uniqueness is settled by the database: a slug is claimed by
// inserting a street_slugs document whose _id is the slug; the second
// street of the same name and city finds it taken and claims "-2".

// MaxSlugLen bounds a slug (and what the public page accepts from a URL).
const MaxSlugLen = 80

// slugTries is how many numbered slugs ("-2" … ) are tried before the
// street's id makes one unique for sure.
const slugTries = 20

// slugFallback names a street whose name and city have no Latin letter or
// digit at all.
const slugFallback = "via"

type slugDoc struct {
	ID       string    `bson:"_id"` // the slug
	StreetID string    `bson:"street_id"`
	At       time.Time `bson:"at"`
}

// ligatures are the letters NFD does not take apart into a base letter
// and marks.
var ligatures = map[rune]string{
	'ß': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ø': "o", 'Ø': "o",
	'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ð': "d", 'þ': "th", 'ı': "i",
}

// Slugify is the slug of a street called name in city, before any number
// is added: accents folded ("Nicolò" → "nicolo"), every run of other
// characters one "-", at most MaxSlugLen long, cut at a word's end.
func Slugify(name, city string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(name + " " + city) {
		if unicode.Is(unicode.Mn, r) {
			continue // the accent of a decomposed letter
		}
		s := ""
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			s = string(r)
		case r >= 'A' && r <= 'Z':
			s = string(r + 'a' - 'A')
		default:
			s = ligatures[r]
		}
		if s == "" {
			dash = b.Len() > 0
			continue
		}
		if dash {
			b.WriteByte('-')
			dash = false
		}
		b.WriteString(s)
	}
	out := b.String()
	if out == "" {
		return slugFallback
	}
	return cut(out, MaxSlugLen)
}

// cut shortens a slug to at most n bytes, at a "-" when there is one.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		s = s[:i]
	}
	return strings.TrimRight(s, "-")
}

// numbered is base with suffix after a "-", within MaxSlugLen.
func numbered(base, suffix string) string {
	return cut(base, MaxSlugLen-len(suffix)-1) + "-" + suffix
}

// ValidSlug says whether s has the form of a slug: lower-case letters and
// digits in words joined by single "-", at most MaxSlugLen long. What a
// URL carries is checked with it before it reaches the database.
func ValidSlug(s string) bool {
	if s == "" || len(s) > MaxSlugLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// claimSlug gives streetID the first free slug of its name and city. A
// claim already made for the same street (two processes backfilling it at
// once) is the street's own.
func (s *Service) claimSlug(ctx context.Context, streetID, name, city string) (string, error) {
	base := Slugify(name, city)
	for n := 1; n <= slugTries+1; n++ {
		cand := base
		switch {
		case n == slugTries+1:
			cand = numbered(base, streetID) // unique as the id is
		case n > 1:
			cand = numbered(base, strconv.Itoa(n))
		}
		_, err := s.slugs.InsertOne(ctx, slugDoc{ID: cand, StreetID: streetID, At: s.now()})
		if err == nil {
			return cand, nil
		}
		if !store.IsDuplicate(err) {
			return "", err
		}
		var d slugDoc
		err = s.slugs.FindOne(ctx, bson.M{"_id": cand}, &d)
		if err == nil && d.StreetID == streetID {
			return cand, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	return "", errors.New("streets: no free slug for " + streetID)
}

// ensureSlug gives a street written before slugs its slug, once: the
// street's update is conditional on it having none, and a street that got
// one meanwhile (another process) keeps that one.
func (s *Service) ensureSlug(ctx context.Context, d *streetDoc) error {
	if d.Slug != "" {
		return nil
	}
	slug, err := s.claimSlug(ctx, d.ID.Hex(), d.Name, d.City)
	if err != nil {
		return err
	}
	res, err := s.streets.UpdateOne(ctx, bson.M{"_id": d.ID, "slug": bson.M{"$exists": false}}, bson.M{"$set": bson.M{"slug": slug}})
	if err != nil {
		return err
	}
	if res.MatchedCount == 1 {
		d.Slug = slug
		return nil
	}
	var now streetDoc
	if err := s.streets.FindOne(ctx, bson.M{"_id": d.ID}, &now); err != nil {
		return err
	}
	d.Slug = now.Slug
	return nil
}

// backfillSlugs gives every street written before slugs its slug (at each
// start: idempotent, and a no-op once every street has one).
func (s *Service) backfillSlugs(ctx context.Context) error {
	var old []streetDoc
	if err := s.streets.FindAll(ctx, bson.M{"slug": bson.M{"$exists": false}}, &old); err != nil {
		return err
	}
	for i := range old {
		if err := s.ensureSlug(ctx, &old[i]); err != nil {
			return err
		}
	}
	return nil
}

// BySlug is the public face of the street at /s/<slug>: two reads by _id
// (the claim, then the street). A street's slug never changes, and a claim
// always names its street, so every link ever given out finds it.
func (s *Service) BySlug(ctx context.Context, slug string) (Listing, error) {
	if !ValidSlug(slug) {
		return Listing{}, ErrStreetNotFound
	}
	var c slugDoc
	err := s.slugs.FindOne(ctx, bson.M{"_id": slug}, &c)
	if errors.Is(err, store.ErrNotFound) {
		return Listing{}, ErrStreetNotFound
	}
	if err != nil {
		return Listing{}, err
	}
	return s.Listing(ctx, c.StreetID)
}
