package oci

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/mote-run/mote/internal/sandbox"
)

func TestSpec(t *testing.T) {
	s := sandbox.Spec{
		Service:     "Hello_World",
		Version:     3,
		MemoryLimit: 128 << 20,
		Container: &sandbox.Container{
			Rootfs:  "/rootfs",
			Args:    []string{"/app", "-v"},
			Env:     []string{"A=1", "PORT=1", "PATH=/custom"},
			WorkDir: "/srv",
			UID:     1000,
			GID:     2000,
			CPU:     0.5,
			Pids:    100,
			Port:    9090,
		},
	}
	sp := Spec(s, "mote-x-3-1-abc", "/state/bundles/x/hosts")

	if sp.Root.Path != "/rootfs" || !sp.Root.Readonly {
		t.Errorf("root %+v, want /rootfs read-only", sp.Root)
	}
	if sp.Hostname != "hello-world" {
		t.Errorf("hostname %q", sp.Hostname)
	}
	p := sp.Process
	if !slices.Equal(p.Args, []string{"/app", "-v"}) || p.Cwd != "/srv" || p.User.UID != 1000 || p.User.GID != 2000 {
		t.Errorf("process %+v", p)
	}
	if !slices.Equal(p.Env, []string{"A=1", "PATH=/custom", "PORT=9090"}) {
		t.Errorf("env %v, want PORT replaced", p.Env)
	}
	if !p.NoNewPrivileges {
		t.Error("no_new_privileges is off")
	}
	caps := []string{"CAP_NET_BIND_SERVICE"}
	c := p.Capabilities
	if !slices.Equal(c.Bounding, caps) || !slices.Equal(c.Effective, caps) || !slices.Equal(c.Permitted, caps) ||
		len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("capabilities %+v", c)
	}
	if len(p.Rlimits) != 1 || p.Rlimits[0] != (specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}) {
		t.Errorf("rlimits %+v", p.Rlimits)
	}

	l := sp.Linux
	var ns []string
	for _, n := range l.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %s joins %s, want a new one", n.Type, n.Path)
		}
		ns = append(ns, string(n.Type))
	}
	slices.Sort(ns)
	if want := []string{"cgroup", "ipc", "mount", "network", "pid", "uts"}; !slices.Equal(ns, want) {
		t.Errorf("namespaces %v, want %v (no user namespace without a shift)", ns, want)
	}
	if len(l.UIDMappings)+len(l.GIDMappings) != 0 {
		t.Errorf("id mappings without a shift: %+v %+v", l.UIDMappings, l.GIDMappings)
	}
	if l.CgroupsPath != "mote/mote-x-3-1-abc" {
		t.Errorf("cgroups path %q", l.CgroupsPath)
	}
	res := l.Resources
	if *res.Memory.Limit != 128<<20 || *res.Memory.Swap != 128<<20 {
		t.Errorf("memory %d, swap %d", *res.Memory.Limit, *res.Memory.Swap)
	}
	if *res.CPU.Quota != 50_000 || *res.CPU.Period != 100_000 {
		t.Errorf("cpu quota %d / %d", *res.CPU.Quota, *res.CPU.Period)
	}
	if *res.Pids.Limit != 100 {
		t.Errorf("pids %d", *res.Pids.Limit)
	}
	if len(res.Devices) != 1 || res.Devices[0].Allow || res.Devices[0].Access != "rwm" {
		t.Errorf("devices %+v, want all denied", res.Devices)
	}
	for _, m := range []string{"/proc/kcore", "/proc/keys", "/sys/firmware"} {
		if !slices.Contains(l.MaskedPaths, m) {
			t.Errorf("%s is not masked", m)
		}
	}
	if !slices.Contains(l.ReadonlyPaths, "/proc/sys") {
		t.Error("/proc/sys is not read-only")
	}

	mounts := map[string]specs.Mount{}
	for _, m := range sp.Mounts {
		mounts[m.Destination] = m
	}
	for dest, want := range map[string]string{
		"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
		"/dev/mqueue": "mqueue", "/sys": "sysfs", "/tmp": "tmpfs", "/etc/hosts": "bind",
	} {
		if mounts[dest].Type != want {
			t.Errorf("mount %s: %+v, want type %s", dest, mounts[dest], want)
		}
	}
	if len(mounts) != 8 {
		t.Errorf("%d mounts, want 8: %+v", len(mounts), sp.Mounts)
	}
	for dest, opts := range map[string][]string{
		"/tmp":       {"nosuid", "nodev", "size=65536k"},
		"/sys":       {"ro"},
		"/etc/hosts": {"ro"},
	} {
		for _, o := range opts {
			if !slices.Contains(mounts[dest].Options, o) {
				t.Errorf("mount %s: options %v lack %s", dest, mounts[dest].Options, o)
			}
		}
	}
	if mounts["/etc/hosts"].Source != "/state/bundles/x/hosts" {
		t.Errorf("hosts source %s", mounts["/etc/hosts"].Source)
	}
	if _, err := json.Marshal(sp); err != nil {
		t.Fatal(err)
	}
}

func TestSpecDefaultsAndShift(t *testing.T) {
	sp := Spec(sandbox.Spec{Service: "svc", Container: &sandbox.Container{Rootfs: "/r", Args: []string{"a"}, UIDShift: 100000}}, "id", "/h")
	if sp.Process.Cwd != "/" {
		t.Errorf("cwd %q", sp.Process.Cwd)
	}
	if !slices.Equal(sp.Process.Env, []string{"PATH=" + defaultPath, "PORT=8080"}) {
		t.Errorf("env %v", sp.Process.Env)
	}
	if r := sp.Linux.Resources; r.Memory != nil || r.CPU != nil || *r.Pids.Limit != DefaultPids {
		t.Errorf("resources %+v: want no memory or cpu limit, pids %d", r, DefaultPids)
	}
	hasUser := slices.ContainsFunc(sp.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	if !hasUser || !slices.Equal(sp.Linux.UIDMappings, want) || !slices.Equal(sp.Linux.GIDMappings, want) {
		t.Errorf("user namespace %v, maps %+v %+v", hasUser, sp.Linux.UIDMappings, sp.Linux.GIDMappings)
	}
}

func TestSeccompProfile(t *testing.T) {
	sc := seccompProfile()
	if sc.DefaultAction != specs.ActAllow {
		t.Errorf("default action %s", sc.DefaultAction)
	}
	if got := seccompArches("amd64"); !slices.Equal(got, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Errorf("amd64 arches %v", got)
	}
	if got := seccompArches("arm64"); !slices.Equal(got, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}) {
		t.Errorf("arm64 arches %v", got)
	}
	denied := map[string]uint{}
	var cloneFlags []uint64
	for _, s := range sc.Syscalls {
		if s.Action != specs.ActErrno || s.ErrnoRet == nil {
			t.Errorf("rule %+v: want SCMP_ACT_ERRNO with an errno", s)
			continue
		}
		switch {
		case len(s.Args) == 0:
			for _, n := range s.Names {
				denied[n] = *s.ErrnoRet
			}
		case s.Names[0] == "clone":
			a := s.Args[0]
			if len(s.Args) != 1 || a.Index != 0 || a.Op != specs.OpMaskedEqual || a.Value != a.ValueTwo || *s.ErrnoRet != errnoEPERM {
				t.Errorf("clone rule %+v", s)
			}
			cloneFlags = append(cloneFlags, a.Value)
		case s.Names[0] == "personality":
			if a := s.Args[0]; a.Op != specs.OpNotEqual || a.Value != 0 {
				t.Errorf("personality rule %+v", s)
			}
		default:
			t.Errorf("unexpected rule %+v", s)
		}
	}
	for _, n := range []string{"bpf", "mount", "umount2", "unshare", "setns", "ptrace", "kexec_load", "init_module",
		"keyctl", "add_key", "perf_event_open", "userfaultfd", "open_by_handle_at", "reboot", "swapon", "pivot_root",
		"process_vm_readv", "clock_settime", "fsopen", "move_mount", "pidfd_getfd", "syslog", "iopl", "kcmp"} {
		if denied[n] != errnoEPERM {
			t.Errorf("%s: errno %d, want EPERM", n, denied[n])
		}
	}
	if denied["clone3"] != errnoENOSYS {
		t.Errorf("clone3: errno %d, want ENOSYS", denied["clone3"])
	}
	for _, allowed := range []string{"clone", "read", "execve", "socket", "personality"} {
		if _, ok := denied[allowed]; ok {
			t.Errorf("%s is denied outright", allowed)
		}
	}
	var all uint64
	for _, f := range cloneFlags {
		all |= f
	}
	if all != 0x7E020000 { // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
		t.Errorf("clone flags denied %#x, want %#x", all, 0x7E020000)
	}
}

var idPattern = regexp.MustCompile(`^mote-[a-z0-9-]+$`)

func TestContainerID(t *testing.T) {
	tests := []struct{ service, want string }{
		{"hello", "mote-hello-2-7-k3y"},
		{"Hello", "mote-hello-"},
		{"a/b..c", "mote-a-b--c-"},
		{strings.Repeat("x", 100), "mote-xxxx"},
		{"", "mote-mote-"},
	}
	for _, tt := range tests {
		id := containerID(tt.service, 2, 7, "k3y")
		if !strings.HasPrefix(id, tt.want) || len(id) > 64 || !idPattern.MatchString(id) || !strings.HasSuffix(id, "-2-7-k3y") {
			t.Errorf("containerID(%q) = %q", tt.service, id)
		}
	}
	if a, b := containerID(strings.Repeat("x", 100), 1, 1, "k"), containerID(strings.Repeat("x", 101), 1, 1, "k"); a == b {
		t.Errorf("long names collide: %s", a)
	}
}

func FuzzContainerID(f *testing.F) {
	f.Add("hello", 1, uint64(1))
	f.Add(strings.Repeat("é", 80), -5, uint64(1<<63))
	f.Fuzz(func(t *testing.T, service string, version int, seq uint64) {
		id := containerID(service, version, seq, "abcdef")
		if len(id) > 64 || !regexp.MustCompile(`^mote-[a-z0-9-]+-[-0-9]+-[0-9]+-abcdef$`).MatchString(id) {
			t.Errorf("containerID(%q, %d, %d) = %q", service, version, seq, id)
		}
		if h := hostname(service); len(h) > 63 || h == "" || strings.HasPrefix(h, "-") || strings.HasSuffix(h, "-") {
			t.Errorf("hostname(%q) = %q", service, h)
		}
	})
}

func TestDefaults(t *testing.T) {
	c := withDefaults(sandbox.Container{})
	if c.Port != 8080 || c.Concurrency != 80 || c.Pids != 256 || c.Grace != 10*time.Second || c.StartTimeout != 30*time.Second {
		t.Errorf("defaults %+v", c)
	}
}
