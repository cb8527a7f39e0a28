package push

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Owners tells which processes are running. Every job in the outbox names
// the process that holds its deliveries (they live only in that process's
// memory); the sweep takes over the jobs of a process that is gone, and
// leaves those of a live one alone, so each push is sent by one process.
type Owners interface {
	// Self is this process's id, written as the owner of the jobs it holds.
	Self() string
	// Alive tells whether the process id is running.
	Alive(ctx context.Context, id string) (bool, error)
}

// soloOwners is the single process: a new id per service, every other id a
// previous run (restarted, or crashed) whose jobs are to be taken over.
type soloOwners struct{ self string }

func newSoloOwners() soloOwners { return soloOwners{self: "solo-" + bson.NewObjectID().Hex()} }

func (o soloOwners) Self() string { return o.self }

func (o soloOwners) Alive(_ context.Context, id string) (bool, error) { return id == o.self, nil }
