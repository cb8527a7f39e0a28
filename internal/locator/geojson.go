package locator

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"civico/internal/fault"
	"civico/internal/hours"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxGeoJSONFeatures bounds one GeoJSON answer.
const MaxGeoJSONFeatures = 5000

// FeatureCollection is the GeoJSON (RFC 7946) form of the places with
// coordinates.
type FeatureCollection struct {
	Type     string    `json:"type"` // "FeatureCollection"
	Features []Feature `json:"features"`
}

// Feature is one place.
type Feature struct {
	Type       string            `json:"type"` // "Feature"
	ID         string            `json:"id"`
	Geometry   Point             `json:"geometry"`
	Properties FeatureProperties `json:"properties"`
}

// Point is a GeoJSON point: [longitude, latitude].
type Point struct {
	Type        string     `json:"type"` // "Point"
	Coordinates [2]float64 `json:"coordinates"`
}

// FeatureProperties are a place's public fields.
type FeatureProperties struct {
	AssociationID string     `json:"association_id"`
	Name          string     `json:"name"`
	Kind          string     `json:"kind"`
	Description   string     `json:"description"`
	Address       string     `json:"address"`
	Area          string     `json:"area"`
	Targets       []string   `json:"targets"`
	Hours         hours.Week `json:"hours"`
	HoursText     string     `json:"hours_text"`
	TimeZone      string     `json:"time_zone"`
	Contacts      Contacts   `json:"contacts"`
	Languages     []string   `json:"languages"`
	Accessibility string     `json:"accessibility"`
	VerifiedAt    time.Time  `json:"verified_at"`
	Stale         bool       `json:"stale"`
}

// GeoJSON is the places with coordinates, of the association aid and of
// kind when given, as a FeatureCollection: open data anyone may take.
func (s *Service) GeoJSON(ctx context.Context, aid, kind string) ([]byte, error) {
	f := fault.Fields{}
	if aid != "" {
		if _, err := bson.ObjectIDFromHex(aid); err != nil {
			f.Add("association", "invalid")
		}
	}
	if kind != "" && !slices.Contains(Kinds, kind) {
		f.Add("kind", "unknown")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	docs, err := s.associationPlaces(ctx, aid, kind, true, MaxGeoJSONFeatures)
	if err != nil {
		return nil, err
	}
	fc := FeatureCollection{Type: "FeatureCollection", Features: []Feature{}}
	for _, d := range docs {
		if d.Lat == nil || d.Lng == nil {
			continue
		}
		fc.Features = append(fc.Features, Feature{Type: "Feature", ID: d.ID.Hex(),
			Geometry: Point{Type: "Point", Coordinates: [2]float64{*d.Lng, *d.Lat}},
			Properties: FeatureProperties{AssociationID: d.AssociationID, Name: d.Name, Kind: d.Kind, Description: d.Description,
				Address: d.Address, Area: d.Area, Targets: nonNil(d.Targets), Hours: hours.Week(d.Hours), HoursText: hours.Week(d.Hours).String(),
				TimeZone: d.TimeZone, Contacts: d.Contacts, Languages: nonNil(d.Languages), Accessibility: d.Accessibility,
				VerifiedAt: d.VerifiedAt, Stale: s.stale(d.VerifiedAt)}})
	}
	return json.Marshal(fc)
}
