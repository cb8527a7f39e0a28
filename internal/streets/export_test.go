package streets

// SetDecided makes fn run between each admin decision of s and its write.
func SetDecided(s *Service, fn func()) { s.decided = fn }
