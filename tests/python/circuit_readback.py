#!/usr/bin/env python3
"""Read a laminar circuit export (nodes.h5 + node_types.csv, edges.h5 + edge_types.csv) back
with h5py and libsonata, and optionally bmtk, and compare it with what was written.

Usage: circuit_readback.py DIR [--bmtk]

DIR holds nodes.h5, node_types.csv, edges.h5, edge_types.csv and expected.json, which the Rust
test writes next to them with the values it gave the writers:

    {"nodes": [{"name", "node_type_id", "model_type", "model_template", "size",
                "type_attributes": [[k, v], ...],
                "attributes": [{"name", "dtype", "values"}, ...]}, ...],
     "edges": [{"name", "source_population", "target_population", "source_size",
                "target_size", "edge_type_id", "weight_units", "type_attributes",
                "source", "target", "weight", "delay", "receptor"}, ...]}

Checks, independently with h5py (the raw layout of crates/record/src/nodes.rs and edges.rs) and
libsonata (NodeStorage/EdgeStorage: population names, sizes, attribute names and values through
Selections, string attributes, source/target node ids, afferent/efferent/connecting edges),
that the files hold exactly the expected values. The indices are also compared with the ones
libsonata's own EdgePopulation.write_indices builds from the same edges.

With --bmtk the circuit is also loaded with bmtk.utils.sonata.File (nodes with their
node_types.csv columns, edges with theirs); exits 4 when bmtk is not importable.

Exits 0 when every check passes, 1 with one line per failure otherwise, 2 on bad usage and 3
when h5py, libsonata or numpy is missing.
"""

import csv
import json
import os
import shutil
import sys
import tempfile

# The recording check beside this script: its imports (exit 3 when a reader is missing), the
# failure collector and the root-attribute check are the same for circuit files.
from readback import Checks, check_root, h5py, libsonata, np
NODE_COLUMNS = ["node_type_id", "model_type", "model_template", "population", "pop_name"]
EDGE_COLUMNS = ["edge_type_id", "population", "source_population", "target_population", "weight_units"]


def is_vlen_utf8(dtype):
    info = h5py.check_string_dtype(dtype)
    return info is not None and info.encoding == "utf-8" and info.length is None


def check_column(checks, dataset, dtype, length, where):
    """A column libsonata reads: 1-D (or N x 2), the given type, chunked, unfiltered."""
    if dtype == "str":
        checks.expect(is_vlen_utf8(dataset.dtype), f"{where} is not variable-length UTF-8 ({dataset.dtype})")
    else:
        checks.expect(dataset.dtype == np.dtype(dtype), f"{where} has type {dataset.dtype}, expected {dtype}")
    checks.expect(dataset.shape[0] == length, f"{where} has {dataset.shape[0]} rows, expected {length}")
    checks.expect(dataset.chunks is not None, f"{where} is not chunked")
    checks.expect(dataset.maxshape[0] is None, f"{where} has maxshape {dataset.maxshape}")
    checks.expect(dataset.compression is None and not dataset.shuffle, f"{where} has filters")


def check_string_attr(checks, obj, name, expected, where):
    if not checks.expect(name in obj.attrs, f"{where}: no @{name}"):
        return
    checks.expect(is_vlen_utf8(obj.attrs.get_id(name).dtype), f"{where}/@{name} is not a variable-length UTF-8 string")
    value = obj.attrs[name]
    if isinstance(value, bytes):
        value = value.decode()
    checks.expect(value == expected, f"{where}/@{name} is {value!r}, expected {expected!r}")


def read_types_csv(checks, path, fixed):
    """The rows of a types CSV, read with Python's csv module in SONATA's dialect."""
    with open(path, encoding="ascii", newline="") as stream:
        text = stream.read()
    checks.expect("\r" not in text, f"{path}: not UNIX line ends")
    rows = list(csv.reader(text.splitlines(), delimiter=" ", quotechar='"', doublequote=True))
    header = rows[0]
    checks.expect(header[: len(fixed)] == fixed, f"{path}: header starts {header[:len(fixed)]}, expected {fixed}")
    checks.expect(all(len(row) == len(header) for row in rows), f"{path}: rows of different lengths")
    return header, [dict(zip(header, row)) for row in rows[1:]]


def expected_type_row(population, fixed_values, header, fixed):
    row = dict(zip(fixed, fixed_values))
    attrs = dict(population["type_attributes"])
    for column in header[len(fixed):]:
        row[column] = attrs.get(column, "NULL")
    return row


def check_nodes(checks, directory, expected):
    path = os.path.join(directory, "nodes.h5")
    populations = expected["nodes"]
    header, rows = read_types_csv(checks, os.path.join(directory, "node_types.csv"), NODE_COLUMNS)
    checks.expect(len(rows) == len(populations), f"node_types.csv has {len(rows)} rows for {len(populations)} populations")
    for population, row in zip(populations, rows):
        template = population["model_template"] or "NULL"
        want = expected_type_row(population, [str(population["node_type_id"]), population["model_type"], template, population["name"], population["name"]], header, NODE_COLUMNS)
        checks.expect(row == want, f"node_types.csv row {row} != {want}")

    with h5py.File(path, "r") as h5:
        check_root(checks, h5, "nodes.h5")
        checks.expect(sorted(h5["nodes"].keys()) == sorted(p["name"] for p in populations), f"nodes.h5: populations {list(h5['nodes'].keys())}")
        for population in populations:
            name, size = population["name"], population["size"]
            at = f"nodes.h5:/nodes/{name}"
            group = h5["nodes"][name]
            for column, dtype, values in [
                ("node_type_id", "int64", np.full(size, population["node_type_id"])),
                ("node_id", "uint64", np.arange(size)),
                ("node_group_id", "int64", np.zeros(size)),
                ("node_group_index", "uint64", np.arange(size)),
            ]:
                check_column(checks, group[column], dtype, size, f"{at}/{column}")
                checks.expect(np.array_equal(group[column][()], values), f"{at}/{column} has the wrong values")
            checks.expect(sorted(group.keys()) == ["0", "node_group_id", "node_group_index", "node_id", "node_type_id"], f"{at} holds {list(group.keys())}")
            checks.expect(sorted(group["0"].keys()) == sorted(a["name"] for a in population["attributes"]), f"{at}/0 holds {list(group['0'].keys())}")
            for attribute in population["attributes"]:
                dataset = group["0"][attribute["name"]]
                check_column(checks, dataset, attribute["dtype"], size, f"{at}/0/{attribute['name']}")
                if attribute["dtype"] == "str":
                    values = [v.decode() for v in dataset[()]]
                    checks.expect(values == attribute["values"], f"{at}/0/{attribute['name']}: h5py reads {values}")
                else:
                    checks.expect(np.array_equal(dataset[()], np.array(attribute["values"], dtype=attribute["dtype"])), f"{at}/0/{attribute['name']}: h5py reads other values")

    storage = libsonata.NodeStorage(path)
    checks.expect(storage.population_names == {p["name"] for p in populations}, f"libsonata sees node populations {storage.population_names}")
    for population in populations:
        name, size = population["name"], population["size"]
        at = f"libsonata nodes/{name}"
        pop = storage.open_population(name)
        checks.expect(pop.name == name and pop.size == size, f"{at}: size {pop.size}, expected {size}")
        checks.expect(pop.attribute_names == {a["name"] for a in population["attributes"]}, f"{at}: attribute names {pop.attribute_names}")
        for attribute in population["attributes"]:
            values = attribute["values"]
            got = list(pop.get_attribute(attribute["name"], pop.select_all()))
            checks.expect(got == values, f"{at}: {attribute['name']} reads {got[:5]}…, expected {values[:5]}…")
            if size >= 4:
                # Two ranges, out of order within a Selection: libsonata reads rows 1..3 and size-1.
                selection = libsonata.Selection([[size - 1, size], [1, 3]])
                got = list(pop.get_attribute(attribute["name"], selection))
                flat = selection.flatten().tolist()
                checks.expect(got == [values[i] for i in flat], f"{at}: {attribute['name']} over {flat} reads {got}")
        if population["attributes"] and size:
            first = population["attributes"][0]
            if first["dtype"] == "str":
                checks.expect(pop.get_attribute(first["name"], 0) == first["values"][0], f"{at}: single-node read of {first['name']}")


def check_edges(checks, directory, expected):
    path = os.path.join(directory, "edges.h5")
    populations = expected["edges"]
    header, rows = read_types_csv(checks, os.path.join(directory, "edge_types.csv"), EDGE_COLUMNS)
    checks.expect(len(rows) == len(populations), f"edge_types.csv has {len(rows)} rows for {len(populations)} populations")
    for population, row in zip(populations, rows):
        want = expected_type_row(population, [str(population["edge_type_id"]), population["name"], population["source_population"], population["target_population"], population["weight_units"]], header, EDGE_COLUMNS)
        checks.expect(row == want, f"edge_types.csv row {row} != {want}")

    with h5py.File(path, "r") as h5:
        check_root(checks, h5, "edges.h5")
        checks.expect(sorted(h5["edges"].keys()) == sorted(p["name"] for p in populations), f"edges.h5: populations {list(h5['edges'].keys())}")
        for population in populations:
            name = population["name"]
            n = len(population["source"])
            at = f"edges.h5:/edges/{name}"
            group = h5["edges"][name]
            for column, dtype, values in [
                ("source_node_id", "uint64", population["source"]),
                ("target_node_id", "uint64", population["target"]),
                ("edge_type_id", "int64", [population["edge_type_id"]] * n),
                ("edge_group_id", "int64", [0] * n),
                ("edge_group_index", "uint64", list(range(n))),
                ("0/syn_weight", "float64", population["weight"]),
                ("0/delay", "float64", population["delay"]),
                ("0/receptor", "uint32", population["receptor"]),
            ]:
                check_column(checks, group[column], dtype, n, f"{at}/{column}")
                checks.expect(np.array_equal(group[column][()], np.array(values, dtype=dtype)), f"{at}/{column} has the wrong values")
            check_string_attr(checks, group["source_node_id"], "node_population", population["source_population"], f"{at}/source_node_id")
            check_string_attr(checks, group["target_node_id"], "node_population", population["target_population"], f"{at}/target_node_id")
            check_string_attr(checks, group["0/syn_weight"], "units", population["weight_units"], f"{at}/0/syn_weight")
            check_string_attr(checks, group["0/delay"], "units", "ms", f"{at}/0/delay")
            for index, nodes in [("source_to_target", population["source_size"]), ("target_to_source", population["target_size"])]:
                for dataset in ("node_id_to_ranges", "range_to_edge_id"):
                    d = group[f"indices/{index}/{dataset}"]
                    checks.expect(d.dtype == np.dtype("uint64") and d.ndim == 2 and d.shape[1] == 2, f"{at}/indices/{index}/{dataset} is {d.dtype} {d.shape}")
                    checks.expect(d.compression is None, f"{at}/indices/{index}/{dataset} is compressed")
                checks.expect(group[f"indices/{index}/node_id_to_range"] == group[f"indices/{index}/node_id_to_ranges"], f"{at}/indices/{index}/node_id_to_range is not a hard link to node_id_to_ranges (bmtk reads it)")
                checks.expect(group[f"indices/{index}/node_id_to_ranges"].shape[0] == nodes, f"{at}/indices/{index}/node_id_to_ranges has {group[f'indices/{index}/node_id_to_ranges'].shape[0]} rows for {nodes} nodes")

    # The indices must be exactly the ones libsonata's own writer builds from the same edges.
    with tempfile.TemporaryDirectory() as scratch:
        copy = os.path.join(scratch, "edges.h5")
        shutil.copyfile(path, copy)
        with h5py.File(copy, "r+") as h5:
            for population in populations:
                del h5["edges"][population["name"]]["indices"]
        for population in populations:
            libsonata.EdgePopulation.write_indices(copy, population["name"], population["source_size"], population["target_size"])
        with h5py.File(path, "r") as ours, h5py.File(copy, "r") as theirs:
            for population in populations:
                for dataset in ("source_to_target/node_id_to_ranges", "source_to_target/range_to_edge_id", "target_to_source/node_id_to_ranges", "target_to_source/range_to_edge_id"):
                    a = ours[f"edges/{population['name']}/indices/{dataset}"][()]
                    b = theirs[f"edges/{population['name']}/indices/{dataset}"][()]
                    # libsonata writes an empty range_to_edge_id as (0, 1), ours is (0, 2).
                    same = (a.size == 0 and b.size == 0) or (a.shape == b.shape and np.array_equal(a, b))
                    checks.expect(same, f"edges.h5:/edges/{population['name']}/indices/{dataset} differs from libsonata's write_indices ({a.shape} vs {b.shape})")

    storage = libsonata.EdgeStorage(path)
    checks.expect(storage.population_names == {p["name"] for p in populations}, f"libsonata sees edge populations {storage.population_names}")
    for population in populations:
        name = population["name"]
        at = f"libsonata edges/{name}"
        pop = storage.open_population(name)
        source = np.array(population["source"], dtype=np.uint64)
        target = np.array(population["target"], dtype=np.uint64)
        n = len(source)
        checks.expect(pop.size == n, f"{at}: size {pop.size}, expected {n}")
        checks.expect(pop.source == population["source_population"] and pop.target == population["target_population"], f"{at}: source/target populations {pop.source!r}/{pop.target!r}")
        checks.expect(pop.attribute_names == {"syn_weight", "delay", "receptor"}, f"{at}: attribute names {pop.attribute_names}")
        # libsonata's select_all() raises "Invalid range: 0-0" for an empty population.
        everything = pop.select_all() if n else libsonata.Selection([])
        checks.expect(np.array_equal(pop.source_nodes(everything), source), f"{at}: source_nodes differ")
        checks.expect(np.array_equal(pop.target_nodes(everything), target), f"{at}: target_nodes differ")
        for attribute in ("syn_weight", "delay", "receptor"):
            key = {"syn_weight": "weight"}.get(attribute, attribute)
            checks.expect(np.array_equal(np.asarray(pop.get_attribute(attribute, everything)), np.array(population[key])), f"{at}: {attribute} differs")
        if n:
            # Afferent/efferent/connecting edges go through the indices.
            for node in sorted(set(target.tolist()))[:20] + [population["target_size"] - 1]:
                got = pop.afferent_edges([node]).flatten().tolist()
                checks.expect(got == np.flatnonzero(target == node).tolist(), f"{at}: afferent edges of {node}: {got}")
            for node in sorted(set(source.tolist()))[:20] + [population["source_size"] - 1]:
                got = pop.efferent_edges([node]).flatten().tolist()
                checks.expect(got == np.flatnonzero(source == node).tolist(), f"{at}: efferent edges of {node}: {got}")
            s, t = int(source[n // 2]), int(target[n // 2])
            got = pop.connecting_edges([s], [t]).flatten().tolist()
            checks.expect(got == np.flatnonzero((source == s) & (target == t)).tolist(), f"{at}: connecting edges {s} -> {t}: {got}")
            several = sorted(set(target.tolist()))[:3]
            got = pop.afferent_edges(several).flatten().tolist()
            checks.expect(got == np.flatnonzero(np.isin(target, several)).tolist(), f"{at}: afferent edges of {several}")


def check_bmtk(checks, directory, expected):
    try:
        from bmtk.utils.sonata import File
    except ImportError:
        return None
    net = File(
        data_files=[os.path.join(directory, "nodes.h5"), os.path.join(directory, "edges.h5")],
        data_type_files=[os.path.join(directory, "node_types.csv"), os.path.join(directory, "edge_types.csv")],
    )
    for population in expected["nodes"]:
        name = population["name"]
        nodes = list(net.nodes[name])
        checks.expect(len(nodes) == population["size"], f"bmtk: {name} has {len(nodes)} nodes, expected {population['size']}")
        for index, node in enumerate(nodes):
            checks.expect(node.node_id == index and node.node_type_id == population["node_type_id"], f"bmtk: {name} node {index} has id {node.node_id}, type {node.node_type_id}")
            for attribute in population["attributes"]:
                value = node[attribute["name"]]
                if isinstance(value, bytes):
                    value = value.decode()
                checks.expect(value == attribute["values"][index], f"bmtk: {name} node {index} {attribute['name']} = {value!r}")
            checks.expect(node["model_type"] == population["model_type"], f"bmtk: {name} node {index} model_type {node['model_type']!r}")
            per_node = {a["name"] for a in population["attributes"]}
            for key, value in population["type_attributes"]:
                # A per-node attribute of the same name overrides the node type's (SONATA).
                if key not in per_node:
                    checks.expect(str(node[key]) == value, f"bmtk: {name} node {index} {key} = {node[key]!r}, expected {value!r}")
    for population in expected["edges"]:
        name = population["name"]
        edges = list(net.edges[name])
        checks.expect(len(edges) == len(population["source"]), f"bmtk: {name} has {len(edges)} edges, expected {len(population['source'])}")
        got = [(e.source_node_id, e.target_node_id, e["syn_weight"], e["delay"], e["receptor"], e.edge_type_id) for e in edges]
        want = list(zip(population["source"], population["target"], population["weight"], population["delay"], population["receptor"], [population["edge_type_id"]] * len(edges)))
        checks.expect(sorted(got) == sorted(want), f"bmtk: {name} edges differ")
        for edge in edges[:5]:
            checks.expect(edge.source_population == population["source_population"] and edge.target_population == population["target_population"], f"bmtk: {name} edge populations {edge.source_population}/{edge.target_population}")
            checks.expect(edge["weight_units"] == population["weight_units"], f"bmtk: {name} weight_units {edge['weight_units']!r}")
            for key, value in population["type_attributes"]:
                checks.expect(str(edge[key]) == value, f"bmtk: {name} edge {key} = {edge[key]!r}, expected {value!r}")
    return True


def main(argv):
    args = [a for a in argv[1:] if a != "--bmtk"]
    if len(args) != 1 or not os.path.isdir(args[0]):
        print("usage: circuit_readback.py DIR [--bmtk]", file=sys.stderr)
        return 2
    directory = args[0]
    with open(os.path.join(directory, "expected.json"), encoding="utf-8") as stream:
        expected = json.load(stream)
    checks = Checks()
    check_nodes(checks, directory, expected)
    check_edges(checks, directory, expected)
    readers = f"h5py {h5py.__version__}, libsonata {libsonata.version}"
    if "--bmtk" in argv:
        if check_bmtk(checks, directory, expected) is None:
            print("circuit_readback.py: bmtk is not importable", file=sys.stderr)
            return 4
        import bmtk

        readers += f", bmtk {bmtk.__version__}"
    if checks.failures:
        print(f"circuit readback FAILED for {directory}: {len(checks.failures)} of {checks.count} checks failed", file=sys.stderr)
        for failure in checks.failures:
            print(f"  FAIL {failure}", file=sys.stderr)
        return 1
    print(f"circuit readback OK for {directory}: {checks.count} checks passed ({readers})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
