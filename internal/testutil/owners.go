package testutil

import (
	"context"
	"sync"
)

// Cluster says which processes run, as the bus's heartbeats do, for tests
// of outboxes that several processes share (push, mail): each service
// standing in for a process gets an Owner of it.
type Cluster struct {
	mu    sync.Mutex
	alive map[string]bool
}

// NewCluster is a cluster with no process running.
func NewCluster() *Cluster { return &Cluster{alive: map[string]bool{}} }

// Process starts the process id and returns its view of the cluster.
func (c *Cluster) Process(id string) Owner {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.alive[id] = true
	return Owner{c: c, id: id}
}

// Kill makes the process id dead to every other.
func (c *Cluster) Kill(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.alive, id)
}

// Owner is one process's view: push.Owners and mail.Owners.
type Owner struct {
	c  *Cluster
	id string
}

// Self is the process's id.
func (o Owner) Self() string { return o.id }

// Alive tells whether the process id runs.
func (o Owner) Alive(_ context.Context, id string) (bool, error) {
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	return o.c.alive[id], nil
}
