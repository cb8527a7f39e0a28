package portineria

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Entry types.
const (
	TypeFee        = "fee"        // the yearly card; counts toward the member's status
	TypeDonation   = "donation"   // money in that buys no card; the donor may be no member
	TypeRefund     = "refund"     // money given back; a refunded fee no longer counts toward the card
	TypeAdjustment = "adjustment" // other money in (a till correction); member optional
)

// Payment methods.
const (
	MethodCash     = "cash"
	MethodTransfer = "transfer"
	MethodOther    = "other"
)

// entry is one immutable line of the ledger. A reversal is an entry of the
// same type with the opposite amount and Reverses set; amounts are signed
// only for reversals.
type entry struct {
	ID            bson.ObjectID `bson:"_id"`
	AssociationID bson.ObjectID `bson:"association_id"`
	MemberID      string        `bson:"member_id"`
	Type          string        `bson:"type"`
	AmountCents   int64         `bson:"amount_cents"`
	Year          int           `bson:"year"`
	Method        string        `bson:"method"`
	Note          string        `bson:"note"`
	Key           string        `bson:"key"`
	Reverses      string        `bson:"reverses"`
	Reason        string        `bson:"reason"`
	RecordedBy    string        `bson:"recorded_by"`
	RecordedAt    time.Time     `bson:"recorded_at"`
}

// claim makes an entry unique per idempotency key: its _id is
// association:key (or association:reverse/<entry id> for reversals, which
// is what makes a second reversal impossible), and it holds the whole entry
// it stands for. The claim is written first; the entry, with the id the
// claim fixed, second. If the process dies between the two, the next
// request with the same key writes the entry from the claim: there is
// never more than one entry per key, and never a claim answered without
// its entry.
type claim struct {
	ID            string        `bson:"_id"`
	AssociationID bson.ObjectID `bson:"association_id"`
	Entry         entry         `bson:"entry"`
	CreatedAt     time.Time     `bson:"created_at"`
}

func keyClaimID(aid bson.ObjectID, key string) string     { return aid.Hex() + ":" + key }
func reverseClaimID(aid bson.ObjectID, eid string) string { return aid.Hex() + ":reverse/" + eid }

// Entry is a ledger entry as the staff sees it.
type Entry struct {
	ID             string    `json:"id"`
	MemberID       string    `json:"member_id,omitempty"`
	MemberNumber   int64     `json:"member_number,omitempty"`
	MemberName     string    `json:"member_name,omitempty"`
	Type           string    `json:"type"`
	AmountCents    int64     `json:"amount_cents"`
	Year           int       `json:"year"`
	Method         string    `json:"method"`
	Note           string    `json:"note,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	Reverses       string    `json:"reverses,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	ReversedBy     string    `json:"reversed_by,omitempty"`
	RecordedBy     string    `json:"recorded_by"`
	RecordedByName string    `json:"recorded_by_name"`
	RecordedAt     time.Time `json:"recorded_at"`
}

// NewEntry is what recording a payment takes.
type NewEntry struct {
	MemberID       string
	Type           string
	AmountCents    int64
	Year           int
	Method         string
	Note           string
	IdempotencyKey string
}

func validKey(k string) bool {
	if len(k) < MinKeyLen || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (s *Service) validateEntry(a *association, in *NewEntry) error {
	f := fault.Fields{}
	switch in.Type {
	case TypeFee, TypeDonation, TypeRefund, TypeAdjustment:
	case "":
		f.Add("type", "required")
	default:
		f.Add("type", "invalid")
	}
	switch in.Method {
	case MethodCash, MethodTransfer, MethodOther:
	case "":
		f.Add("method", "required")
	default:
		f.Add("method", "invalid")
	}
	if in.AmountCents < 1 || in.AmountCents > MaxAmountCents {
		f.Add("amount_cents", "out_of_range")
	}
	cur := a.year(s.clock.Now())
	switch {
	case in.Year == 0:
		f.Add("year", "required")
	case in.Year < MinYear || in.Year > cur+1:
		f.Add("year", "out_of_range")
	}
	in.Note = clean(in.Note)
	checkText(f, "note", in.Note, false, MaxNoteLen)
	switch {
	case in.IdempotencyKey == "":
		f.Add("idempotency_key", "required")
	case !validKey(in.IdempotencyKey):
		f.Add("idempotency_key", "invalid")
	}
	if in.MemberID == "" && (in.Type == TypeFee || in.Type == TypeRefund) {
		f.Add("member_id", "required")
	}
	if in.MemberID != "" {
		if _, ok := store.ID(in.MemberID); !ok {
			f.Add("member_id", "invalid")
		}
	}
	return f.Err()
}

// sameRequest tells whether a retried request asks for the entry e.
func sameRequest(e *entry, in *NewEntry) bool {
	return e.MemberID == in.MemberID && e.Type == in.Type && e.AmountCents == in.AmountCents &&
		e.Year == in.Year && e.Method == in.Method && e.Note == in.Note
}

// Record writes a ledger entry once per idempotency key: the same key again
// (a double tap, a retried request) answers the entry already written, with
// created false; the same key with a different body is a conflict.
func (s *Service) Record(ctx context.Context, p auth.Principal, aid string, in NewEntry) (Entry, bool, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Entry{}, false, err
	}
	if err := s.validateEntry(&a, &in); err != nil {
		return Entry{}, false, err
	}
	cid := keyClaimID(a.ID, in.IdempotencyKey)
	var c claim
	err = s.claims.FindOne(ctx, bson.M{"_id": cid}, &c)
	if err == nil {
		return s.replay(ctx, &a, &c, &in)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return Entry{}, false, err
	}
	if in.MemberID != "" {
		m, err := s.loadMember(ctx, &a, in.MemberID)
		if err != nil {
			if errors.Is(err, ErrMemberNotFound) {
				return Entry{}, false, fault.Validation("member_id", "not_found")
			}
			return Entry{}, false, err
		}
		if m.Erased {
			return Entry{}, false, ErrMemberErased
		}
	}
	now := s.now()
	c = claim{ID: cid, AssociationID: a.ID, CreatedAt: now, Entry: entry{ID: bson.NewObjectID(), AssociationID: a.ID,
		MemberID: in.MemberID, Type: in.Type, AmountCents: in.AmountCents, Year: in.Year, Method: in.Method,
		Note: in.Note, Key: in.IdempotencyKey, RecordedBy: p.UserID, RecordedAt: now}}
	if _, err := s.claims.InsertOne(ctx, c); err != nil {
		if !store.IsDuplicate(err) {
			return Entry{}, false, err
		}
		// A concurrent request with the same key won the claim.
		if err := s.claims.FindOne(ctx, bson.M{"_id": cid}, &c); err != nil {
			return Entry{}, false, err
		}
		return s.replay(ctx, &a, &c, &in)
	}
	if err := s.ensureEntry(ctx, &c); err != nil {
		return Entry{}, false, err
	}
	s.trail(ctx, a.ID, p.UserID, "ledger.recorded", auditRef{MemberID: in.MemberID, EntryID: c.Entry.ID.Hex()})
	views, err := s.entryViews(ctx, []entry{c.Entry}, nil)
	if err != nil {
		return Entry{}, false, err
	}
	return views[0], true, nil
}

// replay answers a repeated idempotency key with the entry it recorded.
func (s *Service) replay(ctx context.Context, a *association, c *claim, in *NewEntry) (Entry, bool, error) {
	if err := s.ensureEntry(ctx, c); err != nil {
		return Entry{}, false, err
	}
	if !sameRequest(&c.Entry, in) {
		return Entry{}, false, ErrIdempotencyConflict
	}
	e, err := s.GetEntryOf(ctx, a, c.Entry.ID.Hex())
	return e, false, err
}

// ensureEntry writes the claim's entry unless it is there already.
func (s *Service) ensureEntry(ctx context.Context, c *claim) error {
	if _, err := s.ledger.InsertOne(ctx, c.Entry); err != nil && !store.IsDuplicate(err) {
		return err
	}
	return nil
}

// Reverse corrects a mistake: it writes the opposite of entry eid, pointing
// at it, with a reason. An entry is reversed at most once (the claim on
// association:reverse/eid is unique), and a reversal is never reversed.
func (s *Service) Reverse(ctx context.Context, p auth.Principal, aid, eid, reason string) (Entry, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Entry{}, err
	}
	reason = clean(reason)
	f := fault.Fields{}
	checkText(f, "reason", reason, true, MaxReasonLen)
	if err := f.Err(); err != nil {
		return Entry{}, err
	}
	orig, err := s.loadEntry(ctx, &a, eid)
	if err != nil {
		return Entry{}, err
	}
	if orig.Reverses != "" {
		return Entry{}, ErrReverseReversal
	}
	now := s.now()
	c := claim{ID: reverseClaimID(a.ID, orig.ID.Hex()), AssociationID: a.ID, CreatedAt: now, Entry: entry{
		ID: bson.NewObjectID(), AssociationID: a.ID, MemberID: orig.MemberID, Type: orig.Type,
		AmountCents: -orig.AmountCents, Year: orig.Year, Method: orig.Method, Reverses: orig.ID.Hex(),
		Reason: reason, RecordedBy: p.UserID, RecordedAt: now}}
	if _, err := s.claims.InsertOne(ctx, c); err != nil {
		if !store.IsDuplicate(err) {
			return Entry{}, err
		}
		// Reversed already (or being reversed right now): make sure that
		// reversal is written, and refuse this one.
		var prev claim
		if err := s.claims.FindOne(ctx, bson.M{"_id": c.ID}, &prev); err != nil {
			return Entry{}, err
		}
		if err := s.ensureEntry(ctx, &prev); err != nil {
			return Entry{}, err
		}
		return Entry{}, ErrAlreadyReversed
	}
	if err := s.ensureEntry(ctx, &c); err != nil {
		return Entry{}, err
	}
	s.trail(ctx, a.ID, p.UserID, "ledger.reversed", auditRef{MemberID: orig.MemberID, EntryID: c.Entry.ID.Hex(), Detail: orig.ID.Hex()})
	views, err := s.entryViews(ctx, []entry{c.Entry}, nil)
	if err != nil {
		return Entry{}, err
	}
	return views[0], nil
}

func (s *Service) loadEntry(ctx context.Context, a *association, eid string) (entry, error) {
	oid, ok := store.ID(eid)
	if !ok {
		return entry{}, ErrEntryNotFound
	}
	var e entry
	if err := s.ledger.FindOne(ctx, bson.M{"_id": oid}, &e); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return entry{}, ErrEntryNotFound
		}
		return entry{}, err
	}
	if e.AssociationID != a.ID {
		return entry{}, ErrEntryNotFound
	}
	return e, nil
}

// GetEntry returns one entry, with the reversal that undid it if any.
func (s *Service) GetEntry(ctx context.Context, p auth.Principal, aid, eid string) (Entry, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Entry{}, err
	}
	return s.GetEntryOf(ctx, &a, eid)
}

// GetEntryOf is GetEntry once access has been checked.
func (s *Service) GetEntryOf(ctx context.Context, a *association, eid string) (Entry, error) {
	e, err := s.loadEntry(ctx, a, eid)
	if err != nil {
		return Entry{}, err
	}
	reversedBy := map[string]string{}
	var c claim
	err = s.claims.FindOne(ctx, bson.M{"_id": reverseClaimID(a.ID, eid)}, &c)
	switch {
	case err == nil:
		if err := s.ensureEntry(ctx, &c); err != nil {
			return Entry{}, err
		}
		reversedBy[eid] = c.Entry.ID.Hex()
	case !errors.Is(err, store.ErrNotFound):
		return Entry{}, err
	}
	views, err := s.entryViews(ctx, []entry{e}, reversedBy)
	if err != nil {
		return Entry{}, err
	}
	return views[0], nil
}

// entryViews names the members and recorders of es.
func (s *Service) entryViews(ctx context.Context, es []entry, reversedBy map[string]string) ([]Entry, error) {
	var mids []bson.ObjectID
	uids := []string{}
	seenM, seenU := map[string]bool{}, map[string]bool{}
	for _, e := range es {
		if e.MemberID != "" && !seenM[e.MemberID] {
			seenM[e.MemberID] = true
			if oid, ok := store.ID(e.MemberID); ok {
				mids = append(mids, oid)
			}
		}
		if !seenU[e.RecordedBy] {
			seenU[e.RecordedBy] = true
			uids = append(uids, e.RecordedBy)
		}
	}
	members := map[string]member{}
	if len(mids) > 0 {
		var ms []member
		if err := s.members.FindAll(ctx, bson.M{"_id": bson.M{"$in": mids}}, &ms,
			options.Find().SetProjection(bson.M{"number": 1, "full_name": 1, "erased": 1})); err != nil {
			return nil, err
		}
		for _, m := range ms {
			members[m.ID.Hex()] = m
		}
	}
	accs, err := s.accounts.Users(ctx, uids)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		v := Entry{ID: e.ID.Hex(), MemberID: e.MemberID, Type: e.Type, AmountCents: e.AmountCents, Year: e.Year,
			Method: e.Method, Note: e.Note, IdempotencyKey: e.Key, Reverses: e.Reverses, Reason: e.Reason,
			ReversedBy: reversedBy[e.ID.Hex()], RecordedBy: e.RecordedBy, RecordedByName: accs[e.RecordedBy].Name,
			RecordedAt: e.RecordedAt}
		if m, ok := members[e.MemberID]; ok {
			v.MemberNumber, v.MemberName = m.Number, m.displayName()
		}
		out = append(out, v)
	}
	return out, nil
}

// Totals are sums over ledger entries, reversals included, in cents.
type Totals struct {
	FeesCents        int64 `json:"fees_cents"`
	DonationsCents   int64 `json:"donations_cents"`
	RefundsCents     int64 `json:"refunds_cents"`
	AdjustmentsCents int64 `json:"adjustments_cents"`
	// NetCents is fees + donations + adjustments - refunds.
	NetCents  int64 `json:"net_cents"`
	Entries   int   `json:"entries"`
	Reversals int   `json:"reversals"`
}

func (t *Totals) add(e *entry) {
	switch e.Type {
	case TypeFee:
		t.FeesCents += e.AmountCents
	case TypeDonation:
		t.DonationsCents += e.AmountCents
	case TypeRefund:
		t.RefundsCents += e.AmountCents
	case TypeAdjustment:
		t.AdjustmentsCents += e.AmountCents
	}
	t.NetCents = t.FeesCents + t.DonationsCents + t.AdjustmentsCents - t.RefundsCents
	t.Entries++
	if e.Reverses != "" {
		t.Reversals++
	}
}

// cardCents is what an entry adds to its member's card for its year:
// fees count, refunds take away, reversals undo either.
func cardCents(e *entry) int64 {
	switch e.Type {
	case TypeFee:
		return e.AmountCents
	case TypeRefund:
		return -e.AmountCents
	}
	return 0
}

// LedgerQuery filters the ledger.
type LedgerQuery struct {
	MemberID string
	Year     int
	Type     string
	Cursor   string
	Limit    int
}

// LedgerPage is a page of entries, newest first, with the totals of every
// entry the filter matches (not only this page).
type LedgerPage struct {
	Items      []Entry
	NextCursor string
	Totals     Totals
}

// Ledger lists entries with their totals, derived from the entries at the
// moment of reading.
func (s *Service) Ledger(ctx context.Context, p auth.Principal, aid string, q LedgerQuery) (LedgerPage, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return LedgerPage{}, err
	}
	filter := bson.D{{Key: "association_id", Value: a.ID}}
	f := fault.Fields{}
	if q.MemberID != "" {
		if _, ok := store.ID(q.MemberID); !ok {
			f.Add("member_id", "invalid")
		}
		filter = append(filter, bson.E{Key: "member_id", Value: q.MemberID})
	}
	if q.Year != 0 {
		if _, err := s.checkYear(&a, q.Year); err != nil {
			f.Add("year", "out_of_range")
		}
		filter = append(filter, bson.E{Key: "year", Value: q.Year})
	}
	switch q.Type {
	case "":
	case TypeFee, TypeDonation, TypeRefund, TypeAdjustment:
		filter = append(filter, bson.E{Key: "type", Value: q.Type})
	default:
		f.Add("type", "invalid")
	}
	if err := f.Err(); err != nil {
		return LedgerPage{}, err
	}
	after, err := decodeCursor(q.Cursor)
	if err != nil {
		return LedgerPage{}, err
	}
	var afterID bson.ObjectID
	if after != "" {
		var ok bool
		if afterID, ok = store.ID(after); !ok {
			return LedgerPage{}, ErrBadCursor
		}
	}
	var es []entry
	if err := s.ledger.FindAll(ctx, filter, &es); err != nil {
		return LedgerPage{}, err
	}
	var page LedgerPage
	reversedBy := map[string]string{}
	for i := range es {
		page.Totals.add(&es[i])
		if es[i].Reverses != "" {
			reversedBy[es[i].Reverses] = es[i].ID.Hex()
		}
	}
	slices.SortFunc(es, func(x, y entry) int { return cmp.Compare(y.ID.Hex(), x.ID.Hex()) })
	if after != "" {
		i := 0
		for i < len(es) && es[i].ID.Hex() >= afterID.Hex() {
			i++
		}
		es = es[i:]
	}
	limit := clampLimit(q.Limit)
	if len(es) > limit {
		es = es[:limit]
		page.NextCursor = encodeCursor(es[limit-1].ID.Hex())
	}
	// A reversal has its original's member, type and year, so whatever the
	// filter, the reversals of the listed entries were among es.
	if page.Items, err = s.entryViews(ctx, es, reversedBy); err != nil {
		return LedgerPage{}, err
	}
	return page, nil
}

// yearEntries are every entry of the association for the years given.
func (s *Service) yearEntries(ctx context.Context, aid bson.ObjectID, years ...int) ([]entry, error) {
	var es []entry
	err := s.ledger.FindAll(ctx, bson.D{{Key: "association_id", Value: aid}, {Key: "year", Value: bson.M{"$in": years}}}, &es)
	return es, err
}

// paidByMember is each member's card money for year: fees net of
// reversals and refunds.
func (s *Service) paidByMember(ctx context.Context, aid bson.ObjectID, year int) (map[string]int64, error) {
	es, err := s.yearEntries(ctx, aid, year)
	if err != nil {
		return nil, err
	}
	paid := map[string]int64{}
	for i := range es {
		if es[i].MemberID != "" {
			paid[es[i].MemberID] += cardCents(&es[i])
		}
	}
	return paid, nil
}

// memberPaid is one member's card money for year.
func (s *Service) memberPaid(ctx context.Context, aid bson.ObjectID, mid string, year int) (int64, error) {
	var es []entry
	if err := s.ledger.FindAll(ctx, bson.D{{Key: "association_id", Value: aid}, {Key: "member_id", Value: mid},
		{Key: "year", Value: year}}, &es); err != nil {
		return 0, err
	}
	var paid int64
	for i := range es {
		paid += cardCents(&es[i])
	}
	return paid, nil
}
