package api_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/clock"
	"civico/internal/testutil"
)

func ledgerPath(aid string) string { return "/associations/" + aid + "/ledger" }

type ledgerList struct {
	Items      []testutil.LedgerEntry `json:"items"`
	NextCursor string                 `json:"next_cursor"`
	Totals     struct {
		FeesCents      int64 `json:"fees_cents"`
		DonationsCents int64 `json:"donations_cents"`
		NetCents       int64 `json:"net_cents"`
		Entries        int   `json:"entries"`
		Reversals      int   `json:"reversals"`
	} `json:"totals"`
}

func TestAssociationRolesAndAccess(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, carla, dario := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi"), s.Register(t, "Carla Neri"), s.Register(t, "Dario Blu")
	aid := s.Association(t, anna, "Portinaio Bolognina", 500)
	other := s.Association(t, dario, "Portinaio Navile", 500)
	s.Volunteer(t, anna, aid, bruno, "volunteer")
	m := s.Member(t, bruno.Token, aid, map[string]any{"full_name": "Maria Bianchi", "phone": "333 1234567", "skills": []string{"sarta"}})
	e := s.Pay(t, bruno.Token, aid, m.ID, "fee", 500, 2026)

	var got struct {
		Name   string `json:"name"`
		MyRole string `json:"my_role"`
	}
	s.Do(t, "GET", "/associations/"+aid, nil, carla.Token).Expect(t, 200).JSON(t, &got)
	if got.Name != "Portinaio Bolognina" || got.MyRole != "" {
		t.Fatalf("resident view %+v", got)
	}
	s.Do(t, "GET", "/associations/"+aid, nil, bruno.Token).Expect(t, 200).JSON(t, &got)
	if got.MyRole != "volunteer" {
		t.Fatalf("volunteer view %+v", got)
	}

	// Residents and other associations' staff do not see roster or ledger.
	hidden := []struct{ method, path string }{
		{"GET", "/associations/" + aid + "/members"},
		{"GET", "/associations/" + aid + "/members/" + m.ID},
		{"PATCH", "/associations/" + aid + "/members/" + m.ID},
		{"GET", ledgerPath(aid)},
		{"GET", ledgerPath(aid) + "/" + e.ID},
		{"POST", ledgerPath(aid) + "/" + e.ID + "/reverse"},
		{"GET", "/associations/" + aid + "/report"},
		{"GET", "/associations/" + aid + "/renewals"},
		{"GET", "/associations/" + aid + "/volunteers"},
		{"GET", "/associations/" + aid + "/audit"},
		{"GET", "/api/v1/associations/" + aid + "/members.csv"},
		{"GET", "/api/v1/associations/" + aid + "/ledger.csv"},
	}
	for _, who := range []*testutil.User{carla, dario} {
		for _, h := range hidden {
			var body any
			if h.method != "GET" {
				body = map[string]string{}
				if strings.HasSuffix(h.path, "/reverse") {
					body = map[string]string{"reason": "x"}
				}
			}
			s.Do(t, h.method, h.path, body, who.Token).ExpectError(t, 404, "association_not_found")
		}
	}
	// Another association's id does not open this one's member or entry.
	s.Do(t, "GET", "/associations/"+other+"/members/"+m.ID, nil, dario.Token).ExpectError(t, 404, "member_not_found")
	s.Do(t, "GET", ledgerPath(other)+"/"+e.ID, nil, dario.Token).ExpectError(t, 404, "entry_not_found")
	s.Do(t, "GET", "/associations/"+aid+"/members", nil, "").ExpectError(t, 401, "unauthorized")

	// Only coordinators manage the staff; the last one stays.
	s.Do(t, "POST", "/associations/"+aid+"/volunteers", map[string]string{"email": carla.Email}, bruno.Token).ExpectError(t, 403, "coordinator_only")
	s.Do(t, "DELETE", "/associations/"+aid+"/members/"+m.ID, nil, bruno.Token).ExpectError(t, 403, "coordinator_only")
	s.Do(t, "GET", "/associations/"+aid+"/invitations?kind=staff", nil, bruno.Token).ExpectError(t, 403, "coordinator_only")
	s.Do(t, "GET", "/associations/"+aid+"/invitations", nil, carla.Token).ExpectError(t, 404, "association_not_found")
	s.Do(t, "DELETE", "/associations/"+aid+"/volunteers/"+anna.ID, nil, anna.Token).ExpectError(t, 409, "last_coordinator")
	s.Do(t, "PATCH", "/associations/"+aid+"/volunteers/"+anna.ID, map[string]string{"role": "volunteer"}, anna.Token).ExpectError(t, 409, "last_coordinator")
	s.Do(t, "PATCH", "/associations/"+aid+"/volunteers/"+bruno.ID, map[string]string{"role": "coordinator"}, anna.Token).Expect(t, 200)
	s.Do(t, "DELETE", "/associations/"+aid+"/volunteers/"+anna.ID, nil, bruno.Token).Expect(t, 204)
	s.Do(t, "GET", "/associations/"+aid+"/members", nil, anna.Token).ExpectError(t, 404, "association_not_found")

	// GET /me lists the associations with the role.
	var me struct {
		Memberships struct {
			Associations []struct {
				ID, Name, Role string
			} `json:"associations"`
		} `json:"memberships"`
	}
	s.Do(t, "GET", "/me", nil, bruno.Token).Expect(t, 200).JSON(t, &me)
	if a := me.Memberships.Associations; len(a) != 1 || a[0].ID != aid || a[0].Role != "coordinator" {
		t.Fatalf("bruno's associations %+v", a)
	}
	s.Do(t, "GET", "/me", nil, anna.Token).Expect(t, 200).JSON(t, &me)
	if a := me.Memberships.Associations; len(a) != 0 {
		t.Fatalf("anna left but still has %+v", a)
	}
}

func TestAssociationInputIsValidated(t *testing.T) {
	s := testutil.Start(t)
	anna := s.Register(t, "Anna Rossi")
	aid := s.Association(t, anna, "Portinaio", 500)
	m := s.Member(t, anna.Token, aid, map[string]any{"full_name": "Maria Bianchi"})
	for _, tc := range []struct {
		path        string
		body        any
		status      int
		code, field string
	}{
		{"/associations", map[string]any{"name": "", "yearly_fee_cents": 500}, 422, "validation_failed", "name"},
		{"/associations", map[string]any{"name": "x", "yearly_fee_cents": 5.5}, 422, "validation_failed", "yearly_fee_cents"},
		{"/associations", map[string]any{"name": "x", "yearly_fee_cents": 500, "owner": "me"}, 422, "validation_failed", "owner"},
		{"/associations", `{"name":`, 400, "bad_json", ""},
		{"/associations/" + aid + "/members", map[string]any{"full_name": map[string]string{"$ne": ""}}, 422, "validation_failed", "full_name"},
		{"/associations/" + aid + "/members", map[string]any{"full_name": "x", "phone": "chiamami"}, 422, "validation_failed", "phone"},
		{ledgerPath(aid), map[string]any{"member_id": map[string]any{"$ne": nil}, "type": "fee", "amount_cents": 500, "year": 2026, "method": "cash", "idempotency_key": "abcdefgh1"}, 422, "validation_failed", "member_id"},
		{ledgerPath(aid), map[string]any{"member_id": m.ID, "type": "fee", "amount_cents": "500", "year": 2026, "method": "cash", "idempotency_key": "abcdefgh2"}, 422, "validation_failed", "amount_cents"},
		{ledgerPath(aid), map[string]any{"member_id": m.ID, "type": "fee", "amount_cents": 4.99, "year": 2026, "method": "cash", "idempotency_key": "abcdefgh3"}, 422, "validation_failed", "amount_cents"},
		{ledgerPath(aid), map[string]any{"member_id": m.ID, "type": "fee", "amount_cents": -500, "year": 2026, "method": "cash", "idempotency_key": "abcdefgh4"}, 422, "validation_failed", "amount_cents"},
		{ledgerPath(aid), map[string]any{"member_id": m.ID, "type": "fee", "amount_cents": 1e12, "year": 2026, "method": "cash", "idempotency_key": "abcdefgh5"}, 422, "validation_failed", "amount_cents"},
		{ledgerPath(aid), map[string]any{"member_id": m.ID, "type": "fee", "amount_cents": 500, "year": 1800, "method": "cash", "idempotency_key": "abcdefgh6"}, 422, "validation_failed", "year"},
		{ledgerPath(aid), map[string]any{"member_id": m.ID, "type": "fee", "amount_cents": 500, "year": 2026, "method": "iou", "idempotency_key": "abcdefgh7"}, 422, "validation_failed", "method"},
		{ledgerPath(aid), map[string]any{"member_id": m.ID, "type": "fee", "amount_cents": 500, "year": 2026, "method": "cash"}, 422, "validation_failed", "idempotency_key"},
	} {
		r := s.Do(t, "POST", tc.path, tc.body, anna.Token).ExpectError(t, tc.status, tc.code)
		if tc.field != "" && r.Fields()[tc.field] == "" {
			t.Fatalf("%s %v: no problem for %s: %s", tc.path, tc.body, tc.field, r.Body)
		}
	}
	var l ledgerList
	s.Do(t, "GET", ledgerPath(aid), nil, anna.Token).Expect(t, 200).JSON(t, &l)
	if l.Totals.Entries != 0 {
		t.Fatalf("refused entries were written: %+v", l.Totals)
	}
	s.Do(t, "GET", "/associations/"+aid+"/members?limit=101", nil, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "GET", "/associations/"+aid+"/members?cursor=%25%25", nil, anna.Token).ExpectError(t, 400, "bad_cursor")
	s.Do(t, "GET", "/associations/"+aid+"/report?year=abc", nil, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "GET", "/associations/"+aid+"/report?year=1999", nil, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "GET", "/associations/nothex", nil, anna.Token).ExpectError(t, 404, "association_not_found")
	s.Do(t, "GET", "/associations/"+aid+"/members?q=%5B", nil, anna.Token).Expect(t, 200)
}

func TestMembershipNumbersUnderParallelRequests(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi")
	aid := s.Association(t, anna, "Portinaio", 500)
	s.Volunteer(t, anna, aid, bruno, "volunteer")
	const n = 30
	nums := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := anna.Token
			if i%2 == 1 {
				tok = bruno.Token
			}
			r := s.Do(t, "POST", "/associations/"+aid+"/members", map[string]any{"full_name": fmt.Sprintf("Socio %02d", i)}, tok)
			if r.Status != 201 {
				t.Errorf("status %d %s", r.Status, r.Body)
				return
			}
			var m testutil.RosterMember
			r.JSON(t, &m)
			nums[i] = m.Number
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, num := range nums {
		if num < 1 || num > n || seen[num] {
			t.Fatalf("numbers %v are not 1..%d once each", nums, n)
		}
		seen[num] = true
	}
	// The roster pages in number order.
	var all []int64
	path := "/associations/" + aid + "/members?limit=7"
	for range n {
		var page struct {
			Items []testutil.RosterMember `json:"items"`
			Next  string                  `json:"next_cursor"`
		}
		s.Do(t, "GET", path, nil, anna.Token).Expect(t, 200).JSON(t, &page)
		for _, m := range page.Items {
			all = append(all, m.Number)
		}
		if page.Next == "" {
			break
		}
		path = "/associations/" + aid + "/members?limit=7&cursor=" + page.Next
	}
	for i, num := range all {
		if num != int64(i+1) {
			t.Fatalf("paged numbers %v", all)
		}
	}
	if len(all) != n {
		t.Fatalf("paged %d members", len(all))
	}
}

func TestLedgerIdempotencyAndConcurrencyThroughTheServer(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi")
	aid := s.Association(t, anna, "Portinaio", 500)
	s.Volunteer(t, anna, aid, bruno, "volunteer")
	m := s.Member(t, anna.Token, aid, map[string]any{"full_name": "Maria Bianchi"})

	body := map[string]any{"member_id": m.ID, "type": "fee", "amount_cents": 500, "year": 2026, "method": "cash", "idempotency_key": "tap-0000001"}
	var first, again testutil.LedgerEntry
	s.Do(t, "POST", ledgerPath(aid), body, anna.Token).Expect(t, 201).JSON(t, &first)
	s.Do(t, "POST", ledgerPath(aid), body, bruno.Token).Expect(t, 200).JSON(t, &again)
	if again.ID != first.ID || again.RecordedBy != anna.ID {
		t.Fatalf("repeat answered %+v, first %+v", again, first)
	}
	body["amount_cents"] = 600
	s.Do(t, "POST", ledgerPath(aid), body, anna.Token).ExpectError(t, 409, "idempotency_conflict")

	// A burst: 20 distinct keys, each sent 3 times at once, from two volunteers.
	type result struct {
		status int
		id     string
	}
	results := make(chan result, 60)
	var wg sync.WaitGroup
	for k := range 20 {
		for rep := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := anna.Token
				if rep == 1 {
					tok = bruno.Token
				}
				r := s.Do(t, "POST", ledgerPath(aid), map[string]any{"member_id": m.ID, "type": "donation", "amount_cents": 100 + k,
					"year": 2026, "method": "cash", "idempotency_key": fmt.Sprintf("burst-key-%02d", k)}, tok)
				var e testutil.LedgerEntry
				if r.Status == 200 || r.Status == 201 {
					r.JSON(t, &e)
				}
				results <- result{r.Status, e.ID}
			}()
		}
	}
	wg.Wait()
	close(results)
	created := map[string]int{}
	for r := range results {
		switch r.status {
		case 201:
			created[r.id]++
		case 200:
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if len(created) != 20 {
		t.Fatalf("%d entries created, want 20", len(created))
	}
	var l ledgerList
	s.Do(t, "GET", ledgerPath(aid)+"?year=2026&limit=100", nil, anna.Token).Expect(t, 200).JSON(t, &l)
	wantDonations := int64(20*100 + 19*20/2)
	if l.Totals.Entries != 21 || l.Totals.DonationsCents != wantDonations || l.Totals.FeesCents != 500 || l.Totals.NetCents != wantDonations+500 {
		t.Fatalf("totals %+v, want 21 entries, %d donations", l.Totals, wantDonations)
	}
	if len(l.Items) != 21 {
		t.Fatalf("listed %d entries", len(l.Items))
	}
	var member testutil.RosterMember
	s.Do(t, "GET", "/associations/"+aid+"/members/"+m.ID+"?year=2026", nil, anna.Token).Expect(t, 200).JSON(t, &member)
	if member.Status != "active" || member.PaidCents != 500 {
		t.Fatalf("donations count toward the card: %+v", member)
	}
}

func TestReversalsThroughTheServer(t *testing.T) {
	s := testutil.Start(t)
	anna := s.Register(t, "Anna Rossi")
	aid := s.Association(t, anna, "Portinaio", 500)
	m := s.Member(t, anna.Token, aid, map[string]any{"full_name": "Maria Bianchi"})
	fee := s.Pay(t, anna.Token, aid, m.ID, "fee", 500, 2026)
	path := ledgerPath(aid) + "/" + fee.ID + "/reverse"
	s.Do(t, "POST", path, map[string]string{}, anna.Token).ExpectError(t, 422, "validation_failed")

	statuses := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- s.Do(t, "POST", path, map[string]string{"reason": "wrong member"}, anna.Token).Status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[201] != 1 || count[409] != 7 {
		t.Fatalf("parallel reversals answered %v, want one 201 and seven 409", count)
	}
	s.Do(t, "POST", path, map[string]string{"reason": "again"}, anna.Token).ExpectError(t, 409, "already_reversed")
	var orig testutil.LedgerEntry
	s.Do(t, "GET", ledgerPath(aid)+"/"+fee.ID, nil, anna.Token).Expect(t, 200).JSON(t, &orig)
	if orig.ReversedBy == "" {
		t.Fatalf("original %+v", orig)
	}
	s.Do(t, "POST", ledgerPath(aid)+"/"+orig.ReversedBy+"/reverse", map[string]string{"reason": "undo"}, anna.Token).
		ExpectError(t, 409, "cannot_reverse_reversal")
	var l ledgerList
	s.Do(t, "GET", ledgerPath(aid)+"?member_id="+m.ID, nil, anna.Token).Expect(t, 200).JSON(t, &l)
	if l.Totals.FeesCents != 0 || l.Totals.Entries != 2 || l.Totals.Reversals != 1 || l.Items[0].AmountCents != -500 || l.Items[0].Reverses != fee.ID {
		t.Fatalf("ledger after reversal %+v", l)
	}
	var member testutil.RosterMember
	s.Do(t, "GET", "/associations/"+aid+"/members/"+m.ID+"?year=2026", nil, anna.Token).Expect(t, 200).JSON(t, &member)
	if member.Status != "lapsed" {
		t.Fatalf("member after reversal %+v", member)
	}
}

func TestReportRenewalsAndCSVThroughTheServer(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 12, 15, 9, 0, 0, 0, time.UTC))
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	anna, resident := s.Register(t, "Anna Rossi"), s.Register(t, "Rita Residente")
	aid := s.Association(t, anna, "Portinaio", 500)
	due := s.Member(t, anna.Token, aid, map[string]any{"full_name": "Maria Bianchi", "phone": "333 1234567", "joined_on": "2025-01-10"})
	evil := s.Member(t, anna.Token, aid, map[string]any{"full_name": "=1+2 Hacker", "notes": "@import", "skills": []string{"-cmd"}})
	s.Pay(t, anna.Token, aid, due.ID, "fee", 500, 2025)
	s.Pay(t, anna.Token, aid, due.ID, "fee", 500, 2026)
	s.Pay(t, anna.Token, aid, evil.ID, "fee", 500, 2026)
	s.Pay(t, anna.Token, aid, evil.ID, "fee", 500, 2027)
	s.Pay(t, anna.Token, aid, "", "donation", 1500, 2026)

	var r struct {
		Year, Members, Active, Lapsed, NewMembers int
		Fees                                      int64 `json:"fees_cents"`
		Donations                                 int64 `json:"donations_cents"`
		Net                                       int64 `json:"net_cents"`
	}
	s.Do(t, "GET", "/associations/"+aid+"/report", nil, anna.Token).Expect(t, 200).JSON(t, &r)
	if r.Year != 2026 || r.Members != 2 || r.Active != 2 || r.Lapsed != 0 || r.Fees != 1000 || r.Donations != 1500 || r.Net != 2500 {
		t.Fatalf("report %+v", r)
	}
	var ren struct {
		Items []struct {
			FullName, State, Phone string
			ExpiresOn              string `json:"expires_on"`
			DaysLeft               int    `json:"days_left"`
		} `json:"items"`
	}
	s.Do(t, "GET", "/associations/"+aid+"/renewals", nil, anna.Token).Expect(t, 200).JSON(t, &ren)
	if len(ren.Items) != 1 || ren.Items[0].Phone != "333 1234567" || ren.Items[0].State != "expiring" || ren.Items[0].DaysLeft != 17 || ren.Items[0].ExpiresOn != "2026-12-31" {
		t.Fatalf("renewals %+v", ren.Items)
	}

	res := s.Do(t, "GET", "/api/v1/associations/"+aid+"/members.csv", nil, anna.Token).Expect(t, 200)
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("headers %v", res.Header)
	}
	rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != "number" || rows[2][1] != "'=1+2 Hacker" || rows[2][5] != "'-cmd" || rows[2][6] != "'@import" {
		t.Fatalf("members.csv %q", rows)
	}
	res = s.Do(t, "GET", "/api/v1/associations/"+aid+"/ledger.csv?year=2026", nil, anna.Token).Expect(t, 200)
	rows, err = csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "id" || rows[3][3] != "donation" || rows[3][5] != "15.00" {
		t.Fatalf("ledger.csv %q", rows)
	}
	s.Do(t, "GET", "/api/v1/associations/"+aid+"/ledger.csv", nil, resident.Token).ExpectError(t, 404, "association_not_found")
}

func TestSkillsDirectoryForResidentsHidesContacts(t *testing.T) {
	s := testutil.Start(t)
	anna, resident := s.Register(t, "Anna Rossi"), s.Register(t, "Rita Residente")
	aid := s.Association(t, anna, "Portinaio", 500)
	year := time.Now().In(mustRome(t)).Year()
	m := s.Member(t, anna.Token, aid, map[string]any{"full_name": "Maria Grazia Bianchi", "phone": "333 7654321",
		"email": "maria.bianchi@casa.it", "address": "Via Albani 3", "notes": "abita al terzo piano", "skills": []string{"sarta", "stiro"}})
	s.Pay(t, anna.Token, aid, m.ID, "fee", 500, year)
	res := s.Do(t, "GET", "/associations/"+aid+"/skills", nil, resident.Token).Expect(t, 200)
	var page struct {
		Association struct {
			Desk struct{ Phone string } `json:"desk"`
		} `json:"association"`
		Items []struct {
			FirstName string   `json:"first_name"`
			Skills    []string `json:"skills"`
		} `json:"items"`
	}
	res.JSON(t, &page)
	if len(page.Items) != 1 || page.Items[0].FirstName != "Maria" || len(page.Items[0].Skills) != 2 || page.Association.Desk.Phone != "051 123456" {
		t.Fatalf("directory %s", res.Body)
	}
	for _, private := range []string{"Bianchi", "Grazia", "7654321", "maria.bianchi", "Albani", "terzo piano", m.ID} {
		if strings.Contains(string(res.Body), private) {
			t.Fatalf("the directory shows %q: %s", private, res.Body)
		}
	}
	s.Do(t, "GET", "/associations/"+aid+"/skills?skill=idraulico", nil, resident.Token).Expect(t, 200).JSON(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("skill filter %+v", page.Items)
	}
}

func TestLinkedMemberSeesTheirCardAndAccountDeletionKeepsTheBooks(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, maria := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi"), s.Register(t, "Maria Bianchi")
	aid := s.Association(t, anna, "Portinaio", 500)
	s.Volunteer(t, anna, aid, bruno, "volunteer")
	year := time.Now().In(mustRome(t)).Year()
	// Linking the card to Maria's account is an invitation she accepts.
	var added struct {
		testutil.RosterMember
		Invitation struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"invitation"`
	}
	s.Do(t, "POST", "/associations/"+aid+"/members", map[string]any{"full_name": "Maria Bianchi", "notes": "solo per i volontari",
		"account_email": maria.Email}, anna.Token).Expect(t, 201).JSON(t, &added)
	m := added.RosterMember
	if m.UserID != "" || added.Invitation.ID == "" || added.Invitation.Email != maria.Email {
		t.Fatalf("member with an invitation %+v", added)
	}
	s.Do(t, "POST", "/invitations/"+added.Invitation.ID+"/accept", nil, maria.Token).Expect(t, 200)
	s.Do(t, "GET", "/associations/"+aid+"/members/"+m.ID, nil, anna.Token).Expect(t, 200).JSON(t, &m)
	if m.UserID != maria.ID {
		t.Fatalf("linked member %+v", m)
	}
	fee := s.Pay(t, anna.Token, aid, m.ID, "fee", 500, year)

	var me struct {
		Memberships struct {
			Associations []struct {
				Role         string `json:"role"`
				MemberNumber int64  `json:"member_number"`
				CardActive   *bool  `json:"card_active"`
			} `json:"associations"`
		} `json:"memberships"`
	}
	res := s.Do(t, "GET", "/me", nil, maria.Token).Expect(t, 200)
	res.JSON(t, &me)
	if a := me.Memberships.Associations; len(a) != 1 || a[0].Role != "member" || a[0].MemberNumber != 1 || a[0].CardActive == nil || !*a[0].CardActive {
		t.Fatalf("maria's associations %s", res.Body)
	}
	if strings.Contains(string(res.Body), "solo per i volontari") {
		t.Fatalf("/me shows the staff's notes: %s", res.Body)
	}
	exp := s.Do(t, "GET", "/me/export", nil, maria.Token).Expect(t, 200)
	if !strings.Contains(string(exp.Body), fee.ID) {
		t.Fatalf("the export lacks the member's payments: %s", exp.Body)
	}

	// The coordinator deletes her account: the volunteer takes over, the books stay.
	s.Do(t, "DELETE", "/me", map[string]string{"password": anna.Password}, anna.Token).Expect(t, 204)
	var staff struct {
		Items []struct{ UserID, Role string } `json:"items"`
	}
	s.Do(t, "GET", "/associations/"+aid+"/volunteers", nil, bruno.Token).Expect(t, 200).JSON(t, &staff)
	if len(staff.Items) != 1 || staff.Items[0].Role != "coordinator" {
		t.Fatalf("staff after the coordinator left %+v", staff.Items)
	}
	var e testutil.LedgerEntry
	s.Do(t, "GET", ledgerPath(aid)+"/"+fee.ID, nil, bruno.Token).Expect(t, 200).JSON(t, &e)
	if e.RecordedBy != anna.ID || e.AmountCents != 500 {
		t.Fatalf("entry after deletion %+v", e)
	}
	// The member deletes hers: the card stays on the roster, unlinked.
	s.Do(t, "DELETE", "/me", map[string]string{"password": maria.Password}, maria.Token).Expect(t, 204)
	var card testutil.RosterMember
	s.Do(t, "GET", "/associations/"+aid+"/members/"+m.ID, nil, bruno.Token).Expect(t, 200).JSON(t, &card)
	if card.UserID != "" || card.FullName != "Maria Bianchi" || card.Status != "active" {
		t.Fatalf("card after the member's deletion %+v", card)
	}
}

func mustRome(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// invitationBody is the 202 answer to an invitation, as the staff reads it.
type invitationBody struct {
	Invitation struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		Email     string `json:"email"`
		Role      string `json:"role"`
		MemberID  string `json:"member_id"`
		Status    string `json:"status"`
		ExpiresAt string `json:"expires_at"`
		CreatedAt string `json:"created_at"`
	} `json:"invitation"`
}

// sameShape replaces in body what differs between two invitations (the id,
// the address, the times) so that the rest can be compared byte for byte.
func sameShape(t *testing.T, body []byte, email string) string {
	t.Helper()
	var b invitationBody
	if err := jsonUnmarshal(body, &b); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	out := string(body)
	for _, v := range []string{b.Invitation.ID, b.Invitation.ExpiresAt, b.Invitation.CreatedAt, email} {
		if v == "" {
			t.Fatalf("invitation lacks a field: %s", body)
		}
		out = strings.ReplaceAll(out, v, "…")
	}
	return out
}

// TestInvitationAnswerIsTheSameWhetherTheEmailHasAnAccount: inviting an
// address to the staff or to link a card answers 202 with one shape, with
// no user id or name, whether or not an account exists; a repeat answers
// the same invitation.
func TestInvitationAnswerIsTheSameWhetherTheEmailHasAnAccount(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi")
	aid := s.Association(t, anna, "Portinaio", 500)
	m := s.Member(t, anna.Token, aid, map[string]any{"full_name": "Maria Bianchi"})
	unknown := "nessuno." + testutil.RandomHex(4) + "@example.org"
	for _, tc := range []struct {
		name string
		send func(email string) *testutil.Response
	}{
		{"staff", func(email string) *testutil.Response {
			return s.Do(t, "POST", "/associations/"+aid+"/volunteers", map[string]string{"email": email, "role": "volunteer"}, anna.Token)
		}},
		{"card", func(email string) *testutil.Response {
			return s.Do(t, "POST", "/associations/"+aid+"/members/"+m.ID+"/invitations", map[string]string{"email": email}, anna.Token)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			known := tc.send(bruno.Email).Expect(t, 202)
			again := tc.send(bruno.Email).Expect(t, 202)
			if string(again.Body) != string(known.Body) {
				t.Fatalf("a repeat answered differently:\n%s\n%s", known.Body, again.Body)
			}
			nobody := tc.send(unknown).Expect(t, 202)
			if a, b := sameShape(t, known.Body, bruno.Email), sameShape(t, nobody.Body, unknown); a != b {
				t.Fatalf("answers differ by account:\n%s\n%s", a, b)
			}
			for _, leak := range []string{bruno.ID, bruno.Name, "user_id", "name"} {
				if strings.Contains(string(known.Body), leak) {
					t.Fatalf("the answer shows %q: %s", leak, known.Body)
				}
			}
			var b invitationBody
			known.JSON(t, &b)
			if b.Invitation.Status != "pending" || b.Invitation.Email != bruno.Email {
				t.Fatalf("invitation %s", known.Body)
			}
		})
	}
	// Adding a card with an account email answers the same, and links nothing yet.
	for _, email := range []string{bruno.Email, unknown} {
		r := s.Do(t, "POST", "/associations/"+aid+"/members", map[string]any{"full_name": "Socio", "account_email": email}, anna.Token).Expect(t, 201)
		if strings.Contains(string(r.Body), bruno.ID) || !strings.Contains(string(r.Body), `"invitation":{`) {
			t.Fatalf("card with an account email: %s", r.Body)
		}
	}
}

// TestInviteeAcceptsOrDeclinesThroughTheServer: nobody is staff before
// accepting; only the invitee answers; accepting makes them staff with
// their name shown; declining and expiry add nobody.
func TestInviteeAcceptsOrDeclinesThroughTheServer(t *testing.T) {
	fake := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	anna, bruno, carla := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi"), s.Register(t, "Carla Neri")
	aid := s.Association(t, anna, "Portinaio Bolognina", 500)
	invite := func(u *testutil.User, role string) string {
		var b invitationBody
		s.Do(t, "POST", "/associations/"+aid+"/volunteers", map[string]string{"email": u.Email, "role": role}, anna.Token).Expect(t, 202).JSON(t, &b)
		return b.Invitation.ID
	}
	type meBody struct {
		Memberships struct {
			Associations []struct{ ID, Role string } `json:"associations"`
		} `json:"memberships"`
	}
	roleOf := func(u *testutil.User) string {
		var me meBody
		s.Do(t, "GET", "/me", nil, u.Token).Expect(t, 200).JSON(t, &me)
		for _, a := range me.Memberships.Associations {
			if a.ID == aid {
				return a.Role
			}
		}
		return ""
	}
	iid := invite(bruno, "coordinator")
	if r := roleOf(bruno); r != "" {
		t.Fatalf("bruno is %q before accepting", r)
	}
	s.Do(t, "GET", "/associations/"+aid+"/members", nil, bruno.Token).ExpectError(t, 404, "association_not_found")

	var mine struct {
		Items []struct {
			ID            string `json:"id"`
			Kind          string `json:"kind"`
			Role          string `json:"role"`
			InvitedByName string `json:"invited_by_name"`
			Association   struct{ ID, Name string }
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	s.Do(t, "GET", "/me/invitations", nil, bruno.Token).Expect(t, 200).JSON(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != iid || mine.Items[0].Role != "coordinator" || mine.Items[0].InvitedByName != "Anna Rossi" ||
		mine.Items[0].Association.Name != "Portinaio Bolognina" {
		t.Fatalf("bruno's invitations %+v", mine)
	}
	r := s.Do(t, "GET", "/me/invitations", nil, carla.Token).Expect(t, 200)
	if string(r.Body) != `{"items":[]}` {
		t.Fatalf("carla's invitations %s", r.Body)
	}
	// Someone else's invitation does not exist for Carla.
	s.Do(t, "POST", "/invitations/"+iid+"/accept", nil, carla.Token).ExpectError(t, 404, "invitation_not_found")
	s.Do(t, "POST", "/invitations/"+iid+"/decline", nil, carla.Token).ExpectError(t, 404, "invitation_not_found")
	s.Do(t, "POST", "/invitations/nothex/accept", nil, bruno.Token).ExpectError(t, 404, "invitation_not_found")
	s.Do(t, "POST", "/invitations/"+iid+"/accept", nil, "").ExpectError(t, 401, "unauthorized")
	s.Do(t, "GET", "/me/invitations?limit=101", nil, bruno.Token).ExpectError(t, 422, "validation_failed")
	if roleOf(carla) != "" {
		t.Fatal("carla got in")
	}

	// Bruno accepts: he is a coordinator, and the staff sees his name.
	s.Do(t, "POST", "/invitations/"+iid+"/accept", nil, bruno.Token).Expect(t, 200)
	if r := roleOf(bruno); r != "coordinator" {
		t.Fatalf("bruno after accepting: %q", r)
	}
	var staff struct {
		Items []struct{ Name, Role string } `json:"items"`
	}
	s.Do(t, "GET", "/associations/"+aid+"/volunteers", nil, anna.Token).Expect(t, 200).JSON(t, &staff)
	if len(staff.Items) != 2 || staff.Items[1].Name != "Bruno Verdi" {
		t.Fatalf("staff %+v", staff.Items)
	}

	// Carla declines hers: nothing changes, and she cannot accept it after.
	cid := invite(carla, "volunteer")
	s.Do(t, "POST", "/invitations/"+cid+"/decline", nil, carla.Token).Expect(t, 200)
	s.Do(t, "POST", "/invitations/"+cid+"/accept", nil, carla.Token).ExpectError(t, 409, "invitation_answered")
	if roleOf(carla) != "" {
		t.Fatal("carla is staff after declining")
	}
	// A new one runs out after 14 days.
	cid = invite(carla, "volunteer")
	fake.Advance(14*24*time.Hour + time.Minute)
	for _, u := range []*testutil.User{anna, carla} {
		var sess struct {
			AccessToken string `json:"access_token"`
		}
		s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").Expect(t, 200).JSON(t, &sess)
		u.Token = sess.AccessToken
	}
	s.Do(t, "GET", "/me/invitations", nil, carla.Token).Expect(t, 200).JSON(t, &mine)
	if len(mine.Items) != 0 {
		t.Fatalf("expired invitation listed %+v", mine.Items)
	}
	s.Do(t, "POST", "/invitations/"+cid+"/accept", nil, carla.Token).ExpectError(t, 409, "invitation_expired")
	if roleOf(carla) != "" {
		t.Fatal("carla is staff through an expired invitation")
	}
	// Withdrawn by the coordinator, an invitation is gone for the invitee.
	cid = invite(carla, "volunteer")
	s.Do(t, "DELETE", "/associations/"+aid+"/invitations/"+cid, nil, anna.Token).Expect(t, 204)
	s.Do(t, "POST", "/invitations/"+cid+"/accept", nil, carla.Token).ExpectError(t, 404, "invitation_not_found")
	if roleOf(carla) != "" {
		t.Fatal("carla is staff through a withdrawn invitation")
	}
}

// TestConcurrentAcceptsThroughTheServer: one invitation accepted by many
// requests at once gives one staff entry, and every request succeeds.
func TestConcurrentAcceptsThroughTheServer(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi")
	aid := s.Association(t, anna, "Portinaio", 500)
	var b invitationBody
	s.Do(t, "POST", "/associations/"+aid+"/volunteers", map[string]string{"email": bruno.Email}, anna.Token).Expect(t, 202).JSON(t, &b)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := s.Do(t, "POST", "/invitations/"+b.Invitation.ID+"/accept", nil, bruno.Token); r.Status != 200 {
				t.Errorf("accept: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	var staff struct {
		Items []struct {
			UserID string `json:"user_id"`
		} `json:"items"`
	}
	s.Do(t, "GET", "/associations/"+aid+"/volunteers", nil, anna.Token).Expect(t, 200).JSON(t, &staff)
	if len(staff.Items) != 2 || staff.Items[1].UserID != bruno.ID {
		t.Fatalf("staff after concurrent accepts %+v", staff.Items)
	}
}

// TestInvitationInputIsValidated: bad input gets the documented error and
// stores no invitation.
func TestInvitationInputIsValidated(t *testing.T) {
	s := testutil.Start(t)
	anna := s.Register(t, "Anna Rossi")
	aid := s.Association(t, anna, "Portinaio", 500)
	m := s.Member(t, anna.Token, aid, map[string]any{"full_name": "Maria Bianchi"})
	for _, tc := range []struct {
		path        string
		body        any
		status      int
		code, field string
	}{
		{"/associations/" + aid + "/volunteers", map[string]any{"email": 5}, 422, "validation_failed", "email"},
		{"/associations/" + aid + "/volunteers", map[string]any{"email": "a@b.it", "user_id": "x"}, 422, "validation_failed", "user_id"},
		{"/associations/" + aid + "/volunteers", map[string]any{"email": "a@b.it", "role": "owner"}, 422, "validation_failed", "role"},
		{"/associations/" + aid + "/volunteers", map[string]any{"email": "a@"}, 422, "validation_failed", "email"},
		{"/associations/" + aid + "/volunteers", map[string]any{"email": map[string]string{"$ne": ""}}, 422, "validation_failed", "email"},
		{"/associations/" + aid + "/volunteers", `{"email":`, 400, "bad_json", ""},
		{"/associations/" + aid + "/members/" + m.ID + "/invitations", map[string]any{"email": ""}, 422, "validation_failed", "email"},
		{"/associations/" + aid + "/members/" + m.ID + "/invitations", map[string]any{"email": "a@b.it", "role": "volunteer"}, 422, "validation_failed", "role"},
		{"/associations/" + aid + "/members", map[string]any{"full_name": "X", "account_email": "nope"}, 422, "validation_failed", "account_email"},
		{"/associations/" + aid + "/members", map[string]any{"full_name": "X", "user_id": "nothex"}, 422, "validation_failed", "user_id"},
		{"/associations/" + aid + "/members/0123456789abcdef01234567/invitations", map[string]any{"email": "a@b.it"}, 404, "member_not_found", ""},
	} {
		r := s.Do(t, "POST", tc.path, tc.body, anna.Token).ExpectError(t, tc.status, tc.code)
		if tc.field != "" && r.Fields()[tc.field] == "" {
			t.Fatalf("%s %v: no problem for %s: %s", tc.path, tc.body, tc.field, r.Body)
		}
	}
	r := s.Do(t, "GET", "/associations/"+aid+"/invitations", nil, anna.Token).Expect(t, 200)
	if string(r.Body) != `{"items":[]}` {
		t.Fatalf("refused invitations were stored: %s", r.Body)
	}
	var roster struct {
		Items []testutil.RosterMember `json:"items"`
	}
	s.Do(t, "GET", "/associations/"+aid+"/members", nil, anna.Token).Expect(t, 200).JSON(t, &roster)
	if len(roster.Items) != 1 {
		t.Fatalf("refused cards were stored: %+v", roster.Items)
	}
	s.Do(t, "GET", "/associations/"+aid+"/invitations?kind=everything", nil, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "GET", "/associations/"+aid+"/invitations?cursor=%25%25", nil, anna.Token).ExpectError(t, 400, "bad_cursor")
	s.Do(t, "DELETE", "/associations/"+aid+"/invitations/nothex", nil, anna.Token).ExpectError(t, 404, "invitation_not_found")
}

// TestAssociationCreationIsRateLimited: ten a day per user, then 429 with
// Retry-After; another user is not held back.
func TestAssociationCreationIsRateLimited(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Verdi")
	for i := range 10 {
		s.Association(t, anna, fmt.Sprintf("Portinaio %d", i), 500)
	}
	r := s.Do(t, "POST", "/associations", map[string]any{"name": "Undicesimo", "yearly_fee_cents": 500}, anna.Token).ExpectError(t, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.Header)
	}
	s.Association(t, bruno, "Portinaio di Bruno", 500)
}
