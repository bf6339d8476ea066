"""Installing what runs need and Python cannot: the jar groups declared in ``pom.xml``."""
from __future__ import annotations

import hashlib
import shutil
import subprocess

from tickflow.runtime.config import PROJECT_ROOT, Settings

JAR_GROUPS = ("flink-lib", "flink-s3", "kafka-broker", "s3proxy", "k8s-crds", "zookeeper")


POM = PROJECT_ROOT / "pom.xml"
GATHERED = ".gathered-from"  # in each group's directory: the digest of the pom.xml it was gathered from


def gather_jars(s: Settings, groups: tuple[str, ...] = JAR_GROUPS) -> None:
    """Copy each profile's dependencies into ``<jars>/<group>``; a group gathered from the current pom.xml
    is kept, one gathered from an older pom.xml is emptied and gathered again (no stale jar stays on a
    classpath)."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise RuntimeError("mvn not found on PATH (apt-get install maven)")
    pom = hashlib.sha256(POM.read_bytes()).hexdigest()
    for group in groups:
        target = s.jars / group
        stamp = target / GATHERED
        if stamp.is_file() and stamp.read_text() == pom and any(target.glob("*.jar")):
            continue
        shutil.rmtree(target, ignore_errors=True)
        out = subprocess.run([mvn, "-q", "-B", "-f", str(POM), "-P", group,
                              f"-Djars.dir={s.jars}"], capture_output=True, text=True)
        if out.returncode != 0:
            last = [l for l in out.stdout.splitlines() if "ERROR" in l][:1] or ["see mvn output"]
            raise RuntimeError(f"mvn could not gather {group}: {last[0]}")
        stamp.write_text(pom)
        print(f"jars: {group} -> {target}")


UDF_PROJECT = PROJECT_ROOT / "jobs" / "jvm"


def udf_jar(s: Settings):
    return s.jars / "tickflow-udfs" / "tickflow-udfs.jar"


def build_udfs(s: Settings) -> None:
    """Build jobs/jvm (tickflow's SQL functions) when its jar is missing or older than its sources."""
    jar = udf_jar(s)
    sources = [p for p in UDF_PROJECT.rglob("*") if p.is_file() and "target" not in p.parts]
    if jar.exists() and all(p.stat().st_mtime <= jar.stat().st_mtime for p in sources):
        return
    mvn = shutil.which("mvn")
    if not mvn:
        raise RuntimeError("mvn not found on PATH (apt-get install maven)")
    out = subprocess.run([mvn, "-q", "-B", "-f", str(UDF_PROJECT / "pom.xml"), "package",
                          f"-Dout.dir={jar.parent}"], capture_output=True, text=True)
    if out.returncode != 0:
        last = [l for l in out.stdout.splitlines() if "ERROR" in l][:2] or ["see mvn output"]
        raise RuntimeError(f"mvn could not build {UDF_PROJECT}: {' '.join(last)}")
    print(f"jars: tickflow-udfs -> {jar}")
