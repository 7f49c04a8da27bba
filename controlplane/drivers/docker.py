"""docker driver: runs a task as a container on the local Docker engine.

Owns the container's lifecycle (image pull or load, create, start, wait,
stop, signal, remove), reattaching to it after a client restart, its stats,
and the driver's fingerprint. What the task's `config` block means is
docker_config.py's and docker_options.py's; copying the container's output into the task's log
files is docker_logs.py's. Never talks to the servers.

Pulls an image only when it is not present locally (or `force_pull` is set).

Handle state: {"container_id", "image", "stop_signal", "tty", "stdout_path",
"stderr_path", "logs_max_files", "logs_max_file_size_mb"}.
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
    driver_message,
)
from controlplane.drivers.docker_config import config_flag, pull_auth, split_image
from controlplane.drivers.docker_logs import LogFollower
from controlplane.drivers.docker_options import LABEL_ALLOC_ID, DockerOptions, container_options
from controlplane.drivers.raw_exec import signal_number

log = logging.getLogger(__name__)

__all__ = ["LABEL_ALLOC_ID", "DockerDriver", "DockerOptions"]

HEALTHY = "Healthy"
# Nomad's words when the engine does not answer a fingerprint
UNREACHABLE = "Failed to connect to docker daemon"

_LOG_JOIN_S = 5.0  # how long wait() lets the log copiers drain after exit
_DOCKER_ERRORS = (docker.errors.DockerException, requests.RequestException)


class DockerDriver:
    """Containers on one engine. Connects lazily; thread-safe."""

    name = "docker"

    def __init__(
        self, client: docker.DockerClient | None = None, options: DockerOptions | None = None
    ) -> None:
        self._client = client
        self._owns_client = client is None
        self.options = options or DockerOptions()
        self._lock = threading.Lock()
        self._followers: dict[str, list[LogFollower]] = {}
        self._cpu_prev: dict[str, tuple[float, float]] = {}
        # Nomad reports an engine that stops answering as unhealthy, and
        # one that never answered as undetected.
        self._detected = False

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
        with self._lock:
            followers = [f for fs in self._followers.values() for f in fs]
            self._followers.clear()
        for follower in followers:
            follower.close()
        for follower in followers:
            follower.join(_LOG_JOIN_S)
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()

    # -- protocol -----------------------------------------------------------

    def fingerprint(self) -> Fingerprint:
        try:
            version = self.client.version()
        except (DriverError, *_DOCKER_ERRORS) as e:
            log.debug("docker engine unreachable: %s", e)
            return Fingerprint(
                detected=self._detected, healthy=False, health_description=UNREACHABLE
            )
        self._detected = True
        attributes = {
            "driver.docker": "1",
            "driver.docker.version": str(version.get("Version", "")),
        }
        bridge_ip = self._bridge_ip()
        if bridge_ip:
            attributes["driver.docker.bridge_ip"] = bridge_ip
        with contextlib.suppress(*_DOCKER_ERRORS):
            info = self.client.info()
            attributes["driver.docker.runtimes"] = ",".join(sorted(info.get("Runtimes") or {}))
            attributes["driver.docker.os_type"] = str(info.get("OSType", ""))
        if self.options.volumes_enabled:
            attributes["driver.docker.volumes.enabled"] = "true"
        if self.options.allow_privileged:
            attributes["driver.docker.privileged.enabled"] = "true"
        return Fingerprint(
            detected=True, healthy=True, health_description=HEALTHY, attributes=attributes
        )

    def start(self, cfg: TaskConfig) -> TaskHandle:
        kwargs = container_options(cfg, self.options)  # config errors before any pull
        image = str(kwargs["image"])
        if cfg.config.get("load"):
            self._load_image(cfg, image)
        self._ensure_image(image, config_flag(cfg.config, "force_pull"), cfg.config)
        container = self._create(kwargs)
        try:
            container.start()
        except _DOCKER_ERRORS as e:
            with contextlib.suppress(*_DOCKER_ERRORS):
                container.remove(force=True)
            raise DriverError(f"Failed to start container {container.id}: {_reason(e)}") from e
        assert container.id is not None
        handle = TaskHandle(
            driver=self.name,
            alloc_id=cfg.alloc_id,
            task_name=cfg.task_name,
            started_at=time.time_ns(),
            state={
                "container_id": container.id,
                "image": image,
                "stop_signal": kwargs["stop_signal"],
                "tty": bool(kwargs.get("tty", False)),
                "stdout_path": cfg.stdout_path,
                "stderr_path": cfg.stderr_path,
                "logs_max_files": cfg.logs_max_files,
                "logs_max_file_size_mb": cfg.logs_max_file_size_mb,
            },
        )
        self._follow_logs(handle, resume=False)
        return handle

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
            # v: anonymous volumes go with the container, as in Nomad
            self.client.api.remove_container(cid, v=True, force=True)
        except docker.errors.NotFound:
            pass
        except _DOCKER_ERRORS as e:
            raise DriverError(f"docker: remove {cid[:12]} failed: {_reason(e)}") from e
        self._join_logs(cid, _LOG_JOIN_S)
        with self._lock:
            self._followers.pop(cid, None)
            self._cpu_prev.pop(cid, None)

    def exec_task(self, handle: TaskHandle, argv: list[str], timeout: float) -> tuple[bytes, int]:
        """`docker exec` in the task's container (script checks); TimeoutError
        after `timeout` (the exec itself is left to finish)."""
        cid = _cid(handle)
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                exec_id = self.client.api.exec_create(cid, argv, stdout=True, stderr=True)["Id"]
                result["output"] = self.client.api.exec_start(exec_id)
                result["code"] = self.client.api.exec_inspect(exec_id).get("ExitCode")
            except Exception as e:
                result["error"] = e

        worker = threading.Thread(target=run, name=f"docker-exec-{cid[:8]}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise TimeoutError(f"exec timed out after {timeout:g}s")
        if "error" in result:
            raise DriverError(f"docker: exec in {cid[:12]} failed: {_reason(result['error'])}")
        code = result.get("code")
        return bytes(result.get("output") or b""), int(code) if code is not None else -1

    def task_ip(self, handle: TaskHandle) -> str:
        """The container's IP on its network (`address_mode = "driver"`)."""
        try:
            info = self.client.api.inspect_container(_cid(handle))
        except _DOCKER_ERRORS:
            return ""
        settings = info.get("NetworkSettings") or {}
        if settings.get("IPAddress"):
            return str(settings["IPAddress"])
        for net in (settings.get("Networks") or {}).values():
            if net.get("IPAddress"):
                return str(net["IPAddress"])
        return ""

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
        """Reattach to the container by id and resume copying its logs where
        the earlier client stopped (docker_logs.py keeps the position)."""
        cid = str(handle.state.get("container_id", ""))
        if not cid:
            return False
        try:
            self.client.api.inspect_container(cid)
        except (DriverError, *_DOCKER_ERRORS):
            return False
        with self._lock:
            following = cid in self._followers
        if not following:
            self._follow_logs(handle, resume=True)
        return True

    def stats(self, handle: TaskHandle) -> dict[str, Any]:
        """raw_exec's keys (rss_bytes, cpu_user_s, cpu_system_s, cpu_percent,
        pids) plus the container cgroup's memory_bytes (usage) and
        max_memory_bytes (peak), as Nomad's docker stats report them."""
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
            "memory_bytes": int(mem.get("usage", 0)),
            "max_memory_bytes": int(mem.get("max_usage", 0)),
            "cpu_user_s": user,
            "cpu_system_s": system,
            "cpu_percent": percent,
            "pids": int((raw.get("pids_stats") or {}).get("current", 0)),
        }

    # -- internals ----------------------------------------------------------

    def _ensure_image(self, image: str, force_pull: bool, conf: dict[str, Any]) -> None:
        if not force_pull:
            try:
                self.client.api.inspect_image(image)
                return
            except docker.errors.ImageNotFound:
                pass
            except _DOCKER_ERRORS as e:
                raise DriverError(f"Failed to inspect image `{image}`: {_reason(e)}") from e
        repo, tag = split_image(image)
        driver_message("Downloading image")
        try:
            self.client.api.pull(repo, tag=tag, auth_config=pull_auth(conf))
        except _DOCKER_ERRORS as e:
            raise DriverError(f"Failed to pull `{image}`: {_reason(e)}") from e
        try:  # the pull stream can end "successfully" with an error message
            self.client.api.inspect_image(image)
        except _DOCKER_ERRORS as e:
            raise DriverError(f"Failed to pull `{image}`: {_reason(e)}") from e

    def _load_image(self, cfg: TaskConfig, image: str) -> None:
        """`load = "image.tar"`: an archive in the task's local dir, as Nomad."""
        archive = os.path.join(cfg.task_dir, "local", str(cfg.config["load"]))
        try:
            with open(archive, "rb") as f:
                for _ in self.client.api.load_image(f):
                    pass
        except OSError as e:
            raise DriverError(f"unable to open image archive: {e}", recoverable=False) from e
        except _DOCKER_ERRORS as e:
            raise DriverError(f"Failed to load image `{image}`: {_reason(e)}") from e

    def _create(self, kwargs: dict[str, Any]) -> Any:
        try:
            return self.client.containers.create(**kwargs)
        except docker.errors.APIError as e:
            if e.status_code != 409:
                raise DriverError(f"failed to create container: {_reason(e)}") from e
        except _DOCKER_ERRORS as e:
            raise DriverError(f"failed to create container: {_reason(e)}") from e
        # A container of that name is left over from an earlier attempt.
        try:
            self.client.api.remove_container(kwargs["name"], force=True)
            return self.client.containers.create(**kwargs)
        except _DOCKER_ERRORS as e:
            raise DriverError(f"failed to create container: {_reason(e)}") from e

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

    def _follow_logs(self, handle: TaskHandle, resume: bool) -> None:
        cid = _cid(handle)
        state = handle.state
        followers = []
        for key, stdout in (("stdout_path", True), ("stderr_path", False)):
            path = str(state.get(key) or "")
            if not path:
                continue
            follower = LogFollower(
                self.client.api,
                cid,
                path,
                stdout=stdout,
                max_files=int(state.get("logs_max_files", 10)),
                max_file_size_mb=int(state.get("logs_max_file_size_mb", 10)),
                resume=resume,
                tty=bool(state.get("tty", False)),
            )
            follower.start()
            followers.append(follower)
        with self._lock:
            self._followers[cid] = followers

    def _join_logs(self, cid: str, timeout: float) -> None:
        with self._lock:
            followers = list(self._followers.get(cid, ()))
        deadline = time.monotonic() + timeout
        for follower in followers:
            follower.join(max(0.0, deadline - time.monotonic()))

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


def _reason(e: BaseException) -> str:
    explanation = getattr(e, "explanation", None)
    return str(explanation or e)
