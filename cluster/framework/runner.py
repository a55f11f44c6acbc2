"""One engine thread per Mesos cluster, started, updated and stopped as the configuration
of environments changes. The management command owns the leader lease; this owns threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cluster.framework.config import ClusterConfig, EngineOptions
from cluster.framework.engine import ClusterEngine
from cluster.framework.storage import EngineStore

logger = logging.getLogger(__name__)


@dataclass
class _Running:
    engine: ClusterEngine
    thread: threading.Thread
    stop: threading.Event


class Supervisor:
    def __init__(
        self,
        store_factory: Callable[[], EngineStore],
        options: EngineOptions,
        *,
        thread_exit: Callable[[], None] = lambda: None,
    ) -> None:
        self.store_factory = store_factory
        self.options = options
        # Called at the end of each engine thread: the thread's database connection
        # is its own and must be closed by it.
        self.thread_exit = thread_exit
        self.running: dict[str, _Running] = {}

    def sync(self, configs: Sequence[ClusterConfig]) -> bool:
        """Make the threads match `configs`; True when anything changed."""
        wanted = {config.key: config for config in configs}
        changed = False
        for key in [k for k in self.running if k not in wanted]:
            logger.info("No environment uses %s any more; leaving it", key)
            self._stop(key)
            changed = True
        for key, config in wanted.items():
            current = self.running.get(key)
            if current is not None and not current.thread.is_alive():
                logger.error("The engine thread of %s ended; starting it again", key)
                self._stop(key)
                current = None
            if current is not None and not current.engine.config.same_connection(config):
                logger.info("Masters or credentials of %s changed; subscribing again", key)
                self._stop(key)
                current = None
            if current is None:
                self._start(config)
                changed = True
            elif current.engine.config.roles != config.roles:
                current.engine.new_config = config
                changed = True
        return changed

    def _start(self, config: ClusterConfig) -> None:
        engine = ClusterEngine(config, self.store_factory(), self.options)
        stop = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(engine, stop), name=f"engine {config.key}", daemon=True
        )
        self.running[config.key] = _Running(engine, thread, stop)
        thread.start()

    def _run(self, engine: ClusterEngine, stop: threading.Event) -> None:
        try:
            engine.run(stop)
        finally:
            self.thread_exit()

    def _stop(self, key: str, timeout: float = 15.0) -> None:
        running = self.running.pop(key)
        running.stop.set()
        # Closing the connection wakes a thread blocked on the stream or in a backoff; the
        # nudge one idle in its wait with no stream to close (however long its poll).
        running.engine.conn.close()
        running.engine.nudge()
        running.thread.join(timeout)
        if running.thread.is_alive():
            logger.error("The engine of %s did not stop within %.0f s", key, timeout)

    def stop_all(self) -> None:
        for running in self.running.values():
            running.stop.set()
        for key in list(self.running):
            self._stop(key)

    def nudge(self, key: str | None) -> None:
        """From any thread (the nudge listener's): wake the engine of cluster `key`, or
        every engine for None. A key with no engine here (a standby) is ignored."""
        # dict.get and list(values()) are single steps under the GIL, so the listener
        # thread can read `running` while sync() changes it on the main thread.
        if key is None:
            targets = list(self.running.values())
        else:
            found = self.running.get(key)
            targets = [found] if found is not None else []
        for running in targets:
            running.engine.nudge()

    def engines(self) -> list[ClusterEngine]:
        return [running.engine for running in self.running.values()]
