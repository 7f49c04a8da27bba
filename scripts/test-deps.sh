#!/usr/bin/env bash
# Test prerequisites: a local Docker engine and the image the driver tests use.
#
# Idempotent; run as root (by `make test`, or on a fresh CI machine).
#   1. if `docker info` fails: install Debian's docker.io when dockerd is
#      missing, start `dockerd --ip 127.0.0.1` (published ports stay on
#      loopback) and wait until it answers;
#   2. if `nomadtui-test/busybox:1` is absent: build it from Debian's
#      busybox-static with `docker import`;
#   3. if `javac` is missing: install Debian's default-jdk-headless (the java
#      driver tests build a tiny jar).
# NOMADTUI_TEST_IMAGE overrides the image name (to try a build without
# touching the real one). Never contacts an image registry. Exits non-zero
# with a clear message when something cannot be made to work; the caller
# decides what that means.
set -euo pipefail

IMAGE="${NOMADTUI_TEST_IMAGE:-nomadtui-test/busybox:1}"
DOCKERD_LOG="${NOMADTUI_DOCKERD_LOG:-/var/log/nomadtui-dockerd.log}"
DOCKERD_WAIT_S="${NOMADTUI_DOCKERD_WAIT_S:-60}"
APT_UPDATED=0

say() { printf 'test-deps: %s\n' "$*"; }
die() { printf 'test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$1 needs root (run this script as root)"
}

apt_install() {
    need_root "installing $*"
    command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >/dev/null || die "apt-get install $* failed"
}

engine_up() { docker info >/dev/null 2>&1; }

ensure_engine() {
    if engine_up; then
        say "docker engine already running"
        return
    fi
    if ! command -v dockerd >/dev/null; then
        local t0
        t0="$(now)"
        apt_install docker.io
        say "docker.io installed in $(since "$t0")"
    fi
    need_root "starting dockerd"
    command -v docker >/dev/null || die "docker client not found after installing docker.io"
    if pidof dockerd >/dev/null; then
        say "dockerd is running but not answering yet; waiting for it"
    else
        say "starting dockerd --ip 127.0.0.1 (log: $DOCKERD_LOG)"
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        # setsid + nohup: the engine must outlive this script and `make test`.
        setsid nohup dockerd --ip 127.0.0.1 >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    local t0 deadline
    t0="$(now)"
    deadline=$(($(date +%s) + DOCKERD_WAIT_S))
    until engine_up; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            die "docker engine did not answer within ${DOCKERD_WAIT_S}s (see $DOCKERD_LOG)"
        fi
        sleep 0.5
    done
    say "docker engine up in $(since "$t0") (server $(docker version -f '{{.Server.Version}}'))"
}

# Print the path of a statically linked busybox, installing busybox-static if needed.
static_busybox() {
    local candidate
    for candidate in /bin/busybox /usr/bin/busybox; do
        if [ -x "$candidate" ] && ! ldd "$candidate" >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
    if dpkg -s busybox >/dev/null 2>&1; then
        # The dynamic `busybox` package conflicts with busybox-static: unpack
        # the static one into a scratch dir instead of replacing it.
        need_root "fetching busybox-static"
        local dir
        dir="$(mktemp -d)"
        (cd "$dir" && apt-get download busybox-static >/dev/null 2>&1) \
            || { apt-get update -qq && (cd "$dir" && apt-get download busybox-static >/dev/null); } \
            || die "cannot download busybox-static"
        dpkg-deb -x "$dir"/busybox-static_*.deb "$dir/x"
        echo "$dir/x/bin/busybox"
        return
    fi
    apt_install busybox-static >&2
    echo /bin/busybox
}

ensure_image() {
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
        say "image $IMAGE present"
        return
    fi
    local t0 busybox root applet
    t0="$(now)"
    busybox="$(static_busybox)"
    say "building $IMAGE from $busybox"
    root="$(mktemp -d)"
    trap 'rm -rf "$root"' RETURN
    mkdir -p "$root"/{bin,etc,www,tmp,proc,sys,dev,root}
    chmod 1777 "$root/tmp"
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
        >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    printf '<html><body>nomadtui test page</body></html>\n' >"$root/www/index.html"
    tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' - "$IMAGE" >/dev/null \
        || die "docker import of $IMAGE failed"
    say "image $IMAGE built in $(since "$t0")"
}

ensure_jdk() {
    if command -v javac >/dev/null && command -v jar >/dev/null; then
        say "JDK present ($(javac -version 2>&1))"
        return
    fi
    apt_install default-jdk-headless
    say "default-jdk-headless installed"
}

ensure_engine
ensure_image
ensure_jdk
say "ready"
