package locator

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/hours"
	"civico/internal/portineria"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// SearchParams are a search as the query string gives it; every field may
// be empty.
type SearchParams struct {
	Q, Kind, Area, Target, AssociationID string
	// OpenNow ("1", "true") keeps the places open now; OpenAt (RFC 3339)
	// the places open then, each read in the place's own time zone.
	OpenNow, OpenAt string
	// Near is "<lat>,<lng>"; RadiusM the distance in metres
	// (MinRadiusM..MaxRadiusM, default DefaultRadiusM).
	Near, RadiusM string
	Cursor        string
	Limit         int
}

// query is a search, parsed.
type query struct {
	words          []string
	kind, area     string
	target, aid    string
	at             *time.Time
	near           bool
	lat, lng, rad  float64
	after          *position
	limit          int
	byDistanceMode bool
}

// position is where a page ends: the sort key (folded name, or distance)
// and the id that breaks ties.
type position struct {
	name string
	dist float64
	id   string
}

const earthRadiusM = 6_371_008.8

// haversine is the great-circle distance in metres.
func haversine(lat1, lng1, lat2, lng2 float64) float64 {
	rad := math.Pi / 180
	dLat, dLng := (lat2-lat1)*rad, (lng2-lng1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * earthRadiusM * math.Asin(math.Min(1, math.Sqrt(a)))
}

func (s *Service) parse(sp SearchParams) (query, error) {
	f := fault.Fields{}
	q := query{limit: cursor.Limit(sp.Limit, 20), kind: strings.TrimSpace(sp.Kind), target: strings.TrimSpace(sp.Target),
		aid: strings.TrimSpace(sp.AssociationID)}
	if len(sp.Q) > MaxQueryLen*4 || len([]rune(sp.Q)) > MaxQueryLen {
		f.Add("q", "too_long")
	} else {
		q.words = portineria.Words(sp.Q)
		if len(q.words) > 10 {
			f.Add("q", "too_long")
		}
	}
	if q.kind != "" && !slices.Contains(Kinds, q.kind) {
		f.Add("kind", "unknown")
	}
	if q.target != "" && !slices.Contains(Targets, q.target) {
		f.Add("target", "unknown")
	}
	if q.aid != "" {
		if _, err := bson.ObjectIDFromHex(q.aid); err != nil {
			f.Add("association", "invalid")
		}
	}
	if len(sp.Area) > MaxAreaLen*4 {
		f.Add("area", "too_long")
	} else {
		q.area = foldName(sp.Area)
	}
	switch sp.OpenNow {
	case "", "0", "false":
	case "1", "true":
		now := s.clock.Now()
		q.at = &now
	default:
		f.Add("open_now", "invalid")
	}
	if sp.OpenAt != "" {
		t, err := time.Parse(time.RFC3339, sp.OpenAt)
		if err != nil || len(sp.OpenAt) > 40 {
			f.Add("open_at", "invalid")
		} else {
			q.at = &t
		}
	}
	if sp.Near != "" {
		la, lo, ok := strings.Cut(sp.Near, ",")
		lat, err1 := strconv.ParseFloat(strings.TrimSpace(la), 64)
		lng, err2 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
		if !ok || len(sp.Near) > 64 || err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lng) ||
			lat < -90 || lat > 90 || lng < -180 || lng > 180 {
			f.Add("near", "invalid")
		}
		q.near, q.lat, q.lng, q.rad = true, lat, lng, DefaultRadiusM
		q.byDistanceMode = true
	}
	if sp.RadiusM != "" {
		r, err := strconv.ParseFloat(sp.RadiusM, 64)
		switch {
		case sp.Near == "":
			f.Add("near", "required")
		case err != nil || math.IsNaN(r) || r < MinRadiusM || r > MaxRadiusM:
			f.Add("radius_m", "out_of_range")
		default:
			q.rad = r
		}
	}
	if err := f.Err(); err != nil {
		return query{}, err
	}
	if sp.Cursor != "" {
		p, ok := decodePosition(s.cursors, sp.Cursor, q.byDistanceMode)
		if !ok {
			return query{}, cursor.ErrInvalid
		}
		q.after = &p
	}
	return q, nil
}

// encodePosition and decodePosition make a page's end into a cursor and
// back; the mode (by name, by distance) is part of it, so a cursor of one
// order is refused by the other.
func encodePosition(cs *cursor.Signer, p position, byDistance bool) string {
	if byDistance {
		return cs.Encode("d", strconv.FormatFloat(p.dist, 'g', -1, 64), p.id)
	}
	return cs.Encode("n", p.name, p.id)
}

func decodePosition(cs *cursor.Signer, c string, byDistance bool) (position, bool) {
	f, ok := cs.Decode(c, 3)
	if !ok {
		return position{}, false
	}
	if _, err := bson.ObjectIDFromHex(f[2]); err != nil {
		return position{}, false
	}
	switch {
	case byDistance && f[0] == "d":
		d, err := strconv.ParseFloat(f[1], 64)
		if err != nil || math.IsNaN(d) || d < 0 {
			return position{}, false
		}
		return position{dist: d, id: f[2]}, true
	case !byDistance && f[0] == "n":
		return position{name: f[1], id: f[2]}, true
	}
	return position{}, false
}

// matches tells whether r passes q's filters other than time and place.
func (q *query) matches(r record) bool {
	if q.aid != "" && r.AID != q.aid || q.area != "" && r.Area != q.area {
		return false
	}
	if q.target != "" && !slices.Contains(r.Tgt, q.target) && !slices.Contains(r.Tgt, "everyone") {
		return false
	}
	for _, w := range q.words {
		found := false
		for _, x := range r.Words {
			if strings.HasPrefix(x, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Search finds places: anyone may search. Text matches the start of words
// of the name, description, address and area, accents and case aside; a
// target matches places for that target and places for everyone. Near a
// point the places within the radius come nearest first, else by name.
// When open_now or open_at is asked, only the places open then (in their
// own time zone) come, marked open. Places without coordinates never
// match a search near a point, nor places without hours one asking open.
func (s *Service) Search(ctx context.Context, sp SearchParams) ([]Place, string, error) {
	q, err := s.parse(sp)
	if err != nil {
		return nil, "", err
	}
	var kinds []string
	if q.kind != "" {
		kinds = []string{q.kind}
	}
	zones := map[string]*time.Location{}
	var hits []hit
	seen := map[string]int{}
	err = s.scan(ctx, kinds, func(kind, id string, r record) {
		if !q.matches(r) {
			return
		}
		h := hit{id: id, kind: kind, r: r}
		if q.near {
			if r.Lat == nil || r.Lng == nil {
				return
			}
			h.dist = haversine(q.lat, q.lng, *r.Lat, *r.Lng)
			if h.dist > q.rad {
				return
			}
		}
		if q.at != nil {
			if r.Hours == nil {
				return
			}
			loc, ok := zones[r.TZ]
			if !ok {
				var err error
				if loc, err = time.LoadLocation(r.TZ); err != nil || r.TZ == "" {
					loc, _ = time.LoadLocation(DefaultTimeZone)
				}
				zones[r.TZ] = loc
			}
			if !hours.Week(*r.Hours).OpenAt(*q.at, loc) {
				return
			}
			h.open = true
		}
		// A place caught between two shards (its kind changing) counts once.
		if i, dup := seen[id]; dup {
			if hits[i].r.Ver < r.Ver {
				hits[i] = h
			}
			return
		}
		seen[id] = len(hits)
		hits = append(hits, h)
	})
	if err != nil {
		return nil, "", err
	}
	less := func(a, b hit) int {
		if q.byDistanceMode {
			return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.id, b.id))
		}
		return cmp.Or(cmp.Compare(a.r.Name, b.r.Name), cmp.Compare(a.id, b.id))
	}
	if q.after != nil {
		after := hit{id: q.after.id, dist: q.after.dist, r: record{Name: q.after.name}}
		hits = slices.DeleteFunc(hits, func(h hit) bool { return less(h, after) <= 0 })
	}
	slices.SortFunc(hits, less)
	next := ""
	if len(hits) > q.limit {
		hits = hits[:q.limit]
		last := hits[len(hits)-1]
		next = encodePosition(s.cursors, position{name: last.r.Name, dist: last.dist, id: last.id}, q.byDistanceMode)
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	docs, err := s.readPlaces(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	byID := make(map[string]placeDoc, len(docs))
	for _, d := range docs {
		byID[d.ID.Hex()] = d
	}
	items := make([]Place, 0, len(hits))
	for _, h := range hits {
		d, ok := byID[h.id]
		if !ok || d.Kind != h.kind {
			continue // deleted, or moved, since its record was read
		}
		p := s.view(d)
		if q.near {
			dist := math.Round(h.dist)
			p.DistanceM = &dist
		}
		if q.at != nil {
			open := h.open
			p.OpenNow = &open
		}
		items = append(items, p)
	}
	return items, next, nil
}
