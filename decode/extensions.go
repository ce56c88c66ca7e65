package decode

import (
	"fmt"
	"strconv"
	"strings"
)

// Extension is one element of a Sec-WebSocket-Extensions list
// (RFC 6455 9.1): a name and its parameters in order.
type Extension struct {
	Name   string
	Params []ExtensionParam
}

// ExtensionParam is one extension parameter. HasValue distinguishes
// "client_max_window_bits" from "client_max_window_bits=15".
type ExtensionParam struct {
	Name     string
	Value    string
	HasValue bool
}

// ParseExtensions parses a Sec-WebSocket-Extensions value. Parameter values
// may be tokens or quoted strings (RFC 6455 9.1). Malformed elements are
// reported in the error but the well-formed ones are still returned.
func ParseExtensions(v string) ([]Extension, error) {
	var exts []Extension
	var errs []string
	for _, elem := range splitOutsideQuotes(v, ',') {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue
		}
		parts := splitOutsideQuotes(elem, ';')
		e := Extension{Name: strings.TrimSpace(parts[0])}
		if !isToken(e.Name) {
			errs = append(errs, fmt.Sprintf("extension name %q is not a token", e.Name))
			continue
		}
		for _, p := range parts[1:] {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			name, value, has := strings.Cut(p, "=")
			prm := ExtensionParam{Name: strings.TrimSpace(name), HasValue: has}
			if has {
				value = strings.TrimSpace(value)
				if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
					value = strings.ReplaceAll(value[1:len(value)-1], `\`, "")
				}
				prm.Value = value
			}
			e.Params = append(e.Params, prm)
		}
		exts = append(exts, e)
	}
	if len(errs) > 0 {
		return exts, fmt.Errorf("Sec-WebSocket-Extensions %q: %s", clip(v, 80), strings.Join(errs, "; "))
	}
	return exts, nil
}

func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == sep && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// DeflateParams are the negotiated permessage-deflate parameters
// (RFC 7692 7.1). Window bits are 8 to 15; 15 when not limited.
type DeflateParams struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int
	ClientMaxWindowBits     int
}

// NoContextTakeover reports whether the sender on side from resets its
// compression context after every message.
func (p *DeflateParams) NoContextTakeover(from Side) bool {
	if from == Client {
		return p.ClientNoContextTakeover
	}
	return p.ServerNoContextTakeover
}

// WindowBits returns the LZ77 window size, as a power of two, that the
// sender on side from compresses with.
func (p *DeflateParams) WindowBits(from Side) int {
	if from == Client {
		return p.ClientMaxWindowBits
	}
	return p.ServerMaxWindowBits
}

// parseDeflateResponse reads the permessage-deflate parameters a server
// accepted (RFC 7692 7.1). It returns every rule the parameters break as
// text; the parameters are still used as far as they can be understood.
func parseDeflateResponse(e Extension) (*DeflateParams, []string) {
	p := &DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	var bad []string
	seen := map[string]bool{}
	for _, prm := range e.Params {
		name := strings.ToLower(prm.Name)
		if seen[name] {
			bad = append(bad, "parameter "+prm.Name+" appears twice (RFC 7692 7)")
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover":
			p.ServerNoContextTakeover = true
			if prm.HasValue {
				bad = append(bad, prm.Name+" takes no value (RFC 7692 7.1.1.1)")
			}
		case "client_no_context_takeover":
			p.ClientNoContextTakeover = true
			if prm.HasValue {
				bad = append(bad, prm.Name+" takes no value (RFC 7692 7.1.1.2)")
			}
		case "server_max_window_bits", "client_max_window_bits":
			bits := 15
			if !prm.HasValue {
				// A server's response must carry a value for
				// server_max_window_bits; client_max_window_bits without a
				// value is only valid in an offer (RFC 7692 7.1.2).
				bad = append(bad, prm.Name+" needs a value in a response (RFC 7692 7.1.2)")
			} else if n, err := strconv.Atoi(prm.Value); err != nil || n < 8 || n > 15 || strconv.Itoa(n) != prm.Value {
				bad = append(bad, fmt.Sprintf("%s=%q is not a number from 8 to 15 (RFC 7692 7.1.2)", prm.Name, prm.Value))
			} else {
				bits = n
			}
			if name == "server_max_window_bits" {
				p.ServerMaxWindowBits = bits
			} else {
				p.ClientMaxWindowBits = bits
			}
		default:
			bad = append(bad, "unknown parameter "+prm.Name+" (RFC 7692 7)")
		}
	}
	return p, bad
}

// checkDeflateOffer lists what is wrong with the parameters of one
// permessage-deflate offer in a client's request (RFC 7692 7.1).
func checkDeflateOffer(e Extension) []string {
	var bad []string
	for _, prm := range e.Params {
		switch strings.ToLower(prm.Name) {
		case "server_no_context_takeover", "client_no_context_takeover":
			if prm.HasValue {
				bad = append(bad, prm.Name+" takes no value")
			}
		case "server_max_window_bits":
			if n, err := strconv.Atoi(prm.Value); !prm.HasValue || err != nil || n < 8 || n > 15 {
				bad = append(bad, fmt.Sprintf("server_max_window_bits=%q is not a number from 8 to 15", prm.Value))
			}
		case "client_max_window_bits":
			if !prm.HasValue {
				continue // in an offer it may stand alone (RFC 7692 7.1.2.2)
			}
			if n, err := strconv.Atoi(prm.Value); err != nil || n < 8 || n > 15 {
				bad = append(bad, fmt.Sprintf("client_max_window_bits=%q is not a number from 8 to 15", prm.Value))
			}
		default:
			bad = append(bad, "unknown parameter "+prm.Name)
		}
	}
	return bad
}
