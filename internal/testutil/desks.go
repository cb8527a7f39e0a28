package testutil

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/portineria"
	"civico/internal/store"
)

// DesksEpoch is the fake clock's start in NewDesks: Tuesday 10 March 2026
// at noon in Rome.
var DesksEpoch = time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)

// Desks are accounts and the Portinaio di rione over a store of their own,
// with a fake clock: for service-level tests of what is built on
// associations (the locator, the suggestions).
type Desks struct {
	tb testing.TB
	n  atomic.Int64

	Ctx        context.Context
	Store      *store.Store
	Clock      *clock.Fake
	Auth       *auth.Service
	Portineria *portineria.Service
}

// NewDesks builds the auth and portineria services, with no practical
// limit on registrations.
func NewDesks(tb testing.TB) *Desks {
	tb.Helper()
	ctx := context.Background()
	st := Store(tb)
	if err := st.EnsureIndexes(ctx, append(auth.Indexes(), portineria.Indexes()...)...); err != nil {
		tb.Fatal(err)
	}
	d := &Desks{tb: tb, Ctx: ctx, Store: st, Clock: clock.NewFake(DesksEpoch)}
	var err error
	if d.Auth, err = auth.New(ctx, st, d.Clock, nil, auth.Options{RegisterPerIP: 1000}); err != nil {
		tb.Fatal(err)
	}
	d.Portineria = portineria.New(st, d.Auth, d.Clock, nil, portineria.Options{})
	return d
}

// Person is a registered user: the principal, the email and the name.
type Person struct {
	P     auth.Principal
	Email string
	Name  string
}

// User registers name with an email made from its first word and a counter.
func (d *Desks) User(name string) Person {
	d.tb.Helper()
	email := fmt.Sprintf("%s%d@example.org", strings.ToLower(strings.Fields(name)[0]), d.n.Add(1))
	s, err := d.Auth.Register(d.Ctx, auth.Registration{Email: email, Password: "correct horse battery", Name: name}, "127.0.0.1")
	if err != nil {
		d.tb.Fatal(err)
	}
	return Person{P: auth.Principal{UserID: s.Account.ID}, Email: email, Name: name}
}

// Association makes an association coordinated by coord, with the
// volunteers (invited by email, accepted), and returns its id.
func (d *Desks) Association(coord Person, volunteers ...Person) string {
	d.tb.Helper()
	a, err := d.Portineria.Create(d.Ctx, coord.P, portineria.NewAssociation{Name: "Portinaio di rione Bolognina", Area: "Bolognina", YearlyFeeCents: 1000})
	if err != nil {
		d.tb.Fatal(err)
	}
	for _, v := range volunteers {
		inv, err := d.Portineria.InviteVolunteer(d.Ctx, coord.P, a.ID, v.Email, portineria.Volunteer)
		if err != nil {
			d.tb.Fatal(err)
		}
		if _, err := d.Portineria.AcceptInvitation(d.Ctx, v.P, inv.ID); err != nil {
			d.tb.Fatal(err)
		}
	}
	return a.ID
}
