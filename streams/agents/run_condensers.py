"""run_condensers: the log and span condensing loops (streams/condense) in threads of the worker, so that
one `aiops worker` runs the whole pipeline. At volume, run `aiops condense logs|spans` as processes of their
own instead and set AIOPS_CONDENSE_IN_WORKER=false."""

from __future__ import annotations

import asyncio
import logging
import threading

import faust

from aiops.core.topics import create_topics
from streams.app import StreamContext
from streams.condense.process import CondenseError
from streams.condense.stages import STAGES, build_loop

log = logging.getLogger(__name__)
RESTART_DELAY_S = 2.0


def register(app: faust.App, ctx: StreamContext) -> None:
    settings = ctx.settings
    if settings.canonical_lines == "all" or not settings.condense_in_worker:  # only at line rate (off)
        return
    stop = threading.Event()

    def run(stage: str) -> None:
        # A loop that stops on a failed flush starts over from the last commit (that is what keeps counts exact).
        while not stop.is_set():
            try:
                build_loop(stage, settings).run(stop)
            except CondenseError as exc:
                log.warning("%s condenser restarts after: %s", stage, exc)
                stop.wait(RESTART_DELAY_S)

    @app.task
    async def start_condensers() -> None:
        await asyncio.to_thread(create_topics, settings)
        for stage in STAGES:
            threading.Thread(target=run, args=(stage,), name=f"condense-{stage}", daemon=True).start()

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def stop_condensers(sender: faust.App, **_: object) -> None:
        stop.set()
