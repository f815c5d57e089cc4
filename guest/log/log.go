// Package log writes to the service's logs through the node (the log host
// function, always allowed): each line carries a level and the request's
// id, and `mote logs NAME -f` shows it live.
//
// Logger is a *slog.Logger ready to use; its lines read
// "message key=value key2=\"two words\"":
//
//	log.Logger.Info("order placed", "id", id, "total", 12.5)
//	log.Info("order placed", "id", id) // the same, shorter
//	log.Printf("cache holds %d items", n) // an info line, fmt-style
//
// Outside a guest (in tests on another GOOS) lines go to stderr.
package log

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/guest/internal/hostcall"
)

// Level is the least level Logger writes; slog.LevelInfo unless set:
//
//	log.Level.Set(slog.LevelDebug)
var Level = new(slog.LevelVar)

// Logger writes through a Handler at Level.
var Logger = slog.New(NewHandler(Level))

// Debug logs msg with key-value pairs (or slog.Attrs) at debug level.
func Debug(msg string, args ...any) { Logger.Debug(msg, args...) }

// Info logs msg with key-value pairs (or slog.Attrs) at info level.
func Info(msg string, args ...any) { Logger.Info(msg, args...) }

// Warn logs msg with key-value pairs (or slog.Attrs) at warn level.
func Warn(msg string, args ...any) { Logger.Warn(msg, args...) }

// Error logs msg with key-value pairs (or slog.Attrs) at error level.
func Error(msg string, args ...any) { Logger.Error(msg, args...) }

// Printf logs an info line formatted as fmt.Sprintf does, without a
// trailing newline, if Level lets info lines through.
func Printf(format string, args ...any) {
	if Level.Level() <= slog.LevelInfo {
		hostcall.Log(abi.LevelInfo, strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
	}
}

// Print logs an info line formatted as fmt.Sprint does, if Level lets info
// lines through.
func Print(args ...any) {
	if Level.Level() <= slog.LevelInfo {
		hostcall.Log(abi.LevelInfo, strings.TrimSuffix(fmt.Sprint(args...), "\n"))
	}
}

// Handler is a slog.Handler that writes each record as one line of the
// service's logs: the message, then " key=value" per attribute. Keys in
// groups are dotted ("req.method=GET"); a key or value that is empty or
// holds spaces, '=', '"' or unprintable characters is quoted as Go quotes
// strings; times are RFC 3339. The record's time is left out (the node
// stamps each line) and its level becomes the line's: below Info is debug,
// below Warn info, below Error warn, the rest error.
type Handler struct {
	level  slog.Leveler
	prefix string // the open groups, "a.b."
	attrs  []byte // " k=v" for each attribute from WithAttrs
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler that writes records at level and above; a
// nil level means slog.LevelInfo.
func NewHandler(level slog.Leveler) *Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &Handler{level: level}
}

// Enabled reports whether l is at least the handler's level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle writes r as one line. It does not fail.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	b := make([]byte, 0, len(r.Message)+len(h.attrs)+16*r.NumAttrs())
	b = append(b, r.Message...)
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.prefix, a)
		return true
	})
	hostcall.Log(levelOf(r.Level), string(b))
	return nil
}

// WithAttrs returns a handler that adds attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a handler that puts later attributes in group name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// levelOf maps a slog level to the log host function's.
func levelOf(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return abi.LevelDebug
	case l < slog.LevelWarn:
		return abi.LevelInfo
	case l < slog.LevelError:
		return abi.LevelWarn
	}
	return abi.LevelError
}

// appendAttr appends " key=value" for a, or one such pair per attribute of
// a group, as slog's handlers treat them: empty attributes and empty groups
// are dropped, and a group without a key is inlined.
func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			b = appendAttr(b, prefix, ga)
		}
		return b
	}
	b = append(b, ' ')
	b = appendText(b, prefix+a.Key)
	b = append(b, '=')
	return appendValue(b, a.Value)
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return append(b, v.Duration().String()...)
	case slog.KindTime:
		return v.Time().AppendFormat(b, time.RFC3339Nano)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return appendText(b, x.Error())
		case encoding.TextMarshaler:
			t, err := x.MarshalText()
			if err != nil {
				return appendText(b, "!ERROR:"+err.Error())
			}
			return appendText(b, string(t))
		case []byte:
			return appendText(b, string(x))
		}
	}
	return appendText(b, v.String())
}

// appendText appends s, quoted if it needs to be to stay one readable
// token.
func appendText(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == ' ' || r == '=' || r == '"' || r == utf8.RuneError || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
