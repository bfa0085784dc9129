// Package wire is the transport shared by the method SDK (plugin side) and
// the plugin host (bench side): the go-plugin handshake, the plugin map, the
// gRPC options both sides must agree on, and the tensor codec.
//
// It deliberately does not import sdk (sdk imports it); the protocol version
// is passed in by the callers, who both read it from sdk.ProtocolVersion.
package wire

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/siambench/siambench/proto/methodpb"
)

// Handshake cookie: a plugin refuses to run unless the host set this
// variable, so running bench-method-NAME by hand prints a hint instead of
// waiting for a host.
const (
	MagicCookieKey   = "SIAMBENCH_PLUGIN"
	MagicCookieValue = "method"
)

// PluginName is the single entry of the plugin map.
const PluginName = "method"

// MaxMessageBytes is the gRPC send/receive limit on every server and client:
// gRPC's 4 MiB default fails at 8 views of a 256×512 batch.
const MaxMessageBytes = 256 << 20

// Capability names announced in DescribeResponse.capabilities.
const CapDetachedStep = "detached_step"

// Handshake returns the go-plugin handshake for the given app protocol version.
func Handshake(protocolVersion int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(protocolVersion),
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// Plugin adapts the generated Method service to go-plugin. On the plugin
// side Impl must be set; on the host side the zero value is used and
// GRPCClient hands back a methodpb.MethodClient.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl methodpb.MethodServer
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the method service on the plugin's gRPC server.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return fmt.Errorf("wire: plugin has no method server")
	}
	methodpb.RegisterMethodServer(s, p.Impl)
	return nil
}

// GRPCClient returns a methodpb.MethodClient over the plugin's connection.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return methodpb.NewMethodClient(c), nil
}

// PluginSet is the plugin map for one method server (nil on the host side).
func PluginSet(server methodpb.MethodServer) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &Plugin{Impl: server}}
}

// NewGRPCServer is go-plugin's ServeConfig.GRPCServer with the message
// limits raised.
func NewGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts,
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes))
	return grpc.NewServer(opts...)
}

// DialOptions are the host's gRPC dial options (ClientConfig.GRPCDialOptions).
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageBytes),
		grpc.MaxCallSendMsgSize(MaxMessageBytes))}
}

// ServeConfig is the go-plugin ServeConfig a plugin process serves with.
func ServeConfig(protocolVersion int, server methodpb.MethodServer) *plugin.ServeConfig {
	return &plugin.ServeConfig{
		HandshakeConfig: Handshake(protocolVersion),
		Plugins:         PluginSet(server),
		GRPCServer:      NewGRPCServer,
		// go-plugin logs its own chatter at debug level on stderr, which the
		// host copies to its log: keep only warnings and errors.
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Warn, Output: os.Stderr}),
	}
}

// goPluginVersionRE matches go-plugin's handshake error for an app protocol
// mismatch ("... Plugin version: 1, Client versions: [2]").
var goPluginVersionRE = regexp.MustCompile(`Plugin version: (\d+), Client versions`)

// MismatchedVersion extracts the plugin's protocol version from a go-plugin
// handshake error; ok is false when err is not a version mismatch.
func MismatchedVersion(err error) (pluginVersion int, ok bool) {
	if err == nil {
		return 0, false
	}
	m := goPluginVersionRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	v, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return 0, false
	}
	return v, true
}

// MismatchMessage says which side to rebuild when a plugin and bench speak
// different protocol versions.
func MismatchMessage(pluginName string, pluginVersion, hostVersion int) string {
	if pluginVersion < hostVersion {
		return fmt.Sprintf("plugin %s speaks protocol %d, bench speaks %d: rebuild the plugin with `make build` (or `go build` in the plugin's directory)",
			pluginName, pluginVersion, hostVersion)
	}
	return fmt.Sprintf("plugin %s speaks protocol %d, bench speaks %d: bench is older than the plugin; rebuild bench with `make build`",
		pluginName, pluginVersion, hostVersion)
}
