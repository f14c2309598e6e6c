#!/usr/bin/env bash
# Brings Temporal's time-skipping test server (test/workflows/ runs against it) into
# .temporal-test-server/: its jars from Maven Central, and bin/temporal-test-server, the executable
# the SDK's TestWorkflowEnvironment starts. The SDK would download a native build at run time,
# which no registry serves; the Java build is the same server. A second run takes no time.
set -euo pipefail
cd "$(dirname "$0")/.."
pom=test/support/temporal-test-server/pom.xml
dir=.temporal-test-server
wrapper=$dir/bin/temporal-test-server

# shellcheck source=scripts/setup-lib.sh
. scripts/setup-lib.sh

pom_hash=$( (cat "$pom" "$0") | sha256sum | cut -d' ' -f1)
if [ -x "$wrapper" ] && [ "$(cat "$dir/.pom" 2>/dev/null)" = "$pom_hash" ] && command -v java >/dev/null; then
  exit 0
fi

missing=""
command -v java >/dev/null || missing="$missing default-jre-headless"
command -v mvn >/dev/null || missing="$missing maven"
if [ -n "$missing" ]; then
  if can_apt_install; then
    say "installing$missing (the Temporal test server runs on Java, Maven fetches it)"
    apt_install --no-install-recommends $missing
  else
    fail "the Temporal test server needs Java 17+ and Maven: install$missing (e.g. 'sudo apt-get install$missing')"
  fi
fi

say "fetching the Temporal test server into $dir"
rm -rf "$dir/lib.new"
mkdir -p "$dir"
# Maven's output is kept for when it fails (it writes its errors to stdout).
if ! mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DoutputDirectory="$PWD/$dir/lib.new" >"$dir/mvn.log" 2>&1; then
  cat "$dir/mvn.log" >&2
  fail "Maven could not fetch io.temporal:temporal-test-server (see $pom); check access to Maven Central"
fi
rm -rf "$dir/lib" && mv "$dir/lib.new" "$dir/lib"
mkdir -p "$dir/bin"
# The classpath is found from the wrapper's own place, so the checkout can move.
cat > "$wrapper" <<'SH'
#!/bin/sh
lib=$(cd "$(dirname "$0")/../lib" && pwd)
# The SDK gives the server 5 s to listen: a quick-starting JVM (no optimising compiler, one GC
# thread) makes that on a busy machine too.
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$lib/*" io.temporal.testserver.TestServer "$@"
SH
chmod 755 "$wrapper"
echo "$pom_hash" > "$dir/.pom"
