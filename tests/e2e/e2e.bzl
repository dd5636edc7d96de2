"""One Python end-to-end test: tests/e2e/<name>.py run by /usr/bin/python3 against the real
binary, with the .proto files to generate its stubs from (run_python.sh)."""

def sochdb_e2e_test(name, helpers = [], data = []):
    """`helpers`: Python modules of this folder the test imports besides sochdb_e2e.py; `data`:
    other files it needs at run time (the token tables, the TOON reference decoder)."""
    native.sh_test(
        name = name,
        size = "medium",
        srcs = ["run_python.sh"],
        args = ["tests/e2e/%s.py" % name],
        data = [
            name + ".py",
            "sochdb_e2e.py",
            "//proto:grpc_health_protos",
            "//proto:protos",
            "//server:sochdb-grpc",
            "//tests/proto:grpc_protocol_sources",
        ] + helpers + data,
    )
