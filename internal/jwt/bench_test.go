package jwt

import "testing"

func benchTokens(b testing.TB) (KeySet, map[string]string) {
	rsaKey, ecKey := testKeys(b)
	keys := NewKeySet(
		mustKey(b, "hs", HS256, testSecret),
		mustKey(b, "rs", RS256, pkixPEM(b, &rsaKey.PublicKey)),
		mustKey(b, "es", ES256, pkixPEM(b, &ecKey.PublicKey)),
	)
	claims := claimsAt("email", "user@example.com", "roles", []string{"admin", "dev"})
	return keys, map[string]string{
		HS256: makeToken(b, hdr(HS256, "hs"), claims, hsSigner(testSecret)),
		RS256: makeToken(b, hdr(RS256, "rs"), claims, rsSigner(rsaKey)),
		ES256: makeToken(b, hdr(ES256, "es"), claims, esSigner(ecKey)),
	}
}

var benchOpts = Options{Issuer: "https://auth.example.com", Audience: "hello", Now: fixedNow}

func BenchmarkVerify(b *testing.B) {
	keys, toks := benchTokens(b)
	for _, alg := range []string{HS256, RS256, ES256} {
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(toks[alg], keys, benchOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCacheHit(b *testing.B) {
	keys, toks := benchTokens(b)
	for _, alg := range []string{HS256, RS256, ES256} {
		b.Run(alg, func(b *testing.B) {
			c := NewCache(0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Verify(toks[alg], keys, benchOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		c := NewCache(0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Verify(toks[ES256], keys, benchOpts); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
