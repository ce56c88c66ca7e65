package synth_test

import (
	"io"
	"net/netip"
	"testing"

	"github.com/wstap/wstap/capture/synth"
)

// BenchmarkWrite measures Write into a file that discards: the cost of
// segmenting, building the frames with their checksums, and pcapng
// framing. MB/s are of payload relayed.
func BenchmarkWrite(b *testing.B) {
	for _, bc := range []struct {
		name   string
		size   int
		client string
		server string
	}{
		{"1KiB/v4", 1 << 10, "192.0.2.1:50000", "198.51.100.1:443"},
		{"64KiB/v4", 64 << 10, "192.0.2.1:50000", "198.51.100.1:443"},
		{"1KiB/v6", 1 << 10, "[2001:db8::1]:50000", "[2001:db8::2]:443"},
		{"64KiB/v6", 64 << 10, "[2001:db8::1]:50000", "[2001:db8::2]:443"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w, err := synth.NewWriter(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			s, err := w.Open(netip.MustParseAddrPort(bc.client), netip.MustParseAddrPort(bc.server), epoch)
			if err != nil {
				b.Fatal(err)
			}
			msg := pattern(bc.size, 0)
			b.SetBytes(int64(bc.size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := s.Write(i%2 == 0, epoch, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
