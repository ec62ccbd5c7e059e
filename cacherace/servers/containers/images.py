"""Local images built from this machine's own server binaries (``cacherace images build``).

No registry is reachable from some machines, so the container provider cannot
rely on pulling ``redis:7.2.5`` / ``postgres:15.8``. These images are ``FROM
scratch``: the binaries, the shared libraries ``ldd`` names, and what the servers
read at run time (PostgreSQL's share/ and lib/ files, one time zone, /bin/sh for
initdb's popen, /etc/passwd with unprivileged users). initdb runs while the
image builds, so a container starts from an initialised cluster.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base import BackendError
from ..pgcluster import pg_version_label
from ..redisproc import binary_version, redis_version_label

KIND_LABEL = "org.cacherace.kind"  # "redis" | "postgres": how the provider finds them
VERSION_LABEL = "org.cacherace.version"  # e.g. "Redis 7.0.15", for reports
REDIS_UID = 999
PG_UID = 998
PG_DATA = "/var/lib/postgresql/data"
PASSWD = (
    "root:x:0:0:root:/:/bin/sh\n"
    f"redis:x:{REDIS_UID}:{REDIS_UID}:redis:/data:/bin/sh\n"
    f"postgres:x:{PG_UID}:{PG_UID}:postgres:/var/lib/postgresql:/bin/sh\n"
)
GROUP = f"root:x:0:\nredis:x:{REDIS_UID}:\npostgres:x:{PG_UID}:\n"
# initdb, the same flags as the local provider's template (see pgcluster.py).
INITDB_ARGS = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N",
               "--wal-segsize=1"]  # fmt: skip
# llvmjit drags in LLVM (~100 MB) for a JIT these short statements never use.
PG_LIB_SKIP = re.compile(r"^llvmjit")


@dataclass
class ImageSpec:
    """What goes into one image: files (path in image -> path here), Dockerfile lines."""

    kind: str
    tag: str
    version: str
    files: dict[str, Path] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # path in image -> content
    dockerfile: list[str] = field(default_factory=list)

    def add_with_libraries(self, binary: Path) -> None:
        self.files[str(binary)] = binary
        for lib in shared_libraries(binary):
            self.files[str(lib)] = lib


def shared_libraries(binary: Path) -> list[Path]:
    """The shared objects ``binary`` loads, as ``ldd`` resolves them here."""
    try:
        out = subprocess.run(
            ["ldd", str(binary)], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError as e:
        raise BackendError(f"cannot run ldd ({e}); install libc-bin") from e
    libs: list[Path] = []
    for line in out.splitlines():
        line = line.strip()
        if "not found" in line:
            raise BackendError(f"{binary} needs a library that is missing here: {line}")
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"(/\S+)", line)
        if m:
            libs.append(Path(m.group(1)))
    return libs


def _major_minor(version: str) -> str:
    parts = version.split()[-1].split(".")
    return ".".join(parts[:2])


def redis_spec(redis_server: Path, tag: str | None = None) -> ImageSpec:
    version = redis_version_label(binary_version(redis_server))
    spec = ImageSpec("redis", tag or f"cacherace/redis:{_major_minor(version)}-local", version)
    spec.add_with_libraries(redis_server)
    if redis_server != Path("/usr/bin/redis-server"):
        spec.files["/usr/bin/redis-server"] = redis_server  # the name the provider runs
    _base_files(spec)
    spec.dockerfile = [
        "FROM scratch",
        "COPY rootfs/ /",
        f"COPY --chown={REDIS_UID}:{REDIS_UID} owned/ /data/",
        "ENV PATH=/usr/bin:/bin",
        f"USER {REDIS_UID}:{REDIS_UID}",
        "WORKDIR /data",
        'CMD ["redis-server", "--dir", "/data"]',
    ]
    return spec


def pg_dirs(bindir: Path) -> tuple[Path, Path]:
    """(sharedir, pkglibdir) of this build, from its pg_config (Debian layout otherwise)."""
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        r = subprocess.run(
            [str(pg_config), "--sharedir", "--pkglibdir"], capture_output=True, text=True
        )
        lines = r.stdout.split()
        if r.returncode == 0 and len(lines) == 2:
            return Path(lines[0]), Path(lines[1])
    major = bindir.parent.name
    return Path(f"/usr/share/postgresql/{major}"), bindir.parent / "lib"


def postgres_spec(bindir: Path, tag: str | None = None) -> ImageSpec:
    version = pg_version_label(binary_version(bindir / "postgres"))
    major = version.split()[-1].split(".")[0]
    spec = ImageSpec("postgres", tag or f"cacherace/postgres:{major}-local", version)
    for name in ("postgres", "initdb"):
        spec.add_with_libraries(bindir / name)
    sharedir, libdir = pg_dirs(bindir)
    for f in sorted(p for p in sharedir.rglob("*") if p.is_file() and "man" not in p.parts):
        spec.files[str(f)] = f
    for so in sorted(libdir.glob("*.so")):
        if not PG_LIB_SKIP.match(so.name):
            spec.add_with_libraries(so)  # plpgsql, dict_snowball, encoding conversions...
    # One time zone (the server runs in UTC); Debian builds use the system tzdata.
    for tz in ("/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/Etc/UTC"):
        if Path(tz).exists():
            spec.files[tz] = Path(tz)
    spec.add_with_libraries(Path("/bin/sh"))  # initdb runs `postgres --boot` through popen
    _base_files(spec)
    spec.dockerfile = [
        "FROM scratch",
        "COPY rootfs/ /",
        f"COPY --chown={PG_UID}:{PG_UID} owned/ /var/lib/postgresql/",
        f"ENV PATH={bindir}:/usr/bin:/bin TZ=UTC LANG=C PGDATA={PG_DATA}",
        f"USER {PG_UID}:{PG_UID}",  # PostgreSQL refuses root; this image never needs it
        "WORKDIR /var/lib/postgresql",
        "RUN " + _json(["initdb", "-D", PG_DATA, *INITDB_ARGS]),
        "CMD " + _json(["postgres", "-D", PG_DATA]),
    ]
    return spec


def _json(argv: list[str]) -> str:
    import json

    return json.dumps(argv)


def _base_files(spec: ImageSpec) -> None:
    spec.texts["/etc/passwd"] = PASSWD
    spec.texts["/etc/group"] = GROUP


def build_context(spec: ImageSpec) -> bytes:
    """The build context as an uncompressed tar: Dockerfile, rootfs/, owned/."""
    buf = io.BytesIO()
    labels = {KIND_LABEL: spec.kind, VERSION_LABEL: spec.version}
    lines = [*spec.dockerfile]
    lines.insert(1, "LABEL " + " ".join(f'{k}="{v}"' for k, v in labels.items()))
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add_text(tar, "Dockerfile", "\n".join(lines) + "\n", 0o644)
        _add_dir(tar, "rootfs/tmp", 0o1777)
        _add_dir(tar, "owned", 0o700)
        for dest, text in sorted(spec.texts.items()):
            _add_text(tar, "rootfs" + dest, text, 0o644)
        for dest, src in sorted(spec.files.items()):
            info = tar.gettarinfo(str(src.resolve()), arcname="rootfs" + dest)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(src, "rb") as f:  # dereferenced: the image needs the file itself
                tar.addfile(info, f)
    return buf.getvalue()


def _add_text(tar: tarfile.TarFile, name: str, text: str, mode: int) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, 0
    tar.addfile(info)


@dataclass
class Built:
    tag: str
    version: str
    seconds: float
    size_mb: float


def build_image(client: Any, spec: ImageSpec) -> Built:
    """Build ``spec`` with the daemon behind ``client``; BackendError with the build's
    last log lines when it fails."""
    from docker.errors import APIError, BuildError

    t0 = time.perf_counter()
    context = build_context(spec)
    try:
        image, _ = client.images.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=spec.tag,
            rm=True,
            forcerm=True,
            network_mode="none",  # nothing to fetch; initdb needs no network
        )
    except BuildError as e:
        tail = [str(x.get("stream", x.get("error", ""))).strip() for x in e.build_log][-5:]
        raise BackendError(
            f"building {spec.tag} failed: {e.msg}; last build output: {' | '.join(tail)}"
        ) from None
    except APIError as e:
        raise BackendError(f"building {spec.tag} failed: {e.explanation or e}") from None
    size = float(image.attrs.get("Size", 0)) / 1e6
    return Built(spec.tag, spec.version, time.perf_counter() - t0, size)
