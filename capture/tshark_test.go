package capture

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// wireFrame is what the wire says about a frame, as both wstap and tshark
// see it.
type wireFrame struct {
	fin    bool
	rsv    uint8
	opcode uint8
	masked bool
	length uint64
}

func (f wireFrame) String() string {
	return fmt.Sprintf("fin=%v rsv=%d op=%d mask=%v len=%d", f.fin, f.rsv, f.opcode, f.masked, f.length)
}

// tsharkFrames runs tshark's WebSocket dissector over a capture and returns
// the frames it found, in order, by direction ("src>dst" addresses).
// httpPorts are dissected as HTTP, so that tshark sees the Upgrade.
func tsharkFrames(t *testing.T, tshark, path string, httpPorts []string) map[string][]wireFrame {
	t.Helper()
	args := []string{"-r", path, "-Y", "websocket", "-T", "fields", "-E", "separator=|",
		"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
		"-e", "websocket.fin", "-e", "websocket.rsv", "-e", "websocket.opcode", "-e", "websocket.mask",
		"-e", "websocket.payload_length", "-e", "websocket.payload_length_ext_16", "-e", "websocket.payload_length_ext_64"}
	for _, p := range httpPorts {
		args = append(args, "-d", "tcp.port=="+p+",http")
	}
	cmd := exec.Command(tshark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	frames := map[string][]wireFrame{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 13 {
			t.Fatalf("tshark line %q has %d fields", line, len(f))
		}
		src := net.JoinHostPort(f[0]+f[1], f[2])
		dst := net.JoinHostPort(f[3]+f[4], f[5])
		list := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		fins, rsvs, ops, masks, lens := list(f[6]), list(f[7]), list(f[8]), list(f[9]), list(f[10])
		ext16, ext64 := list(f[11]), list(f[12])
		for i := range lens {
			num := func(s string) uint64 {
				v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 64)
				if err != nil {
					t.Fatalf("tshark line %q: %v", line, err)
				}
				return v
			}
			flag := func(s string) bool { return s == "1" || strings.EqualFold(s, "true") }
			wf := wireFrame{fin: flag(fins[i]), rsv: uint8(num(rsvs[i])), opcode: uint8(num(ops[i])), masked: flag(masks[i]), length: num(lens[i])}
			// The 7-bit field says 126 or 127 for the longer forms, whose
			// values come in their own lists, one per frame that has one.
			switch wf.length {
			case 126:
				wf.length, ext16 = num(ext16[0]), ext16[1:]
			case 127:
				wf.length, ext64 = num(ext64[0]), ext64[1:]
			}
			frames[src+">"+dst] = append(frames[src+">"+dst], wf)
		}
	}
	return frames
}

// TestAgainstTshark decodes every sample with wstap and with tshark
// (Wireshark's dissector) and wants the same frames, direction by
// direction: FIN, RSV, opcode, mask bit and payload length.
func TestAgainstTshark(t *testing.T) {
	tshark := requirePeer(t, "tshark")
	for _, name := range sampleNames(t) {
		t.Run(name, func(t *testing.T) {
			res := decodeSample(t, name)
			ours := map[string][]wireFrame{}
			var ports []string
			for _, c := range res.conns {
				_, port, _ := net.SplitHostPort(c.Server)
				if !slices.Contains(ports, port) {
					ports = append(ports, port)
				}
				for _, f := range c.Frames {
					k := dirKey(c, f.From)
					ours[k] = append(ours[k], wireFrame{fin: f.Fin, rsv: f.Rsv, opcode: uint8(f.Opcode), masked: f.Masked, length: f.Length})
				}
			}
			theirs := tsharkFrames(t, tshark, filepath.Join(samplesDir, name), ports)
			if len(theirs) == 0 {
				t.Fatal("tshark found no WebSocket frames")
			}
			total := 0
			for dir, want := range theirs {
				got := ours[dir]
				total += len(want)
				if len(got) != len(want) {
					t.Errorf("%s: wstap found %d frames, tshark %d", dir, len(got), len(want))
				}
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Errorf("%s frame %d: wstap %s, tshark %s", dir, i, got[i], want[i])
					}
				}
			}
			for dir, got := range ours {
				if _, ok := theirs[dir]; !ok {
					t.Errorf("%s: wstap found %d frames, tshark none", dir, len(got))
				}
			}
			t.Logf("%d frames in %d directions agree", total, len(theirs))
		})
	}
}
