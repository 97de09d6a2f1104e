package auth

import "time"

// SetClock replaces the service's clock (tests only).
func SetClock(s *Service, now func() time.Time) { s.now = now }

// StaffListSQL is the staff list's statement builder (tests only).
var StaffListSQL = staffListSQL
