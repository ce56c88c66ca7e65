package decode

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
)

// websocketGUID is appended to the client's key to compute
// Sec-WebSocket-Accept (RFC 6455 1.3, 4.2.2).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a
// Sec-WebSocket-Key: base64(SHA-1(key + GUID)) (RFC 6455 4.2.2).
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// requestURL rebuilds the ws:// URL the client asked for.
func requestURL(req *Request, tls bool, server string) string {
	scheme := "ws"
	if tls {
		scheme = "wss"
	}
	target := req.Target
	if i := strings.Index(target, "://"); i > 0 {
		// absolute-form (RFC 9112 3.2.2), as sent through a proxy
		return scheme + target[i:]
	}
	host, ok := Get(req.Headers, "Host")
	if !ok || host == "" {
		host = server
	}
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	return scheme + "://" + host + target
}

// checkRequest judges an Upgrade request (RFC 6455 4.1, 4.2.1).
func (d *Decoder) checkRequest(dir *direction, req *Request) {
	at := func(sev Severity, kind Kind, format string, args ...any) {
		d.problemf(sev, kind, Client, req.Time, format, args...)
	}
	if req.Method != "GET" {
		at(Error, KindBadMethod, "the Upgrade request uses method %s; it must be GET (RFC 6455 4.1)", req.Method)
	}
	if req.Proto != "HTTP/1.1" {
		at(Warning, KindHandshakeMalformed, "the Upgrade request is %s; HTTP/1.1 or later is required (RFC 6455 4.1)", req.Proto)
	}
	if _, ok := Get(req.Headers, "Host"); !ok {
		at(Error, KindMissingHost, "the Upgrade request has no Host header (RFC 6455 4.1)")
	}
	if !hasToken(headerTokens(req.Headers, "Connection"), "upgrade") {
		at(Error, KindMissingConnection, "the Upgrade request's Connection header does not contain the token Upgrade (RFC 6455 4.1)")
	}
	d.hs.offeredProtocols = nil
	for _, p := range strings.Split(headerTokens(req.Headers, "Sec-WebSocket-Protocol"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			d.hs.offeredProtocols = append(d.hs.offeredProtocols, p)
		}
	}
	if d.hs.protocol != ProtocolRFC6455 {
		return
	}
	key, _ := Get(req.Headers, "Sec-WebSocket-Key")
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		at(Error, KindBadKey, "Sec-WebSocket-Key %q is not the base64 of 16 bytes (RFC 6455 4.1)", clip(key, 40))
	}
	if v, _ := Get(req.Headers, "Sec-WebSocket-Version"); strings.TrimSpace(v) != "13" {
		at(Error, KindBadVersion, "Sec-WebSocket-Version is %q; RFC 6455 4.1 requires 13", clip(v, 20))
	}
	exts, err := ParseExtensions(headerTokens(req.Headers, "Sec-WebSocket-Extensions"))
	if err != nil {
		at(Error, KindBadExtensionParams, "the offered %v", err)
	}
	d.hs.offeredExtensions = exts
	for _, e := range exts {
		if strings.EqualFold(e.Name, "permessage-deflate") {
			if bad := checkDeflateOffer(e); len(bad) > 0 {
				at(Warning, KindBadExtensionParams, "the permessage-deflate offer is malformed: %s (RFC 7692 7.1)", strings.Join(bad, "; "))
			}
		}
	}
}

// checkResponse judges a 101 answer against its request (RFC 6455 4.2.2,
// 4.1 client requirements) and takes the negotiated subprotocol and
// extensions from it.
func (d *Decoder) checkResponse(resp *Response) {
	c := d.conn
	at := func(sev Severity, kind Kind, format string, args ...any) {
		d.problemf(sev, kind, Server, resp.Time, format, args...)
	}
	if d.hs.protocol != ProtocolRFC6455 {
		c.Subprotocol, _ = Get(resp.Headers, "Sec-WebSocket-Protocol")
		if c.Subprotocol == "" {
			c.Subprotocol, _ = Get(resp.Headers, "WebSocket-Protocol")
		}
		return
	}
	if !hasToken(headerTokens(resp.Headers, "Upgrade"), "websocket") {
		at(Error, KindMissingUpgrade, "the 101 answer's Upgrade header does not contain websocket (RFC 6455 4.2.2)")
	}
	if !hasToken(headerTokens(resp.Headers, "Connection"), "upgrade") {
		at(Error, KindMissingConnection, "the 101 answer's Connection header does not contain the token Upgrade (RFC 6455 4.2.2)")
	}
	req := c.Request
	if req != nil && len(req.Headers) > 0 {
		key, _ := Get(req.Headers, "Sec-WebSocket-Key")
		accept, ok := Get(resp.Headers, "Sec-WebSocket-Accept")
		switch want := AcceptKey(key); {
		case !ok:
			at(Error, KindMissingAccept, "the 101 answer has no Sec-WebSocket-Accept (RFC 6455 4.2.2)")
		case strings.TrimSpace(accept) != want:
			at(Error, KindBadAccept, "Sec-WebSocket-Accept is %q; for key %q it must be %q (RFC 6455 4.2.2)", clip(accept, 40), clip(key, 40), want)
		}
	}
	if proto, ok := Get(resp.Headers, "Sec-WebSocket-Protocol"); ok {
		c.Subprotocol = proto
		offered := false
		for _, p := range d.hs.offeredProtocols {
			offered = offered || p == proto
		}
		if !offered && req != nil && len(req.Headers) > 0 {
			at(Error, KindSubprotocolNotOffered, "the server chose subprotocol %q, which the client did not offer (offered: %s; RFC 6455 4.2.2)", proto, strings.Join(d.hs.offeredProtocols, ", "))
		}
	}
	raw := headerTokens(resp.Headers, "Sec-WebSocket-Extensions")
	if raw == "" {
		return
	}
	c.Extensions = raw
	exts, err := ParseExtensions(raw)
	if err != nil {
		at(Error, KindBadExtensionParams, "the accepted %v", err)
	}
	for _, e := range exts {
		var offer *Extension
		for i := range d.hs.offeredExtensions {
			if strings.EqualFold(d.hs.offeredExtensions[i].Name, e.Name) {
				offer = &d.hs.offeredExtensions[i]
				break
			}
		}
		if offer == nil && req != nil && len(req.Headers) > 0 {
			at(Error, KindExtensionNotOffered, "the server accepted extension %q, which the client did not offer (RFC 6455 9.1)", e.Name)
		}
		if !strings.EqualFold(e.Name, "permessage-deflate") {
			continue
		}
		if d.hs.deflate != nil {
			at(Error, KindBadExtensionParams, "the server accepted permessage-deflate twice (RFC 7692 5)")
			continue
		}
		p, bad := parseDeflateResponse(e)
		if offer != nil {
			offeredClientBits := false
			for _, prm := range offer.Params {
				offeredClientBits = offeredClientBits || strings.EqualFold(prm.Name, "client_max_window_bits")
			}
			for _, prm := range e.Params {
				if strings.EqualFold(prm.Name, "client_max_window_bits") && !offeredClientBits {
					bad = append(bad, "client_max_window_bits was not offered by the client (RFC 7692 7.1.2.2)")
				}
			}
		}
		if len(bad) > 0 {
			at(Error, KindBadExtensionParams, "permessage-deflate response parameters: %s", strings.Join(bad, "; "))
		}
		d.hs.deflate = p
		c.Deflate = p
	}
}
