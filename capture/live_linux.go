//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Live captures packets from a network interface through an AF_PACKET
// socket (packet(7)): no cgo and no libpcap. It needs root or
// CAP_NET_RAW.
type Live struct {
	fd      int
	iface   *net.Interface
	link    LinkType
	cooked  bool
	buf     []byte
	out     []byte
	records int64
}

const (
	// liveSnaplen is the most of a packet kept; loopback with segmentation
	// offload hands over frames up to 64 KiB.
	liveSnaplen = 256 << 10
	// livePoll is how long Next waits before it returns ErrNoPacket.
	livePoll = 200 * time.Millisecond
	// ARP hardware types (linux/if_arp.h) read from sysfs.
	arphrdEther    = 1
	arphrdLoopback = 772
)

// OpenLive opens interface name for capture. Ethernet and loopback
// interfaces are captured with their link-layer header; others in Linux
// cooked mode (SLL), with the header written by wstap.
func OpenLive(name string) (*Live, error) {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", name, err)
	}
	hwType, err := readHWType(name)
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", name, err)
	}
	l := &Live{iface: iface, link: LinkEthernet, buf: make([]byte, liveSnaplen)}
	typ := unix.SOCK_RAW
	if hwType != arphrdEther && hwType != arphrdLoopback {
		typ = unix.SOCK_DGRAM
		l.cooked = true
		l.link = LinkLinuxSLL
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("capture on %s: opening a packet socket needs root or CAP_NET_RAW: %w", name, err)
		}
		return nil, fmt.Errorf("capture on %s: opening a packet socket: %w", name, err)
	}
	l.fd = fd
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: iface.Index}); err != nil {
		l.Close()
		return nil, fmt.Errorf("capture on %s: binding the packet socket: %w", name, err)
	}
	tv := unix.NsecToTimeval(livePoll.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		l.Close()
		return nil, fmt.Errorf("capture on %s: setting the receive timeout: %w", name, err)
	}
	// A larger receive buffer rides out bursts; failing to get one is not
	// fatal.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	return l, nil
}

// htons returns v as the kernel expects a protocol number in a socket
// address: in network byte order, whatever the host's.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// readHWType reads the interface's ARP hardware type from sysfs.
func readHWType(name string) (int, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return 0, fmt.Errorf("reading the interface type: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// LinkType returns the link type of the records Next delivers.
func (l *Live) LinkType() LinkType { return l.link }

// Next waits for the next packet. It returns ErrNoPacket when none came
// within the poll interval.
func (l *Live) Next(rec *Record) error {
	for {
		n, from, err := unix.Recvfrom(l.fd, l.buf, unix.MSG_TRUNC)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				return ErrNoPacket
			}
			return fmt.Errorf("capture on %s: receiving: %w", l.iface.Name, err)
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Ifindex != l.iface.Index {
			continue // queued before the socket was bound
		}
		// On loopback every packet is seen leaving and arriving; keep the
		// arrival only, as libpcap does.
		if ll.Pkttype == unix.PACKET_OUTGOING && l.iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		now := time.Now().UTC()
		data := l.buf[:min(n, len(l.buf))]
		if l.cooked {
			data = l.sll(ll, data)
		}
		l.records++
		*rec = Record{Time: now, LinkType: l.link, Data: data, OrigLen: n + (len(data) - min(n, len(l.buf))), Number: l.records}
		return nil
	}
}

// sll prepends a Linux cooked header (LINKTYPE_LINUX_SLL) to a packet
// received in cooked mode.
func (l *Live) sll(ll *unix.SockaddrLinklayer, data []byte) []byte {
	l.out = l.out[:0]
	var h [16]byte
	binary.BigEndian.PutUint16(h[0:2], uint16(ll.Pkttype))
	binary.BigEndian.PutUint16(h[2:4], ll.Hatype)
	binary.BigEndian.PutUint16(h[4:6], uint16(ll.Halen))
	copy(h[6:14], ll.Addr[:])
	binary.NativeEndian.PutUint16(h[14:16], ll.Protocol) // already in network byte order
	l.out = append(l.out, h[:]...)
	return append(l.out, data...)
}

// SetFilter has the kernel run f, compiled to classic BPF, on every packet
// of the socket, so that only the packets f selects are copied to this
// process: the filter costs nothing per packet it drops, and a busy
// interface does not overflow the socket's buffer with packets nobody
// wants. A nil or empty filter removes the program. Call it before Next,
// or from the goroutine that calls Next.
//
// The packets the socket queued before the program was attached were
// not filtered, and would leak through if it were only attached. So, as
// libpcap does (pcap-linux.c, set_kernel_filter), a program that drops
// everything is attached first, the queue is drained (nothing enters it
// any more), and f's program then replaces it: nothing that f rejects is
// delivered after SetFilter returns. Packets that arrive while it runs
// are dropped, a moment's loss at the start of a capture. After an error
// the socket may be left dropping everything.
func (l *Live) SetFilter(f *Filter) error {
	if f == nil || f.root == nil {
		err := unix.SetsockoptInt(l.fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
		if err != nil && !errors.Is(err, unix.ENOENT) { // ENOENT: there was none
			return fmt.Errorf("capture on %s: removing the filter: %w", l.iface.Name, err)
		}
		return nil
	}
	layout, ok := bpfLayoutFor(l.link)
	if l.cooked {
		// A cooked socket's filter sees the packet from its network
		// header on, not the SLL header Next adds.
		layout, ok = kernelCookedLayout(), true
	}
	if !ok {
		return fmt.Errorf("capture on %s: filter %q: no program for %s", l.iface.Name, f, l.link)
	}
	prog, err := f.program(layout)
	if err != nil {
		return fmt.Errorf("capture on %s: %w", l.iface.Name, err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("capture on %s: filter %q: assembling: %w", l.iface.Name, f, err)
	}
	drop, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return fmt.Errorf("capture on %s: assembling a filter that drops everything: %w", l.iface.Name, err)
	}
	if err := l.attach(drop); err != nil {
		return fmt.Errorf("capture on %s: attaching a filter that drops everything: %w", l.iface.Name, err)
	}
	if err := l.drain(); err != nil {
		return fmt.Errorf("capture on %s: draining what was queued before the filter: %w", l.iface.Name, err)
	}
	if err := l.attach(raw); err != nil {
		return fmt.Errorf("capture on %s: attaching filter %q: %w", l.iface.Name, f, err)
	}
	return nil
}

// attach attaches a classic BPF program to the socket (SO_ATTACH_FILTER,
// socket(7)), replacing the one attached before.
func (l *Live) attach(prog []bpf.RawInstruction) error {
	code := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		code[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return unix.SetsockoptSockFprog(l.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(code)), Filter: &code[0]})
}

// drain reads and discards what the socket holds, without waiting.
func (l *Live) drain() error {
	for {
		_, _, err := unix.Recvfrom(l.fd, l.buf, unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		switch {
		case err == nil, errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return nil
		default:
			return err
		}
	}
}

// Close closes the socket.
func (l *Live) Close() error {
	return unix.Close(l.fd)
}
