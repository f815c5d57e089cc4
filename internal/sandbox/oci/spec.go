package oci

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/mote-run/mote/internal/sandbox"
)

// Defaults for a sandbox.Container's zero fields.
const (
	DefaultPort         = 8080
	DefaultConcurrency  = 80
	DefaultPids         = 256
	DefaultGrace        = 10 * time.Second
	DefaultStartTimeout = 30 * time.Second
)

// cpuPeriod is the CFS period of an instance's CPU quota, in µs.
const cpuPeriod = 100_000

// defaultPath is the PATH a process gets when its image sets none (as
// Docker does).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// userNSSize is how many uids and gids a user namespace maps.
const userNSSize = 65536

// Spec returns the runtime configuration of one instance of s, whose
// container id is id and whose generated hosts file is hostsFile (a host
// path, bind-mounted read-only at /etc/hosts). s.Container must not be
// nil; its zero fields take the package defaults.
//
// The process runs with its own pid, mount, ipc, uts, cgroup and network
// namespaces (the network namespace has only loopback), and a user
// namespace mapping container ids 0..65535 to host UIDShift.. when
// UIDShift is not 0; on a read-only root with a private /tmp; with
// CAP_NET_BIND_SERVICE as its only capability (none once a non-root user
// execs), no_new_privileges, NOFILE 1024, a seccomp filter denying the
// syscalls listed in seccompDenied, and memory (without swap), CPU and pid
// limits in the cgroup "mote/<id>".
func Spec(s sandbox.Spec, id, hostsFile string) *specs.Spec {
	c := withDefaults(*s.Container)
	cwd := c.WorkDir
	if cwd == "" {
		cwd = "/"
	}
	caps := []string{"CAP_NET_BIND_SERVICE"}
	namespaces := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.NetworkNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.MountNamespace},
		{Type: specs.CgroupNamespace},
	}
	var uidMap, gidMap []specs.LinuxIDMapping
	if c.UIDShift != 0 {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		uidMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: c.UIDShift, Size: userNSSize}}
		gidMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: c.UIDShift, Size: userNSSize}}
	}
	res := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Pids:    &specs.LinuxPids{Limit: &c.Pids},
	}
	if s.MemoryLimit > 0 {
		limit := int64(min(s.MemoryLimit, 1<<62))
		res.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	}
	if c.CPU > 0 {
		quota := max(int64(c.CPU*cpuPeriod), 1000) // the kernel's minimum is 1 ms
		period := uint64(cpuPeriod)
		res.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			User: specs.User{UID: c.UID, GID: c.GID},
			Args: slices.Clone(c.Args),
			Env:  processEnv(c.Env, c.Port),
			Cwd:  cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: c.Rootfs, Readonly: true},
		Hostname: hostname(s.Service),
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/etc/hosts", Type: "bind", Source: hostsFile, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}},
		},
		Linux: &specs.Linux{
			UIDMappings: uidMap,
			GIDMappings: gidMap,
			Resources:   res,
			CgroupsPath: cgroupParent + "/" + id,
			Namespaces:  namespaces,
			Seccomp:     seccompProfile(),
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// hostsFile is the /etc/hosts of a service's containers: localhost and
// the container's hostname, on loopback (its network namespace has nothing
// else).
func hostsFile(service string) string {
	return "127.0.0.1\tlocalhost " + hostname(service) + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"
}

// processEnv is env with PORT set to port (replacing any PORT the image or
// manifest set) and PATH defaulted.
func processEnv(env []string, port int) []string {
	out := make([]string, 0, len(env)+2)
	hasPath := false
	for _, kv := range env {
		if strings.HasPrefix(kv, "PORT=") {
			continue
		}
		if strings.HasPrefix(kv, "PATH=") {
			hasPath = true
		}
		out = append(out, kv)
	}
	if !hasPath {
		out = append(out, "PATH="+defaultPath)
	}
	return append(out, "PORT="+strconv.Itoa(port))
}

// envPath is the PATH in env, or defaultPath when env sets none.
func envPath(env []string) string {
	p, ok := "", false
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, "PATH="); found {
			p, ok = v, true // the last one wins, as for the process
		}
	}
	if !ok {
		return defaultPath
	}
	return p
}

// hostname makes a service name a valid hostname: letters, digits and
// dashes, at most 63 bytes, "mote" when nothing is left.
func hostname(service string) string {
	b := make([]byte, 0, min(len(service), 63))
	for i := 0; i < len(service) && len(b) < 63; i++ {
		c := service[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			c = '-'
		}
		b = append(b, c)
	}
	h := strings.Trim(string(b), "-")
	if h == "" {
		return "mote"
	}
	return h
}

// seccompDenied are the syscalls a container may not make: those Docker's
// default profile blocks for an unprivileged container (kernel modules,
// keyrings, mounts, namespaces, tracing other processes, clocks, BPF, raw
// I/O ports, NUMA placement, kexec, ...). They fail with EPERM.
var seccompDenied = []string{
	"_sysctl", "acct", "add_key", "adjtimex", "bpf", "clock_adjtime", "clock_settime",
	"create_module", "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen",
	"fspick", "get_kernel_syms", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load",
	"kexec_load", "keyctl", "lookup_dcookie", "mbind", "migrate_pages", "mount", "move_mount",
	"move_pages", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",
	"perf_event_open", "pidfd_getfd", "pivot_root", "process_vm_readv", "process_vm_writev",
	"ptrace", "query_module", "quotactl", "reboot", "request_key", "set_mempolicy", "setns",
	"settimeofday", "swapoff", "swapon", "syslog", "umount2", "unshare", "userfaultfd",
	"uselib", "vm86", "vm86old",
}

// cloneNewFlags are clone's namespace flags (CLONE_NEWNS, CLONE_NEWCGROUP,
// CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET):
// a clone with any of them fails with EPERM.
var cloneNewFlags = []uint64{0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000}

const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)

// seccompProfile allows every syscall but those in seccompDenied, clone
// with a namespace flag, personality other than the default (PER_LINUX, 0)
// and clone3, which fails with ENOSYS so that libc falls back to clone
// (seccomp cannot look into clone3's flags, which are in memory).
func seccompProfile() *specs.LinuxSeccomp {
	eperm, enosys := uint(errnoEPERM), uint(errnoENOSYS)
	calls := []specs.LinuxSyscall{
		{Names: slices.Clone(seccompDenied), Action: specs.ActErrno, ErrnoRet: &eperm},
		{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpNotEqual}}},
	}
	// One rule per flag: rules are or-ed, the conditions of one rule and-ed.
	for _, f := range cloneNewFlags {
		calls = append(calls, specs.LinuxSyscall{
			Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual}},
		})
	}
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: seccompArches(runtime.GOARCH),
		Syscalls:      calls,
	}
}

// seccompArches are the syscall ABIs a process of the host's architecture
// can use: the filter must cover each, or a 32-bit syscall would slip past
// it.
func seccompArches(goarch string) []specs.Arch {
	switch goarch {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	}
	return nil // the native one only
}

// withDefaults fills c's zero fields.
func withDefaults(c sandbox.Container) sandbox.Container {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Pids <= 0 {
		c.Pids = DefaultPids
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	return c
}
