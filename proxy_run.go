package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/wstap/wstap/capture/proxy"
	"github.com/wstap/wstap/capture/synth"
)

// proxyRun is a proxy and the files it writes beside the outputs: the key
// log and the pcapng file of -w. "wstap proxy" and "wstap demo" run one.
type proxyRun struct {
	p      *proxy.Proxy
	keylog *os.File
	pcap   *synthFile
}

// startProxy opens the outputs, the key log (appended to, never replaced,
// as browsers do) and the pcapng file, and makes the proxy.
func (j *job) startProxy(out *outputFlags, opts proxy.Options, pcapPath, keylogPath string) (*proxyRun, error) {
	run := &proxyRun{}
	if keylogPath != "" {
		f, err := os.OpenFile(keylogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening the key log: %w", err)
		}
		run.keylog = f
		opts.KeyLog = f
	}
	out.live = true
	outs, err := j.openOutputs(out)
	if err != nil {
		run.close(j)
		return nil, err
	}
	opts.Tap = outs.tap
	if pcapPath != "" {
		if run.pcap, err = createSynthFile(pcapPath, j); err != nil {
			run.close(j)
			return nil, err
		}
		opts.Pcap = run.pcap.w
	}
	opts.Warn = func(msg string) { j.warnf("%s", msg) }
	if run.p, err = proxy.New(opts); err != nil {
		run.close(j)
		return nil, err
	}
	return run, nil
}

// close finishes the files once the proxy has stopped.
func (r *proxyRun) close(j *job) {
	if r.pcap != nil {
		if err := r.pcap.close(); err != nil {
			j.errorf("%v", err)
		}
		r.pcap = nil
	}
	if r.keylog != nil {
		if err := r.keylog.Close(); err != nil {
			j.errorf("writing the key log: %v", err)
		}
		r.keylog = nil
	}
}

// synthFile is the pcapng file of the proxy's -w: written in place, so
// that a killed proxy leaves what it relayed, and flushed every
// synthFlush so that Wireshark can open it while the proxy runs.
type synthFile struct {
	name string
	f    io.WriteCloser
	w    *synth.Writer
	stop chan struct{}
	done sync.WaitGroup
}

// synthFlush is how often the pcapng file is brought up to date.
const synthFlush = time.Second

func createSynthFile(name string, j *job) (*synthFile, error) {
	f, err := createStreaming(name, j.stdout)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", name, err)
	}
	// The writer buffers the packets itself, under its lock; the file is
	// written only when it flushes.
	w, err := synth.NewWriter(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	sf := &synthFile{name: name, f: f, w: w, stop: make(chan struct{})}
	sf.done.Add(1)
	go func() {
		defer sf.done.Done()
		t := time.NewTicker(synthFlush)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := w.Flush(); err != nil {
					j.errorf("writing %s: %v; the proxy goes on without it", name, err)
					return
				}
			case <-sf.stop:
				return
			}
		}
	}()
	return sf, nil
}

func (s *synthFile) close() error {
	close(s.stop)
	s.done.Wait()
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", s.name, err)
	}
	return nil
}

// waitIdle waits until p relays nothing, at most d or until ctx is done.
func waitIdle(ctx context.Context, p *proxy.Proxy, d time.Duration) {
	for deadline := time.Now().Add(d); p.Active() > 0 && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(10 * time.Millisecond)
	}
}
