package main

import "github.com/mote-run/mote/internal/bitmapfont"

// glyphs is the plots' 5×7 font (see package bitmapfont).
var glyphs = bitmapfont.Glyphs
