module github.com/wstap/wstap

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/google/gopacket v1.1.19
	github.com/gorilla/websocket v1.5.3
	github.com/klauspost/compress v1.20.3
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/sys v0.38.0
	golang.org/x/term v0.37.0
)

require (
	golang.org/x/net v0.6.0 // indirect
	golang.org/x/text v0.31.0 // indirect
)
