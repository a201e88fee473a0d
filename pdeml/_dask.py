"""Talking to a ``dask.distributed`` scheduler: check its address, connect within a time
limit, and close quietly. Shared by the validation runner and cluster generation; imports
Dask only when called, so that ``import pdeml`` stays light."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

#: Seconds to wait for a Dask scheduler to answer before giving up (``scheduler=``).
SCHEDULER_TIMEOUT = 10.0
#: Seconds to wait for the client and the local cluster to close.
CLOSE_TIMEOUT = 20.0


def check_scheduler(scheduler: Any) -> str | None:
    """Check the form of a Dask scheduler address such as ``tcp://host:8786``.

    Raises ``TypeError`` / ``ValueError`` naming ``scheduler``; whether a scheduler answers
    there is checked when connecting (:func:`connect`).
    """
    if scheduler is None:
        return None
    if not isinstance(scheduler, str):
        raise TypeError(
            f"scheduler: expected an address such as 'tcp://host:8786', "
            f"got {scheduler!r} ({type(scheduler).__name__})"
        )
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    address = scheduler.strip()
    expected = "expected an address such as 'tcp://host:8786'"
    if not address or any(c.isspace() for c in address):
        raise ValueError(f"scheduler: {expected}, got {scheduler!r}")
    try:
        protocol, location = parse_address(address)
    except ValueError as error:
        raise ValueError(f"scheduler: {expected}, got {scheduler!r} ({error})") from None
    if protocol not in backends:
        raise ValueError(
            f"scheduler {scheduler!r}: unknown protocol {protocol!r}; "
            f"expected one of {sorted(backends)}"
        )
    if protocol != "inproc":
        try:
            host, port = parse_host_port(location)
        except ValueError as error:
            raise ValueError(f"scheduler: {expected}, got {scheduler!r} ({error})") from None
        if not host or not 0 < int(port) < 65536:
            raise ValueError(
                f"scheduler: {expected} (a host and a port 1-65535), got {scheduler!r}"
            )
    return address


def connect(scheduler: str, timeout: float | None = None, *, set_as_default: bool = True) -> Any:
    """A client of the scheduler at ``scheduler``, or ``ValueError`` after a short wait.

    ``timeout`` defaults to :data:`SCHEDULER_TIMEOUT`; distributed's own default waits 30 s.
    ``set_as_default=False`` leaves the caller's default Dask client (if any) in place.
    """
    from dask.distributed import Client

    timeout = SCHEDULER_TIMEOUT if timeout is None else timeout
    try:
        with quiet_distributed():  # the failed attempts are logged one by one
            return Client(scheduler, timeout=timeout, set_as_default=set_as_default)
    except (OSError, TimeoutError) as error:
        raise ValueError(
            f"scheduler {scheduler!r}: no Dask scheduler answered within "
            f"{timeout:g} s ({error}); start one with `dask scheduler` "
            "or leave --scheduler out to use local workers"
        ) from None


#: Loggers silenced while a cluster closes (tornado and asyncio run distributed's comms).
_DISTRIBUTED_LOGGERS = ("distributed", "tornado", "asyncio")


def _distributed_loggers() -> list[logging.Logger]:
    prefixes = tuple(name + "." for name in _DISTRIBUTED_LOGGERS)
    return [logging.getLogger(name) for name in _DISTRIBUTED_LOGGERS] + [
        logger
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if name.startswith(prefixes) and isinstance(logger, logging.Logger)
    ]


@contextlib.contextmanager
def quiet_distributed() -> Iterator[None]:
    """Silence the loggers of distributed (and of tornado / asyncio under it) for a while.

    Closing a cluster makes workers, nannies and the scheduler log what they lose on the
    way (heartbeats that find no scheduler, workers killed after the grace time); on a
    successful run that is noise that looks like a failure.
    """
    saved = [(logger, logger.level) for logger in _distributed_loggers()]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _silence_worker_logs() -> None:
    """Run on each worker just before the cluster closes (see :func:`quiet_distributed`)."""
    for logger in _distributed_loggers():
        logger.setLevel(logging.CRITICAL + 1)


def close_quietly(client: Any, cluster: Any) -> None:
    """Close the client, then the cluster it talks to, quietly and within timeouts."""
    with quiet_distributed():
        if cluster is not None:
            try:  # the workers are children of this process and log on its stderr
                client.run(_silence_worker_logs)
            except Exception:  # best effort: a dead worker must not block the close
                pass
        try:
            client.close(timeout=CLOSE_TIMEOUT)
        finally:
            if cluster is not None:
                cluster.close(timeout=CLOSE_TIMEOUT)
