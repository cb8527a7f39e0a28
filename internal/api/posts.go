package api

import (
	"net/http"
	"strings"

	"civico/internal/posts"

	"github.com/gofiber/fiber/v2"
)

// Posts: requests and offers, their replies and lifecycle. Every rule lives
// in posts.

type createPostRequest struct {
	Kind     string            `json:"kind"`
	Category string            `json:"category"`
	Title    string            `json:"title"`
	Body     string            `json:"body"`
	When     *posts.TimeWindow `json:"when"`
	Photos   []posts.PhotoIn   `json:"photos"`
}

type updatePostRequest struct {
	Category *string           `json:"category"`
	Title    *string           `json:"title"`
	Body     *string           `json:"body"`
	When     *posts.TimeWindow `json:"when"`
	// Photos, when present, is the post's whole new list ([] removes all);
	// PhotosWere, the photo ids the form started from (409 if they changed).
	Photos     *[]posts.PhotoIn `json:"photos"`
	PhotosWere *[]string        `json:"photos_were"`
}

type replyRequest struct {
	Body  string         `json:"body"`
	Photo *posts.PhotoIn `json:"photo"`
}

type acceptRequest struct {
	ReplyID string `json:"reply_id"`
}

type doneRequest struct {
	Thanks string `json:"thanks"`
}

func (h *handlers) postRoutes(v1 fiber.Router) {
	if h.d.Posts == nil {
		return
	}
	user := h.requireUser
	v1.Post("/streets/:sid/posts", user, h.createPost)
	v1.Get("/streets/:sid/posts", user, h.listPosts)
	v1.Get("/posts/:pid", user, h.getPost)
	v1.Patch("/posts/:pid", user, h.updatePost)
	v1.Delete("/posts/:pid", user, h.deletePost)
	v1.Get("/posts/:pid/replies", user, h.listReplies)
	v1.Post("/posts/:pid/replies", user, h.createReply)
	v1.Post("/posts/:pid/accept", user, h.acceptReply)
	v1.Post("/posts/:pid/done", user, h.markDone)
	v1.Post("/posts/:pid/close", user, h.closePost)
	v1.Post("/posts/:pid/renew", user, h.renewPost)
	v1.Post("/posts/:pid/pin", user, h.pinPost)
	v1.Post("/posts/:pid/unpin", user, h.unpinPost)
}

func (h *handlers) createPost(c *fiber.Ctx) error {
	var req createPostRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	p, created, err := h.d.Posts.CreateOnce(c.UserContext(), principal(c), param(c, "sid"),
		posts.NewPost{Kind: req.Kind, Category: req.Category, Title: req.Title, Body: req.Body, When: req.When,
			Photos: req.Photos, IdempotencyKey: idempotencyKey(c)})
	if err != nil {
		return err
	}
	return c.Status(createdStatus(c, created)).JSON(p)
}

// idempotencyKey is the request's optional Idempotency-Key header, which
// the PWA's outbox sends again with every retry of one post or reply; the
// service validates it.
func idempotencyKey(c *fiber.Ctx) string { return strings.Clone(c.Get("Idempotency-Key")) }

// createdStatus is 201 for an object made now, 200 (and an
// Idempotent-Replayed header) for the same object answered again to a
// retried Idempotency-Key, as the ledger does.
func createdStatus(c *fiber.Ctx, created bool) int {
	if created {
		return http.StatusCreated
	}
	c.Set("Idempotent-Replayed", "true")
	return http.StatusOK
}

func (h *handlers) listPosts(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Posts.Feed(c.UserContext(), principal(c), param(c, "sid"), posts.Query{Kind: query(c, "kind"),
		Category: query(c, "category"), Status: query(c, "status"), Q: query(c, "q"), Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) getPost(c *fiber.Ctx) error {
	t, err := h.d.Posts.Get(c.UserContext(), principal(c), param(c, "pid"))
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (h *handlers) updatePost(c *fiber.Ctx) error {
	var req updatePostRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	p, err := h.d.Posts.Update(c.UserContext(), principal(c), param(c, "pid"),
		posts.Changes{Category: req.Category, Title: req.Title, Body: req.Body, When: req.When, Photos: req.Photos, PhotosWere: req.PhotosWere})
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) deletePost(c *fiber.Ctx) error {
	var req reasonRequest
	if err := decodeOptional(c, &req); err != nil {
		return err
	}
	p, err := h.d.Posts.Remove(c.UserContext(), principal(c), param(c, "pid"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) listReplies(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	items, next, err := h.d.Posts.Replies(c.UserContext(), principal(c), param(c, "pid"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) createReply(c *fiber.Ctx) error {
	var req replyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	r, created, err := h.d.Posts.ReplyWith(c.UserContext(), principal(c), param(c, "pid"),
		posts.NewReply{Body: req.Body, Photo: req.Photo}, idempotencyKey(c))
	if err != nil {
		return err
	}
	return c.Status(createdStatus(c, created)).JSON(r)
}

func (h *handlers) acceptReply(c *fiber.Ctx) error {
	var req acceptRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	p, err := h.d.Posts.Accept(c.UserContext(), principal(c), param(c, "pid"), req.ReplyID)
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) markDone(c *fiber.Ctx) error {
	var req doneRequest
	if err := decodeOptional(c, &req); err != nil {
		return err
	}
	p, err := h.d.Posts.Done(c.UserContext(), principal(c), param(c, "pid"), req.Thanks)
	if err != nil {
		return err
	}
	return c.JSON(p)
}

// postAction is an action on a post that takes no body.
type postAction func(h *handlers, c *fiber.Ctx, pid string) (posts.Post, error)

func (h *handlers) onPost(c *fiber.Ctx, fn postAction) error {
	p, err := fn(h, c, param(c, "pid"))
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) closePost(c *fiber.Ctx) error {
	return h.onPost(c, func(h *handlers, c *fiber.Ctx, pid string) (posts.Post, error) {
		return h.d.Posts.Close(c.UserContext(), principal(c), pid)
	})
}

func (h *handlers) renewPost(c *fiber.Ctx) error {
	return h.onPost(c, func(h *handlers, c *fiber.Ctx, pid string) (posts.Post, error) {
		return h.d.Posts.Renew(c.UserContext(), principal(c), pid)
	})
}

func (h *handlers) pinPost(c *fiber.Ctx) error {
	return h.onPost(c, func(h *handlers, c *fiber.Ctx, pid string) (posts.Post, error) {
		return h.d.Posts.Pin(c.UserContext(), principal(c), pid)
	})
}

func (h *handlers) unpinPost(c *fiber.Ctx) error {
	return h.onPost(c, func(h *handlers, c *fiber.Ctx, pid string) (posts.Post, error) {
		return h.d.Posts.Unpin(c.UserContext(), principal(c), pid)
	})
}
