package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"civico/internal/testutil"
)

type conversationJSON struct {
	ID     string `json:"id"`
	Unread int    `json:"unread"`
	Open   bool   `json:"open"`
	With   struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"with"`
}

type messageJSON struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	Body           string `json:"body"`
	Mine           bool   `json:"mine"`
}

func messageOf(t *testing.T, f testutil.WSFrame) messageJSON {
	t.Helper()
	var d struct {
		ConversationID string      `json:"conversation_id"`
		Message        messageJSON `json:"message"`
	}
	if err := json.Unmarshal(f.Data, &d); err != nil || d.ConversationID != d.Message.ConversationID {
		t.Fatalf("frame data %s: %v", f.Data, err)
	}
	return d.Message
}

// A private message reaches the recipient live on their own channel, which
// resumes after a disconnection like a street's; nobody else reads the
// conversation, not even the street's admin.
func TestConversationLiveOnMyChannelWithResume(t *testing.T) {
	s := testutil.Start(t)
	admin, anna, bruno := s.Register(t, "Admin"), s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, admin, "Via Privata", anna, bruno)

	ws := s.ConnectWS(t, bruno, testutil.Me, "")
	waitConns(t, s, 1)
	var started struct {
		Conversation conversationJSON `json:"conversation"`
		Message      messageJSON      `json:"message"`
	}
	s.Do(t, "POST", "/conversations", map[string]string{"user_id": bruno.ID, "street_id": sid, "body": "Ciao, abito al 12"}, anna.Token).
		Expect(t, http.StatusCreated).JSON(t, &started)
	cid := started.Conversation.ID
	f := ws.NextOf(t, "message.created")
	if m := messageOf(t, f); m.Body != "Ciao, abito al 12" || m.Mine || m.ConversationID != cid || f.StreetID != "" {
		t.Fatalf("Bruno's frame: %+v %+v", f, m)
	}

	// Bruno goes away; Anna writes twice; he comes back with since.
	_ = ws.Conn.Close()
	waitConns(t, s, 0)
	for _, b := range []string{"Sei in casa?", "Ti lascio il pacco"} {
		s.Do(t, "POST", "/conversations/"+cid+"/messages", map[string]string{"body": b}, anna.Token).Expect(t, http.StatusCreated)
	}
	back := s.ConnectWS(t, bruno, testutil.Me, f.ID)
	for _, want := range []string{"Sei in casa?", "Ti lascio il pacco"} {
		if m := messageOf(t, back.NextOf(t, "message.created")); m.Body != want {
			t.Fatalf("after resume: %q, want %q", m.Body, want)
		}
	}

	var inbox struct {
		Items       []conversationJSON `json:"items"`
		UnreadTotal int                `json:"unread_total"`
	}
	s.Do(t, "GET", "/conversations", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &inbox)
	if len(inbox.Items) != 1 || inbox.Items[0].Unread != 3 || inbox.UnreadTotal != 3 || inbox.Items[0].With.Name != "Anna" {
		t.Fatalf("Bruno's inbox: %+v", inbox)
	}
	s.Do(t, "POST", "/conversations/"+cid+"/read", nil, bruno.Token).Expect(t, http.StatusNoContent)
	if f := back.NextOf(t, "conversation.read"); f.StreetID != "" {
		t.Fatalf("read frame: %+v", f)
	}

	// The admin of the street and anyone else: not found, whatever they try.
	for _, try := range []struct{ method, path string }{
		{"GET", "/conversations/" + cid}, {"GET", "/conversations/" + cid + "/messages"},
		{"POST", "/conversations/" + cid + "/read"},
	} {
		s.Do(t, try.method, try.path, nil, admin.Token).ExpectError(t, http.StatusNotFound, "conversation_not_found")
	}
	s.Do(t, "POST", "/conversations/"+cid+"/messages", map[string]string{"body": "intruso"}, admin.Token).
		ExpectError(t, http.StatusNotFound, "conversation_not_found")
	var msgs struct {
		Items []messageJSON `json:"items"`
	}
	s.Do(t, "GET", "/conversations/"+cid+"/messages?limit=2", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &msgs)
	if len(msgs.Items) != 2 || msgs.Items[0].Body != "Ti lascio il pacco" || !msgs.Items[0].Mine {
		t.Fatalf("Anna's page: %+v", msgs)
	}

	// Bruno blocks Anna and reports her message: the admin sees that one.
	s.Do(t, "PUT", "/me/blocks/"+anna.ID, nil, bruno.Token).Expect(t, http.StatusNoContent)
	var blocks struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	s.Do(t, "GET", "/me/blocks", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &blocks)
	if len(blocks.Items) != 1 || blocks.Items[0].Name != "Anna" {
		t.Fatalf("blocks: %+v", blocks)
	}
	s.Do(t, "POST", "/conversations/"+cid+"/messages", map[string]string{"body": "ok"}, bruno.Token).
		ExpectError(t, http.StatusConflict, "you_blocked")
	s.Do(t, "POST", "/reports", map[string]string{"target": "message", "id": started.Message.ID, "reason": "insistente"}, bruno.Token).
		Expect(t, http.StatusCreated)
	var reports struct {
		Items []struct {
			Target      string `json:"target"`
			MessageBody string `json:"message_body"`
		} `json:"items"`
	}
	s.Do(t, "GET", "/streets/"+sid+"/reports", nil, admin.Token).Expect(t, http.StatusOK).JSON(t, &reports)
	if len(reports.Items) != 1 || reports.Items[0].Target != "message" || reports.Items[0].MessageBody != "Ciao, abito al 12" {
		t.Fatalf("reports: %+v", reports)
	}
	s.Do(t, "DELETE", "/me/blocks/"+anna.ID, nil, bruno.Token).Expect(t, http.StatusNoContent)
	s.Do(t, "POST", "/conversations", map[string]string{"user_id": bruno.ID, "street_id": sid, "body": ""}, anna.Token).
		ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
}
