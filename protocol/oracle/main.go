// Command oracle decodes Docker API request bodies with Go's own encoding/json into structs
// laid out like dockerd 20.10.24's, and prints what the daemon would act on in the JSON shape
// of the Rust model's Serialize output (authz-protocol's protocol::body).
//
// It reads JSON Lines on stdin, {"kind":"container_create","body":"<base64>"}, and writes one
// line per input line: the model object, or {"error":"syntax|type|trailing|input"}.
// It exists so the Rust canonicaliser can be tested against the real decoder.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ---- The daemon's types (field names, order, Go types and embedding as in v20.10.24). ----

// StrSlice is strslice.StrSlice: a list of strings, or a single string.
type StrSlice []string

// UnmarshalJSON behaves as strslice.StrSlice's: a fresh list, else one string.
func (e *StrSlice) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	p := make([]string, 0, 1)
	if err := json.Unmarshal(b, &p); err != nil {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p = append(p, s)
	}
	*e = p
	return nil
}

// unmodelled stands for a sub-object the Rust schema only syntax-checks (Ty::Raw): any JSON
// value is accepted and nothing is kept, so a document (omitempty) leaves it out as the
// Rust side does.
type unmodelled []byte

// UnmarshalJSON accepts any value (the decoder has checked its syntax) and keeps nothing.
func (*unmodelled) UnmarshalJSON([]byte) error { return nil }

type HealthConfig struct {
	Test        []string `json:",omitempty"`
	Interval    int64    `json:",omitempty"`
	Timeout     int64    `json:",omitempty"`
	StartPeriod int64    `json:",omitempty"`
	Retries     int      `json:",omitempty"`
}

type Config struct {
	Hostname        string
	Domainname      string
	User            string
	AttachStdin     bool
	AttachStdout    bool
	AttachStderr    bool
	ExposedPorts    map[string]struct{} `json:",omitempty"`
	Tty             bool
	OpenStdin       bool
	StdinOnce       bool
	Env             []string
	Cmd             StrSlice
	Healthcheck     *HealthConfig `json:",omitempty"`
	ArgsEscaped     bool          `json:",omitempty"`
	Image           string
	Volumes         map[string]struct{}
	WorkingDir      string
	Entrypoint      StrSlice
	NetworkDisabled bool   `json:",omitempty"`
	MacAddress      string `json:",omitempty"`
	OnBuild         []string
	Labels          map[string]string
	StopSignal      string   `json:",omitempty"`
	StopTimeout     *int     `json:",omitempty"`
	Shell           StrSlice `json:",omitempty"`
}

type LogConfig struct {
	Type   string
	Config map[string]string
}

type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

type WeightDevice struct {
	Path   string
	Weight uint16
}

type ThrottleDevice struct {
	Path string
	Rate uint64
}

type Ulimit struct {
	Name string
	Hard int64
	Soft int64
}

type DeviceMapping struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string
}

type DeviceRequest struct {
	Driver       string
	Count        int
	DeviceIDs    []string
	Capabilities [][]string
	Options      map[string]string
}

type Resources struct {
	CPUShares            int64 `json:"CpuShares"`
	Memory               int64
	NanoCPUs             int64 `json:"NanoCpus"`
	CgroupParent         string
	BlkioWeight          uint16
	BlkioWeightDevice    []*WeightDevice
	BlkioDeviceReadBps   []*ThrottleDevice
	BlkioDeviceWriteBps  []*ThrottleDevice
	BlkioDeviceReadIOps  []*ThrottleDevice
	BlkioDeviceWriteIOps []*ThrottleDevice
	CPUPeriod            int64 `json:"CpuPeriod"`
	CPUQuota             int64 `json:"CpuQuota"`
	CPURealtimePeriod    int64 `json:"CpuRealtimePeriod"`
	CPURealtimeRuntime   int64 `json:"CpuRealtimeRuntime"`
	CpusetCpus           string
	CpusetMems           string
	Devices              []DeviceMapping
	DeviceCgroupRules    []string
	DeviceRequests       []DeviceRequest
	KernelMemory         int64
	KernelMemoryTCP      int64
	MemoryReservation    int64
	MemorySwap           int64
	MemorySwappiness     *int64
	OomKillDisable       *bool
	PidsLimit            *int64
	Ulimits              []*Ulimit
	CPUCount             int64 `json:"CpuCount"`
	CPUPercent           int64 `json:"CpuPercent"`
	IOMaximumIOps        uint64
	IOMaximumBandwidth   uint64
}

type BindOptions struct {
	Propagation  string `json:",omitempty"`
	NonRecursive bool   `json:",omitempty"`
}

type Driver struct {
	Name    string            `json:",omitempty"`
	Options map[string]string `json:",omitempty"`
}

type VolumeOptions struct {
	NoCopy       bool              `json:",omitempty"`
	Labels       map[string]string `json:",omitempty"`
	DriverConfig *Driver           `json:",omitempty"`
}

type TmpfsOptions struct {
	SizeBytes int64  `json:",omitempty"`
	Mode      uint32 `json:",omitempty"`
}

type Mount struct {
	Type          string         `json:",omitempty"`
	Source        string         `json:",omitempty"`
	Target        string         `json:",omitempty"`
	ReadOnly      bool           `json:",omitempty"`
	Consistency   string         `json:",omitempty"`
	BindOptions   *BindOptions   `json:",omitempty"`
	VolumeOptions *VolumeOptions `json:",omitempty"`
	TmpfsOptions  *TmpfsOptions  `json:",omitempty"`
}

type HostConfig struct {
	Binds           []string
	ContainerIDFile string
	LogConfig       LogConfig
	NetworkMode     string
	PortBindings    map[string][]PortBinding
	RestartPolicy   RestartPolicy
	AutoRemove      bool
	VolumeDriver    string
	VolumesFrom     []string
	CapAdd          StrSlice
	CapDrop         StrSlice
	CgroupnsMode    string
	DNS             []string `json:"Dns"`
	DNSOptions      []string `json:"DnsOptions"`
	DNSSearch       []string `json:"DnsSearch"`
	ExtraHosts      []string
	GroupAdd        []string
	IpcMode         string
	Cgroup          string
	Links           []string
	OomScoreAdj     int
	PidMode         string
	Privileged      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	StorageOpt      map[string]string `json:",omitempty"`
	Tmpfs           map[string]string `json:",omitempty"`
	UTSMode         string
	UsernsMode      string
	ShmSize         int64
	Sysctls         map[string]string `json:",omitempty"`
	Runtime         string            `json:",omitempty"`
	ConsoleSize     [2]uint
	Isolation       string
	Resources
	Mounts        []Mount `json:",omitempty"`
	MaskedPaths   []string
	ReadonlyPaths []string
	Init          *bool `json:",omitempty"`
}

type EndpointIPAMConfig struct {
	IPv4Address  string   `json:",omitempty"`
	IPv6Address  string   `json:",omitempty"`
	LinkLocalIPs []string `json:",omitempty"`
}

type EndpointSettings struct {
	IPAMConfig          *EndpointIPAMConfig
	Links               []string
	Aliases             []string
	NetworkID           string
	EndpointID          string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	MacAddress          string
	DriverOpts          map[string]string
}

type NetworkingConfig struct {
	EndpointsConfig map[string]*EndpointSettings
}

// ContainerConfigWrapper is runconfig's (unix): the create and old-API start body.
type ContainerConfigWrapper struct {
	*Config
	InnerHostConfig  *HostConfig       `json:"HostConfig,omitempty"`
	Cpuset           string            `json:",omitempty"`
	NetworkingConfig *NetworkingConfig `json:"NetworkingConfig,omitempty"`
	*HostConfig
}

// getHostConfig is runconfig's: the HostConfig key wins, a few top-level values fill in.
func (w *ContainerConfigWrapper) getHostConfig() *HostConfig {
	hc := w.HostConfig
	if hc == nil && w.InnerHostConfig != nil {
		hc = w.InnerHostConfig
	} else if w.InnerHostConfig != nil {
		if hc.Memory != 0 && w.InnerHostConfig.Memory == 0 {
			w.InnerHostConfig.Memory = hc.Memory
		}
		if hc.MemorySwap != 0 && w.InnerHostConfig.MemorySwap == 0 {
			w.InnerHostConfig.MemorySwap = hc.MemorySwap
		}
		if hc.CPUShares != 0 && w.InnerHostConfig.CPUShares == 0 {
			w.InnerHostConfig.CPUShares = hc.CPUShares
		}
		if hc.CpusetCpus != "" && w.InnerHostConfig.CpusetCpus == "" {
			w.InnerHostConfig.CpusetCpus = hc.CpusetCpus
		}
		if hc.VolumeDriver != "" && w.InnerHostConfig.VolumeDriver == "" {
			w.InnerHostConfig.VolumeDriver = hc.VolumeDriver
		}
		hc = w.InnerHostConfig
	}
	if hc != nil {
		if w.Cpuset != "" && hc.CpusetCpus == "" {
			hc.CpusetCpus = w.Cpuset
		}
		if hc.NetworkMode == "" {
			hc.NetworkMode = "default"
		}
	}
	return hc
}

type ExecConfig struct {
	User         string
	Privileged   bool
	Tty          bool
	AttachStdin  bool
	AttachStderr bool
	AttachStdout bool
	Detach       bool
	DetachKeys   string
	Env          []string
	WorkingDir   string
	Cmd          []string
}

type VolumeCreateBody struct {
	Driver     string            `json:"Driver"`
	DriverOpts map[string]string `json:"DriverOpts"`
	Labels     map[string]string `json:"Labels"`
	Name       string            `json:"Name"`
}

type IPAMConfig struct {
	Subnet     string            `json:",omitempty"`
	IPRange    string            `json:",omitempty"`
	Gateway    string            `json:",omitempty"`
	AuxAddress map[string]string `json:"AuxiliaryAddresses,omitempty"`
}

type IPAM struct {
	Driver  string
	Options map[string]string
	Config  []IPAMConfig
}

type ConfigReference struct {
	Network string
}

type NetworkCreate struct {
	CheckDuplicate bool
	Driver         string
	Scope          string
	EnableIPv6     bool
	IPAM           *IPAM
	Internal       bool
	Attachable     bool
	Ingress        bool
	ConfigOnly     bool
	ConfigFrom     *ConfigReference
	Options        map[string]string
	Labels         map[string]string
}

type NetworkCreateRequest struct {
	NetworkCreate
	Name string
}

type UpdateConfig struct {
	Resources
	RestartPolicy RestartPolicy
}

type SELinuxContext struct {
	Disable bool
	User    string
	Role    string
	Type    string
	Level   string
}

// SeccompOpts and AppArmorOpts are the API 1.42+ additions to swarm.Privileges.
type SeccompOpts struct {
	Mode    string     `json:",omitempty"`
	Profile unmodelled `json:",omitempty"`
}

type AppArmorOpts struct {
	Mode string `json:",omitempty"`
}

type Privileges struct {
	CredentialSpec  unmodelled `json:",omitempty"`
	SELinuxContext  *SELinuxContext
	Seccomp         *SeccompOpts  `json:",omitempty"`
	AppArmor        *AppArmorOpts `json:",omitempty"`
	NoNewPrivileges bool
}

type ContainerSpec struct {
	Image           string            `json:",omitempty"`
	Labels          map[string]string `json:",omitempty"`
	Command         []string          `json:",omitempty"`
	Args            []string          `json:",omitempty"`
	Hostname        string            `json:",omitempty"`
	Env             []string          `json:",omitempty"`
	Dir             string            `json:",omitempty"`
	User            string            `json:",omitempty"`
	Groups          []string          `json:",omitempty"`
	Privileges      *Privileges       `json:",omitempty"`
	Init            *bool             `json:",omitempty"`
	StopSignal      string            `json:",omitempty"`
	TTY             bool              `json:",omitempty"`
	OpenStdin       bool              `json:",omitempty"`
	ReadOnly        bool              `json:",omitempty"`
	Mounts          []Mount           `json:",omitempty"`
	StopGracePeriod *int64            `json:",omitempty"`
	Healthcheck     *HealthConfig     `json:",omitempty"`
	Hosts           []string          `json:",omitempty"`
	DNSConfig       unmodelled        `json:",omitempty"`
	Secrets         unmodelled        `json:",omitempty"`
	Configs         unmodelled        `json:",omitempty"`
	Isolation       string            `json:",omitempty"`
	Sysctls         map[string]string `json:",omitempty"`
	CapabilityAdd   []string          `json:",omitempty"`
	CapabilityDrop  []string          `json:",omitempty"`
	Ulimits         []*Ulimit         `json:",omitempty"`
}

type NetworkAttachmentConfig struct {
	Target     string            `json:",omitempty"`
	Aliases    []string          `json:",omitempty"`
	DriverOpts map[string]string `json:",omitempty"`
}

type TaskSpec struct {
	ContainerSpec         *ContainerSpec            `json:",omitempty"`
	PluginSpec            unmodelled                `json:",omitempty"`
	NetworkAttachmentSpec unmodelled                `json:",omitempty"`
	Resources             unmodelled                `json:",omitempty"`
	RestartPolicy         unmodelled                `json:",omitempty"`
	Placement             unmodelled                `json:",omitempty"`
	Networks              []NetworkAttachmentConfig `json:",omitempty"`
	LogDriver             unmodelled                `json:",omitempty"`
	ForceUpdate           uint64
	Runtime               string `json:",omitempty"`
}

type Annotations struct {
	Name   string            `json:",omitempty"`
	Labels map[string]string `json:"Labels"`
}

type ServiceSpec struct {
	Annotations
	TaskTemplate   TaskSpec                  `json:",omitempty"`
	Mode           unmodelled                `json:",omitempty"`
	UpdateConfig   unmodelled                `json:",omitempty"`
	RollbackConfig unmodelled                `json:",omitempty"`
	Networks       []NetworkAttachmentConfig `json:",omitempty"`
	EndpointSpec   unmodelled                `json:",omitempty"`
}

type PluginPrivilege struct {
	Name        string
	Description string
	Value       []string
}

// AuthzResponse is authorization.Response.
type AuthzResponse struct {
	Allow bool   `json:"Allow"`
	Msg   string `json:"Msg,omitempty"`
	Err   string `json:"Err,omitempty"`
}

// ---- The Rust model's Serialize shape. Lists are never null there, except where the model
// keeps Go's nil apart (MaskedPaths, ReadonlyPaths), and maps are never null. ----

func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func strMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func keys[V any](m map[string]V) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

type outBindOptions struct {
	Propagation  string
	NonRecursive bool
}

type outDriver struct {
	Name    string
	Options map[string]string
}

type outVolumeOptions struct {
	NoCopy       bool
	Labels       map[string]string
	DriverConfig *outDriver
}

type outMount struct {
	Type          string
	Source        string
	Target        string
	ReadOnly      bool
	BindOptions   *outBindOptions
	VolumeOptions *outVolumeOptions
}

func mounts(in []Mount) []outMount {
	out := []outMount{}
	for _, m := range in {
		o := outMount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if m.BindOptions != nil {
			o.BindOptions = &outBindOptions{m.BindOptions.Propagation, m.BindOptions.NonRecursive}
		}
		if v := m.VolumeOptions; v != nil {
			o.VolumeOptions = &outVolumeOptions{NoCopy: v.NoCopy, Labels: strMap(v.Labels)}
			if d := v.DriverConfig; d != nil {
				o.VolumeOptions.DriverConfig = &outDriver{d.Name, strMap(d.Options)}
			}
		}
		out = append(out, o)
	}
	return out
}

type outDeviceRequest struct {
	Driver       string
	Count        int
	DeviceIDs    []string
	Capabilities [][]string
	Options      map[string]string
}

func devices(in []DeviceMapping) []DeviceMapping {
	if in == nil {
		return []DeviceMapping{}
	}
	return in
}

func deviceRequests(in []DeviceRequest) []outDeviceRequest {
	out := []outDeviceRequest{}
	for _, r := range in {
		caps := [][]string{}
		for _, c := range r.Capabilities {
			caps = append(caps, list(c))
		}
		out = append(out, outDeviceRequest{r.Driver, r.Count, list(r.DeviceIDs), caps, strMap(r.Options)})
	}
	return out
}

type outHostConfig struct {
	Binds             []string
	Mounts            []outMount
	VolumesFrom       []string
	VolumeDriver      string
	Privileged        bool
	CapAdd            []string
	CapDrop           []string
	SecurityOpt       []string
	NetworkMode       string
	PidMode           string
	IpcMode           string
	UTSMode           string
	UsernsMode        string
	CgroupnsMode      string
	Devices           []DeviceMapping
	DeviceCgroupRules []string
	DeviceRequests    []outDeviceRequest
	Sysctls           map[string]string
	CgroupParent      string
	Runtime           string
	MaskedPaths       []string
	ReadonlyPaths     []string
	Links             []string
}

func hostConfig(hc *HostConfig) outHostConfig {
	if hc == nil {
		hc = &HostConfig{}
	}
	return outHostConfig{
		Binds: list(hc.Binds), Mounts: mounts(hc.Mounts), VolumesFrom: list(hc.VolumesFrom),
		VolumeDriver: hc.VolumeDriver, Privileged: hc.Privileged,
		CapAdd: list(hc.CapAdd), CapDrop: list(hc.CapDrop), SecurityOpt: list(hc.SecurityOpt),
		NetworkMode: hc.NetworkMode, PidMode: hc.PidMode, IpcMode: hc.IpcMode,
		UTSMode: hc.UTSMode, UsernsMode: hc.UsernsMode, CgroupnsMode: hc.CgroupnsMode,
		Devices: devices(hc.Devices), DeviceCgroupRules: list(hc.DeviceCgroupRules),
		DeviceRequests: deviceRequests(hc.DeviceRequests), Sysctls: strMap(hc.Sysctls),
		CgroupParent: hc.CgroupParent, Runtime: hc.Runtime,
		MaskedPaths: hc.MaskedPaths, ReadonlyPaths: hc.ReadonlyPaths, Links: list(hc.Links),
	}
}

type outContainerCreate struct {
	Image      string
	User       string
	Labels     map[string]string
	Volumes    []string
	HostConfig outHostConfig
	Endpoints  []string
}

type outExecCreate struct {
	User       string
	Privileged bool
	Cmd        []string
	Env        []string
	WorkingDir string
}

type outVolumeCreate struct {
	Name       string
	Driver     string
	DriverOpts map[string]string
	Labels     map[string]string
}

type outNetworkCreate struct {
	Name   string
	Driver string
	Labels map[string]string
}

type outContainerUpdate struct {
	Devices           []DeviceMapping
	DeviceCgroupRules []string
	DeviceRequests    []outDeviceRequest
	CgroupParent      string
}

type outContainerSpec struct {
	Image          string
	Mounts         []outMount
	CapabilityAdd  []string
	Sysctls        map[string]string
	SeccompMode    string
	AppArmorMode   string
	SelinuxDisable bool
}

type outServiceSpec struct {
	Name          string
	Labels        map[string]string
	ContainerSpec outContainerSpec
	Networks      []string
}

type outPluginPrivilege struct {
	Name        string
	Description string
	Value       []string
}

// ---- Decoding as the daemon does. ----

var errTrailing = errors.New("trailing content")

// decode is json.NewDecoder(body).Decode(v), then (unless ignoreTrailing) a refusal of any
// non-whitespace content after the value.
func decode(body []byte, v any, ignoreTrailing bool) error {
	r := bytes.NewReader(body)
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if ignoreTrailing {
		return nil
	}
	rest, err := io.ReadAll(io.MultiReader(dec.Buffered(), r))
	if err != nil {
		return err
	}
	if len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		return errTrailing
	}
	return nil
}

func run(kind string, body []byte) (any, error) {
	switch kind {
	case "container_create":
		var w ContainerConfigWrapper
		if err := decode(body, &w, false); err != nil {
			return nil, err
		}
		hc := w.getHostConfig()
		out := outContainerCreate{Labels: map[string]string{}, Volumes: []string{}, Endpoints: []string{}}
		if w.Config != nil {
			out.Image, out.User = w.Config.Image, w.Config.User
			out.Labels = strMap(w.Config.Labels)
			out.Volumes = keys(w.Config.Volumes)
		}
		out.HostConfig = hostConfig(hc)
		if w.NetworkingConfig != nil {
			out.Endpoints = keys(w.NetworkingConfig.EndpointsConfig)
		}
		return out, nil
	case "host_config":
		var w ContainerConfigWrapper
		if err := decode(body, &w, false); err != nil {
			return nil, err
		}
		return hostConfig(w.getHostConfig()), nil
	case "exec_create":
		var e ExecConfig
		if err := decode(body, &e, false); err != nil {
			return nil, err
		}
		return outExecCreate{e.User, e.Privileged, list(e.Cmd), list(e.Env), e.WorkingDir}, nil
	case "volume_create":
		var v VolumeCreateBody
		if err := decode(body, &v, false); err != nil {
			return nil, err
		}
		return outVolumeCreate{v.Name, v.Driver, strMap(v.DriverOpts), strMap(v.Labels)}, nil
	case "network_create":
		var n NetworkCreateRequest
		if err := decode(body, &n, false); err != nil {
			return nil, err
		}
		return outNetworkCreate{n.Name, n.Driver, strMap(n.Labels)}, nil
	case "container_update":
		var u UpdateConfig
		if err := decode(body, &u, false); err != nil {
			return nil, err
		}
		return outContainerUpdate{devices(u.Devices), list(u.DeviceCgroupRules), deviceRequests(u.DeviceRequests), u.CgroupParent}, nil
	case "service_spec":
		var s ServiceSpec
		if err := decode(body, &s, false); err != nil {
			return nil, err
		}
		out := outServiceSpec{Name: s.Name, Labels: strMap(s.Labels), Networks: []string{}}
		cs := outContainerSpec{Mounts: []outMount{}, CapabilityAdd: []string{}, Sysctls: map[string]string{}}
		if c := s.TaskTemplate.ContainerSpec; c != nil {
			cs.Image, cs.Mounts, cs.CapabilityAdd, cs.Sysctls = c.Image, mounts(c.Mounts), list(c.CapabilityAdd), strMap(c.Sysctls)
			if p := c.Privileges; p != nil {
				if p.Seccomp != nil {
					cs.SeccompMode = p.Seccomp.Mode
				}
				if p.AppArmor != nil {
					cs.AppArmorMode = p.AppArmor.Mode
				}
				if p.SELinuxContext != nil {
					cs.SelinuxDisable = p.SELinuxContext.Disable
				}
			}
		}
		out.ContainerSpec = cs
		for _, n := range s.TaskTemplate.Networks {
			out.Networks = append(out.Networks, n.Target)
		}
		for _, n := range s.Networks {
			out.Networks = append(out.Networks, n.Target)
		}
		return out, nil
	case "plugin_privileges":
		var privileges []PluginPrivilege
		if err := decode(body, &privileges, false); err != nil {
			return nil, err
		}
		out := []outPluginPrivilege{}
		for _, p := range privileges {
			out = append(out, outPluginPrivilege{p.Name, p.Description, list(p.Value)})
		}
		return out, nil
	case "plugin_settings":
		var settings []string
		if err := decode(body, &settings, false); err != nil {
			return nil, err
		}
		return list(settings), nil
	case "authz_reply":
		// dockerd's plugin client: Decode(&ret) with ret an interface holding *Response.
		res := &AuthzResponse{}
		var ret any = res
		if err := decode(body, &ret, true); err != nil {
			return nil, err
		}
		return res, nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// createRequest is how a create document is written: container.CreateRequest's shape, the
// HostConfig being the one getHostConfig yields.
type createRequest struct {
	*Config
	HostConfig       *HostConfig       `json:",omitempty"`
	NetworkingConfig *NetworkingConfig `json:",omitempty"`
}

// document decodes body as the daemon does and returns the whole Go value, for
// json.Marshal: what protocol::body::document must equal.
func document(kind string, body []byte) (any, error) {
	var v any
	switch kind {
	case "container_create", "host_config":
		var w ContainerConfigWrapper
		if err := decode(body, &w, false); err != nil {
			return nil, err
		}
		hc := w.getHostConfig()
		if kind == "host_config" {
			return hc, nil
		}
		if hc == nil {
			// daemon/create.go: no HostConfig is an empty one, on the default network.
			hc = &HostConfig{NetworkMode: "default"}
		}
		return createRequest{w.Config, hc, w.NetworkingConfig}, nil
	case "exec_create":
		v = &ExecConfig{}
	case "volume_create":
		v = &VolumeCreateBody{}
	case "network_create":
		v = &NetworkCreateRequest{}
	case "container_update":
		v = &UpdateConfig{}
	case "service_spec":
		v = &ServiceSpec{}
	case "plugin_privileges":
		v = &[]PluginPrivilege{}
	case "plugin_settings":
		v = &[]string{}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	if err := decode(body, v, false); err != nil {
		return nil, err
	}
	return v, nil
}

// errorClass names an error the way the Rust side's BodyError variants do.
func errorClass(err error) string {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, errTrailing):
		return "trailing"
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "syntax"
	case strings.HasPrefix(err.Error(), "unknown kind"):
		return "input"
	default:
		return "type"
	}
}

type request struct {
	Kind string `json:"kind"`
	Body string `json:"body"`
	// Document asks for the whole decoded value (document) instead of the model (run).
	Document bool `json:"document"`
}

func answer(req request, body []byte) (any, error) {
	if req.Document {
		return document(req.Kind, body)
	}
	return run(req.Kind, body)
}

func main() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			var result any
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				result = map[string]string{"error": "input"}
			} else if body, berr := base64.StdEncoding.DecodeString(req.Body); berr != nil {
				result = map[string]string{"error": "input"}
			} else if value, derr := answer(req, body); derr != nil {
				result = map[string]string{"error": errorClass(derr)}
			} else {
				result = value
			}
			if eerr := enc.Encode(result); eerr != nil {
				fmt.Fprintln(os.Stderr, "oracle: cannot encode:", eerr)
				os.Exit(1)
			}
			if ferr := out.Flush(); ferr != nil {
				os.Exit(1)
			}
		}
		if err != nil {
			if err != io.EOF {
				fmt.Fprintln(os.Stderr, "oracle: reading stdin:", err)
				os.Exit(1)
			}
			return
		}
	}
}
