#!/bin/sh
# Rebuilds every test module in this directory from its source. Tests never
# run this: the .wasm files are committed. Needs clang + lld + wasi-libc
# (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32), wabt (wat2wasm)
# and Go (for goreactor.wasm).
set -eu
cd "$(dirname "$0")"
cc="clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all"
# WAGI commands.
$cc -o guest.wasm guest.c
$cc -o wagicaps.wasm wagicaps.c
$cc -o compute.wasm compute.c
# Pooled reactors.
$cc -mexec-model=reactor -o pooled.wasm pooled.c
$cc -mexec-model=reactor -o hellopooled.wasm hellopooled.c
$cc -mexec-model=reactor -o badinit.wasm badinit.c
(cd goreactor && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags=-s -o ../goreactor.wasm main.go)
for w in noentry unknownimport bigmem motev2 moteunknown nohandle badhandle noinit; do
	wat2wasm "$w.wat" -o "$w.wasm"
done
# garbage.wasm is random bytes made once; keep the committed one so tests
# see the same bytes everywhere.
[ -f garbage.wasm ] || head -c 64 /dev/urandom > garbage.wasm
chmod 644 ./*.wasm
