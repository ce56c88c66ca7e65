//go:build !linux

package capture

import (
	"fmt"
	"runtime"
)

// Live captures packets from a network interface. Live capture without a C
// library is implemented for Linux only.
type Live struct{}

// OpenLive reports that live capture is not available on this system.
func OpenLive(name string) (*Live, error) {
	return nil, fmt.Errorf("capture on %s: live capture is supported on Linux only, not %s", name, runtime.GOOS)
}

// LinkType returns the link type of the records Next delivers.
func (l *Live) LinkType() LinkType { return LinkEthernet }

// Next is never reached: OpenLive fails.
func (l *Live) Next(rec *Record) error {
	return fmt.Errorf("live capture is not supported on %s", runtime.GOOS)
}

// SetFilter is never reached: OpenLive fails.
func (l *Live) SetFilter(f *Filter) error {
	return fmt.Errorf("live capture is not supported on %s", runtime.GOOS)
}

// Close does nothing.
func (l *Live) Close() error { return nil }
