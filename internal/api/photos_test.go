package api_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"

	"civico/internal/testutil"
)

type uploadedPhoto struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	ThumbURL string `json:"thumb_url"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

// multipartFile is a multipart/form-data body with b as its field "file".
func multipartFile(t *testing.T, b []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("file", "IMG_0001.jpg")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

func smallJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x), G: uint8(y), B: 90, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func uploadPhoto(t *testing.T, s *testutil.Server, u *testutil.User, sid string, b []byte) uploadedPhoto {
	t.Helper()
	body, ct := multipartFile(t, b)
	var ph uploadedPhoto
	s.Do(t, "POST", "/streets/"+sid+"/photos", body, u.Token, "Content-Type", ct).Expect(t, http.StatusCreated).JSON(t, &ph)
	return ph
}

// A member uploads a photo and puts it on a post; members get it as a
// private, cacheable JPEG, anyone else a 404; five photos are too many;
// once the post is removed the image is gone.
func TestPhotosOnPosts(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, sara := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Sara")
	sid := s.StreetWithMembers(t, anna, "Via Fondazza", bruno)

	ph := uploadPhoto(t, s, anna, sid, smallJPEG(t, 120, 90))
	if ph.Width != 120 || ph.Height != 90 || ph.URL != "/api/v1/photos/"+ph.ID || ph.ThumbURL != ph.URL+"/thumb" {
		t.Fatalf("photo %+v", ph)
	}
	body, ct := multipartFile(t, []byte("not an image"))
	s.Do(t, "POST", "/streets/"+sid+"/photos", body, anna.Token, "Content-Type", ct).ExpectError(t, http.StatusUnprocessableEntity, "photo_invalid")
	s.Do(t, "POST", "/streets/"+sid+"/photos", map[string]string{"file": "x"}, anna.Token).ExpectError(t, http.StatusBadRequest, "file_required")
	body, ct = multipartFile(t, smallJPEG(t, 20, 20))
	s.Do(t, "POST", "/streets/"+sid+"/photos", body, sara.Token, "Content-Type", ct).ExpectError(t, http.StatusNotFound, "street_not_found")

	for _, path := range []string{ph.URL, ph.ThumbURL} {
		r := s.DoRaw(t, "GET", path, nil, bruno.Token).Expect(t, http.StatusOK)
		if r.Header.Get("Content-Type") != "image/jpeg" || !strings.HasPrefix(r.Header.Get("Cache-Control"), "private") ||
			r.Header.Get("ETag") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s headers %v", path, r.Header)
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(r.Body)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		s.DoRaw(t, "GET", path, nil, bruno.Token, "If-None-Match", r.Header.Get("ETag")).Expect(t, http.StatusNotModified)
		s.DoRaw(t, "GET", path, nil, sara.Token).ExpectError(t, http.StatusNotFound, "photo_not_found")
	}
	s.Do(t, "GET", "/photos/0123456789abcdef01234567", nil, bruno.Token).ExpectError(t, http.StatusNotFound, "photo_not_found")
	s.Do(t, "GET", "/photos/"+ph.ID, nil, "").Expect(t, http.StatusUnauthorized)

	five := []map[string]string{}
	for range 5 {
		five = append(five, map[string]string{"id": ph.ID, "alt": "Trapano"})
	}
	post := map[string]any{"kind": "offer", "category": "lending", "title": "Presto un trapano", "body": "Chiedete", "photos": five}
	r := s.Do(t, "POST", "/streets/"+sid+"/posts", post, anna.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	if r.Fields()["photos"] != "too_many" {
		t.Fatalf("fields %v", r.Fields())
	}
	post["photos"] = five[:1]
	// Members who have the street open see the photos arrive live too.
	live := s.ConnectWS(t, bruno, sid, "")
	var created struct {
		ID     string `json:"id"`
		Photos []struct {
			ID, Alt, URL string
		} `json:"photos"`
	}
	s.Do(t, "POST", "/streets/"+sid+"/posts", post, anna.Token).Expect(t, http.StatusCreated).JSON(t, &created)
	if len(created.Photos) != 1 || created.Photos[0].ID != ph.ID || created.Photos[0].Alt != "Trapano" {
		t.Fatalf("post %+v", created)
	}
	var frame struct {
		ID     string `json:"id"`
		Photos []struct {
			ID, Alt, URL string
			ThumbURL     string `json:"thumb_url"`
		} `json:"photos"`
	}
	if err := json.Unmarshal(live.NextOf(t, "post.created").Data, &frame); err != nil || frame.ID != created.ID ||
		len(frame.Photos) != 1 || frame.Photos[0].ID != ph.ID || frame.Photos[0].Alt != "Trapano" || frame.Photos[0].ThumbURL != ph.ThumbURL {
		t.Fatalf("post.created frame %+v %v", frame, err)
	}
	rph := uploadPhoto(t, s, bruno, sid, smallJPEG(t, 50, 50))
	s.Do(t, "POST", "/posts/"+created.ID+"/replies", map[string]any{"body": "Grazie!", "photo": map[string]string{"id": rph.ID, "alt": "Una vite"}},
		bruno.Token).Expect(t, http.StatusCreated)
	if err := json.Unmarshal(live.NextOf(t, "reply.created").Data, &frame); err != nil ||
		len(frame.Photos) != 1 || frame.Photos[0].ID != rph.ID || frame.Photos[0].URL != rph.URL {
		t.Fatalf("reply.created frame %+v %v", frame, err)
	}
	var thread struct {
		Photos  []struct{ ID string } `json:"photos"`
		Replies []struct {
			Photos []struct{ ID, ThumbURL string } `json:"photos"`
		} `json:"replies"`
	}
	s.Do(t, "GET", "/posts/"+created.ID, nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &thread)
	if len(thread.Photos) != 1 || len(thread.Replies) != 1 || len(thread.Replies[0].Photos) != 1 || thread.Replies[0].Photos[0].ID != rph.ID {
		t.Fatalf("thread %+v", thread)
	}

	s.Do(t, "DELETE", "/posts/"+created.ID, nil, anna.Token).Expect(t, http.StatusOK)
	for _, path := range []string{ph.URL, ph.ThumbURL, rph.URL} {
		s.DoRaw(t, "GET", path, nil, anna.Token).ExpectError(t, http.StatusNotFound, "photo_not_found")
	}
}

// The author changes a post's photos: adds one, rewrites an alt text,
// drops one (its image is deleted), then all. A photo that is not hers to
// use is refused and changes nothing; an edit that fails gives its new
// upload back for another post.
func TestEditingAPostsPhotos(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, anna, "Via del Pratello", bruno)
	one, two := uploadPhoto(t, s, anna, sid, smallJPEG(t, 60, 40)), uploadPhoto(t, s, anna, sid, smallJPEG(t, 40, 60))
	type photo struct{ ID, Alt string }
	var post struct {
		ID     string  `json:"id"`
		Photos []photo `json:"photos"`
	}
	s.Do(t, "POST", "/streets/"+sid+"/posts", map[string]any{"kind": "offer", "category": "lending", "title": "Presto una scala",
		"body": "Tre metri", "photos": []map[string]string{{"id": one.ID, "alt": "Scala"}}}, anna.Token).Expect(t, http.StatusCreated).JSON(t, &post)
	live := s.ConnectWS(t, bruno, sid, "")
	edit := func(u *testutil.User, photos ...map[string]string) *testutil.Response {
		t.Helper()
		if photos == nil {
			photos = []map[string]string{}
		}
		return s.Do(t, "PATCH", "/posts/"+post.ID, map[string]any{"photos": photos}, u.Token)
	}
	shows := func(want ...photo) {
		t.Helper()
		var got struct {
			Photos []photo `json:"photos"`
		}
		s.Do(t, "GET", "/posts/"+post.ID, nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &got)
		if len(got.Photos) != len(want) || len(want) > 0 && !slices.Equal(got.Photos, want) {
			t.Fatalf("the post shows photos %+v, want %+v", got.Photos, want)
		}
	}
	image := func(ph uploadedPhoto, status int) {
		t.Helper()
		if r := s.DoRaw(t, "GET", ph.ThumbURL, nil, bruno.Token); r.Status != status {
			t.Fatalf("photo %s answers %d, want %d", ph.ID, r.Status, status)
		}
	}

	edit(anna, map[string]string{"id": one.ID, "alt": "Scala in alluminio"}, map[string]string{"id": two.ID, "alt": "Il gradino"}).Expect(t, http.StatusOK)
	shows(photo{one.ID, "Scala in alluminio"}, photo{two.ID, "Il gradino"})
	var frame struct {
		Photos []photo `json:"photos"`
	}
	if err := json.Unmarshal(live.NextOf(t, "post.updated").Data, &frame); err != nil || len(frame.Photos) != 2 || frame.Photos[1].ID != two.ID {
		t.Fatalf("post.updated frame %+v %v", frame, err)
	}

	// Not hers to change, not hers to use, not a photo: refused, nothing changes.
	brunos := uploadPhoto(t, s, bruno, sid, smallJPEG(t, 30, 30))
	edit(bruno, map[string]string{"id": brunos.ID, "alt": "x"}).ExpectError(t, http.StatusForbidden, "not_author")
	other := uploadPhoto(t, s, anna, sid, smallJPEG(t, 30, 30))
	for _, c := range []struct {
		photos []map[string]string
		field  string
		code   string
	}{
		{[]map[string]string{{"id": one.ID, "alt": "Scala"}, {"id": brunos.ID, "alt": "x"}}, "photos.1.id", "unknown"},
		{[]map[string]string{{"id": other.ID, "alt": "Scala"}, {"id": "0123456789abcdef01234567", "alt": "x"}}, "photos.1.id", "unknown"},
		{[]map[string]string{{"id": "x", "alt": "x"}}, "photos.0.id", "invalid"},
		{[]map[string]string{{"id": one.ID, "alt": " "}}, "photos.0.alt", "required"},
		{[]map[string]string{{"id": one.ID, "alt": "a"}, {"id": one.ID, "alt": "b"}}, "photos.1.id", "duplicate"},
	} {
		r := edit(anna, c.photos...).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
		if r.Fields()[c.field] != c.code {
			t.Errorf("%v: fields %v, want %s %s", c.photos, r.Fields(), c.field, c.code)
		}
	}
	shows(photo{one.ID, "Scala in alluminio"}, photo{two.ID, "Il gradino"})
	image(one, http.StatusOK)

	// Dropping one deletes its image; the other stays.
	edit(anna, map[string]string{"id": two.ID, "alt": "Il gradino"}).Expect(t, http.StatusOK)
	shows(photo{two.ID, "Il gradino"})
	image(one, http.StatusNotFound)
	image(two, http.StatusOK)
	edit(anna).Expect(t, http.StatusOK)
	shows()
	image(two, http.StatusNotFound)

	// A closed post can no longer change: the new upload it named is
	// given back, and goes on another post.
	s.Do(t, "POST", "/posts/"+post.ID+"/close", nil, anna.Token).Expect(t, http.StatusOK)
	edit(anna, map[string]string{"id": other.ID, "alt": "Scala"}).ExpectError(t, http.StatusConflict, "post_not_editable")
	s.Do(t, "POST", "/streets/"+sid+"/posts", map[string]any{"kind": "offer", "category": "lending", "title": "Presto un trapano",
		"body": "Chiedete", "photos": []map[string]string{{"id": other.ID, "alt": "Trapano"}}}, anna.Token).Expect(t, http.StatusCreated)
}

// Anna opens her post's edit form on the tablet, then adds a photo from
// her phone. The tablet's form, saved later with the photos it started
// from, is refused rather than deleting the phone's photo unseen; its new
// upload goes back, free for another post. A form up to date saves.
func TestAStaleEditFormDeletesNoPhotoUnseen(t *testing.T) {
	s := testutil.Start(t)
	anna := s.Register(t, "Anna")
	sid := s.StreetWithMembers(t, anna, "Via del Pratello")
	one, phone, tablet := uploadPhoto(t, s, anna, sid, smallJPEG(t, 60, 40)), uploadPhoto(t, s, anna, sid, smallJPEG(t, 40, 60)), uploadPhoto(t, s, anna, sid, smallJPEG(t, 30, 30))
	var post struct {
		ID     string `json:"id"`
		Photos []struct{ ID string }
	}
	s.Do(t, "POST", "/streets/"+sid+"/posts", map[string]any{"kind": "offer", "category": "lending", "title": "Presto una scala",
		"body": "Tre metri", "photos": []map[string]string{{"id": one.ID, "alt": "Scala"}}}, anna.Token).Expect(t, http.StatusCreated).JSON(t, &post)
	photo := func(ph uploadedPhoto, alt string) map[string]string {
		return map[string]string{"id": ph.ID, "alt": alt}
	}

	s.Do(t, "PATCH", "/posts/"+post.ID, map[string]any{"photos": []map[string]string{photo(one, "Scala"), photo(phone, "Gradino")},
		"photos_were": []string{one.ID}}, anna.Token).Expect(t, http.StatusOK)
	s.Do(t, "PATCH", "/posts/"+post.ID, map[string]any{"photos": []map[string]string{photo(one, "Scala"), photo(tablet, "Piedi")},
		"photos_were": []string{one.ID}}, anna.Token).ExpectError(t, http.StatusConflict, "post_photos_changed")
	s.Do(t, "GET", "/posts/"+post.ID, nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &post)
	if len(post.Photos) != 2 || post.Photos[1].ID != phone.ID {
		t.Fatalf("after the stale form: photos %+v, want the phone's two", post.Photos)
	}
	if r := s.DoRaw(t, "GET", phone.ThumbURL, nil, anna.Token); r.Status != http.StatusOK {
		t.Fatalf("the phone's photo answers %d", r.Status)
	}
	r := s.Do(t, "PATCH", "/posts/"+post.ID, map[string]any{"photos": []map[string]string{}, "photos_were": []string{"a", "b", "c", "d", "e"}}, anna.Token).
		ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	if r.Fields()["photos_were"] != "too_many" {
		t.Fatalf("fields %v", r.Fields())
	}

	s.Do(t, "PATCH", "/posts/"+post.ID, map[string]any{"photos": []map[string]string{photo(phone, "Gradino"), photo(tablet, "Piedi")},
		"photos_were": []string{one.ID, phone.ID}}, anna.Token).Expect(t, http.StatusOK)
	s.Do(t, "GET", "/posts/"+post.ID, nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &post)
	if len(post.Photos) != 2 || post.Photos[0].ID != phone.ID || post.Photos[1].ID != tablet.ID {
		t.Fatalf("after an up-to-date form: photos %+v, want the phone's and the tablet's", post.Photos)
	}
}
