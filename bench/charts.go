package main

import (
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"slices"
	"time"
)

// Plots renders r's charts as PNGs into dir and returns the files written.
// A section r does not have is skipped.
func (r *Results) Plots(dir string) ([]string, error) {
	var files []string
	write := func(name string, img *image.RGBA, err error) error {
		if err != nil {
			return err
		}
		p := filepath.Join(dir, name)
		if err := WritePNG(p, img); err != nil {
			return err
		}
		files = append(files, p)
		return nil
	}

	if tp := r.Throughput; tp != nil && len(tp.Targets) > 0 {
		base := median(tp.Targets[0].RPS)
		bc := BarChart{Title: "Requests/s (wrk, median of rounds; whiskers: slowest and fastest round)", XLabel: "requests/s"}
		for _, t := range tp.Targets {
			b := Bar{Label: t.Name, Value: median(t.RPS), Note: fmt.Sprintf("(%s of bare)", pct(median(t.RPS)/base))}
			if len(t.RPS) > 1 {
				b.Lo, b.Hi = slices.Min(t.RPS), slices.Max(t.RPS)
			}
			bc.Bars = append(bc.Bars, b)
		}
		img, err := bc.Draw()
		if err := write("throughput.png", img, err); err != nil {
			return files, err
		}
	}

	for _, f := range r.fractions() {
		ch := Chart{Title: fmt.Sprintf("Latency CDF, open loop at %s of each target's max", pct(f)),
			XLabel: "latency (log)", YLabel: "fraction of requests", LogX: true, YMin: 0, YMax: 1, FormatX: fmtSeconds}
		for _, l := range r.Latency {
			if l.Fraction != f || len(l.Quantiles) == 0 {
				continue
			}
			qs := make([]float64, len(l.Quantiles))
			for i, q := range l.Quantiles {
				qs[i] = q.Seconds()
			}
			s := Series{Name: l.Name}
			for i, q := range qs {
				s.X = append(s.X, q)
				s.Y = append(s.Y, float64(i+1)/float64(len(qs)))
			}
			ch.Series = append(ch.Series, s)
		}
		img, err := ch.Draw()
		if err := write(fmt.Sprintf("latency-cdf-%02.0f.png", 100*f), img, err); err != nil {
			return files, err
		}
	}

	if len(r.ColdStart) > 0 {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for _, d := range r.ColdStart {
			for _, s := range d.Samples {
				lo, hi = min(lo, s), max(hi, s)
			}
		}
		if hi > 0 {
			ch := Chart{Title: "Cold start from zero, by ABI", XLabel: "time to response (log)", YLabel: "share of starts",
				LogX: true, FormatX: fmtSeconds, FormatY: func(v float64) string { return pct(v) }}
			for _, d := range r.ColdStart {
				var xs []float64
				for _, s := range d.Samples {
					xs = append(xs, s.Seconds())
				}
				ch.Series = append(ch.Series, histSeries(fmt.Sprintf("%s (p50 %s)", d.Name, dur(quantile(d.Samples, 0.5))), xs, lo.Seconds()*0.9, hi.Seconds()*1.1, 60))
			}
			img, err := ch.Draw()
			if err := write("coldstart.png", img, err); err != nil {
				return files, err
			}
		}
	}

	if len(r.Density) > 0 {
		ds := slices.Clone(r.Density)
		slices.SortFunc(ds, func(a, b DensityPoint) int { return a.Services - b.Services })
		var n, rss, rssR, ready, settle, list, first, p50, p99, deploy []float64
		for _, d := range ds {
			n = append(n, float64(d.Services))
			rss = append(rss, float64(d.RSS)/(1<<20))
			rssR = append(rssR, float64(d.RSSRestart)/(1<<20))
			ready = append(ready, d.Ready.Seconds())
			settle = append(settle, (d.Ready + d.Settle).Seconds())
			first = append(first, d.FirstP50.Seconds())
			list = append(list, d.List.Seconds())
			p50 = append(p50, d.ReqP50.Seconds())
			p99 = append(p99, d.ReqP99.Seconds())
			if d.DeployCount > 0 {
				deploy = append(deploy, d.DeployTime.Seconds()/float64(d.DeployCount))
			} else {
				deploy = append(deploy, 0)
			}
		}
		mem := Chart{Title: "Node memory by services deployed", XLabel: "services (log)", YLabel: "resident memory (log)",
			LogX: true, LogY: true, FormatY: func(v float64) string { return compact(v) + "MiB" }, Series: []Series{
				{Name: "RSS after deploying", X: n, Y: rss},
				{Name: "RSS after a restart, settled", X: n, Y: rssR},
			}}
		img, err := mem.Draw()
		if err := write("density-memory.png", img, err); err != nil {
			return files, err
		}
		tm := Chart{Title: "Times by services deployed", XLabel: "services (log)", YLabel: "time (log)",
			LogX: true, LogY: true, FormatY: fmtSeconds, Series: []Series{
				{Name: "restart to ready", X: n, Y: ready},
				{Name: "restart to settled (memory stopped growing)", X: n, Y: settle},
				{Name: "mote ls", X: n, Y: list},
				{Name: "request p50, just after ready", X: n, Y: first},
				{Name: "request p50, settled", X: n, Y: p50},
				{Name: "request p99, settled", X: n, Y: p99},
				{Name: "deploy wall time / services deployed (8 at a time)", X: n, Y: deploy},
			}}
		img, err = tm.Draw()
		if err := write("density-time.png", img, err); err != nil {
			return files, err
		}
	}
	if len(files) == 0 {
		return nil, errors.New("plot: the results have nothing to plot")
	}
	return files, nil
}
