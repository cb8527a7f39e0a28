package push

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Categories are the post categories one can choose to be notified about.
var Categories = []string{"babysitting", "repairs", "dog_walking", "lending", "errands", "company", "lessons",
	"gardening", "transport", "other"}

// MaxStreetSettings bounds the per-street entries of one user.
const MaxStreetSettings = 200

// Settings are a user's notification choices.
type Settings struct {
	// QuietHours, when set, hold non-urgent pushes while it is between
	// Start and End in the user's time zone.
	QuietHours *QuietHours `json:"quiet_hours"`
	// TimeZone is the account's (read-only here; PATCH /me changes it).
	TimeZone string `json:"time_zone"`
	// Defaults apply to streets without an entry.
	Defaults StreetSettings `json:"defaults"`
	// Streets are the per-street choices.
	Streets []StreetSettings `json:"streets"`
}

// QuietHours are local times "HH:MM"; Start after End spans midnight.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// StreetSettings are the choices for one street.
type StreetSettings struct {
	StreetID string `json:"street_id,omitempty"`
	// Requests and Offers: new posts of that kind.
	Requests bool `json:"requests"`
	Offers   bool `json:"offers"`
	// Categories of new posts to be told about.
	Categories []string `json:"categories"`
	// Replies to my posts.
	Replies bool `json:"replies"`
}

// StreetChoice is one street's entry as a client sends it; a missing field
// keeps its default (on, every category).
type StreetChoice struct {
	StreetID   string
	Requests   *bool
	Offers     *bool
	Categories []string // nil: every category
	Replies    *bool
}

// Choices replace a user's settings.
type Choices struct {
	QuietHours *QuietHours
	Streets    []StreetChoice
}

type settingsDoc struct {
	UserID    string           `bson:"_id"`
	Quiet     *quietDoc        `bson:"quiet,omitempty"`
	Streets   []streetPrefsDoc `bson:"streets"`
	UpdatedAt time.Time        `bson:"updated_at"`
}

type quietDoc struct {
	Start int `bson:"start"` // minutes after local midnight
	End   int `bson:"end"`
}

type streetPrefsDoc struct {
	StreetID   string   `bson:"street_id"`
	Requests   bool     `bson:"requests"`
	Offers     bool     `bson:"offers"`
	Categories []string `bson:"categories"`
	Replies    bool     `bson:"replies"`
}

func defaultStreet() StreetSettings {
	return StreetSettings{Requests: true, Offers: true, Categories: slices.Clone(Categories), Replies: true}
}

// prefs is a user's settings as the fan-out reads them.
type prefs struct {
	quiet   *quietDoc
	streets map[string]streetPrefsDoc
}

func (p prefs) street(id string) streetPrefsDoc {
	if sp, ok := p.streets[id]; ok {
		return sp
	}
	d := defaultStreet()
	return streetPrefsDoc{StreetID: id, Requests: d.Requests, Offers: d.Offers, Categories: d.Categories, Replies: d.Replies}
}

func (d settingsDoc) prefs() prefs {
	p := prefs{quiet: d.Quiet, streets: make(map[string]streetPrefsDoc, len(d.Streets))}
	for _, s := range d.Streets {
		p.streets[s.StreetID] = s
	}
	return p
}

// Settings returns the user's notification settings, with the account's
// time zone so the client can explain quiet hours.
func (s *Service) Settings(ctx context.Context, userID string) (Settings, error) {
	var d settingsDoc
	err := s.settings.FindOne(ctx, bson.M{"_id": userID}, &d)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Settings{}, err
	}
	tz, err := s.timeZone(ctx, userID)
	if err != nil {
		return Settings{}, err
	}
	return d.public(tz), nil
}

// timeZone is the account's time zone, as quiet hours use it.
func (s *Service) timeZone(ctx context.Context, userID string) (string, error) {
	accs, err := s.accounts.Users(ctx, []string{userID})
	if err != nil {
		return "", err
	}
	return loadLocation(accs[userID].TimeZone).String(), nil
}

func (d settingsDoc) public(timeZone string) Settings {
	out := Settings{TimeZone: timeZone, Defaults: defaultStreet(), Streets: make([]StreetSettings, 0, len(d.Streets))}
	if d.Quiet != nil {
		out.QuietHours = &QuietHours{Start: clockString(d.Quiet.Start), End: clockString(d.Quiet.End)}
	}
	for _, sp := range d.Streets {
		out.Streets = append(out.Streets, StreetSettings{StreetID: sp.StreetID, Requests: sp.Requests, Offers: sp.Offers,
			Categories: slices.Clone(sp.Categories), Replies: sp.Replies})
	}
	return out
}

// SetSettings validates and replaces the user's settings as a whole.
func (s *Service) SetSettings(ctx context.Context, userID string, c Choices) (Settings, error) {
	defer s.userData.changed()
	f := fault.Fields{}
	d := settingsDoc{UserID: userID, Streets: []streetPrefsDoc{}, UpdatedAt: s.clock.Now().Truncate(time.Millisecond)}
	if q := c.QuietHours; q != nil {
		start, okS := parseClock(q.Start)
		end, okE := parseClock(q.End)
		f.Check(!okS, "quiet_hours.start", "invalid")
		f.Check(!okE, "quiet_hours.end", "invalid")
		if okS && okE {
			f.Check(start == end, "quiet_hours.end", "invalid")
			d.Quiet = &quietDoc{Start: start, End: end}
		}
	}
	if len(c.Streets) > MaxStreetSettings {
		f.Add("streets", "too_many")
	} else {
		seen := map[string]bool{}
		for i, sc := range c.Streets {
			field := "streets." + strconv.Itoa(i)
			if _, ok := store.ID(sc.StreetID); !ok {
				f.Add(field+".street_id", "invalid")
				continue
			}
			if seen[sc.StreetID] {
				f.Add(field+".street_id", "duplicate")
				continue
			}
			seen[sc.StreetID] = true
			sp := streetPrefsDoc{StreetID: sc.StreetID, Requests: orTrue(sc.Requests), Offers: orTrue(sc.Offers),
				Replies: orTrue(sc.Replies), Categories: slices.Clone(Categories)}
			if sc.Categories != nil {
				sp.Categories = []string{}
				if len(sc.Categories) > len(Categories) {
					f.Add(field+".categories", "too_many")
					continue
				}
				for _, cat := range sc.Categories {
					if !slices.Contains(Categories, cat) {
						f.Add(field+".categories", "unknown")
						break
					}
					if !slices.Contains(sp.Categories, cat) {
						sp.Categories = append(sp.Categories, cat)
					}
				}
			}
			d.Streets = append(d.Streets, sp)
		}
	}
	if err := f.Err(); err != nil {
		return Settings{}, err
	}
	if _, err := s.settings.ReplaceOne(ctx, bson.M{"_id": userID}, d, options.Replace().SetUpsert(true)); err != nil {
		return Settings{}, err
	}
	tz, err := s.timeZone(ctx, userID)
	if err != nil {
		return Settings{}, err
	}
	return d.public(tz), nil
}

func orTrue(b *bool) bool { return b == nil || *b }

// parseClock reads "HH:MM" (24 h) as minutes after midnight.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

func clockString(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// quietUntil says when a non-urgent push made at now may be sent to a
// user with quiet hours q in loc: now itself outside quiet hours, else the
// end of the quiet period (DST-safe: the end is a local wall time).
func quietUntil(now time.Time, loc *time.Location, q *quietDoc) time.Time {
	if q == nil {
		return now
	}
	local := now.In(loc)
	m := local.Hour()*60 + local.Minute()
	var quiet bool
	day := 0 // the end falls today (0) or tomorrow (1)
	if q.Start < q.End {
		quiet = m >= q.Start && m < q.End
	} else {
		switch {
		case m >= q.Start:
			quiet, day = true, 1
		case m < q.End:
			quiet = true
		}
	}
	if !quiet {
		return now
	}
	y, mo, d := local.Date()
	return time.Date(y, mo, d+day, q.End/60, q.End%60, 0, 0, loc).UTC()
}

// loadLocation returns the named zone, Europe/Rome when unknown.
func loadLocation(name string) *time.Location {
	if name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	if loc, err := time.LoadLocation("Europe/Rome"); err == nil {
		return loc
	}
	return time.UTC
}
