"""docker driver: runs a task as a container on the local Docker engine.

Owns the translation of a task's `config` block into a container (image,
command, ports, env, labels, limits, mounts), the container's lifecycle,
and copying its stdout / stderr into the task's log files. Pulls an image
only when it is not present locally (or `force_pull` is set). Never talks to
the servers.

Handle state: {"container_id", "image", "stop_signal"}.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from signal import Signals
from typing import Any

import docker
import docker.errors
import psutil
import requests

from controlplane.drivers.base import (
    DriverError,
    ExitResult,
    Fingerprint,
    TaskConfig,
    TaskHandle,
    TaskStatus,
)
from controlplane.drivers.raw_exec import signal_number
from controlplane.structs import AllocatedPortMapping

log = logging.getLogger(__name__)

LABEL_ALLOC_ID = "com.nomadtui.alloc_id"
LABEL_TASK_NAME = "com.nomadtui.task_name"
LABEL_JOB_ID = "com.nomadtui.job_id"

_LOG_JOIN_S = 5.0  # how long wait() lets the log copiers drain after exit
_DOCKER_ERRORS = (docker.errors.DockerException, requests.RequestException)


class DockerDriver:
    """Containers on one engine. Connects lazily; thread-safe."""

    name = "docker"

    def __init__(self, client: docker.DockerClient | None = None, publish_ip: str = "") -> None:
        self._client = client
        self._owns_client = client is None
        self._publish_ip = publish_ip
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._log_threads: dict[str, list[threading.Thread]] = {}
        self._streams: set[Any] = set()  # open log streams (CancellableStream)
        self._cpu_prev: dict[str, tuple[float, float]] = {}

    @property
    def client(self) -> docker.DockerClient:
        """The engine client; raises DriverError when the engine is unreachable."""
        with self._lock:
            if self._client is None:
                try:
                    self._client = docker.DockerClient.from_env(max_pool_size=64)
                except _DOCKER_ERRORS as e:
                    raise DriverError(f"Docker engine unreachable: {e}") from e
            return self._client

    def close(self) -> None:
        """Detach from every container (they keep running; `recover` picks
        them up again) and release the engine connection. For agent shutdown."""
        self._closing.set()
        with self._lock:
            streams = list(self._streams)
            threads = [t for ts in self._log_threads.values() for t in ts]
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.close()
        for thread in threads:
            thread.join(_LOG_JOIN_S)
        with self._lock:
            client, self._client = self._client, None
            self._log_threads.clear()
        if client is not None and self._owns_client:
            client.close()

    # -- protocol -----------------------------------------------------------

    def fingerprint(self) -> Fingerprint:
        try:
            version = self.client.version()
        except (DriverError, *_DOCKER_ERRORS) as e:
            return Fingerprint(detected=False, healthy=False, health_description=str(e))
        attributes = {
            "driver.docker": "1",
            "driver.docker.version": str(version.get("Version", "")),
        }
        bridge_ip = self._bridge_ip()
        if bridge_ip:
            attributes["driver.docker.bridge_ip"] = bridge_ip
        return Fingerprint(
            detected=True, healthy=True, health_description="Healthy", attributes=attributes
        )

    def start(self, cfg: TaskConfig) -> TaskHandle:
        conf = cfg.config
        image = str(conf.get("image") or "")
        if not image:
            raise DriverError("docker: the task config has no `image`", recoverable=False)
        self._ensure_image(image, bool(conf.get("force_pull", False)))
        kwargs = container_options(cfg, self._publish_ip)
        container = self._create(kwargs)
        try:
            container.start()
        except _DOCKER_ERRORS as e:
            with contextlib.suppress(*_DOCKER_ERRORS):
                container.remove(force=True)
            raise DriverError(f"Failed to start container {kwargs['name']}: {_reason(e)}") from e
        assert container.id is not None
        self._follow_logs(container.id, cfg.stdout_path, cfg.stderr_path, resume=False)
        return TaskHandle(
            driver=self.name,
            alloc_id=cfg.alloc_id,
            task_name=cfg.task_name,
            started_at=time.time_ns(),
            state={
                "container_id": container.id,
                "image": image,
                "stop_signal": kwargs["stop_signal"],
                "stdout_path": cfg.stdout_path,
                "stderr_path": cfg.stderr_path,
            },
        )

    def wait(self, handle: TaskHandle, timeout: float | None = None) -> ExitResult | None:
        cid = _cid(handle)
        try:
            if timeout is not None and timeout <= 0:
                if self._state(cid).get("Running"):
                    return None
            else:
                self.client.api.wait(cid, timeout=timeout)
        except docker.errors.NotFound:
            return ExitResult(exit_code=-1, err=f"container {cid[:12]} no longer exists")
        except requests.exceptions.ReadTimeout:
            return None
        except requests.exceptions.ConnectionError as e:
            if "timed out" in str(e).lower():
                return None
            raise DriverError(f"Docker engine unreachable: {e}") from e
        except docker.errors.DockerException as e:
            raise DriverError(f"docker: wait for {cid[:12]} failed: {e}") from e
        self._join_logs(cid, _LOG_JOIN_S)
        return self._exit_result(cid)

    def stop(self, handle: TaskHandle, timeout: float, signal: str = "SIGTERM") -> None:
        cid = _cid(handle)
        seconds = max(0, math.ceil(timeout))
        try:
            if signal_number(signal) == signal_number(handle.state.get("stop_signal", "SIGTERM")):
                # The engine sends the container's StopSignal, then SIGKILL.
                self.client.api.stop(cid, timeout=seconds)
                return
            self.client.api.kill(cid, signal=_signal_name(signal))
            if self.wait(handle, max(timeout, 0.001)) is None:
                self.client.api.kill(cid, signal="SIGKILL")
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as e:
            if e.status_code == 409:  # not running
                return
            raise DriverError(f"docker: stop {cid[:12]} failed: {_reason(e)}") from e
        except _DOCKER_ERRORS as e:
            raise DriverError(f"docker: stop {cid[:12]} failed: {e}") from e

    def signal(self, handle: TaskHandle, signal: str) -> None:
        cid = _cid(handle)
        try:
            self.client.api.kill(cid, signal=_signal_name(signal))
        except docker.errors.APIError as e:
            raise DriverError(f"docker: signal {cid[:12]} failed: {_reason(e)}") from e
        except _DOCKER_ERRORS as e:
            raise DriverError(f"docker: signal {cid[:12]} failed: {e}") from e

    def destroy(self, handle: TaskHandle) -> None:
        cid = _cid(handle)
        try:
            self.client.api.remove_container(cid, force=True)
        except docker.errors.NotFound:
            pass
        except _DOCKER_ERRORS as e:
            raise DriverError(f"docker: remove {cid[:12]} failed: {_reason(e)}") from e
        self._join_logs(cid, _LOG_JOIN_S)
        with self._lock:
            self._log_threads.pop(cid, None)
            self._cpu_prev.pop(cid, None)

    def inspect(self, handle: TaskHandle) -> TaskStatus:
        cid = _cid(handle)
        try:
            state = self._state(cid)
        except docker.errors.NotFound:
            gone = ExitResult(exit_code=-1, err=f"container {cid[:12]} no longer exists")
            return TaskStatus(running=False, exit=gone)
        details = {"container_id": cid, "status": str(state.get("Status", ""))}
        if state.get("Running"):
            return TaskStatus(running=True, details=details)
        return TaskStatus(running=False, exit=_exit_from_state(state), details=details)

    def recover(self, handle: TaskHandle) -> bool:
        """Reattach to the container by id and resume copying its logs from
        where the log files were last written."""
        cid = str(handle.state.get("container_id", ""))
        if not cid:
            return False
        try:
            self.client.api.inspect_container(cid)
        except (DriverError, *_DOCKER_ERRORS):
            return False
        with self._lock:
            following = cid in self._log_threads
        if not following:
            stdout = str(handle.state.get("stdout_path", ""))
            stderr = str(handle.state.get("stderr_path", ""))
            self._follow_logs(cid, stdout, stderr, resume=True)
        return True

    def stats(self, handle: TaskHandle) -> dict[str, Any]:
        """Same keys as raw_exec: rss_bytes, cpu_user_s, cpu_system_s, cpu_percent, pids."""
        cid = _cid(handle)
        try:
            try:
                raw = self.client.api.stats(cid, stream=False, one_shot=True)
            except docker.errors.InvalidVersion:
                raw = self.client.api.stats(cid, stream=False)
        except _DOCKER_ERRORS as e:
            raise DriverError(f"docker: stats for {cid[:12]} failed: {e}") from e
        mem = raw.get("memory_stats") or {}
        mem_stats = mem.get("stats") or {}
        rss = mem_stats.get("total_rss", mem_stats.get("rss", mem_stats.get("anon", 0)))
        usage = (raw.get("cpu_stats") or {}).get("cpu_usage") or {}
        user = usage.get("usage_in_usermode", 0) / 1e9
        system = usage.get("usage_in_kernelmode", 0) / 1e9
        total = usage.get("total_usage", 0) / 1e9
        now = time.monotonic()
        with self._lock:
            prev = self._cpu_prev.get(cid)
            self._cpu_prev[cid] = (total, now)
        percent = 0.0
        if prev is not None and now > prev[1]:
            percent = max(0.0, (total - prev[0]) / (now - prev[1]) * 100.0)
        return {
            "rss_bytes": int(rss),
            "cpu_user_s": user,
            "cpu_system_s": system,
            "cpu_percent": percent,
            "pids": int((raw.get("pids_stats") or {}).get("current", 0)),
        }

    # -- internals ----------------------------------------------------------

    def _ensure_image(self, image: str, force_pull: bool) -> None:
        if not force_pull:
            try:
                self.client.api.inspect_image(image)
                return
            except docker.errors.ImageNotFound:
                pass
            except _DOCKER_ERRORS as e:
                raise DriverError(f"Failed to inspect image `{image}`: {_reason(e)}") from e
        repo, tag = _split_image(image)
        try:
            self.client.api.pull(repo, tag=tag)
        except _DOCKER_ERRORS as e:
            raise DriverError(f"Failed to pull `{image}`: {_reason(e)}") from e
        try:  # the pull stream can end "successfully" with an error message
            self.client.api.inspect_image(image)
        except _DOCKER_ERRORS as e:
            raise DriverError(f"Failed to pull `{image}`: {_reason(e)}") from e

    def _create(self, kwargs: dict[str, Any]) -> Any:
        try:
            return self.client.containers.create(**kwargs)
        except docker.errors.APIError as e:
            if e.status_code != 409:
                raise DriverError(f"Failed to create container: {_reason(e)}") from e
        except _DOCKER_ERRORS as e:
            raise DriverError(f"Failed to create container: {_reason(e)}") from e
        # A container of that name is left over from an earlier attempt.
        try:
            self.client.api.remove_container(kwargs["name"], force=True)
            return self.client.containers.create(**kwargs)
        except _DOCKER_ERRORS as e:
            raise DriverError(f"Failed to create container: {_reason(e)}") from e

    def _state(self, cid: str) -> dict[str, Any]:
        try:
            state: dict[str, Any] = self.client.api.inspect_container(cid)["State"]
        except docker.errors.NotFound:
            raise
        except _DOCKER_ERRORS as e:
            raise DriverError(f"docker: inspect {cid[:12]} failed: {e}") from e
        return state

    def _exit_result(self, cid: str) -> ExitResult:
        try:
            return _exit_from_state(self._state(cid))
        except docker.errors.NotFound:
            return ExitResult(exit_code=-1, err=f"container {cid[:12]} no longer exists")

    def _follow_logs(self, cid: str, stdout: str, stderr: str, resume: bool) -> None:
        threads = []
        for path, is_stdout in ((stdout, True), (stderr, False)):
            if not path:
                continue
            thread = threading.Thread(
                target=self._copy_logs,
                args=(cid, path, is_stdout, _resume_point(path) if resume else None),
                name=f"docker-logs-{cid[:12]}-{'out' if is_stdout else 'err'}",
                daemon=True,
            )
            thread.start()
            threads.append(thread)
        with self._lock:
            self._log_threads[cid] = threads

    def _copy_logs(self, cid: str, path: str, is_stdout: bool, since: float | None) -> None:
        """Append one of the container's streams to `path` until it exits.
        A dropped stream of a still-running container is re-opened."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "ab") as out:
            while not self._closing.is_set():
                stream = None
                try:
                    stream = self.client.api.logs(
                        cid,
                        stdout=is_stdout,
                        stderr=not is_stdout,
                        stream=True,
                        follow=True,
                        since=since,
                    )
                    with self._lock:
                        self._streams.add(stream)
                    for chunk in stream:
                        out.write(chunk)
                        out.flush()
                    since = time.time()
                    if self._closing.is_set() or not self._state(cid).get("Running"):
                        return
                except Exception as e:  # loop boundary: never kill the client
                    log.debug("log copy for container %s ended: %s", cid[:12], e)
                    return
                finally:
                    if stream is not None:
                        with self._lock:
                            self._streams.discard(stream)
                        with contextlib.suppress(Exception):
                            stream.close()

    def _join_logs(self, cid: str, timeout: float) -> None:
        with self._lock:
            threads = list(self._log_threads.get(cid, ()))
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _bridge_ip(self) -> str:
        try:
            attrs = self.client.api.inspect_network("bridge")
        except (DriverError, *_DOCKER_ERRORS):
            return ""
        for conf in (attrs.get("IPAM") or {}).get("Config") or []:
            if conf.get("Gateway"):
                return str(conf["Gateway"])
        ifname = (attrs.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
        for addr in psutil.net_if_addrs().get(ifname, []):
            if addr.family.name == "AF_INET":
                return str(addr.address)
        return ""


# -- config translation (pure) ------------------------------------------------


def container_options(cfg: TaskConfig, publish_ip: str = "") -> dict[str, Any]:
    """docker SDK `containers.create` keyword arguments for this task."""
    conf = cfg.config
    kwargs: dict[str, Any] = {
        "image": str(conf["image"]),
        "name": f"{cfg.task_name}-{cfg.alloc_id}",
        "detach": True,
        "environment": dict(cfg.env),
        "labels": {
            **_merge_maps(conf.get("labels"), "labels"),
            LABEL_ALLOC_ID: cfg.alloc_id,
            LABEL_TASK_NAME: cfg.task_name,
            LABEL_JOB_ID: cfg.job_id,
        },
        "stop_signal": _signal_name(cfg.kill_signal or "SIGTERM"),
    }
    command = conf.get("command")
    args = [str(a) for a in conf.get("args") or []]
    if command:
        kwargs["command"] = [str(command), *args]
    elif args:
        kwargs["command"] = args
    entrypoint = conf.get("entrypoint")
    if entrypoint:
        kwargs["entrypoint"] = [str(e) for e in entrypoint]
    if conf.get("work_dir"):
        kwargs["working_dir"] = str(conf["work_dir"])
    if cfg.user:
        kwargs["user"] = cfg.user
    network_mode = str(conf.get("network_mode") or "")
    if network_mode:
        kwargs["network_mode"] = network_mode
    if network_mode != "host" and not network_mode.startswith("container:"):
        ports = published_ports(conf, cfg.ports, publish_ip)
        if ports:
            kwargs["ports"] = ports
    volumes = _volumes(cfg)
    if volumes:
        kwargs["volumes"] = volumes
    limit_mb = cfg.memory_max_mb or cfg.memory_mb
    if limit_mb > 0:
        kwargs["mem_limit"] = limit_mb * 1024 * 1024
        if cfg.memory_max_mb and cfg.memory_mb and cfg.memory_max_mb > cfg.memory_mb:
            kwargs["mem_reservation"] = cfg.memory_mb * 1024 * 1024
    if cfg.cpu_mhz > 0:
        kwargs["cpu_shares"] = max(2, cfg.cpu_mhz)  # the engine's minimum is 2
    return kwargs


def published_ports(
    conf: dict[str, Any], allocated: list[AllocatedPortMapping], publish_ip: str = ""
) -> dict[str, list[tuple[str, int]]]:
    """`{"<container port>/tcp": [(host ip, host port), ...]}` for every port
    label the task names in `ports` (modern) or `port_map` (legacy)."""
    port_map = {k: int(v) for k, v in _merge_maps(conf.get("port_map"), "port_map").items()}
    labels = [str(label) for label in conf.get("ports") or []]
    by_label = {pm.label: pm for pm in allocated}
    for label in [*labels, *port_map]:
        if label not in by_label:
            raise DriverError(f'Port "{label}" not found, check network block', False)
    published: dict[str, list[tuple[str, int]]] = {}
    for label in dict.fromkeys([*labels, *port_map]):
        pm = by_label[label]
        container_port = port_map.get(label) or (pm.to if pm.to > 0 else pm.value)
        host_ip = publish_ip or pm.host_ip or "127.0.0.1"
        published.setdefault(f"{container_port}/tcp", []).append((host_ip, pm.value))
    return published


def _volumes(cfg: TaskConfig) -> list[str]:
    """`host:container[:mode]` binds: the alloc / task dirs Nomad mounts for
    every task (when they exist), then `volumes` (relative to the task dir)."""
    binds: list[str] = []
    dirs = [(cfg.alloc_dir, "/alloc")]
    if cfg.task_dir:
        dirs += [
            (os.path.join(cfg.task_dir, "local"), "/local"),
            (os.path.join(cfg.task_dir, "secrets"), "/secrets"),
        ]
    binds += [f"{host}:{target}" for host, target in dirs if host and os.path.isdir(host)]
    for spec in cfg.config.get("volumes") or []:
        parts = str(spec).split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise DriverError(f"invalid volume {spec!r}: want host:container[:ro]", False)
        if not os.path.isabs(parts[0]) and cfg.task_dir:
            parts[0] = os.path.join(cfg.task_dir, parts[0])
        binds.append(":".join(parts))
    return binds


def _merge_maps(value: Any, key: str) -> dict[str, Any]:
    """A map, or the HCL-style list of maps (`[{"a": 1}, {"b": 2}]`), as one map."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return {str(k): v for m in value for k, v in m.items()}
    raise DriverError(f"docker: `{key}` must be a map or a list of maps", recoverable=False)


def _split_image(image: str) -> tuple[str, str]:
    """`host:5000/repo:tag` -> (`host:5000/repo`, `tag`); no tag -> `latest`."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"


def _signal_name(name: str) -> str:
    return Signals(signal_number(name)).name


def _exit_from_state(state: dict[str, Any]) -> ExitResult:
    return ExitResult(
        exit_code=int(state.get("ExitCode", 0)),
        oom_killed=bool(state.get("OOMKilled", False)),
        err=str(state.get("Error", "") or ""),
    )


def _cid(handle: TaskHandle) -> str:
    cid = handle.state.get("container_id")
    if not cid:
        raise DriverError(f"docker: handle of task {handle.task_name} has no container id")
    return str(cid)


def _resume_point(path: str) -> float | None:
    """Where a recovered log copy resumes: after the last write to a non-empty
    log file (an earlier client copied up to there), else from the start."""
    try:
        return os.path.getmtime(path) if os.path.getsize(path) > 0 else None
    except OSError:
        return None


def _reason(e: BaseException) -> str:
    explanation = getattr(e, "explanation", None)
    return str(explanation or e)
