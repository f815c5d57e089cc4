package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/builder"
	"github.com/mote-run/mote/internal/control"
	"github.com/mote-run/mote/internal/manifest"
)

// localService is a service on disk, as `mote deploy` and `mote apply` find
// it: its checked manifest, the manifest file and the directory that holds
// its module and package files.
type localService struct {
	m    *manifest.Manifest
	file string // the manifest file read, as the user named it
	dir  string // absolute
}

// loadService reads and checks the manifest at path: a directory holding
// mote.toml, or the file. Problems are a *manifest.Error listing each with
// its line.
func loadService(path string) (localService, error) {
	m, dir, err := manifest.Load(path)
	if err != nil {
		return localService{}, err
	}
	return localService{m: m, file: manifestPath(path, dir), dir: dir}, nil
}

// stale reports whether the module is missing or older than its sources,
// and why (see builder.Stale).
func (s localService) stale() (bool, string, error) {
	return builder.Stale(s.dir, s.m)
}

// buildIfStale runs [build] when the module is missing or older than its
// sources, saying so and copying the build's output to stderr.
func (s localService) buildIfStale(ctx context.Context, stderr io.Writer) error {
	stale, reason, err := s.stale()
	if err != nil || !stale {
		return err
	}
	// Without [build], Run only explains that there is nothing to run.
	if s.m.Build != nil {
		fmt.Fprintf(stderr, "Building %s: %s\n", s.m.Name, reason)
	}
	return builder.Run(ctx, s.dir, s.m, stderr, stderr)
}

// pack reads what a deploy sends: the manifest verbatim, the module (or
// the container image: its manifest and config now, its layers as they are
// uploaded) and the package files.
func (s localService) pack(ctx context.Context, g *globals) (client.Package, error) {
	raw, err := os.ReadFile(s.file)
	if err != nil {
		return client.Package{}, err
	}
	module, files, err := s.m.ReadPackage(os.DirFS(s.dir))
	if err != nil {
		return client.Package{}, err
	}
	pkg := client.Package{Manifest: raw, Module: module, Files: files}
	if c := s.m.Container; c != nil {
		opts, err := g.imageOptions(ctx, s.dir)
		if err != nil {
			return client.Package{}, err
		}
		if pkg.Image, err = client.ResolveImage(ctx, c.Image, opts); err != nil {
			return client.Package{}, fmt.Errorf("%s: [container] image: %w", s.file, err)
		}
	}
	return pkg, nil
}

// imageOptions reads a container image for the service in dir: for the
// platform MOTE_PLATFORM names, by default the node's (it may differ from
// this machine's: a Mac deploying to a Linux server), with the registry
// credentials in MOTE_REGISTRY_USER and MOTE_REGISTRY_PASSWORD, if set.
func (g *globals) imageOptions(ctx context.Context, dir string) (client.ImageOptions, error) {
	opts := client.ImageOptions{
		Dir:      dir,
		Platform: os.Getenv("MOTE_PLATFORM"),
		Username: os.Getenv("MOTE_REGISTRY_USER"),
		Password: os.Getenv("MOTE_REGISTRY_PASSWORD"),
	}
	if opts.Platform != "" {
		return opts, nil
	}
	c, err := g.client()
	if err != nil {
		return opts, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return opts, err
	}
	if info.NoContainers != "" {
		return opts, fmt.Errorf("the node at %s cannot run [container] services: %s", c.Addr(), info.NoContainers)
	}
	opts.Platform = info.Platform
	return opts, nil
}

// artifactDigest is the digest the node gives pkg's artifact (see
// control.ArtifactDigest): deploying pkg again while a version with this
// digest and the same manifest serves changes nothing.
func artifactDigest(pkg client.Package) string {
	var files map[string]string
	if len(pkg.Files) > 0 {
		files = make(map[string]string, len(pkg.Files))
		for p, b := range pkg.Files {
			files[p] = client.Digest(b)
		}
	}
	module := client.Digest(pkg.Module)
	if pkg.Image != nil {
		module = pkg.Image.Digest()
	}
	return control.ArtifactDigest(module, files)
}

// applyOptions are `mote apply`'s flags.
type applyOptions struct {
	paths     []string
	recursive bool
	prune     bool
	dryRun    bool
	noBuild   bool
	output    output
}

func applyCmd(g *globals) *cobra.Command {
	var o applyOptions
	cmd := &cobra.Command{
		Use:   "apply -f PATH [-f PATH]... [--prune] [--dry-run]",
		Short: "Deploy several services' desired state at once, declaratively",
		Long: `Make the node run the services defined under the PATHs, the way
'kubectl apply -f' does. A PATH is a service directory (holding mote.toml), a
manifest file, or a directory whose own and immediate subdirectories'
mote.toml files are taken (-R walks every level below it; hidden directories
are skipped). Each PATH must hold at least one service, and no two services
may share a name or a route.

Every manifest is read and checked, and every stale module built (as
'mote deploy' does), before anything is sent: if one service has a problem,
all problems are listed and nothing is applied. Then each service is
deployed in turn; the node makes no version for one whose manifest and
artifact equal its serving version's, so it is reported unchanged. When one
fails the others are still applied, and apply exits 1 after saying which
failed.

--prune then removes every service on the node that is not among those
applied, without asking; it removes nothing when a service failed.
--dry-run compares each service's manifest and artifact digest with its
serving version and says what apply would do, changing nothing (it builds
nothing either: a service whose module is stale counts as changed).`,
		Example: `  mote apply -f services/
  mote apply -f services/ -R --prune
  mote apply -f hello/ -f api/mote.toml --dry-run
  mote apply -f services/ -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.output.check(); err != nil {
				return err
			}
			return apply(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.paths, "filename", "f", nil, "a service directory, a mote.toml, or a directory of services (repeatable)")
	f.BoolVarP(&o.recursive, "recursive", "R", false, "find services at every level below a directory PATH, not just its immediate subdirectories")
	f.BoolVar(&o.prune, "prune", false, "remove services on the node that are not among those applied")
	f.BoolVar(&o.dryRun, "dry-run", false, "say what would change without changing anything")
	f.BoolVar(&o.noBuild, "no-build", false, "never run [build], even when a module is missing or stale")
	addOutputFlag(cmd, &o.output)
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// Actions an applyResult reports; a dry run reports the ones in the future
// tense.
const (
	actCreated   = "created"
	actUpdated   = "updated"
	actUnchanged = "unchanged"
	actRemoved   = "removed"
	actFailed    = "failed"
	actCreate    = "create"
	actUpdate    = "update"
	actRemove    = "remove"
)

// applyResult is what apply did, or with --dry-run would do, to one
// service. It is the element of -o json's "services".
type applyResult struct {
	Name string `json:"name"`
	// File is the manifest applied; empty for a removed service.
	File string `json:"file,omitempty"`
	// Action is created, updated, unchanged, removed or failed; with
	// --dry-run create, update, unchanged or remove.
	Action string `json:"action"`
	// Version serves the service after the apply (0 when it failed, was
	// removed, or is yet to be made by a dry run).
	Version int `json:"version,omitempty"`
	// Previous served it before (0 when it did not exist).
	Previous int    `json:"previous,omitempty"`
	Digest   string `json:"digest,omitempty"`
	URL      string `json:"url,omitempty"`
	// Note explains a dry run's guess, such as a module that must be built.
	Note  string `json:"note,omitempty"`
	Error string `json:"error,omitempty"`
}

// applyReport is -o json's document.
type applyReport struct {
	DryRun   bool          `json:"dry_run"`
	Services []applyResult `json:"services"`
}

// apply runs `mote apply`: find, check, build, then deploy and prune.
func apply(ctx context.Context, g *globals, o applyOptions) error {
	var problems applyError
	svcs := collectServices(o.paths, o.recursive, &problems)
	// After a problem, the other services are still checked, so that all
	// are listed, but nothing is built for an apply that will not happen.
	pkgs, err := packServices(ctx, g, svcs, o.noBuild, o.dryRun || len(problems.lines) > 0, &problems)
	switch {
	case err != nil:
		return err
	case len(problems.lines) > 0:
		return &problems
	case len(svcs) == 0: // collectServices refuses PATHs without services; never prune everything
		return errors.New("no services to apply; Try: pass -f with a directory that holds mote.toml")
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	current, err := c.Services(ctx)
	if err != nil {
		return err
	}
	serving := make(map[string]api.Service, len(current))
	for _, s := range current {
		serving[s.Name] = s
	}

	rep := applyReport{DryRun: o.dryRun}
	text := o.output != "json"
	emit := func(r applyResult) {
		rep.Services = append(rep.Services, r)
		if text {
			printApplied(g, r)
		}
	}
	var failed []string
	for i, s := range svcs {
		var r applyResult
		if o.dryRun {
			r, err = planService(ctx, c, s, pkgs[i], serving)
		} else {
			r, err = applyService(ctx, c, s, pkgs[i].pkg, serving)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err // interrupted: what was printed is what was done
			}
			r = applyResult{Name: s.m.Name, File: s.file, Action: actFailed, Error: errorText(err)}
			failed = append(failed, s.m.Name)
		}
		emit(r)
	}

	switch {
	case !o.prune:
	case len(failed) > 0:
		fmt.Fprintf(g.stderr, "Not pruning: %s failed, so the services on the node are not what the PATHs define\n", strings.Join(failed, ", "))
	default:
		removeFailed, err := prune(ctx, c, svcs, current, o.dryRun, emit)
		if err != nil {
			return err
		}
		failed = append(failed, removeFailed...)
	}

	if text {
		fmt.Fprintln(g.stdout, applySummary(rep))
	} else if err := writeJSON(g.stdout, rep); err != nil {
		return err
	}
	switch {
	case len(failed) > 0 && o.dryRun:
		return fmt.Errorf("%d of %d services could not be checked (%s)", len(failed), len(rep.Services), strings.Join(failed, ", "))
	case len(failed) > 0:
		return fmt.Errorf("%d of %d services failed (%s); the others were applied", len(failed), len(rep.Services), strings.Join(failed, ", "))
	}
	return nil
}

// prune removes (with dryRun, only reports) every service of current not
// among svcs, passing each result to emit. It returns the names it failed
// to remove; the error is only ctx's.
func prune(ctx context.Context, c *client.Client, svcs []localService, current []api.Service, dryRun bool, emit func(applyResult)) ([]string, error) {
	if len(svcs) == 0 { // never remove everything
		return nil, errors.New("refusing to prune with no services applied")
	}
	applied := make(map[string]bool, len(svcs))
	for _, s := range svcs {
		applied[s.m.Name] = true
	}
	var failed []string
	for _, cur := range current {
		if applied[cur.Name] {
			continue
		}
		r := applyResult{Name: cur.Name, Action: actRemove, Previous: cur.Version}
		if !dryRun {
			r.Action = actRemoved
			if err := c.DeleteService(ctx, cur.Name); err != nil {
				if ctx.Err() != nil {
					return failed, err
				}
				r.Action, r.Error = actFailed, "remove: "+errorText(err)
				failed = append(failed, cur.Name)
			}
		}
		emit(r)
	}
	return failed, nil
}

// applyService deploys one service; serving holds the node's services from
// before the apply, which say what the deploy replaced.
func applyService(ctx context.Context, c *client.Client, s localService, pkg client.Package, serving map[string]api.Service) (applyResult, error) {
	res, err := c.Deploy(ctx, pkg)
	if err != nil {
		return applyResult{}, err
	}
	r := applyResult{
		Name: res.Service.Name, File: s.file, Version: res.Version.Number,
		Digest: res.Version.Digest, URL: res.Service.URL,
	}
	prev, existed := serving[r.Name]
	switch {
	case res.Unchanged:
		r.Action = actUnchanged
	case existed:
		r.Action, r.Previous = actUpdated, prev.Version
	default:
		r.Action = actCreated
	}
	return r, nil
}

// planService says what deploying one service would do, without doing it:
// unchanged when its manifest and artifact digest equal those of the
// serving version, as the node decides. A module that must be built first
// cannot be compared, so it counts as a change.
func planService(ctx context.Context, c *client.Client, s localService, p prepared, serving map[string]api.Service) (applyResult, error) {
	r := applyResult{Name: s.m.Name, File: s.file}
	cur, exists := serving[s.m.Name]
	r.Action = actCreate
	if exists {
		r.Action, r.Previous = actUpdate, cur.Version
	}
	if p.mustBuild != "" {
		r.Note = "[build] runs first (" + p.mustBuild + ")"
		return r, nil
	}
	pkg := p.pkg
	r.Digest = artifactDigest(pkg)
	if !exists {
		return r, nil
	}
	vs, err := c.Versions(ctx, s.m.Name)
	if err != nil {
		return r, err
	}
	for _, v := range vs {
		if v.Number == cur.Version && v.Digest == r.Digest && v.Manifest == string(pkg.Manifest) {
			r.Action, r.Version, r.Previous, r.URL = actUnchanged, v.Number, 0, cur.URL
			break
		}
	}
	return r, nil
}

// printApplied writes one service's line: "created hello v1", "updated api
// v4 (was v3)", "unchanged todo v2", "removed old", or with --dry-run
// "would create hello", ...; a failure goes to stderr.
func printApplied(g *globals, r applyResult) {
	switch r.Action {
	case actCreated, actUnchanged:
		fmt.Fprintf(g.stdout, "%s %s v%d\n", r.Action, r.Name, r.Version)
	case actUpdated:
		fmt.Fprintf(g.stdout, "updated %s v%d (was v%d)\n", r.Name, r.Version, r.Previous)
	case actRemoved:
		fmt.Fprintf(g.stdout, "removed %s\n", r.Name)
	case actCreate, actRemove:
		fmt.Fprintf(g.stdout, "would %s %s%s\n", r.Action, r.Name, note(r.Note))
	case actUpdate:
		fmt.Fprintf(g.stdout, "would update %s (now v%d)%s\n", r.Name, r.Previous, note(r.Note))
	case actFailed:
		fmt.Fprintf(g.stderr, "failed %s: %s\n", r.Name, strings.ReplaceAll(r.Error, "\n", "\n  "))
	}
}

func note(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// applySummary is the last line of text output, like "3 services: 1
// created, 1 updated, 1 unchanged".
func applySummary(rep applyReport) string {
	order := []string{actCreated, actUpdated, actUnchanged, actRemoved, actFailed}
	label := map[string]string{}
	if rep.DryRun {
		order = []string{actCreate, actUpdate, actUnchanged, actRemove, actFailed}
		label = map[string]string{actCreate: "to create", actUpdate: "to update", actRemove: "to remove"}
	}
	count := map[string]int{}
	applied := 0
	for _, r := range rep.Services {
		count[r.Action]++
		if r.File != "" {
			applied++
		}
	}
	var parts []string
	for _, a := range order {
		if count[a] > 0 {
			l := label[a]
			if l == "" {
				l = a
			}
			parts = append(parts, fmt.Sprintf("%d %s", count[a], l))
		}
	}
	head := plural(applied, "service") + ": " + strings.Join(parts, ", ")
	if rep.DryRun {
		return "Dry run, nothing changed. " + head
	}
	return head
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// collectServices finds and checks the services under paths, in the
// order given (a directory's services in lexical order). It adds every
// problem — a PATH without services, an invalid manifest, two services
// with one name or one route — to problems, and returns the services
// without problems.
func collectServices(paths []string, recursive bool, problems *applyError) []localService {
	var (
		svcs    []localService
		seen    = map[string]bool{}         // manifest files, absolute
		byName  = map[string]localService{} // first holder of each name
		byRoute = map[string]localService{}
	)
	for _, p := range paths {
		files, err := manifestFiles(p, recursive)
		if err != nil {
			problems.add(p, err)
			continue
		}
		for _, f := range files {
			abs, err := filepath.Abs(f)
			if err == nil && seen[abs] {
				continue // named twice, as a directory and as a file say
			}
			seen[abs] = true
			s, err := loadService(f)
			if err != nil {
				problems.add(f, err)
				continue
			}
			if first, ok := byName[s.m.Name]; ok {
				problems.add(s.file, fmt.Errorf("service name %q is also defined by %s; Try: give each service its own name", s.m.Name, first.file))
				continue
			}
			if first, ok := byRoute[s.m.Route]; ok {
				problems.add(s.file, fmt.Errorf("route %s is also the route of %s (%s); Try: give each service its own route", s.m.Route, first.m.Name, first.file))
				continue
			}
			byName[s.m.Name], byRoute[s.m.Route] = s, s
			svcs = append(svcs, s)
		}
	}
	return svcs
}

// manifestFiles lists the manifests PATH names: PATH itself when it is a
// file; else PATH/mote.toml and its immediate subdirectories' (every
// level's with recursive), skipping hidden directories. No manifest at all
// is an error.
func manifestFiles(path string, recursive bool) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the path does not exist; Try: pass a service directory, a %s or a directory of services", manifest.FileName)
		}
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != path {
			if strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
		}
		f := filepath.Join(p, manifest.FileName)
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
		if p != path && !recursive {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		where := "nor do its subdirectories"
		if recursive {
			where = "at any level"
		}
		return nil, fmt.Errorf("no %s here, %s; Try: pass a directory that holds services, or -R to look deeper", manifest.FileName, where)
	}
	return files, nil
}

// prepared is a service's package, or why a dry run has none.
type prepared struct {
	pkg client.Package
	// mustBuild is set, instead of pkg, when a dry run found the module
	// stale: the reason [build] would run.
	mustBuild string
}

// packServices reads every service's package, first building stale
// modules as `mote deploy` does (unless noBuild). A dry run builds
// nothing: it records why a module with [build] is stale instead. It adds
// every problem to problems; the error is only ctx's, when a build was
// interrupted.
func packServices(ctx context.Context, g *globals, svcs []localService, noBuild, dryRun bool, problems *applyError) ([]prepared, error) {
	out := make([]prepared, len(svcs))
	for i, s := range svcs {
		switch {
		case noBuild:
		case dryRun:
			stale, reason, err := s.stale()
			if err != nil {
				problems.add(s.file, err)
				continue
			}
			if stale && s.m.Build != nil {
				out[i].mustBuild = reason
				continue
			}
		default:
			if err := s.buildIfStale(ctx, g.stderr); err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				problems.add(s.file, err)
				continue
			}
		}
		pkg, err := s.pack(ctx, g)
		if err != nil {
			problems.add(s.file, err)
			continue
		}
		out[i].pkg = pkg
	}
	return out, nil
}

// applyError lists every problem found before anything was sent.
type applyError struct {
	lines []string
}

// add records err, found in file (a manifest or PATH).
func (e *applyError) add(file string, err error) {
	var me *manifest.Error
	if errors.As(err, &me) {
		e.lines = append(e.lines, strings.Split(me.Error(), "\n")...)
		return
	}
	e.lines = append(e.lines, file+": "+strings.ReplaceAll(errorText(err), "\n", "\n    "))
}

// Error renders one problem per line under a heading.
func (e *applyError) Error() string {
	var b strings.Builder
	b.WriteString("nothing was applied; fix these first:")
	for _, l := range e.lines {
		b.WriteString("\n  ")
		b.WriteString(l)
	}
	return b.String()
}

// errorText renders err as printError would, without "Error: ": the
// message, then any details and "Try:" line, one per line. It never
// contains "; Try: ", so a list of them stays one error.
func errorText(err error) string {
	var b bytes.Buffer
	printError(&b, err)
	return strings.TrimSuffix(strings.TrimPrefix(b.String(), "Error: "), "\n")
}
