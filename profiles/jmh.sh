#!/usr/bin/env bash
# JMH benchmarks of the hot loops (scalar twin vs Vector API twin): src/test/java/org/pariskv/bench/.
#   profiles/jmh.sh                               all of VectorOpsBench (fork 1, warmup 2x1s, measurement 3x1s)
#   profiles/jmh.sh 'VectorOpsBench.rerank' -p m=3277     any JMH arguments (regexps, -p, -f, -i, -prof gc ...)
#   JMH_OUT=path.json profiles/jmh.sh ...         where the JSON goes (default profiles/results/jmh-cpu-<date>.json)
# Then: python3 profiles/jmh_table.py <json>   prints the markdown table (ns per key / candidate / row).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p'; }
find_jdk() {   # as ./pariskv: a full JDK 25 (Maven needs javac)
  local c
  for c in "${PARISKV_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25* /usr/lib/jvm/jdk-25* /opt/java/* /usr/lib/jvm/*; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    local v; v="$(java_major "$c")"
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$c"; return 0; fi
  done
  return 1
}
JAVA_HOME="$(find_jdk)" || { echo "jmh.sh: no JDK 25 found (set JAVA_HOME)" >&2; exit 2; }
export JAVA_HOME
command -v mvn >/dev/null || { echo "jmh.sh: Maven (mvn) is needed" >&2; exit 2; }

cd "$here"
MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
  mvn -q -B --no-transfer-progress test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
[ -s target/test-classes/META-INF/BenchmarkList ] || {
  echo "jmh.sh: target/test-classes/META-INF/BenchmarkList is missing: the JMH annotation processor did not run" >&2; exit 1; }

out="${JMH_OUT:-profiles/results/jmh-cpu-$(date +%F).json}"
mkdir -p "$(dirname "$out")"
[ $# -gt 0 ] || set -- VectorOpsBench
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "target/test-classes:target/classes:$(cat target/cp.txt)" \
  org.openjdk.jmh.Main -rf json -rff "$out" "$@"
