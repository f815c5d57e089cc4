// Package autoscale decides how many instances a version needs from the
// requests it has in flight, in the manner of Knative's KPA (Knative Pod
// Autoscaler), and drives one version with that decision.
//
// A Decider is the algorithm alone: pure, deterministic, driven by the
// times it is given, with no goroutine and no clock. A Loop owns one
// Decider, samples a Target's in-flight requests, decides every Config.Tick
// and at once on Poke, and tells the Target how many warm instances it
// wants.
//
// # The decision
//
// Samples of in-flight requests (running or waiting) are averaged per
// Config.Bucket (1 s); a window's average is the mean of its buckets, a
// bucket without samples counting as 0 (Knative's TimedFloat64Buckets).
// With per = Target × TargetUtilization (1 × 0.7 by default) and ready the
// instances ready now (0 counts as 1 in the rates and the threshold):
//
//	stable desired = ceil(stable-window average / per)       # 60 s
//	panic desired  = ceil(panic-window average / per)        # 6 s
//	each clamped to [floor(ready / MaxScaleDownRate), ceil(MaxScaleUpRate × ready)]
//	panic starts when panic desired >= PanicThreshold × ready (200%), and
//	  ends once that has not held for a whole stable window;
//	  while panicking: desired = max(stable, panic, ready, highest desired
//	  of this panic) -- never a scale-down
//	otherwise: desired = stable desired
//	idle (no traffic for ScaleToZeroGrace): desired = 0 and panic ends
//	not idle and an instance ready: desired >= 1 (kept warm)
//	a request in flight: desired >= 1 (never zero under load)
//	finally desired is clamped to [Min, Max]
//
// Where mote differs from Knative, and why:
//   - Scale to zero is driven by ScaleToZeroGrace, which the integrator sets
//     to `[scale] idle`: after that long without traffic the version goes to
//     Min even if older traffic is still in the stable window, because the
//     user-facing contract is "after idle with no traffic a version goes to
//     min". Knative instead waits for a stable window of zeros and then a
//     grace for network reprogramming, which mote does not need. With idle
//     >= the stable window (mote's default idle is 5 min) the two agree.
//     Idleness also ends panic mode: a burst cannot be in progress when
//     nothing has run for the whole grace.
//   - Panic mode never asks for fewer instances than are ready, and
//     entering it never lowers the previous decision: Knative's maxPanicPods
//     starts from 0 on entry, which can undercut a pending scale-up.
//   - Traffic too short to be caught by a sample can still be reported
//     (Decider.MarkActive, or a Target that implements RequestCounter): it
//     keeps an instance warm without inflating the averages.
//   - There is no activation scale, scale-down delay or burst capacity
//     (Knative's activator modes); mote's gateway queues requests itself.
package autoscale
