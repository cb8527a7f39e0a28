package streets_test

import (
	"errors"
	"sync"
	"testing"

	"civico/internal/auth"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestSlugify(t *testing.T) {
	for _, c := range []struct{ name, city, want string }{
		{"Via Fondazza", "Bologna", "via-fondazza-bologna"},
		{"  Via dell'Orso ", "Bologna", "via-dell-orso-bologna"},
		{"Piazza San Niccolò", "Forlì", "piazza-san-niccolo-forli"},
		{"Straße der Pariser Kommune", "Berlin", "strasse-der-pariser-kommune-berlin"},
		{"Rue de l'Œuf", "Nîmes", "rue-de-l-oeuf-nimes"},
		{"Via 20 Settembre", "Roma", "via-20-settembre-roma"},
		{"Улица", "Москва", "via"},
		{"Via--<script>", "!!", "via-script"},
	} {
		if got := streets.Slugify(c.name, c.city); got != c.want {
			t.Errorf("Slugify(%q, %q) = %q, want %q", c.name, c.city, got, c.want)
		}
		if !streets.ValidSlug(streets.Slugify(c.name, c.city)) {
			t.Errorf("Slugify(%q, %q) is no valid slug", c.name, c.city)
		}
	}
	long := streets.Slugify("Via della Lunghissima Strada che Non Finisce Mai e Poi Ancora un Pezzo di Strada", "San Giovanni in Persiceto")
	if len(long) > streets.MaxSlugLen || !streets.ValidSlug(long) {
		t.Errorf("long name: %q (%d bytes)", long, len(long))
	}
	for _, bad := range []string{"", "-via", "via-", "via--roma", "Via-Roma", "via roma", "via/roma", "via%2F", "vià"} {
		if streets.ValidSlug(bad) {
			t.Errorf("ValidSlug(%q) = true", bad)
		}
	}
}

// TestSlugIsUniqueAndStable: two streets of the same name and city, made
// at the same moment by two people, get two different slugs (the second
// "-2"); each slug leads to its own street; renaming a street keeps its
// slug, so a link on a flyer keeps working.
func TestSlugIsUniqueAndStable(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	var wg sync.WaitGroup
	got := make([]streets.Street, 2)
	errs := make([]error, 2)
	for i, u := range []auth.Principal{anna, bruno} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = e.Streets.Create(e.Ctx, u, streets.NewStreet{Name: "Via Fondazza", City: "Bologna"})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slugs := map[string]string{got[0].Slug: got[0].ID, got[1].Slug: got[1].ID}
	if slugs["via-fondazza-bologna"] == "" || slugs["via-fondazza-bologna-2"] == "" {
		t.Fatalf("slugs %q and %q, want via-fondazza-bologna and via-fondazza-bologna-2", got[0].Slug, got[1].Slug)
	}
	for slug, id := range slugs {
		l, err := e.Streets.BySlug(e.Ctx, slug)
		if err != nil || l.ID != id {
			t.Errorf("BySlug(%q) = %+v, %v; want street %s", slug, l, err, id)
		}
	}

	first := got[0]
	if first.Slug != "via-fondazza-bologna" {
		first = got[1]
	}
	admin := anna
	if first.ID == got[1].ID {
		admin = bruno
	}
	name := "Via Fondazza (social street)"
	st, err := e.Streets.Update(e.Ctx, admin, first.ID, streets.StreetChange{Name: &name})
	if err != nil || st.Name != name || st.Slug != "via-fondazza-bologna" {
		t.Fatalf("renamed: %+v, %v", st, err)
	}
	if l, err := e.Streets.BySlug(e.Ctx, "via-fondazza-bologna"); err != nil || l.Name != name {
		t.Fatalf("the old link after a rename: %+v, %v", l, err)
	}
	if _, err := e.Streets.BySlug(e.Ctx, "via-fondazza-bologna-3"); !errors.Is(err, streets.ErrStreetNotFound) {
		t.Fatalf("an unclaimed slug: %v", err)
	}
}

// TestUnlistedLeavesTheDirectory: an admin takes the street out of the
// directory; its page is still reached by its slug, marked not listed; a
// plain member may not do it.
func TestUnlistedLeavesTheDirectory(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.NamedStreet(anna, "Via Mascarella", bruno)
	no := false
	if _, err := e.Streets.Update(e.Ctx, bruno, sid, streets.StreetChange{Listed: &no}); !errors.Is(err, streets.ErrNotAdmin) {
		t.Fatalf("a member unlists: %v", err)
	}
	st, err := e.Streets.Update(e.Ctx, anna, sid, streets.StreetChange{Listed: &no})
	if err != nil || st.Listed {
		t.Fatalf("unlisted: %+v, %v", st, err)
	}
	if dir, _, _ := e.Streets.Directory(e.Ctx, "mascarella", "", "", 10); len(dir) != 0 {
		t.Fatalf("an unlisted street in the directory: %+v", dir)
	}
	l, err := e.Streets.BySlug(e.Ctx, "via-mascarella-bologna")
	if err != nil || l.ID != sid || l.Listed || l.MemberCount != 2 {
		t.Fatalf("by link: %+v, %v", l, err)
	}
	yes := true
	if _, err := e.Streets.Update(e.Ctx, anna, sid, streets.StreetChange{Listed: &yes}); err != nil {
		t.Fatal(err)
	}
	if dir, _, _ := e.Streets.Directory(e.Ctx, "mascarella", "", "", 10); len(dir) != 1 || dir[0].Slug != "via-mascarella-bologna" {
		t.Fatalf("listed again: %+v", dir)
	}
	audit, _, err := e.Streets.Audit(e.Ctx, anna, sid, "", 10)
	if err != nil || audit[0].Action != streets.ActionStreetUpdate || audit[0].Detail != "listed=true" {
		t.Fatalf("audit %+v, %v", audit, err)
	}
}

// TestStreetsBeforeSlugsGetOne: a street written before slugs gets one
// when a process starts (and any process reading it lazily).
func TestStreetsBeforeSlugsGetOne(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	sid := e.NamedStreet(anna, "Via del Borgo")
	oid, _ := bson.ObjectIDFromHex(sid)
	if _, err := e.Store.Collection("streets").UpdateOne(e.Ctx, bson.M{"_id": oid}, bson.M{"$unset": bson.M{"slug": ""}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Collection("street_slugs").DeleteOne(e.Ctx, bson.M{"_id": "via-del-borgo-bologna"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Streets.BySlug(e.Ctx, "via-del-borgo-bologna"); !errors.Is(err, streets.ErrStreetNotFound) {
		t.Fatalf("before: %v", err)
	}
	e.newService()
	l, err := e.Streets.BySlug(e.Ctx, "via-del-borgo-bologna")
	if err != nil || l.ID != sid {
		t.Fatalf("after a start: %+v, %v", l, err)
	}
}
