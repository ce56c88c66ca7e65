package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// readAll reads every record of a capture with this package's Reader. The
// records' data is copied (it is valid only until the next call).
func readAll(t testing.TB, b []byte) ([]Record, error) {
	t.Helper()
	rd, _, err := Open("test", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var recs []Record
	for {
		var rec Record
		err := rd.Next(&rec)
		if err == io.EOF {
			return recs, nil
		}
		if rec.Data != nil && err == nil {
			rec.Data = bytes.Clone(rec.Data)
			recs = append(recs, rec)
			continue
		}
		return recs, err
	}
}

// TestReaderMatchesGopacket reads every sample with this package's reader
// and with gopacket's pcapgo, and wants the same records.
func TestReaderMatchesGopacket(t *testing.T) {
	for _, name := range sampleNames(t) {
		t.Run(name, func(t *testing.T) {
			want := loadCapFile(t, name)
			got, err := readAll(t, readSample(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want.recs) {
				t.Fatalf("%d records, pcapgo reads %d", len(got), len(want.recs))
			}
			for i, r := range got {
				w := want.recs[i]
				if !r.Time.Equal(w.ts) || r.OrigLen != w.orig || !bytes.Equal(r.Data, w.data) || r.LinkType != want.link || r.Number != int64(i+1) {
					t.Fatalf("record %d: got %v %d %d bytes %s #%d, pcapgo %v %d %d bytes %s",
						i+1, r.Time, r.OrigLen, len(r.Data), r.LinkType, r.Number, w.ts, w.orig, len(w.data), want.link)
				}
			}
		})
	}
}

// byteOrder reads and appends in one byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ngBuilder writes pcapng blocks by hand, in either byte order, to test
// what gopacket's writer never produces.
type ngBuilder struct {
	order byteOrder
	buf   bytes.Buffer
}

func (b *ngBuilder) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b.buf.Write(b.order.AppendUint32(nil, typ))
	b.buf.Write(b.order.AppendUint32(nil, n))
	b.buf.Write(body)
	b.buf.Write(b.order.AppendUint32(nil, n))
}

func (b *ngBuilder) option(code uint16, v []byte) []byte {
	o := b.order.AppendUint16(nil, code)
	o = b.order.AppendUint16(o, uint16(len(v)))
	o = append(o, v...)
	for len(o)%4 != 0 {
		o = append(o, 0)
	}
	return o
}

func (b *ngBuilder) shb() {
	body := b.order.AppendUint32(nil, byteOrderMagic)
	body = b.order.AppendUint16(body, 1)
	body = b.order.AppendUint16(body, 0)
	body = b.order.AppendUint64(body, ^uint64(0))
	b.block(blockSHB, body)
}

func (b *ngBuilder) idb(link LinkType, snaplen uint32, opts ...[]byte) {
	body := b.order.AppendUint16(nil, uint16(link))
	body = b.order.AppendUint16(body, 0)
	body = b.order.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, 0, 0, 0, 0)
	}
	b.block(blockIDB, body)
}

func (b *ngBuilder) epb(iface uint32, ts uint64, data []byte, orig int) {
	body := b.order.AppendUint32(nil, iface)
	body = b.order.AppendUint32(body, uint32(ts>>32))
	body = b.order.AppendUint32(body, uint32(ts))
	body = b.order.AppendUint32(body, uint32(len(data)))
	body = b.order.AppendUint32(body, uint32(orig))
	b.block(blockEPB, append(body, data...))
}

func (b *ngBuilder) spb(data []byte, orig int) {
	body := b.order.AppendUint32(nil, uint32(orig))
	b.block(blockSPB, append(body, data...))
}

// TestReaderFormats reads the variants of both formats: byte orders,
// timestamp resolutions, the modified pcap header, several interfaces and
// sections, simple packet blocks and blocks to skip.
func TestReaderFormats(t *testing.T) {
	base := time.Date(2026, 11, 21, 5, 26, 41, 123456789, time.UTC)
	frames := [][]byte{[]byte("first frame...."), []byte("second"), bytes.Repeat([]byte{7}, 70)}

	pcapWith := func(nanos bool) []byte {
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		if nanos {
			w = pcapgo.NewWriterNanos(&buf)
		}
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for i, f := range frames {
			ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Second), CaptureLength: len(f), Length: len(f) + i}
			if err := w.WritePacket(ci, f); err != nil {
				t.Fatal(err)
			}
		}
		return buf.Bytes()
	}
	// swapPcap turns a little-endian pcap into the big-endian one a
	// big-endian machine writes.
	swapPcap := func(le []byte) []byte {
		be := bytes.Clone(le)
		sw32 := func(o int) { binary.BigEndian.PutUint32(be[o:], binary.LittleEndian.Uint32(le[o:])) }
		sw16 := func(o int) { binary.BigEndian.PutUint16(be[o:], binary.LittleEndian.Uint16(le[o:])) }
		sw32(0)
		sw16(4)
		sw16(6)
		sw32(16)
		sw32(20)
		for o := 24; o < len(le); {
			for k := range 4 {
				sw32(o + 4*k)
			}
			o += 16 + int(binary.LittleEndian.Uint32(le[o+8:]))
		}
		return be
	}
	modified := func() []byte {
		b := binary.LittleEndian.AppendUint32(nil, pcapMagicModified)
		b = binary.LittleEndian.AppendUint16(b, 2)
		b = binary.LittleEndian.AppendUint16(b, 4)
		b = append(b, make([]byte, 8)...)
		b = binary.LittleEndian.AppendUint32(b, 65535)
		b = binary.LittleEndian.AppendUint32(b, uint32(LinkEthernet))
		for i, f := range frames {
			ts := base.Add(time.Duration(i) * time.Second)
			b = binary.LittleEndian.AppendUint32(b, uint32(ts.Unix()))
			b = binary.LittleEndian.AppendUint32(b, uint32(ts.Nanosecond()/1000))
			b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
			b = binary.LittleEndian.AppendUint32(b, uint32(len(f)+i))
			b = append(b, make([]byte, 8)...) // ifindex, protocol, pkt_type, pad
			b = append(b, f...)
		}
		return b
	}
	ngMixed := func(order byteOrder) []byte {
		b := &ngBuilder{order: order}
		b.shb()
		// Interface 0: microseconds (the default). Interface 1: 2^-20
		// seconds, offset by 100 s.
		b.idb(LinkEthernet, 0)
		b.block(0x0bad, []byte("custom block to skip"))
		b.idb(LinkLinuxSLL, 65535, b.option(optTSResol, []byte{0x80 | 20}), b.option(optTSOffset, order.AppendUint64(nil, 100)))
		us := uint64(base.Unix())*1e6 + uint64(base.Nanosecond()/1000)
		b.epb(0, us, frames[0], len(frames[0]))
		sec := uint64(base.Add(1*time.Second).Unix() - 100)
		b.epb(1, sec<<20|1<<19, frames[1], len(frames[1])+1) // .5 s
		b.spb(frames[2], len(frames[2]))                     // its captured length is the smaller of this and the snap length
		// A second section resets the interfaces, in the other byte order.
		b2 := &ngBuilder{order: binary.BigEndian}
		if order.String() == binary.BigEndian.String() {
			b2.order = binary.LittleEndian
		}
		b2.shb()
		b2.idb(LinkRaw, 0, b2.option(optTSResol, []byte{9}))
		b2.epb(0, uint64(base.Add(3*time.Second).UnixNano()), frames[0], len(frames[0]))
		return append(b.buf.Bytes(), b2.buf.Bytes()...)
	}
	micro := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second).Truncate(time.Microsecond) }
	classic := []Record{
		{Time: micro(0), LinkType: LinkEthernet, Data: frames[0], OrigLen: len(frames[0]), Number: 1},
		{Time: micro(1), LinkType: LinkEthernet, Data: frames[1], OrigLen: len(frames[1]) + 1, Number: 2},
		{Time: micro(2), LinkType: LinkEthernet, Data: frames[2], OrigLen: len(frames[2]) + 2, Number: 3},
	}
	nanoRecs := []Record{classic[0], classic[1], classic[2]}
	for i := range nanoRecs {
		nanoRecs[i].Time = base.Add(time.Duration(i) * time.Second)
	}
	ngRecs := []Record{
		{Time: micro(0), LinkType: LinkEthernet, Data: frames[0], OrigLen: len(frames[0]), Number: 1},
		{Time: time.Unix(base.Add(time.Second).Unix(), 5e8).UTC(), LinkType: LinkLinuxSLL, Data: frames[1], OrigLen: len(frames[1]) + 1, Number: 2},
		// A simple packet block has no time: it gets the last one.
		{Time: time.Unix(base.Add(time.Second).Unix(), 5e8).UTC(), LinkType: LinkEthernet, Data: frames[2], OrigLen: len(frames[2]), Number: 3},
		{Time: base.Add(3 * time.Second), LinkType: LinkRaw, Data: frames[0], OrigLen: len(frames[0]), Number: 4},
	}
	for _, tc := range []struct {
		name   string
		file   []byte
		format Format
		want   []Record
	}{
		{"pcap microseconds", pcapWith(false), FormatPcap, classic},
		{"pcap nanoseconds", pcapWith(true), FormatPcap, nanoRecs},
		{"pcap big-endian", swapPcap(pcapWith(false)), FormatPcap, classic},
		{"pcap modified header", modified(), FormatPcap, classic},
		{"pcapng little-endian, two sections", ngMixed(binary.LittleEndian), FormatPcapng, ngRecs},
		{"pcapng big-endian, two sections", ngMixed(binary.BigEndian), FormatPcapng, ngRecs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd, _, err := Open("x", bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if rd.Format() != tc.format {
				t.Errorf("format %s, want %s", rd.Format(), tc.format)
			}
			got, err := readAll(t, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d records, want %d", len(got), len(tc.want))
			}
			for i, g := range got {
				w := tc.want[i]
				if !g.Time.Equal(w.Time) || g.LinkType != w.LinkType || !bytes.Equal(g.Data, w.Data) || g.OrigLen != w.OrigLen || g.Number != w.Number {
					t.Errorf("record %d:\n got %v %s %q orig %d #%d\nwant %v %s %q orig %d #%d", i+1,
						g.Time, g.LinkType, g.Data, g.OrigLen, g.Number, w.Time, w.LinkType, w.Data, w.OrigLen, w.Number)
				}
			}
		})
	}
}

// recordEnds returns the byte offsets where records (pcap) or blocks
// (pcapng) end: the only places where a cut file ends cleanly.
func recordEnds(t *testing.T, b []byte) map[int]bool {
	ends := map[int]bool{}
	if binary.LittleEndian.Uint32(b) == blockSHB {
		for o := 0; o < len(b); {
			o += int(binary.LittleEndian.Uint32(b[o+4:]))
			ends[o] = true
		}
		return ends
	}
	for o := 24; o < len(b); {
		o += 16 + int(binary.LittleEndian.Uint32(b[o+8:]))
		ends[o] = true
	}
	ends[24] = true
	return ends
}

// TestReaderCutAnywhere cuts captures at every byte: the reader never
// panics, delivers every whole record before the cut, and the part of the
// cut record it has, and says the file is cut unless the cut falls between
// records.
func TestReaderCutAnywhere(t *testing.T) {
	for _, name := range []string{"gorilla-fragments.pcap.gz", "gorilla-deflate.pcap", "chromium-deflate.pcapng"} {
		t.Run(name, func(t *testing.T) {
			full := gunzipIf(t, readSample(t, name))
			all, err := readAll(t, full)
			if err != nil {
				t.Fatal(err)
			}
			ends := recordEnds(t, full)
			// Every byte of the first records, where the headers are, then
			// every 5th (and every record end).
			for n := 0; n < len(full); n++ {
				if n > 1500 && n%5 != 0 && !ends[n] && !ends[n+1] {
					continue
				}
				got, err := readAll(t, full[:n])
				if err == nil {
					if !ends[n] {
						t.Fatalf("cut at %d: no error, but %d is inside a record", n, n)
					}
				} else if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotCapture) {
					t.Fatalf("cut at %d: %v, want ErrTruncated", n, err)
				}
				if err != nil && errors.Is(err, ErrTruncated) && !strings.Contains(err.Error(), "byte offset") {
					t.Fatalf("cut at %d: %q does not say where", n, err)
				}
				for i, r := range got {
					w := all[i]
					if i < len(got)-1 && !bytes.Equal(r.Data, w.Data) {
						t.Fatalf("cut at %d: record %d differs", n, i+1)
					}
					if !bytes.HasPrefix(w.Data, r.Data) || r.OrigLen != w.OrigLen {
						t.Fatalf("cut at %d: record %d is not a prefix of the original", n, i+1)
					}
				}
			}
		})
	}
}

// TestReaderDamaged: a record whose length no snap length allows, or a
// packet on an interface never described, stops reading with an error that
// says which record and where; the records before it are delivered.
func TestReaderDamaged(t *testing.T) {
	full := gunzipIf(t, readSample(t, "gorilla-fragments.pcap.gz"))
	// Damage record 3's captured length.
	off := 24
	for range 2 {
		off += 16 + int(binary.LittleEndian.Uint32(full[off+8:]))
	}
	bad := bytes.Clone(full)
	binary.LittleEndian.PutUint32(bad[off+8:], 0xfffffff0)
	got, err := readAll(t, bad)
	if !errors.Is(err, ErrDamaged) || len(got) != 2 {
		t.Fatalf("got %d records and %v, want 2 and ErrDamaged", len(got), err)
	}
	if !strings.Contains(err.Error(), "record 3") || !strings.Contains(err.Error(), "byte offset "+strconv.Itoa(off)) {
		t.Errorf("error %q does not name record 3 at offset %d", err, off)
	}

	b := &ngBuilder{order: binary.LittleEndian}
	b.shb()
	b.idb(LinkEthernet, 0)
	b.epb(0, 1, []byte("ok"), 2)
	b.epb(5, 2, []byte("no such interface"), 17)
	got, err = readAll(t, b.buf.Bytes())
	if !errors.Is(err, ErrDamaged) || len(got) != 1 || !strings.Contains(err.Error(), "interface 5") {
		t.Fatalf("got %d records and %v, want 1 and a damaged interface 5", len(got), err)
	}

	b = &ngBuilder{order: binary.LittleEndian}
	b.shb()
	b.idb(LinkEthernet, 0)
	b.buf.Write([]byte{6, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}) // an EPB claiming 2 GiB
	_, err = readAll(t, b.buf.Bytes())
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "block length") {
		t.Fatalf("got %v, want a damaged block length", err)
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReaderGzip: a gzip-compressed capture reads as the plain one, and a
// cut gzip stream delivers what it has, then says it is cut.
func TestReaderGzip(t *testing.T) {
	for _, name := range []string{"chromium-deflate.pcapng", "gorilla-deflate.pcap"} {
		plain := readSample(t, name)
		want, err := readAll(t, plain)
		if err != nil {
			t.Fatal(err)
		}
		zipped := gzipBytes(t, plain)
		rd, _, err := Open(name, bytes.NewReader(zipped))
		if err != nil || !rd.Compressed() {
			t.Fatalf("%s: %v, compressed %v", name, err, rd != nil && rd.Compressed())
		}
		got, err := readAll(t, zipped)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%s: %d records and %v, want %d", name, len(got), err, len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Data, want[i].Data) || !got[i].Time.Equal(want[i].Time) {
				t.Fatalf("%s: record %d differs", name, i+1)
			}
		}
		got, err = readAll(t, zipped[:len(zipped)*2/3])
		if !errors.Is(err, ErrTruncated) || len(got) == 0 || len(got) >= len(want) {
			t.Fatalf("%s cut: %d of %d records and %v, want some and ErrTruncated", name, len(got), len(want), err)
		}
	}
}

// TestOpenNotCapture: other content is handed back whole (decompressed)
// for the HAR and JSON loaders.
func TestOpenNotCapture(t *testing.T) {
	doc := []byte(`{"format":"wstap","connections":[]}`)
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"json", doc}, {"gzip json", gzipBytes(t, doc)}} {
		rd, rest, err := Open(tc.name, bytes.NewReader(tc.in))
		if rd != nil || !errors.Is(err, ErrNotCapture) || rest == nil {
			t.Fatalf("%s: got reader %v, err %v, rest %v", tc.name, rd, err, rest)
		}
		got, _ := io.ReadAll(rest)
		if !bytes.Equal(got, doc) {
			t.Errorf("%s: rest is %q, want the whole document", tc.name, got)
		}
	}
	if _, _, err := Open("empty", bytes.NewReader(nil)); !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty input: %v", err)
	}
}

// FuzzReader: no input makes the reader panic, loop or hand out a record
// longer than it claims.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"gorilla-deflate.pcap", "chromium-deflate.pcapng"} {
		b := readSample(f, name)
		f.Add(b[:min(len(b), 1500)])
	}
	b := &ngBuilder{order: binary.BigEndian}
	b.shb()
	b.idb(LinkEthernet, 0, b.option(optTSResol, []byte{0x80 | 30}))
	b.spb([]byte("abc"), 3)
	f.Add(b.buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, _, err := Open("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		var rec Record
		for range len(data) + 2 {
			if err := rd.Next(&rec); err != nil {
				return
			}
			if len(rec.Data) > rec.OrigLen && rec.OrigLen >= 0 {
				t.Fatalf("record %d has %d bytes, more than its length %d", rec.Number, len(rec.Data), rec.OrigLen)
			}
		}
		t.Fatal("the reader kept returning records past the end of its input")
	})
}
