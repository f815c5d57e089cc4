package capability

import (
	"context"
	"sync"

	"github.com/mote-run/mote/internal/store"
)

// ConfigView is the node's in-memory copy of every service's configuration,
// kept current from the store's WatchConfig, so a guest's config_get never
// waits on the store. The zero value is empty and ready; a nil *ConfigView
// is empty. It is safe for concurrent use.
type ConfigView struct {
	mu     sync.RWMutex
	values map[string]map[string]string // service -> key -> value
	synced bool
}

// NewConfigView returns an empty view.
func NewConfigView() *ConfigView { return &ConfigView{} }

// Get returns service's value for key.
func (v *ConfigView) Get(service, key string) (string, bool) {
	if v == nil {
		return "", false
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	val, ok := v.values[service][key]
	return val, ok
}

// Synced reports whether the view has received every value the store held
// when the watch began.
func (v *ConfigView) Synced() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.synced
}

// Apply records one event of the store's WatchConfig.
func (v *ConfigView) Apply(ev store.ConfigEvent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case ev.Synced:
		v.synced = true
	case ev.Deleted:
		m := v.values[ev.Service]
		delete(m, ev.Entry.Key)
		if len(m) == 0 {
			delete(v.values, ev.Service)
		}
	default:
		if v.values == nil {
			v.values = map[string]map[string]string{}
		}
		m := v.values[ev.Service]
		if m == nil {
			m = map[string]string{}
			v.values[ev.Service] = m
		}
		m[ev.Entry.Key] = ev.Entry.Value
	}
}

// Run applies events until the channel closes or ctx ends. synced, when
// not nil, is closed after the Synced event is applied.
func (v *ConfigView) Run(ctx context.Context, events <-chan store.ConfigEvent, synced chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			v.Apply(ev)
			if ev.Synced && synced != nil {
				close(synced)
				synced = nil
			}
		}
	}
}
