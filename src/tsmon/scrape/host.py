"""This machine's CPU, memory, load, filesystems, disks and network, named as node_exporter names them."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import psutil

from tsmon.scrape.config import HOST_JOB

Sample = tuple[str, dict[str, str], float]

# Pseudo and container filesystems say nothing about the host's disks.
_SKIP_FSTYPES = {"tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs", "cgroup", "cgroup2", "nsfs"}


def host_name() -> str:
    return socket.gethostname()


def _cpu() -> Iterator[Sample]:
    for cpu, times in enumerate(psutil.cpu_times(percpu=True)):
        for mode, seconds in times._asdict().items():
            if mode in {"guest", "guest_nice"}:  # already counted in user/nice
                continue
            yield "node_cpu_seconds_total", {"cpu": str(cpu), "mode": mode}, float(seconds)
    load1, load5, load15 = os.getloadavg()
    yield "node_load1", {}, load1
    yield "node_load5", {}, load5
    yield "node_load15", {}, load15


def _memory() -> Iterator[Sample]:
    vm = psutil.virtual_memory()
    yield "node_memory_MemTotal_bytes", {}, float(vm.total)
    yield "node_memory_MemAvailable_bytes", {}, float(vm.available)
    yield "node_memory_MemFree_bytes", {}, float(vm.free)
    for name in ("buffers", "cached"):
        if hasattr(vm, name):
            yield f"node_memory_{name.capitalize()}_bytes", {}, float(getattr(vm, name))
    swap = psutil.swap_memory()
    yield "node_memory_SwapTotal_bytes", {}, float(swap.total)
    yield "node_memory_SwapFree_bytes", {}, float(swap.free)


def _filesystems() -> Iterator[Sample]:
    for part in psutil.disk_partitions(all=False):
        if part.fstype in _SKIP_FSTYPES:
            continue
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:  # unmounted or unreadable since listed
            continue
        labels = {"mountpoint": part.mountpoint, "fstype": part.fstype, "device": part.device}
        yield "node_filesystem_size_bytes", labels, float(usage.total)
        yield "node_filesystem_avail_bytes", labels, float(usage.free)
        yield "node_filesystem_used_bytes", labels, float(usage.used)


def _disks() -> Iterator[Sample]:
    for device, io in (psutil.disk_io_counters(perdisk=True) or {}).items():
        labels = {"device": device}
        yield "node_disk_read_bytes_total", labels, float(io.read_bytes)
        yield "node_disk_written_bytes_total", labels, float(io.write_bytes)
        yield "node_disk_reads_completed_total", labels, float(io.read_count)
        yield "node_disk_writes_completed_total", labels, float(io.write_count)


def _network() -> Iterator[Sample]:
    for device, io in psutil.net_io_counters(pernic=True).items():
        labels = {"device": device}
        yield "node_network_receive_bytes_total", labels, float(io.bytes_recv)
        yield "node_network_transmit_bytes_total", labels, float(io.bytes_sent)
        yield "node_network_receive_packets_total", labels, float(io.packets_recv)
        yield "node_network_transmit_packets_total", labels, float(io.packets_sent)
        yield "node_network_receive_errs_total", labels, float(io.errin)
        yield "node_network_transmit_errs_total", labels, float(io.errout)


def collect_host_samples(instance: str) -> list[Sample]:
    """One reading of every host metric, each labelled job="tsmon_host" and instance=<host>.

    Not job="node": a real node_exporter for the same host (scraped, or sent by Prometheus) keeps
    series of its own (README, "Series identity").
    """
    base = {"job": HOST_JOB, "instance": instance}
    out: list[Sample] = []
    for collect in (_cpu, _memory, _filesystems, _disks, _network):
        # An empty value is an absent label, as Prometheus has it (a device or fstype psutil cannot name).
        for name, labels, value in collect():
            out.append((name, {k: v for k, v in {**base, **labels}.items() if v}, value))
    out.append(("node_boot_time_seconds", base, float(psutil.boot_time())))
    return out
