package jwt

import "testing"

func TestClaimsString(t *testing.T) {
	c, err := parseObject([]byte(`{
		"sub": "user-1", "email": "a@example.com", "unicode": "Zoë ☃",
		"int": 12345678901234567890123, "neg": -7, "float": 1.5, "exp": 1e3, "small": 1.5e-7, "big": 1e400,
		"t": true, "f": false, "null": null,
		"roles": ["admin", "dev"], "mixed": ["a", 1, true, null, {"k": "v"}, [1, 2]], "empty": [],
		"obj": {"b": "<&>", "a": 1e2},
		"crlf": "a\r\nX-Admin: 1", "nul": "a\u0000", "tab": "a\tb", "del": "a\u007f", "c1": "a\u0085",
		"arr_ctl": ["ok", "bad\n"], "obj_ctl": {"k": "a\nb"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	claims := Claims(c)
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"sub", "user-1", true},
		{"email", "a@example.com", true},
		{"unicode", "Zoë ☃", true},
		{"int", "12345678901234567890123", true},
		{"neg", "-7", true},
		{"float", "1.5", true},
		{"exp", "1000", true},
		{"small", "0.00000015", true},
		{"big", "", false},
		{"t", "true", true},
		{"f", "false", true},
		{"null", "", false},
		{"missing", "", false},
		{"roles", "admin,dev", true},
		{"mixed", `a,1,true,null,{"k":"v"},[1,2]`, true},
		{"empty", "", true},
		{"obj", `{"a":1e2,"b":"<&>"}`, true},
		{"crlf", "", false},
		{"nul", "", false},
		{"tab", "", false},
		{"del", "", false},
		{"c1", "", false},
		{"arr_ctl", "", false},
		{"obj_ctl", `{"k":"a\nb"}`, true}, // escaped by JSON: no raw control character
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := claims.String(tc.name)
			if got != tc.want || ok != tc.ok {
				t.Errorf("String(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		})
	}
}
