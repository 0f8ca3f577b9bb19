// CoreDNS with only the plugins the real node's cluster DNS uses. Upstream's main links every plugin (cloud DNS
// providers included), which triples the build on 2 cores for code the cluster never runs; coremain.Run with a
// subset of plugin packages is how CoreDNS documents custom builds. No forward plugin: cluster DNS here answers for
// cluster.local only and never sends a query off the node.
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
