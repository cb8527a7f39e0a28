package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"civico/internal/testutil"
)

type placeJSON struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Lat        *float64 `json:"lat"`
	Lng        *float64 `json:"lng"`
	VerifiedAt string   `json:"verified_at"`
	Stale      bool     `json:"stale"`
	DistanceM  *float64 `json:"distance_m"`
	Open       *bool    `json:"open"`
	Version    int64    `json:"version"`
}

func TestPlacesPublicSearchAndKeeping(t *testing.T) {
	s := testutil.Start(t)
	coord, vol, resident := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi"), s.Register(t, "Carla Neri")
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")

	body := map[string]any{"name": "Casa della salute Navile", "kind": "health", "description": "Prelievi e medicina generale",
		"address": "Via Fioravanti 24", "area": "Bolognina", "lat": 44.5111, "lng": 11.3514, "targets": []string{"everyone"},
		"hours":    map[string]any{"mon": [][]string{{"08:00", "19:00"}}, "exceptions": []map[string]any{{"date": "2026-12-25", "closed": true}}},
		"contacts": map[string]string{"phone": "+39 051 6223811", "web": "https://www.ausl.bologna.it"}, "languages": []string{"it", "en"}}
	var p placeJSON
	s.Do(t, "POST", "/associations/"+aid+"/places", body, vol.Token).Expect(t, 201).JSON(t, &p)
	if p.ID == "" || p.VerifiedAt == "" || p.Version != 1 {
		t.Fatalf("created %+v", p)
	}

	// Refused: signed out, a resident, a volunteer of another association.
	s.Do(t, "POST", "/associations/"+aid+"/places", body, "").ExpectError(t, 401, "unauthorized")
	s.Do(t, "POST", "/associations/"+aid+"/places", body, resident.Token).ExpectError(t, 404, "association_not_found")
	s.Do(t, "PATCH", "/places/"+p.ID, map[string]string{"name": "Mia"}, "").ExpectError(t, 401, "unauthorized")
	s.Do(t, "PATCH", "/places/"+p.ID, map[string]string{"name": "Mia"}, resident.Token).ExpectError(t, 404, "place_not_found")
	s.Do(t, "DELETE", "/places/"+p.ID, nil, resident.Token).ExpectError(t, 404, "place_not_found")
	s.Do(t, "GET", "/places/"+p.ID+"/history", nil, resident.Token).ExpectError(t, 404, "place_not_found")
	s.Do(t, "POST", "/associations/"+aid+"/places", map[string]any{"name": "x", "kind": "bar"}, vol.Token).ExpectError(t, 422, "validation_failed")

	// Anyone finds it, signed out too.
	var list struct {
		Items      []placeJSON `json:"items"`
		NextCursor string      `json:"next_cursor"`
	}
	s.Do(t, "GET", "/api/v1/places?q=medicina&kind=health&near=44.5075,11.3514&radius_m=1000&open_at=2026-03-16T10:00:00%2B01:00", nil, "").Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != p.ID || list.Items[0].DistanceM == nil || list.Items[0].Open == nil || !*list.Items[0].Open ||
		list.Items[0].VerifiedAt == "" {
		t.Fatalf("search %+v", list)
	}
	s.Do(t, "GET", "/api/v1/places?near=44.5075,11.3514&radius_m=100", nil, "").Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("400 m away within 100 m: %+v", list.Items)
	}
	s.Do(t, "GET", "/places?kind=bar", nil, "").ExpectError(t, 422, "validation_failed")
	s.Do(t, "GET", "/places?cursor=nope", nil, "").ExpectError(t, 400, "bad_cursor")
	s.Do(t, "GET", "/places/"+p.ID, nil, "").Expect(t, 200).JSON(t, &p)

	s.Do(t, "PATCH", "/places/"+p.ID, map[string]string{"address": "Via Fioravanti 26"}, coord.Token).Expect(t, 200).JSON(t, &p)
	s.Do(t, "POST", "/places/"+p.ID+"/verify", nil, vol.Token).Expect(t, 200).JSON(t, &p)
	if p.Version != 3 {
		t.Fatalf("version %d", p.Version)
	}
	var hist struct {
		Items []struct {
			Action   string   `json:"action"`
			UserName string   `json:"user_name"`
			Fields   []string `json:"fields"`
		} `json:"items"`
	}
	s.Do(t, "GET", "/places/"+p.ID+"/history", nil, vol.Token).Expect(t, 200).JSON(t, &hist)
	if len(hist.Items) != 3 || hist.Items[0].Action != "verified" || hist.Items[1].UserName != "Anna Rossi" || hist.Items[1].Fields[0] != "address" {
		t.Fatalf("history %+v", hist.Items)
	}
	s.Do(t, "DELETE", "/places/"+p.ID, nil, vol.Token).Expect(t, 204)
	s.Do(t, "GET", "/places/"+p.ID, nil, "").ExpectError(t, 404, "place_not_found")
}

func TestPlacesCSVAndGeoJSON(t *testing.T) {
	s := testutil.Start(t)
	coord, resident := s.Register(t, "Anna Rossi"), s.Register(t, "Carla Neri")
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)
	csvPath := "/api/v1/associations/" + aid + "/places.csv"

	in := "name,kind,description,lat,lng,targets,hours,phone\n" +
		"\"Caffè \"\"Il Ritrovo\"\", sì\",culture,\"Letture\ne musica\",44.51,11.34,everyone|elderly,mon 09:00-12:00,'+39 051 123\n" +
		"'=SOMMA(A1),other,-meno,,,,,\n"
	s.Do(t, "POST", csvPath, in, resident.Token, "Content-Type", "text/csv").ExpectError(t, 404, "association_not_found")
	s.Do(t, "POST", csvPath, in, coord.Token).ExpectError(t, 415, "unsupported_media_type")
	s.Do(t, "POST", csvPath, "name,kind\nx,bar\n", coord.Token, "Content-Type", "text/csv").ExpectError(t, 422, "csv_invalid")
	var res struct {
		Created int `json:"created"`
	}
	s.Do(t, "POST", csvPath, in, coord.Token, "Content-Type", "text/csv; charset=utf-8").Expect(t, 200).JSON(t, &res)
	if res.Created != 2 {
		t.Fatalf("import %+v", res)
	}

	out := s.Do(t, "GET", csvPath, nil, coord.Token).Expect(t, 200)
	if ct := out.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(out.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("headers %v", out.Header)
	}
	rows, err := csv.NewReader(bytes.NewReader(out.Body)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("%v %q", err, out.Body)
	}
	// By name: "Caffè…" before "=SOMMA…" (read as "somma").
	if rows[2][1] != "'=SOMMA(A1)" || rows[2][3] != "'-meno" || rows[1][1] != "Caffè \"Il Ritrovo\", sì" || rows[1][3] != "Letture\ne musica" ||
		rows[1][11] != "'+39 051 123" {
		t.Fatalf("export %q", rows)
	}
	s.Do(t, "GET", csvPath, nil, resident.Token).ExpectError(t, 404, "association_not_found")
	s.Do(t, "GET", csvPath, nil, "").ExpectError(t, 401, "unauthorized")

	geo := s.Do(t, "GET", "/api/v1/places.geojson?association="+aid, nil, "").Expect(t, 200)
	if ct := geo.Header.Get("Content-Type"); ct != "application/geo+json" {
		t.Fatalf("content type %q", ct)
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Geometry struct {
				Type        string     `json:"type"`
				Coordinates [2]float64 `json:"coordinates"`
			} `json:"geometry"`
			Properties struct {
				Name string `json:"name"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(geo.Body, &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 1 || fc.Features[0].Geometry.Coordinates != [2]float64{11.34, 44.51} ||
		fc.Features[0].Properties.Name != "Caffè \"Il Ritrovo\", sì" {
		t.Fatalf("geojson %s", geo.Body)
	}
	s.Do(t, "GET", "/api/v1/places.geojson?kind=bar", nil, "").ExpectError(t, 422, "validation_failed")
}

// A council's list is larger than a JSON request may be: the CSV import
// takes up to 2 MB, while every other route still refuses 64 KB.
func TestPlacesCSVImportTakesALargeFile(t *testing.T) {
	s := testutil.Start(t)
	coord := s.Register(t, "Anna Rossi")
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)
	var b strings.Builder
	b.WriteString("name,kind,description\n")
	for i := range 90 {
		fmt.Fprintf(&b, "Ambulatorio %d,health,%s\n", i, strings.Repeat("Prelievi e medicazioni. ", 40))
	}
	if b.Len() < 80<<10 {
		t.Fatalf("the file is only %d bytes", b.Len())
	}
	var res struct {
		Created int `json:"created"`
	}
	s.Do(t, "POST", "/api/v1/associations/"+aid+"/places.csv", b.String(), coord.Token, "Content-Type", "text/csv").
		Expect(t, http.StatusOK).JSON(t, &res)
	if res.Created != 90 {
		t.Fatalf("created %d places, want 90", res.Created)
	}
	big := map[string]string{"name": strings.Repeat("x", 80<<10), "kind": "health"}
	s.Do(t, "POST", "/api/v1/associations/"+aid+"/places", big, coord.Token).ExpectError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
}
