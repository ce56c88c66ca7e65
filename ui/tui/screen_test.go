package tui

import (
	"testing"
)

func TestShowSample(t *testing.T) {
	u := startUI(t, loadStore(t, sample("violations")), Options{Title: "read violations.pcap"}, 100, 30)
	u.waitText("Connections 2")
	t.Log("\n" + u.text())
}
