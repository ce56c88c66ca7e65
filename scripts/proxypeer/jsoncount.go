package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
)

// jsonCountCmd counts what a wstap JSON export (DESIGN.md, "JSON export")
// holds: connections, data messages and their decoded bytes per
// direction, control messages, and problems. It reads the file as a
// stream, one message at a time, so that an export of a gigabyte is
// counted in bounded memory, and without jq, which is not everywhere.
// The script compares the counts with what the clients sent: a recording
// proxy that lost a message shows here.
//
// It prints one line:
//
//	connections=C client_messages=N server_messages=N client_bytes=B server_bytes=B control=K problems=P
//
// and, on stderr, how many problems of each kind there were.
func jsonCountCmd(args []string) error {
	fs := flag.NewFlagSet("jsoncount", flag.ExitOnError)
	fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("want one FILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	var c counts
	c.kinds = map[string]int{}
	if err := c.file(json.NewDecoder(bufio.NewReaderSize(f, 1<<20))); err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	fmt.Printf("connections=%d client_messages=%d server_messages=%d client_bytes=%d server_bytes=%d control=%d problems=%d\n",
		c.conns, c.msgs[0], c.msgs[1], c.bytes[0], c.bytes[1], c.control, c.problems)
	kinds := make([]string, 0, len(c.kinds))
	for k := range c.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(os.Stderr, "problem %s: %d\n", k, c.kinds[k])
	}
	return nil
}

// counts is what the file holds; msgs and bytes are per direction, the
// client's first.
type counts struct {
	conns, control, problems int64
	msgs, bytes              [2]int64
	kinds                    map[string]int
}

// side is the index in msgs and bytes of a message's direction.
func (c *counts) side(from string) (int, error) {
	switch from {
	case "client":
		return 0, nil
	case "server":
		return 1, nil
	}
	return 0, fmt.Errorf("message from %q", from)
}

// The exported fields, as DESIGN.md names them.
type jsonMessage struct {
	From   string `json:"from"`
	Opcode int    `json:"opcode"`
	Size   int64  `json:"size"`
}

type jsonProblem struct {
	Kind string `json:"kind"`
}

func (c *counts) file(dec *json.Decoder) error {
	return object(dec, func(key string) error {
		if key != "connections" {
			return skip(dec)
		}
		return array(dec, func() error {
			c.conns++
			return object(dec, func(key string) error { return c.conn(dec, key) })
		})
	})
}

// conn counts one member of a connection.
func (c *counts) conn(dec *json.Decoder, key string) error {
	switch key {
	case "messages":
		return array(dec, func() error {
			var m jsonMessage
			if err := dec.Decode(&m); err != nil {
				return err
			}
			if m.Opcode >= 8 {
				c.control++
				return nil
			}
			s, err := c.side(m.From)
			if err != nil {
				return err
			}
			c.msgs[s]++
			c.bytes[s] += m.Size
			return nil
		})
	case "problems":
		return array(dec, func() error {
			var p jsonProblem
			if err := dec.Decode(&p); err != nil {
				return err
			}
			c.problems++
			c.kinds[p.Kind]++
			return nil
		})
	}
	return skip(dec)
}

// object reads an object, calling member for each key with the decoder at
// its value, which member must consume.
func object(dec *json.Decoder, member func(key string) error) error {
	if err := delim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := t.(string)
		if !ok {
			return fmt.Errorf("want a key, got %v", t)
		}
		if err := member(key); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return delim(dec, '}')
}

// array reads an array, calling elem with the decoder at each element,
// which elem must consume.
func array(dec *json.Decoder, elem func() error) error {
	if err := delim(dec, '['); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		if err := elem(); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return delim(dec, ']')
}

// skip consumes a value: an array or an object element by element, so
// that a connection's long list of frames is never held whole.
func skip(dec *json.Decoder) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil // a scalar, consumed
	}
	for dec.More() {
		if d == '{' {
			if _, err := dec.Token(); err != nil { // the key
				return err
			}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

func delim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %v, got %v", want, t)
	}
	return nil
}
