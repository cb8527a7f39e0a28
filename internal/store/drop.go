package store

import "context"

// Drop removes the collection with its documents and indexes. On the
// embedded engine every read, update and delete by anything but _id scans the
// table, while dropping a table costs about one insert; short-lived documents
// (the push outbox) live in collections that are dropped whole once done.
func (c *Collection) Drop(ctx context.Context) error {
	defer c.m.write()()
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	defer c.s.locks.lock(c.name, nil)()
	if c.s.ids != nil {
		defer c.s.ids.forget(c.name)
	}
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		return wrap(c.name, "drop", err)
	}
	defer leave()
	return wrap(c.name, "drop", c.c.Drop(ctx))
}
