package activities

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"civico/internal/auth"

	ics "github.com/arran4/golang-ical"
)

// Calendars (RFC 5545). Times are written in the event's own zone
// (DTSTART;TZID=Europe/Rome:20260502T190000) with a VTIMEZONE describing
// that zone's offsets over the calendar's span, taken from Go's zone
// database (ZoneBounds): Google Calendar, Apple Calendar and Thunderbird
// then show the event at the street's wall time wherever the reader is.
// UID is the event's id at the server's host; SEQUENCE its Seq, which
// every change and the cancellation bump; DTSTAMP and LAST-MODIFIED when
// it last changed; a cancelled event stays, with STATUS:CANCELLED, so
// that a subscribed calendar drops it.

const icalLocal = "20060102T150405"

// ICS is one event as a calendar file, for a member of its street.
func (s *Service) ICS(ctx context.Context, p auth.Principal, id string) ([]byte, error) {
	d, _, err := s.access(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return s.calendar([]eventDoc{d}, ""), nil
}

// host names the server in UIDs.
func (s *Service) host() string {
	if u, err := url.Parse(s.public); err == nil && u.Host != "" {
		return u.Host
	}
	return "civico"
}

// calendar writes docs as one VCALENDAR; name, when set, is its title.
func (s *Service) calendar(docs []eventDoc, name string) []byte {
	cal := ics.NewCalendarFor("Civico")
	cal.SetCalscale("GREGORIAN")
	if name != "" {
		cal.SetName(name)
		cal.SetXWRCalName(name)
		cal.SetXPublishedTTL("PT1H")
		cal.SetRefreshInterval("PT1H", ics.WithValue("DURATION"))
	}
	// One VTIMEZONE per zone, covering every event in it.
	type span struct{ from, to time.Time }
	zones := map[string]*span{}
	order := []string{}
	for _, d := range docs {
		tz := location(d.TZ).String()
		sp := zones[tz]
		if sp == nil {
			sp = &span{from: d.StartsAt, to: d.EndsAt}
			zones[tz] = sp
			order = append(order, tz)
		}
		sp.from, sp.to = minTime(sp.from, d.StartsAt), maxTime(sp.to, d.EndsAt)
	}
	for _, tz := range order {
		addZone(cal, tz, zones[tz].from, zones[tz].to)
	}
	host := s.host()
	for _, d := range docs {
		loc := location(d.TZ)
		ev := cal.AddEvent(d.ID.Hex() + "@" + host)
		ev.SetDtStampTime(d.UpdatedAt)
		ev.SetCreatedTime(d.CreatedAt)
		ev.SetLastModifiedAt(d.UpdatedAt)
		ev.SetSequence(d.Seq)
		ev.SetProperty(ics.ComponentPropertyDtStart, d.StartsAt.In(loc).Format(icalLocal), ics.WithTZID(loc.String()))
		ev.SetProperty(ics.ComponentPropertyDtEnd, d.EndsAt.In(loc).Format(icalLocal), ics.WithTZID(loc.String()))
		ev.SetSummary(d.Title)
		if d.Description != "" {
			ev.SetDescription(d.Description)
		}
		ev.SetLocation(d.Place)
		if s.public != "" {
			ev.SetURL(s.public + "/events/" + d.ID.Hex())
		}
		if d.Status == StatusCancelled {
			ev.SetStatus(ics.ObjectStatusCancelled)
		} else {
			ev.SetStatus(ics.ObjectStatusConfirmed)
		}
	}
	return []byte(cal.Serialize(ics.WithNewLineWindows)) // RFC 5545: CRLF
}

// addZone writes the VTIMEZONE of zone tz for the instants from..to: the
// observance in force at from, and each change of offset until to.
func addZone(cal *ics.Calendar, tz string, from, to time.Time) {
	loc := location(tz)
	vt := cal.AddTimezone(loc.String())
	t := from.In(loc)
	// A feed spans about 13 months: a few changes of offset; the bound
	// only guards against a zone database gone wrong.
	for range 64 {
		begin, end := t.ZoneBounds()
		name, off := t.Zone()
		prev := off
		if !begin.IsZero() {
			_, prev = begin.Add(-time.Second).In(loc).Zone()
		} else {
			begin = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		// DTSTART is the onset in the wall time of the offset before it.
		onset := begin.UTC().Add(time.Duration(prev) * time.Second).Format(icalLocal)
		props := ics.ComponentBase{}
		props.SetProperty(ics.ComponentPropertyDtStart, onset)
		props.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), offset(prev))
		props.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), offset(off))
		props.SetProperty(ics.ComponentProperty(ics.PropertyTzname), name)
		if t.IsDST() {
			vt.Components = append(vt.Components, &ics.Daylight{ComponentBase: props})
		} else {
			vt.Components = append(vt.Components, &ics.Standard{ComponentBase: props})
		}
		if end.IsZero() || !end.Before(to) {
			return
		}
		t = end.In(loc)
	}
}

// offset is a UTC offset as iCalendar writes it: +0200.
func offset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	if s := sec % 60; s != 0 {
		return fmt.Sprintf("%c%02d%02d%02d", sign, sec/3600, sec%3600/60, s)
	}
	return fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec%3600/60)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
