package soak

import "github.com/mote-run/mote/internal/bitmapfont"

// glyphs is the plots' 5×7 font, shared with bench (package bitmapfont).
var glyphs = bitmapfont.Glyphs
