package capture

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/wstap/wstap/session"
)

// The large end-to-end comparison with tshark is scripts/bench-read.sh;
// these benchmarks measure the parts on the samples, and check what they
// decoded so that a broken path fails instead of looking fast.

// benchCapture is every sample's traffic in one pcap, each sample moved to
// its own time so that they follow each other.
func benchCapture(b *testing.B) ([]byte, int) {
	b.Helper()
	var all []byte
	conns := 0
	for _, name := range []string{"gorilla-basic.pcapng", "gorilla-deflate.pcap", "gorilla-fragments.pcap.gz"} {
		cf := loadCapFile(b, name)
		conns += len(decodeCapture(b, name, cf.pcap(b), Options{}).conns)
		p := cf.pcap(b)
		if all == nil {
			all = p
		} else {
			all = append(all, p[24:]...) // same link type: records follow records
		}
	}
	return all, conns
}

func BenchmarkReader(b *testing.B) {
	file, _ := benchCapture(b)
	want, err := readAll(b, file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		rd, _, err := Open("bench", bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		var rec Record
		n := 0
		for rd.Next(&rec) == nil {
			n++
		}
		if n != len(want) {
			b.Fatalf("%d records, want %d", n, len(want))
		}
	}
}

// BenchmarkDecodePacket takes headers apart (Ethernet, IP, TCP); the cost
// is per packet, whatever its size.
func BenchmarkDecodePacket(b *testing.B) {
	cf := loadCapFile(b, "gorilla-basic.pcapng")
	b.ReportAllocs()
	var p Packet
	for b.Loop() {
		tcp := 0
		for _, r := range cf.recs {
			if decodePacket(cf.link, r.data, r.orig, &p) == skipNone {
				tcp++
			}
		}
		if tcp != len(cf.recs) {
			b.Fatalf("%d TCP segments of %d", tcp, len(cf.recs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cf.recs)), "ns/packet")
}

// benchTracker decodes the whole capture per iteration.
func benchTracker(b *testing.B, workers int) {
	file, conns := benchCapture(b)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		rd, _, err := Open("bench", bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		st, err := session.NewStore(session.StoreOptions{SpillDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		tr := NewTracker(Options{Workers: workers, Tap: session.NewTap(st, session.TapOptions{})})
		if err := Run(context.Background(), rd, tr, RunOptions{}); err != nil {
			b.Fatal(err)
		}
		tr.Close()
		n := st.Len()
		st.Close()
		if n != conns {
			b.Fatalf("%d connections, want %d", n, conns)
		}
	}
}

func BenchmarkTracker(b *testing.B)        { benchTracker(b, 0) }
func BenchmarkTrackerWorkers(b *testing.B) { benchTracker(b, 2) }

// BenchmarkOpenGzip reads the gzip-compressed sample: decompression cost.
func BenchmarkOpenGzip(b *testing.B) {
	file := gzipBytes(b, gunzipIf(b, readSample(b, "gorilla-basic.pcapng")))
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		rd, _, err := Open("bench", bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		var rec Record
		for {
			if err := rd.Next(&rec); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
