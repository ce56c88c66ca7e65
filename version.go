package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildVersion is wstap's version as the build recorded it: the module
// version ("v1.2.0" for "go install ...@v1.2.0"; a pseudo-version made
// from the commit, with "+dirty" for uncommitted changes, when built from
// a checkout), or "dev" plus the commit when the build recorded no version
// ("go run"). The same string is the HAR creator's version, so that a HAR
// attached to a bug report says which build wrote it.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := info.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	v = "dev"
	if rev := buildSetting(info, "vcs.revision"); rev != "" {
		v += "+" + rev[:min(len(rev), 12)]
		if buildSetting(info, "vcs.modified") == "true" {
			v += "-dirty"
		}
	}
	return v
}

func buildSetting(info *debug.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// versionCommand is "wstap version": the version, and what a bug report
// needs besides: the commit, its time, the Go version and the platform.
func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this build",
		Args:  noArgs(`"wstap version" takes no arguments`),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b strings.Builder
			fmt.Fprintf(&b, "wstap %s\n", buildVersion())
			if info, ok := debug.ReadBuildInfo(); ok {
				if rev := buildSetting(info, "vcs.revision"); rev != "" {
					fmt.Fprintf(&b, "commit:   %s", rev)
					if buildSetting(info, "vcs.modified") == "true" {
						b.WriteString(" (with uncommitted changes)")
					}
					b.WriteString("\n")
				}
				if t := buildSetting(info, "vcs.time"); t != "" {
					fmt.Fprintf(&b, "date:     %s\n", t)
				}
			}
			fmt.Fprintf(&b, "go:       %s\n", runtime.Version())
			fmt.Fprintf(&b, "platform: %s/%s\n", runtime.GOOS, runtime.GOARCH)
			fmt.Fprint(cmd.OutOrStdout(), b.String())
			return nil
		},
	}
}
