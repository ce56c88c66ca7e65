package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/wstap/wstap/capture/proxy/ca"
)

// caCommand is "wstap ca".
func (a *app) caCommand() *cobra.Command {
	var pathOnly bool
	cmd := &cobra.Command{
		Use:   "ca [--path]",
		Short: "Show wstap's CA (made on first use) and how to make clients trust it",
		Long: `The forward proxy, and the reverse proxy with --listen-tls, answer TLS
with certificates signed by wstap's own certificate authority, made on
first use and kept in the user's config directory ($WSTAP_CONFIG_DIR
overrides it). A client must trust that CA to talk through the proxy.

"wstap ca" makes the CA if there is none and prints where its files are,
its fingerprint and SPKI hash, and the commands that make curl, Node, Go
programs, Python, Chromium, Firefox and the Debian/Ubuntu system store
trust it (and undo that). Whoever holds the CA's key can read the TLS
traffic of every client that trusts it: keep it to yourself.`,
		Example: `  wstap ca
  curl --cacert "$(wstap ca --path)" -x http://127.0.0.1:8080 https://example.com/`,
		Args: noArgs(`"wstap ca" takes no arguments`),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runJob(cmd, func(j *job) error {
				dir, err := ca.Dir()
				if err != nil {
					return fmt.Errorf("finding the CA's directory: %w", err)
				}
				c, err := ca.Load(dir)
				if err != nil {
					return fmt.Errorf("loading wstap's CA: %w", err)
				}
				if pathOnly {
					_, err = fmt.Fprintln(j.stdout, c.CertFile())
					return err
				}
				return c.WriteInstructions(j.stdout)
			})
		},
	}
	cmd.Flags().BoolVar(&pathOnly, "path", false, "print only the path of the CA certificate (PEM)")
	return cmd
}
