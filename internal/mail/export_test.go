package mail

// Stopping is closed once Close has begun: a test that stops a service in
// the middle of a batch waits for it before letting held sends finish.
func Stopping(s *Service) <-chan struct{} { return s.stop }

// Changed is closed the next time a mail is finished or put back for a
// retry: tests wait on it for the stats they expect.
func Changed(s *Service) <-chan struct{} {
	s.changedMu.Lock()
	defer s.changedMu.Unlock()
	return s.changed
}

// URLProblems is every text ParseURL's errors can hold.
var URLProblems = func() string {
	var b []byte
	for _, e := range []*URLError{errURLSyntax, errURLScheme, errURLHost, errURLPort, errURLRest, errURLLoopback, errURLUser} {
		b = append(b, e.Error()...)
		b = append(b, '\n')
	}
	return string(b)
}()
