"""Summarises a graph_compare.sh log (lines beginning "graph ", written by sochdb-bench graph
and the script): bulk-load rates, per query and client count the medians over rounds through
the server and in process with the median of the rounds' throughput ratios, and restart times.

    /usr/bin/python3 tools/bench/graph_table.py graph_compare.log
"""
import statistics
import sys


def parse(path):
    loads, queries, restarts, stops, sizes = [], {}, [], [], []
    for line in open(path):
        if not line.startswith("graph "):
            continue
        words = line.split()
        if words[1] == "store":
            sizes.append(words[3])
            continue
        fields = dict(w.split("=", 1) for w in words if "=" in w)
        if words[2] == "load":
            loads.append((words[1], fields))
        elif words[2] == "start" and words[3] == "restart":
            restarts.append(int(fields["ms"]))
        elif words[2] == "stop":
            stops.append(int(fields["ms"]))
        elif words[2].startswith("round="):
            key = (words[3], int(fields["clients"]))
            queries.setdefault(key, {}).setdefault(words[1], []).append(fields)
    return loads, queries, restarts, stops, sizes


def median(rows, key, scale=1.0):
    return statistics.median(float(r[key].rstrip("us")) for r in rows) / scale


def print_loads(loads):
    print("\nbulk load (batch latency p50 / p99)")
    for side, f in loads:
        what = "edges" if "edges" in f else "nodes"
        print("  %-9s --sync %-6s %-5s %9s/s  (%s in %s s; batch %s / %s; errors %s)" % (
            side, f["sync"], what, f[what + "/s"], f[what], f["seconds"], f["batch_p50"],
            f["batch_p99"], f["errors"]))


def print_queries(queries):
    print("\nqueries, medians over rounds: ops/s, p50 / p99 ms, CPU ms per query; ratios (each "
          "round's, then their median): server / in-process ops/s, and in-process / server CPU "
          "per query (queries per CPU-second)")
    for (name, clients), sides in sorted(queries.items()):
        server, local = sides.get("server", []), sides.get("inprocess", [])
        if not server or not local:
            continue
        rate = [float(s["ops/s"]) / float(l["ops/s"]) for s, l in zip(server, local)]
        cpu = [float(l["cpu"][:-2]) / float(s["cpu"][:-2]) for s, l in zip(server, local)
               if float(s["cpu"][:-2]) > 0]
        outcomes = "/".join(server[-1][k] for k in
                            ("complete", "truncated", "not_found", "exhausted", "errors"))
        print("  %-9s clients=%d" % (name, clients))
        for label, rows in (("server", server), ("in process", local)):
            print("    %-10s %6.0f ops/s  p50 %6.2f ms  p99 %7.2f ms  cpu %6.3f ms/query" % (
                label, median(rows, "ops/s"), median(rows, "p50", 1e3), median(rows, "p99", 1e3),
                median(rows, "cpu", 1e3)))
        print("    ratio      ops/s %.2f (%s)  per CPU-second %s (%s)" % (
            statistics.median(rate), " ".join("%.2f" % r for r in rate),
            "%.2f" % statistics.median(cpu) if cpu else "-", " ".join("%.2f" % r for r in cpu)))
        print("    answers    nodes %s edges %s; complete/truncated/not_found/exhausted/errors "
              "%s" % (server[-1]["nodes"], server[-1]["edges"], outcomes))


def main():
    loads, queries, restarts, stops, sizes = parse(sys.argv[1])
    print_loads(loads)
    print_queries(queries)
    print("\nrestart with the graph, exec to port file: %s ms; shutdowns: %s ms" % (
        " ".join(map(str, restarts)), " ".join(map(str, stops))))
    if sizes:
        print("store on disk (--sync normal graph): %s" % sizes[-1])


if __name__ == "__main__":
    main()
