package posts_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/photos"
	"civico/internal/posts"
)

// slowDelete is the photos service with a gate on Delete: it says when a
// deletion starts and waits to be let go, so a test can act between an
// edit's write and the deletion of the photos it dropped. afterAttach,
// when set, runs once after the next Attach, before posts sees its answer.
type slowDelete struct {
	*photos.Service
	started, release chan struct{}
	afterAttach      func()
}

func (g *slowDelete) Delete(ctx context.Context, ids []string) error {
	g.started <- struct{}{}
	<-g.release
	return g.Service.Delete(ctx, ids)
}

func (g *slowDelete) Attach(ctx context.Context, streetID, userID, target string, ids []string) ([]photos.Size, error) {
	sizes, err := g.Service.Attach(ctx, streetID, userID, target, ids)
	if f := g.afterAttach; f != nil {
		g.afterAttach = nil
		f()
	}
	return sizes, err
}

// withPhotos returns a posts service over e's database that keeps photos
// in ph, a photos service of its own over the same database.
func (e *env) withPhotos() (*posts.Service, *slowDelete) {
	e.t.Helper()
	if err := e.Store.EnsureIndexes(e.Ctx, photos.Indexes()...); err != nil {
		e.t.Fatal(err)
	}
	ph := &slowDelete{Service: photos.New(e.Store, e.Clock, e.Streets, slog.New(slog.DiscardHandler), photos.Options{}),
		started: make(chan struct{}, 1), release: make(chan struct{})}
	s, err := posts.New(e.Ctx, e.Store, e.Log, e.Clock, e.Streets, nil, posts.Options{PostsPerHour: 10000, Photos: ph})
	if err != nil {
		e.t.Fatal(err)
	}
	return s, ph
}

func (e *env) upload(ph *slowDelete, u auth.Principal, sid string) string {
	e.t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		img.Set(x, x%30, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		e.t.Fatal(err)
	}
	p, err := ph.Upload(e.Ctx, u, sid, buf.Bytes())
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

// Two edits of one post's photos: the first drops a photo, and between its
// write and the deletion of that photo the second tries to keep it. The
// second is refused (the photo is no longer on the post), so the post never
// names a deleted image. Before, the second kept it and the post showed a
// photo whose image was then deleted.
func TestAPhotoAnEditDroppedIsNotKeptByAnother(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	s, ph := e.withPhotos()
	one, two := e.upload(ph, anna, sid), e.upload(ph, anna, sid)
	in := newPost("offer", "lending", "Presto una scala")
	in.Photos = []posts.PhotoIn{{ID: one, Alt: "Scala"}, {ID: two, Alt: "Gradino"}}
	post, err := s.Create(e.Ctx, anna, sid, in)
	if err != nil {
		t.Fatal(err)
	}

	first := make(chan error, 1)
	go func() {
		_, err := s.Update(e.Ctx, anna, post.ID, posts.Changes{Photos: &[]posts.PhotoIn{{ID: two, Alt: "Gradino"}}})
		first <- err
	}()
	select { // the first edit is written; photo one is being deleted
	case <-ph.started:
	case err := <-first:
		t.Fatalf("the first edit ended before deleting the photo it dropped: %v", err)
	}
	_, err = s.Update(e.Ctx, anna, post.ID, posts.Changes{Photos: &[]posts.PhotoIn{{ID: one, Alt: "Scala"}, {ID: two, Alt: "Gradino"}}})
	if fe, ok := fault.As(err); !ok || fe.Fields["photos.0.id"] != "unknown" {
		t.Errorf("keeping a photo another edit dropped: %v, want photos.0.id unknown", err)
	}
	close(ph.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(e.Ctx, anna, post.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got.Photos {
		if _, err := ph.Image(e.Ctx, anna, p.ID, photos.SizeThumb, ""); err != nil {
			t.Errorf("the post names photo %s, whose image answers %v", p.ID, err)
		}
	}
	if len(got.Photos) != 1 || got.Photos[0].ID != two {
		t.Errorf("the post shows %+v, want only photo two", got.Photos)
	}
}

// An edit naming a new upload and a photo it may not use is refused, and
// attaches nothing; meanwhile another edit puts that upload on the post.
// The refused edit must not give the upload back: the post names it, and
// an upload given back is swept as abandoned. Before, it was given back.
func TestARefusedEditGivesBackOnlyWhatItAttached(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	s, ph := e.withPhotos()
	p, x, y := e.upload(ph, anna, sid), e.upload(ph, anna, sid), e.upload(ph, anna, sid)
	in := newPost("offer", "lending", "Presto una scala")
	in.Photos = []posts.PhotoIn{{ID: p, Alt: "Scala"}}
	post, err := s.Create(e.Ctx, anna, sid, in)
	if err != nil {
		t.Fatal(err)
	}
	other := newPost("offer", "lending", "Presto un trapano")
	other.Photos = []posts.PhotoIn{{ID: y, Alt: "Trapano"}}
	if _, err := s.Create(e.Ctx, anna, sid, other); err != nil {
		t.Fatal(err)
	}

	ph.afterAttach = func() {
		if _, err := s.Update(e.Ctx, anna, post.ID, posts.Changes{Photos: &[]posts.PhotoIn{{ID: p, Alt: "Scala"}, {ID: x, Alt: "Gradino"}}}); err != nil {
			t.Errorf("the edit adding the upload: %v", err)
		}
	}
	_, err = s.Update(e.Ctx, anna, post.ID, posts.Changes{Photos: &[]posts.PhotoIn{{ID: x, Alt: "Gradino"}, {ID: y, Alt: "Trapano"}}})
	if fe, ok := fault.As(err); !ok || fe.Fields["photos.1.id"] != "unknown" {
		t.Fatalf("naming another post's photo: %v, want photos.1.id unknown", err)
	}

	e.Clock.Advance(photos.UnattachedFor + time.Hour)
	if err := ph.Sweep(e.Ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(e.Ctx, anna, post.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Photos) != 2 || got.Photos[1].ID != x {
		t.Fatalf("the post shows %+v, want the photo and the upload", got.Photos)
	}
	for _, p := range got.Photos {
		if _, err := ph.Image(e.Ctx, anna, p.ID, photos.SizeThumb, ""); err != nil {
			t.Errorf("the post names photo %s, whose image answers %v", p.ID, err)
		}
	}
}
