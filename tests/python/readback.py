#!/usr/bin/env python3
"""Read a laminar output directory back with h5py and libsonata and check that it is consistent.

Usage: readback.py DIR

Opens DIR/manifest.json, DIR/spikes.h5, every frame report and the weights file listed in the
manifest, and checks, independently with h5py (the raw HDF5 layout) and libsonata (the strictest
SONATA reader), that:

* the files have the layout of FORMAT.md (repository root) (root @magic/@version, the @sorting enum,
  variable-length UTF-8 @units, index_pointers with N+1 entries and its hard link
  index_pointer, element_pos, float32 uncompressed data, ...);
* h5py and libsonata return the same node ids, spikes, frames, times and units;
* both agree with the manifest (populations and sizes, units, sampling interval, duration);
* a `by_time` sorting claim is true (libsonata binary-searches on it);
* libsonata and bmtk (whose formula is replayed here) count the same number of frames, equal
  to the rows of `data`;
* the manifest's `segments` (the processes that wrote a resumed run; absent in older manifests)
  have their fields and agree with the outcome.

If bmtk is importable, its readers are checked too. Exits 0 when every check passes, 1 with one
line per failure otherwise, 2 on bad usage and 3 when a required Python module is missing.
"""

import json
import math
import os
import sys

try:
    import h5py
    import libsonata
    import numpy as np
except ImportError as error:  # pragma: no cover - depends on the environment
    print(
        f"readback.py: the Python module {error.name!r} is missing; "
        "install the readers with: pip install h5py libsonata numpy",
        file=sys.stderr,
    )
    sys.exit(3)

MAGIC = 0x0A7A
FORMAT_VERSION = [0, 1]
SORTING_MEMBERS = {"none": 0, "by_id": 1, "by_time": 2}
# libsonata's tolerance when it compares times (src/report_reader.cpp, EPSILON).
LIBSONATA_EPSILON = 1e-6


class Checks:
    """Collects failures instead of stopping at the first one, so a run reports all of them."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def expect(self, condition, message):
        self.count += 1
        if not condition:
            self.failures.append(message)
        return bool(condition)

    def fail(self, message):
        self.expect(False, message)


def attr_string(obj, name):
    """The value of a string attribute, and whether it is stored as variable-length UTF-8."""
    if name not in obj.attrs:
        return None, False
    info = h5py.check_string_dtype(obj.attrs.get_id(name).dtype)
    value = obj.attrs[name]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    is_vlen_utf8 = info is not None and info.encoding == "utf-8" and info.length is None
    return str(value), is_vlen_utf8


def check_units(checks, obj, expected, where):
    value, is_vlen_utf8 = attr_string(obj, "units")
    if not checks.expect(value is not None, f"{where}: missing @units"):
        return
    checks.expect(is_vlen_utf8, f"{where}/@units is not a variable-length UTF-8 string (libsonata requires one)")
    if expected is not None:
        checks.expect(value == expected, f"{where}/@units is {value!r}, expected {expected!r}")


def check_root(checks, h5, name):
    magic = h5.attrs.get("magic")
    checks.expect(magic is not None and int(magic) == MAGIC, f"{name}: root @magic is {magic!r}, expected {MAGIC:#x}")
    version = h5.attrs.get("version")
    checks.expect(
        version is not None and [int(v) for v in np.atleast_1d(version)] == FORMAT_VERSION,
        f"{name}: root @version is {version!r}, expected {FORMAT_VERSION}",
    )


def check_appendable(checks, dataset, dtype, where):
    """A streamed column: 1-D, of the given type, chunked, unlimited and unfiltered."""
    checks.expect(dataset.ndim == 1, f"{where} has {dataset.ndim} dimensions, expected 1")
    checks.expect(dataset.dtype == np.dtype(dtype), f"{where} has type {dataset.dtype}, expected {dtype}")
    checks.expect(dataset.chunks is not None, f"{where} is not chunked")
    checks.expect(dataset.maxshape == (None,), f"{where} has maxshape {dataset.maxshape}, expected (None,)")
    checks.expect(dataset.compression is None, f"{where} is compressed ({dataset.compression})")


def load_manifest(checks, directory):
    path = os.path.join(directory, "manifest.json")
    try:
        with open(path, encoding="utf-8") as stream:
            manifest = json.load(stream)
    except (OSError, ValueError) as error:
        checks.fail(f"manifest.json: cannot read it: {error}")
        return None

    required = {
        "format_version": list,
        "laminar_version": str,
        "model_path": str,
        "model_text": str,
        "seed": int,
        "resolution_ms": (int, float),
        "duration_ms": (int, float),
        "simulated_ms": (int, float),
        "completed": bool,
        "threads": int,
        "populations": list,
        "files": dict,
    }
    for key, kind in required.items():
        if not checks.expect(isinstance(manifest.get(key), kind), f"manifest.json: {key!r} is missing or has the wrong type"):
            return None
    checks.expect("stopped_early_reason" in manifest, "manifest.json: 'stopped_early_reason' is missing")
    checks.expect(manifest["format_version"] == FORMAT_VERSION, f"manifest.json: format_version {manifest['format_version']} != {FORMAT_VERSION}")
    checks.expect(manifest["resolution_ms"] > 0, "manifest.json: resolution_ms must be positive")
    checks.expect(0 <= manifest["simulated_ms"] <= manifest["duration_ms"] + manifest["resolution_ms"], "manifest.json: simulated_ms is outside [0, duration_ms]")
    if manifest["completed"]:
        checks.expect(manifest["stopped_early_reason"] is None, "manifest.json: completed run with a stopped_early_reason")
        checks.expect(
            abs(manifest["simulated_ms"] - manifest["duration_ms"]) <= manifest["resolution_ms"],
            f"manifest.json: completed, but simulated_ms {manifest['simulated_ms']} != duration_ms {manifest['duration_ms']}",
        )

    check_segments(checks, manifest)

    names = [population.get("name") for population in manifest["populations"]]
    checks.expect(len(set(names)) == len(names), f"manifest.json: duplicate population names {names}")
    for population in manifest["populations"]:
        for key in ("name", "model", "size", "first_gid"):
            checks.expect(key in population, f"manifest.json: population {population.get('name')!r} lacks {key!r}")
    return manifest


def check_segments(checks, manifest):
    """`segments`, an addition to format 0.1 (absent from older manifests and from runs written by
    one process): one entry per process that wrote the run, in order. `to_ms`, `ended` and
    `outcome` are null while a segment has neither written a checkpoint nor finished."""
    segments = manifest.get("segments", [])
    if not checks.expect(isinstance(segments, list), "manifest.json: 'segments' is not a list"):
        return
    fields = (
        ("from_ms", (int, float), False),
        ("to_ms", (int, float), True),
        ("threads", int, False),
        ("started", int, False),
        ("ended", int, True),
        ("outcome", str, True),
    )
    reached = None
    for index, segment in enumerate(segments):
        at = f"manifest.json: segments[{index}]"
        if not checks.expect(isinstance(segment, dict), f"{at} is not an object"):
            return
        for key, kind, nullable in fields:
            value = segment.get(key)
            valid = (isinstance(value, kind) and not isinstance(value, bool)) or (nullable and key in segment and value is None)
            if not checks.expect(valid, f"{at}: {key!r} is missing or has the wrong type ({value!r})"):
                return
        from_ms, to_ms = segment["from_ms"], segment["to_ms"]
        checks.expect(from_ms >= 0 and (to_ms is None or to_ms >= from_ms), f"{at}: from_ms {from_ms} and to_ms {to_ms} are not in order")
        if index > 0 and reached is not None:
            # A segment resumes from a checkpoint an earlier segment wrote.
            checks.expect(from_ms <= reached + manifest["resolution_ms"], f"{at}: starts at {from_ms} ms, after every earlier segment ended ({reached} ms)")
        if to_ms is not None:
            reached = to_ms if reached is None else max(reached, to_ms)
    if segments and (manifest["completed"] or manifest["stopped_early_reason"] is not None):
        last = segments[-1]
        outcome = "completed" if manifest["completed"] else manifest["stopped_early_reason"]
        checks.expect(last["outcome"] == outcome, f"manifest.json: the last segment's outcome {last['outcome']!r} is not the run's ({outcome!r})")
        checks.expect(
            last["to_ms"] is not None and math.isclose(last["to_ms"], manifest["simulated_ms"], abs_tol=1e-9),
            f"manifest.json: the last segment ends at {last['to_ms']} ms, the run at simulated_ms {manifest['simulated_ms']}",
        )


def time_bound(manifest):
    """Latest time a recorded event or frame may have, or None when the manifest was never
    finalised (a killed run: neither completed nor stopped with a reason)."""
    if manifest["completed"] or manifest["stopped_early_reason"] is not None:
        return manifest["simulated_ms"] + LIBSONATA_EPSILON
    return None


def check_spikes(checks, directory, manifest, file_name, sizes):
    path = os.path.join(directory, file_name)
    where = file_name
    bound = time_bound(manifest)
    from_h5py = {}
    with h5py.File(path, "r") as h5:
        check_root(checks, h5, where)
        if not checks.expect("spikes" in h5, f"{where}: no /spikes group"):
            return {}
        for name, group in h5["spikes"].items():
            at = f"{where}:/spikes/{name}"
            checks.expect(name in sizes, f"{at}: population {name!r} is not in the manifest")
            if not (checks.expect("timestamps" in group, f"{at}: no timestamps") and checks.expect("node_ids" in group, f"{at}: no node_ids")):
                continue
            check_appendable(checks, group["timestamps"], "float64", f"{at}/timestamps")
            check_appendable(checks, group["node_ids"], "uint64", f"{at}/node_ids")
            check_units(checks, group["timestamps"], "ms", f"{at}/timestamps")
            timestamps = group["timestamps"][()]
            node_ids = group["node_ids"][()]
            if not checks.expect(len(timestamps) == len(node_ids), f"{at}: {len(node_ids)} node ids but {len(timestamps)} timestamps"):
                continue

            sorting = None
            if checks.expect("sorting" in group.attrs, f"{at}: no @sorting"):
                attr_id = group.attrs.get_id("sorting")
                members = h5py.check_enum_dtype(attr_id.dtype)
                checks.expect(members == SORTING_MEMBERS, f"{at}/@sorting is not the SONATA enum (members {members})")
                checks.expect(attr_id.dtype.base == np.dtype("uint8"), f"{at}/@sorting has base type {attr_id.dtype.base}, expected uint8")
                checks.expect(attr_id.shape == (), f"{at}/@sorting is not scalar")
                value = int(group.attrs["sorting"])
                sorting = {v: k for k, v in SORTING_MEMBERS.items()}.get(value)
            if sorting == "by_time":
                checks.expect(bool(np.all(np.diff(timestamps) >= 0)), f"{at}: @sorting claims by_time but the timestamps are not ordered")
            if sorting == "by_id":
                checks.expect(bool(np.all(np.diff(node_ids.astype(np.int64)) >= 0)), f"{at}: @sorting claims by_id but the node ids are not ordered")

            if name in sizes and len(node_ids):
                checks.expect(int(node_ids.max()) < sizes[name], f"{at}: node id {int(node_ids.max())} >= population size {sizes[name]}")
            if len(timestamps):
                checks.expect(bool(np.all(np.isfinite(timestamps)) and timestamps.min() >= 0), f"{at}: negative or non-finite spike times")
                if bound is not None:
                    checks.expect(timestamps.max() <= bound, f"{at}: spike at {timestamps.max()} ms after simulated_ms {manifest['simulated_ms']}")
            from_h5py[name] = (node_ids, timestamps, sorting)

    # libsonata, independently.
    try:
        reader = libsonata.SpikeReader(path)
    except Exception as error:  # libsonata raises plain RuntimeError/SonataError
        checks.fail(f"{where}: libsonata cannot open it: {error}")
        return from_h5py
    names = set(reader.get_population_names())
    checks.expect(names == set(from_h5py), f"{where}: libsonata sees populations {sorted(names)}, h5py {sorted(from_h5py)}")
    for name in sorted(names & set(from_h5py)):
        at = f"{where}:/spikes/{name}"
        node_ids, timestamps, sorting = from_h5py[name]
        try:
            population = reader[name]
            checks.expect(population.sorting == sorting, f"{at}: libsonata reads sorting {population.sorting!r}, h5py {sorting!r}")
            checks.expect(population.time_units == "ms", f"{at}: libsonata reads time units {population.time_units!r}")
            spikes = population.get()
        except Exception as error:
            checks.fail(f"{at}: libsonata cannot read it: {error}")
            continue
        checks.expect(len(spikes) == len(timestamps), f"{at}: libsonata returns {len(spikes)} spikes, h5py {len(timestamps)}")
        expected = sorted(zip(node_ids.tolist(), timestamps.tolist()))
        checks.expect(sorted(spikes) == expected, f"{at}: libsonata and h5py return different spikes")
        if len(timestamps):
            # A time window exercises libsonata's search, which trusts @sorting.
            low, high = np.quantile(timestamps, [0.25, 0.75])
            windowed = population.get(tstart=float(low), tstop=float(high))
            inside = (timestamps >= low - LIBSONATA_EPSILON) & (timestamps <= high + LIBSONATA_EPSILON)
            checks.expect(
                sorted(windowed) == sorted(zip(node_ids[inside].tolist(), timestamps[inside].tolist())),
                f"{at}: libsonata's spikes in [{low}, {high}] ms differ from h5py's",
            )
            one_node = int(node_ids[0])
            checks.expect(
                sorted(population.get(node_ids=[one_node])) == sorted((one_node, t) for t in timestamps[node_ids == one_node].tolist()),
                f"{at}: libsonata's spikes of node {one_node} differ from h5py's",
            )
    return from_h5py


def bmtk_frame_count(tstart, tstop, dt):
    """bmtk 1.2.0, CompartmentReaderVer01: int((t_stop - t_start) / dt)."""
    return int((tstop - tstart) / dt)


def check_report(checks, directory, manifest, entry, sizes):
    file_name = entry.get("file")
    population = entry.get("population")
    where = f"{file_name}"
    for key in ("variable", "file", "population", "units", "interval_ms"):
        checks.expect(key in entry, f"manifest.json: report entry {entry} lacks {key!r}")
    checks.expect(population in sizes, f"{where}: population {population!r} is not in the manifest")
    path = os.path.join(directory, file_name)
    bound = time_bound(manifest)

    with h5py.File(path, "r") as h5:
        check_root(checks, h5, where)
        if not checks.expect(f"report/{population}" in h5, f"{where}: no /report/{population}"):
            return
        checks.expect(list(h5["report"].keys()) == [population], f"{where}: /report holds {list(h5['report'].keys())}, expected [{population!r}]")
        group = h5[f"report/{population}"]
        at = f"{where}:/report/{population}"
        required = ["data"] + [f"mapping/{name}" for name in ("node_ids", "index_pointers", "index_pointer", "element_ids", "element_pos", "time")]
        present = [checks.expect(name in group, f"{at}/{name} is missing") for name in required]
        if not all(present):
            return
        mapping = group["mapping"]

        data = group["data"]
        checks.expect(data.dtype == np.dtype("float32"), f"{at}/data has type {data.dtype}, expected float32")
        checks.expect(data.ndim == 2, f"{at}/data has {data.ndim} dimensions, expected 2")
        checks.expect(data.chunks is not None, f"{at}/data is not chunked")
        checks.expect(data.compression is None and not data.shuffle and not data.fletcher32 and data.scaleoffset is None, f"{at}/data has filters (libsonata's wheel reads no compressed data)")
        n_frames, n_elements = data.shape
        checks.expect(data.maxshape == (None, n_elements), f"{at}/data has maxshape {data.maxshape}, expected (None, {n_elements})")
        check_units(checks, data, entry.get("units"), f"{at}/data")

        node_ids = mapping["node_ids"][()]
        index_pointers = mapping["index_pointers"][()]
        element_ids = mapping["element_ids"][()]
        element_pos = mapping["element_pos"][()]
        checks.expect(mapping["node_ids"].dtype == np.dtype("uint64"), f"{at}/mapping/node_ids is not uint64")
        checks.expect(mapping["index_pointers"].dtype == np.dtype("uint64"), f"{at}/mapping/index_pointers is not uint64")
        checks.expect(mapping["element_ids"].dtype == np.dtype("uint32"), f"{at}/mapping/element_ids is not uint32")
        checks.expect(mapping["element_pos"].dtype == np.dtype("float32"), f"{at}/mapping/element_pos is not float32")
        checks.expect(mapping["index_pointer"] == mapping["index_pointers"], f"{at}/mapping/index_pointer is not a hard link to index_pointers")
        checks.expect(len(index_pointers) == len(node_ids) + 1, f"{at}: {len(index_pointers)} index pointers for {len(node_ids)} nodes (need N+1)")
        checks.expect(len(index_pointers) > 0 and index_pointers[0] == 0 and index_pointers[-1] == n_elements, f"{at}: index_pointers must run from 0 to {n_elements}")
        checks.expect(bool(np.all(np.diff(index_pointers.astype(np.int64)) > 0)), f"{at}: a node has no element")
        checks.expect(len(element_ids) == n_elements and len(element_pos) == n_elements, f"{at}: element_ids/element_pos do not have {n_elements} entries")
        if population in sizes and len(node_ids):
            checks.expect(int(node_ids.max()) < sizes[population], f"{at}: node id {int(node_ids.max())} >= population size {sizes[population]}")
        sorted_attr = mapping["node_ids"].attrs.get("sorted")
        if sorted_attr is not None and int(sorted_attr) != 0:
            checks.expect(bool(np.all(np.diff(node_ids.astype(np.int64)) > 0)), f"{at}/mapping/node_ids claims @sorted but is not ascending")

        time = mapping["time"]
        checks.expect(time.dtype == np.dtype("float64") and time.shape == (3,), f"{at}/mapping/time is not f64[3]")
        check_units(checks, time, "ms", f"{at}/mapping/time")
        tstart, tstop, dt = (float(v) for v in time[()])
        interval = entry.get("interval_ms")
        checks.expect(interval is not None and math.isclose(dt, interval, rel_tol=1e-12), f"{at}: dt {dt} ms but the manifest says interval_ms {interval}")
        bmtk_frames = bmtk_frame_count(tstart, tstop, dt)
        checks.expect(bmtk_frames == n_frames, f"{at}: bmtk would count {bmtk_frames} frames from time = [{tstart}, {tstop}, {dt}], but data has {n_frames} rows")
        if bound is not None and n_frames:
            last = tstart + (n_frames - 1) * dt
            checks.expect(last <= bound, f"{at}: last frame at {last} ms is after simulated_ms {manifest['simulated_ms']}")
        h5_data = data[()]

    # libsonata, independently.
    try:
        reader = libsonata.ElementReportReader(path)
        checks.expect(list(reader.get_population_names()) == [population], f"{where}: libsonata sees populations {reader.get_population_names()}")
        report = reader[population]
        times = tuple(report.times)
        checks.expect(times == (tstart, tstop, dt), f"{at}: libsonata reads times {times}, h5py {(tstart, tstop, dt)}")
        checks.expect(report.time_units == "ms", f"{at}: libsonata reads time units {report.time_units!r}")
        checks.expect(report.data_units == entry.get("units"), f"{at}: libsonata reads data units {report.data_units!r}, manifest {entry.get('units')!r}")
        checks.expect(sorted(report.get_node_ids()) == sorted(node_ids.tolist()), f"{at}: libsonata and h5py list different node ids")
        if n_frames == 0:
            checks.expect(tstop == tstart, f"{at}: no frames but tstop {tstop} != tstart {tstart}")
            return
        frame = report.get()
    except Exception as error:
        checks.fail(f"{at}: libsonata cannot read it: {error}")
        return

    frame_data = np.asarray(frame.data)
    frame_times = np.asarray(frame.times)
    ids = [tuple(int(v) for v in pair) for pair in np.asarray(frame.ids)]
    checks.expect(frame_data.shape == (n_frames, n_elements), f"{at}: libsonata reads {frame_data.shape[0]} frames of {frame_data.shape[1]} elements, data has {n_frames}x{n_elements}")
    checks.expect(
        len(frame_times) == n_frames and np.allclose(frame_times, tstart + dt * np.arange(len(frame_times)), rtol=0, atol=1e-3 * dt),
        f"{at}: libsonata's frame times are not tstart + k*dt",
    )
    # libsonata orders columns by node id; map them back through (node id, element id).
    column_of = {}
    for index, node in enumerate(node_ids.tolist()):
        for column in range(int(index_pointers[index]), int(index_pointers[index + 1])):
            column_of[(node, int(element_ids[column]))] = column
    if checks.expect(sorted(ids) == sorted(column_of), f"{at}: libsonata's (node, element) ids differ from the mapping"):
        columns = [column_of[pair] for pair in ids]
        rows = min(frame_data.shape[0], n_frames)
        checks.expect(np.array_equal(frame_data[:rows], h5_data[:rows, columns]), f"{at}: libsonata and h5py read different values")


def check_weights(checks, directory, file_name):
    where = file_name
    with h5py.File(os.path.join(directory, file_name), "r") as h5:
        check_root(checks, h5, where)
        if not checks.expect("weights" in h5, f"{where}: no /weights group"):
            return
        for name, group in h5["weights"].items():
            at = f"{where}:/weights/{name}"
            columns = {"timestamps": "float64", "source_ids": "uint64", "target_ids": "uint64", "weights": "float64"}
            if not all(checks.expect(c in group, f"{at}/{c} is missing") for c in columns):
                continue
            for column, dtype in columns.items():
                check_appendable(checks, group[column], dtype, f"{at}/{column}")
            lengths = {len(group[c]) for c in columns}
            checks.expect(len(lengths) == 1, f"{at}: columns differ in length")
            check_units(checks, group["timestamps"], "ms", f"{at}/timestamps")
            check_units(checks, group["weights"], None, f"{at}/weights")


def check_nodes(checks, directory, sizes):
    """nodes.h5 (crates/record/src/nodes.rs), written into recordings so that spikes can be grouped
    by layer/column/area: its populations must be the manifest's, with the same sizes.
    (tests/python/circuit_readback.py checks the file in detail.)"""
    path = os.path.join(directory, "nodes.h5")
    with h5py.File(path, "r") as h5:
        check_root(checks, h5, "nodes.h5")
    try:
        storage = libsonata.NodeStorage(path)
        for name in sorted(storage.population_names):
            size = storage.open_population(name).size
            checks.expect(name in sizes, f"nodes.h5: population {name!r} is not in the manifest")
            checks.expect(sizes.get(name, size) == size, f"nodes.h5: {name} has {size} nodes, the manifest says {sizes.get(name)}")
    except Exception as error:
        checks.fail(f"nodes.h5: libsonata cannot read it: {error}")


def check_with_bmtk(checks, directory, manifest):
    """bmtk is optional: when it is installed, its readers must agree too."""
    try:
        from bmtk.utils.reports.compartment import CompartmentReport
        from bmtk.utils.reports.spike_trains import SpikeTrains
    except ImportError:
        return False
    files = manifest["files"]
    if files.get("spikes"):
        path = os.path.join(directory, files["spikes"])
        with h5py.File(path, "r") as h5:
            expected = {name: (group["node_ids"][()], group["timestamps"][()]) for name, group in h5["spikes"].items()}
        # bmtk cannot index a file whose every population is empty.
        if any(len(timestamps) for _, timestamps in expected.values()):
            trains = SpikeTrains.load(path)
            for name, (node_ids, timestamps) in expected.items():
                count = trains.n_spikes(population=name)
                checks.expect(count == len(timestamps), f"{files['spikes']}: bmtk counts {count} spikes in {name}, h5py {len(timestamps)}")
                for node in np.unique(node_ids).tolist():
                    checks.expect(
                        np.array_equal(np.sort(trains.get_times(node, population=name)), np.sort(timestamps[node_ids == node])),
                        f"{files['spikes']}: bmtk reads different spike times for {name} node {node}",
                    )
    for entry in files.get("reports", []):
        path = os.path.join(directory, entry["file"])
        population = entry["population"]
        with h5py.File(path, "r") as h5:
            data = h5[f"report/{population}/data"][()]
            node_ids = h5[f"report/{population}/mapping/node_ids"][()]
            index_pointers = h5[f"report/{population}/mapping/index_pointers"][()]
        report = CompartmentReport(path, mode="r")
        steps = report[population].n_steps()
        checks.expect(steps == data.shape[0], f"{entry['file']}: bmtk counts {steps} frames, data has {data.shape[0]}")
        checks.expect(report.units(population=population) == entry["units"], f"{entry['file']}: bmtk reads units {report.units(population=population)!r}")
        if data.shape[0] == 0:
            continue
        checks.expect(np.array_equal(np.asarray(report.data(population=population)), data), f"{entry['file']}: bmtk reads different values")
        # Per node, bmtk goes through index_pointer (the hard link).
        for index, node in enumerate(node_ids.tolist()):
            columns = data[:, int(index_pointers[index]):int(index_pointers[index + 1])]
            from_bmtk = np.asarray(report.data(node_id=node, population=population))
            checks.expect(np.array_equal(np.squeeze(from_bmtk), np.squeeze(columns)), f"{entry['file']}: bmtk reads different values for node {node}")
    return True


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: readback.py DIR  (a laminar output directory containing manifest.json)", file=sys.stderr)
        return 2
    directory = argv[1]
    checks = Checks()
    manifest = load_manifest(checks, directory)
    if manifest is None:
        return report_result(checks, directory, [])

    sizes = {population["name"]: population["size"] for population in manifest["populations"]}
    files = manifest["files"]
    listed = set()
    summary = []
    if files.get("spikes"):
        listed.add(files["spikes"])
        if checks.expect(os.path.isfile(os.path.join(directory, files["spikes"])), f"{files['spikes']} is listed in the manifest but missing"):
            for name, (_, timestamps, sorting) in check_spikes(checks, directory, manifest, files["spikes"], sizes).items():
                summary.append(f"{files['spikes']}: {name}: {len(timestamps)} spikes, sorting {sorting}")
    for entry in files.get("reports", []):
        listed.add(entry.get("file"))
        if checks.expect(os.path.isfile(os.path.join(directory, entry.get("file", ""))), f"{entry.get('file')} is listed in the manifest but missing"):
            check_report(checks, directory, manifest, entry, sizes)
            summary.append(f"{entry['file']}: {entry.get('variable')} of {entry.get('population')} in {entry.get('units')} every {entry.get('interval_ms')} ms")
    if files.get("weights"):
        listed.add(files["weights"])
        if checks.expect(os.path.isfile(os.path.join(directory, files["weights"])), f"{files['weights']} is listed in the manifest but missing"):
            check_weights(checks, directory, files["weights"])
            summary.append(f"{files['weights']}: weights")
    if os.path.isfile(os.path.join(directory, "nodes.h5")):
        listed.add("nodes.h5")
        check_nodes(checks, directory, sizes)
        summary.append("nodes.h5: node populations")
    for name in sorted(os.listdir(directory)):
        if name.endswith(".h5"):
            checks.expect(name in listed, f"{name} is in the directory but not in the manifest")
    if check_with_bmtk(checks, directory, manifest):
        summary.append("bmtk agrees")
    return report_result(checks, directory, summary)


def report_result(checks, directory, summary):
    for line in summary:
        print(f"  {line}")
    if checks.failures:
        print(f"readback FAILED for {directory}: {len(checks.failures)} of {checks.count} checks failed", file=sys.stderr)
        for failure in checks.failures:
            print(f"  FAIL {failure}", file=sys.stderr)
        return 1
    print(f"readback OK for {directory}: {checks.count} checks passed (h5py {h5py.__version__}, libsonata {getattr(libsonata, 'version', '?')})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
