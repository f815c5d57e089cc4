package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Render returns the document as indented JSON with the top-level
// "servers" replaced by one entry for serverURL (the gateway URL and the
// service's route), for the node's catalog and `mote docs`. The other
// top-level members follow "openapi", "info" and "servers" in sorted order;
// their contents are kept byte for byte (servers inside path items and
// operations are left as they are).
func (d *Doc) Render(serverURL string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(d.raw, &top); err != nil {
		return nil, fmt.Errorf("openapi: render: %w", err)
	}
	servers, err := json.Marshal([]map[string]string{{"url": serverURL}})
	if err != nil {
		return nil, fmt.Errorf("openapi: render: %w", err)
	}
	top["servers"] = servers
	keys := make([]string, 0, len(top))
	for k := range top {
		if k != "openapi" && k != "info" && k != "servers" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = append([]string{"openapi", "info", "servers"}, keys...)
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, k := range keys {
		v, ok := top[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("openapi: render: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
