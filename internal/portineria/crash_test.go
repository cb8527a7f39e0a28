package portineria

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// These tests play a crash between the two writes of a ledger entry (claim
// written, entry not) and between the two writes of an account link.

// openStore is testutil.Store, which this in-package test cannot import
// (testutil imports app, which imports this package).
func openStore(t *testing.T) *store.Store {
	t.Helper()
	cfg := store.Config{DataDir: t.TempDir()}
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		cfg = store.Config{URI: uri, Database: "civico_test_portineria_" + bson.NewObjectID().Hex()}
	}
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cfg.URI != "" {
			_ = st.Database().Drop(context.Background())
		}
		_ = st.Close(context.Background())
	})
	return st
}

func crashSetup(t *testing.T) (*Service, auth.Principal, Association, Member) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	if err := st.EnsureIndexes(ctx, append(auth.Indexes(), Indexes()...)...); err != nil {
		t.Fatal(err)
	}
	c := clock.NewFake(time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC))
	a, err := auth.New(ctx, st, c, nil, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := a.Register(ctx, auth.Registration{Email: "anna@example.org", Password: "correct horse battery", Name: "Anna"}, "ip")
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, a, c, nil, Options{})
	p := auth.Principal{UserID: sess.Account.ID}
	as, err := s.Create(ctx, p, NewAssociation{Name: "Portineria", YearlyFeeCents: 500})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.AddMember(ctx, p, as.ID, NewMember{FullName: "Maria Bianchi"})
	if err != nil {
		t.Fatal(err)
	}
	return s, p, as, m
}

func TestRetryAfterACrashWritesTheClaimedEntryOnce(t *testing.T) {
	ctx := context.Background()
	s, p, as, m := crashSetup(t)
	aid, _ := bson.ObjectIDFromHex(as.ID)
	in := NewEntry{MemberID: m.ID, Type: TypeFee, AmountCents: 500, Year: 2026, Method: MethodCash, IdempotencyKey: "crashed-request"}
	orphan := claim{ID: keyClaimID(aid, in.IdempotencyKey), AssociationID: aid, CreatedAt: s.now(), Entry: entry{
		ID: bson.NewObjectID(), AssociationID: aid, MemberID: m.ID, Type: TypeFee, AmountCents: 500, Year: 2026,
		Method: MethodCash, Key: in.IdempotencyKey, RecordedBy: p.UserID, RecordedAt: s.now()}}
	if _, err := s.claims.InsertOne(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	e, created, err := s.Record(ctx, p, as.ID, in)
	if err != nil || created || e.ID != orphan.Entry.ID.Hex() {
		t.Fatalf("retry: %+v created=%v %v", e, created, err)
	}
	if _, _, err := s.Record(ctx, p, as.ID, in); err != nil {
		t.Fatal(err)
	}
	page, err := s.Ledger(ctx, p, as.ID, LedgerQuery{})
	if err != nil || page.Totals.Entries != 1 || page.Totals.FeesCents != 500 {
		t.Fatalf("ledger %+v %v", page.Totals, err)
	}
}

func TestReversalClaimLeftByACrashStillCounts(t *testing.T) {
	ctx := context.Background()
	s, p, as, m := crashSetup(t)
	aid, _ := bson.ObjectIDFromHex(as.ID)
	fee, _, err := s.Record(ctx, p, as.ID, NewEntry{MemberID: m.ID, Type: TypeFee, AmountCents: 500, Year: 2026, Method: MethodCash, IdempotencyKey: "fee-0000001"})
	if err != nil {
		t.Fatal(err)
	}
	orphan := claim{ID: reverseClaimID(aid, fee.ID), AssociationID: aid, CreatedAt: s.now(), Entry: entry{
		ID: bson.NewObjectID(), AssociationID: aid, MemberID: m.ID, Type: TypeFee, AmountCents: -500, Year: 2026,
		Method: MethodCash, Reverses: fee.ID, Reason: "typo", RecordedBy: p.UserID, RecordedAt: s.now()}}
	if _, err := s.claims.InsertOne(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reverse(ctx, p, as.ID, fee.ID, "typo"); !errors.Is(err, ErrAlreadyReversed) {
		t.Fatalf("got %v", err)
	}
	got, err := s.GetEntry(ctx, p, as.ID, fee.ID)
	if err != nil || got.ReversedBy != orphan.Entry.ID.Hex() {
		t.Fatalf("entry %+v %v", got, err)
	}
	if mm, _ := s.GetMember(ctx, p, as.ID, m.ID, 2026); mm.Status != StatusLapsed {
		t.Fatalf("member %+v", mm)
	}
}

func TestStaleAccountClaimIsTakenOver(t *testing.T) {
	ctx := context.Background()
	s, p, as, m := crashSetup(t)
	aid, _ := bson.ObjectIDFromHex(as.ID)
	// A link claimed for a member whose own write never happened.
	if _, err := s.links.InsertOne(ctx, link{ID: linkID(aid, p.UserID), AssociationID: aid, UserID: p.UserID,
		MemberID: bson.NewObjectID(), CreatedAt: s.now()}); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateMember(ctx, p, as.ID, m.ID, MemberChanges{UserID: &p.UserID})
	if err != nil || got.UserID != p.UserID {
		t.Fatalf("link over a stale claim: %+v %v", got, err)
	}
}

// An accept that crashed after claiming the invitation (status "accepting",
// staff not yet written) is finished by the invitee's next accept, once.
func TestAcceptLeftHalfwayIsFinishedByTheNextAccept(t *testing.T) {
	ctx := context.Background()
	s, p, as, _ := crashSetup(t)
	a := s.accounts.(*auth.Service)
	sess, err := a.Register(ctx, auth.Registration{Email: "bruno@example.org", Password: "correct horse battery", Name: "Bruno"}, "ip")
	if err != nil {
		t.Fatal(err)
	}
	bruno := auth.Principal{UserID: sess.Account.ID}
	inv, err := s.InviteVolunteer(ctx, p, as.ID, "bruno@example.org", Volunteer)
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := bson.ObjectIDFromHex(inv.ID)
	if _, err := s.invites.UpdateOne(ctx, bson.M{"_id": oid}, bson.M{"$set": bson.M{"status": InvitationAccepting, "user_id": bruno.UserID}}); err != nil {
		t.Fatal(err)
	}
	// Still the invitee's to finish, and still the one open invitation.
	if mine, _, err := s.MyInvitations(ctx, bruno, "", 0); err != nil || len(mine) != 1 || mine[0].ID != inv.ID {
		t.Fatalf("half-accepted invitation not listed: %+v %v", mine, err)
	}
	if again, err := s.InviteVolunteer(ctx, p, as.ID, "bruno@example.org", Volunteer); err != nil || again.ID != inv.ID {
		t.Fatalf("send while half-accepted: %+v %v", again, err)
	}
	for range 2 {
		if got, err := s.AcceptInvitation(ctx, bruno, inv.ID); err != nil || got.Status != InvitationAccepted {
			t.Fatalf("finishing the accept: %+v %v", got, err)
		}
	}
	staff, err := s.Staff(ctx, p, as.ID)
	if err != nil || len(staff) != 2 || staff[1].UserID != bruno.UserID {
		t.Fatalf("staff %+v %v", staff, err)
	}
}
