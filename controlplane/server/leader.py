"""Leadership: starts the leader-only loops on gaining leadership, stops them on losing it.

Loops: eval broker (re-filled from pending evaluations in state), blocked
evaluations (re-read from state), scheduler workers, heartbeat timers (with
a failover grace). Followers run none of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class LeadershipMonitor:
    def __init__(
        self,
        is_leader: Callable[[], bool],
        on_gain: Callable[[], None],
        on_loss: Callable[[], None],
        period_s: float = 0.05,
    ) -> None:
        self._is_leader = is_leader
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leadership", daemon=True)
        self.leader = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.leader:
            self.leader = False
            self._on_loss()

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            now_leader = self._is_leader()
            if now_leader == self.leader:
                continue
            self.leader = now_leader
            try:
                if now_leader:
                    log.info("cluster leadership acquired")
                    self._on_gain()
                else:
                    log.info("cluster leadership lost")
                    self._on_loss()
            except Exception:
                log.exception("leadership transition failed")
