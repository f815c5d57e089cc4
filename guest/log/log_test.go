package log_test

import (
	"errors"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/mote-run/mote/guest/guesttest"
	"github.com/mote-run/mote/guest/log"
)

type token struct{ ok bool }

func (t token) MarshalText() ([]byte, error) {
	if !t.ok {
		return nil, errors.New("no")
	}
	return []byte("tok en"), nil
}

type lazy struct{}

func (lazy) LogValue() slog.Value { return slog.GroupValue(slog.Int("a", 1), slog.String("b", "x y")) }

func TestHandler(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"message only", func(l *slog.Logger) { l.Info("hello") }, "INFO hello"},
		{"kinds", func(l *slog.Logger) {
			l.Info("m", "s", "plain", "i", -3, "u", uint64(7), "f", 1.5, "b", true, "d", 1500*time.Millisecond, "t", when)
		}, "INFO m s=plain i=-3 u=7 f=1.5 b=true d=1.5s t=2026-01-02T03:04:05.0000006Z"},
		{"quoting", func(l *slog.Logger) {
			l.Info("m", "space", "a b", "eq", "a=b", "quote", `a"b`, "empty", "", "nl", "a\nb", "bad", "\xff", "key with space", 1)
		}, `INFO m space="a b" eq="a=b" quote="a\"b" empty="" nl="a\nb" bad="\xff" "key with space"=1`},
		{"any", func(l *slog.Logger) {
			l.Info("m", "err", errors.New("it broke"), "ip", net.IPv4(10, 0, 0, 1), "tok", token{true}, "badtok", token{false}, "raw", []byte("by tes"), "slice", []int{1, 2})
		}, `INFO m err="it broke" ip=10.0.0.1 tok="tok en" badtok=!ERROR:no raw="by tes" slice="[1 2]"`},
		{"groups", func(l *slog.Logger) {
			l.Info("m", slog.Group("req", "method", "GET", slog.Group("h", "x", 1)), slog.Group("empty"), slog.Group("", "inline", 2), slog.Attr{})
		}, "INFO m req.method=GET req.h.x=1 inline=2"},
		{"LogValuer", func(l *slog.Logger) { l.Info("m", "v", lazy{}) }, `INFO m v.a=1 v.b="x y"`},
		{"WithAttrs and WithGroup", func(l *slog.Logger) {
			l.With("svc", "todo").WithGroup("g").With("a", 1).WithGroup("h").Info("m", "b", 2)
		}, "INFO m svc=todo g.a=1 g.h.b=2"},
		{"empty WithGroup", func(l *slog.Logger) { l.WithGroup("").With().Info("m", "a", 1) }, "INFO m a=1"},
		{"levels", func(l *slog.Logger) {
			l.Warn("w")
			l.Error("e")
			l.Log(t.Context(), slog.LevelError+4, "e4")
			l.Log(t.Context(), slog.LevelWarn-1, "i3")
			l.Debug("hidden")
		}, "WARN w|ERROR e|ERROR e4|INFO i3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := guesttest.Install(t, nil)
			tt.log(slog.New(log.NewHandler(nil)))
			if got := joinLogs(host.Logs()); got != tt.want {
				t.Errorf("logged\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func joinLogs(lines []string) string {
	out := ""
	for i, l := range lines {
		if i > 0 {
			out += "|"
		}
		out += l
	}
	return out
}

func TestPackageLogger(t *testing.T) {
	host := guesttest.Install(t, nil)
	log.Debug("d")
	log.Info("i", "k", 1)
	log.Warn("w")
	log.Error("e")
	log.Printf("count %d\n", 3)
	log.Print("a", 1)
	log.Level.Set(slog.LevelDebug)
	log.Debug("d2")
	log.Level.Set(slog.LevelWarn)
	log.Printf("hidden")
	log.Print("hidden")
	log.Info("hidden")
	log.Level.Set(slog.LevelInfo)
	want := []string{"INFO i k=1", "WARN w", "ERROR e", "INFO count 3", "INFO a1", "DEBUG d2"}
	if got := host.Logs(); !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	if h := log.NewHandler(slog.LevelError); h.Enabled(t.Context(), slog.LevelWarn) || !h.Enabled(t.Context(), slog.LevelError) {
		t.Error("NewHandler(LevelError) does not filter by level")
	}
}
