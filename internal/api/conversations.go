package api

import (
	"net/http"

	"civico/internal/conversations"

	"github.com/gofiber/fiber/v2"
)

// Private conversations between two members of a street, and the block
// list. Every rule lives in conversations; these handlers parse, call one
// method and answer. The live side is /me/ws (routes.go).

type newConversationRequest struct {
	UserID   string `json:"user_id"`
	StreetID string `json:"street_id"`
	PostID   string `json:"post_id"`
	Body     string `json:"body"`
}

type messageRequest struct {
	Body string `json:"body"`
}

type startedConversation struct {
	Conversation conversations.Conversation `json:"conversation"`
	Message      conversations.Message      `json:"message"`
}

type inboxPage struct {
	Items       []conversations.Conversation `json:"items"`
	NextCursor  string                       `json:"next_cursor,omitempty"`
	UnreadTotal int64                        `json:"unread_total"`
}

// conversationRoutes registers the conversations and the block list.
func (h *handlers) conversationRoutes(v1, me fiber.Router) {
	if h.d.Conversations == nil {
		return
	}
	user := h.requireUser
	v1.Post("/conversations", user, h.startConversation)
	v1.Get("/conversations", user, h.inbox)
	v1.Get("/conversations/:cid", user, h.conversation)
	v1.Get("/conversations/:cid/messages", user, h.messages)
	v1.Post("/conversations/:cid/messages", user, h.sendMessage)
	v1.Post("/conversations/:cid/read", user, h.readConversation)
	me.Get("/blocks", h.blocks)
	me.Put("/blocks/:uid", h.block)
	me.Delete("/blocks/:uid", h.unblock)
}

func (h *handlers) startConversation(c *fiber.Ctx) error {
	var req newConversationRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	conv, msg, err := h.d.Conversations.Start(c.UserContext(), principal(c), conversations.NewConversation{
		UserID: req.UserID, StreetID: req.StreetID, PostID: req.PostID, Body: req.Body})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(startedConversation{Conversation: conv, Message: msg})
}

func (h *handlers) inbox(c *fiber.Ctx) error {
	limit, err := queryLimit(c, conversations.DefaultLimit)
	if err != nil {
		return err
	}
	in, err := h.d.Conversations.List(c.UserContext(), principal(c), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(inboxPage{Items: in.Items, NextCursor: in.NextCursor, UnreadTotal: in.UnreadTotal})
}

func (h *handlers) conversation(c *fiber.Ctx) error {
	conv, err := h.d.Conversations.Get(c.UserContext(), principal(c), param(c, "cid"))
	if err != nil {
		return err
	}
	return c.JSON(conv)
}

func (h *handlers) messages(c *fiber.Ctx) error {
	limit, err := queryLimit(c, conversations.DefaultLimit)
	if err != nil {
		return err
	}
	items, next, err := h.d.Conversations.Messages(c.UserContext(), principal(c), param(c, "cid"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) sendMessage(c *fiber.Ctx) error {
	var req messageRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	m, err := h.d.Conversations.Send(c.UserContext(), principal(c), param(c, "cid"), req.Body)
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(m)
}

func (h *handlers) readConversation(c *fiber.Ctx) error {
	if err := h.d.Conversations.Read(c.UserContext(), principal(c), param(c, "cid")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) blocks(c *fiber.Ctx) error {
	items, err := h.d.Conversations.Blocks(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(newList(items, ""))
}

func (h *handlers) block(c *fiber.Ctx) error {
	if err := h.d.Conversations.Block(c.UserContext(), principal(c), param(c, "uid")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) unblock(c *fiber.Ctx) error {
	if err := h.d.Conversations.Unblock(c.UserContext(), principal(c), param(c, "uid")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
