# shellcheck shell=bash
# Sourced by the setup scripts (run from the checkout's root): their messages, and Debian packages
# installed where this run may install them.

say() { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# True when this run may install Debian packages: as root, on a system with apt-get.
can_apt_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

# apt_install [apt-get install option...] package...: refreshes the index, then installs quietly.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}
