#!/usr/bin/env bash
# Builds what profiles/gpu/run.sh needs into .device/ (git-ignored; carried to the GPU machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./pariskv build
mvn -B -q test-compile -DskipTests
mkdir -p .device
[ -x .device/jre/bin/java ] || "$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.incubator.vector,java.management,jdk.unsupported,java.logging,jdk.zipfs \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output .device/jre
cp target/pariskv.jar .device/pariskv.jar
rm -rf .device/test-classes && cp -r target/test-classes .device/test-classes
mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 -DoutputDirectory=.device >/dev/null
mv .device/junit-platform-console-standalone-1.11.4.jar .device/junit.jar
rm -rf .device/examples && "$JAVA_HOME/bin/javac" --add-modules jdk.incubator.vector -cp target/pariskv.jar -d .device/examples examples/*.java
git rev-parse --short HEAD > .device/COMMIT
du -sh .device
