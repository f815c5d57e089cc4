module github.com/mote-run/mote

go 1.26
