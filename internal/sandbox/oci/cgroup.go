package oci

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// cgroupParent is the cgroup, under the node's own in each hierarchy, that
// holds the containers' cgroups (Spec's cgroupsPath "mote/<id>"). runc
// deletes a container's own cgroup; the parent stays, empty, for good: it
// is shared by every driver on the host, and removing it when empty races
// with another driver's runc creating a container under it (that runc then
// fails to start the container).
const cgroupParent = "mote"

// cgroupParents lists where cgroupParent directories may be: each cgroup
// mount point joined with each of the node's cgroup paths.
func cgroupParents() []string {
	own := map[string]bool{}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for line := range strings.Lines(string(b)) {
			// hierarchy-id:controllers:path
			if parts := strings.SplitN(strings.TrimSpace(line), ":", 3); len(parts) == 3 {
				own[parts[2]] = true
			}
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source super
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(postFields) < 1 {
			continue
		}
		if fs := postFields[0]; fs != "cgroup" && fs != "cgroup2" {
			continue
		}
		for p := range own {
			out = append(out, filepath.Join(fields[4], p, cgroupParent))
		}
	}
	return out
}
