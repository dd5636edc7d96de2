"""Summarises a graph_compare.sh log (lines beginning "graph ", written by sochdb-bench graph
and the script): bulk-load rates, per query and client count the medians over rounds through
the server and in process with the median of the rounds' throughput ratios, and restart times.

    /usr/bin/python3 tools/bench/graph_table.py graph_compare.log
"""
import statistics
import sys


def parse(path):
    loads, queries, restarts, stops = [], {}, [], []
    for line in open(path):
        if not line.startswith("graph "):
            continue
        words = line.split()
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
    return loads, queries, restarts, stops


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
    print("\nqueries, medians over rounds: ops/s, p50 / p99 ms; ratio = median of the rounds' "
          "server / in-process ops/s (each round's)")
    for (name, clients), sides in sorted(queries.items()):
        server, local = sides.get("server", []), sides.get("inprocess", [])
        if not server or not local:
            continue
        ratios = [float(s["ops/s"]) / float(l["ops/s"]) for s, l in zip(server, local)]
        outcomes = "/".join(server[-1][k] for k in
                            ("complete", "truncated", "not_found", "exhausted", "errors"))
        print("  %-9s clients=%d  server %6.0f ops/s %6.2f / %6.2f ms | in process %6.0f ops/s "
              "%6.2f / %6.2f ms | ratio %.2f (%s) | nodes %s, complete/truncated/not_found/"
              "exhausted/errors %s" % (
                  name, clients, median(server, "ops/s"), median(server, "p50", 1e3),
                  median(server, "p99", 1e3), median(local, "ops/s"), median(local, "p50", 1e3),
                  median(local, "p99", 1e3), statistics.median(ratios),
                  " ".join("%.2f" % r for r in ratios), server[-1]["nodes"], outcomes))


def main():
    loads, queries, restarts, stops = parse(sys.argv[1])
    print_loads(loads)
    print_queries(queries)
    print("\nrestart with the graph, exec to port file: %s ms; shutdowns: %s ms" % (
        " ".join(map(str, restarts)), " ".join(map(str, stops))))


if __name__ == "__main__":
    main()
