"""A repository of files that may be absent: the shared wire contract beside the checkout.

A plain local_repository on a missing directory fails the analysis of every target that could
depend on it, so a clone with nothing beside it could not build or test. This rule always makes
the repository: with the file symlinked when it exists, empty when it does not. A test that
depends on `:files` sees the file in its runfiles, or nothing, and says which it checked.
"""

def _optional_files_impl(ctx):
    workspace_root = ctx.path(Label("//:WORKSPACE")).dirname
    present = []
    for relative in ctx.attr.files:
        source = ctx.path("%s/%s" % (workspace_root, relative))
        if source.exists:
            ctx.symlink(source, source.basename)
            present.append(source.basename)
    ctx.file("BUILD.bazel", """
filegroup(
    name = "files",
    srcs = {present},
    visibility = ["//visibility:public"],
)
""".format(present = repr(present)))

optional_files = repository_rule(
    implementation = _optional_files_impl,
    attrs = {
        # Paths relative to the workspace root, e.g. "../shared/wire/sochdb_v1_wire.tsv".
        "files": attr.string_list(mandatory = True),
    },
    # Re-evaluated on every fetch, so a contract that appears (or goes) later is noticed.
    local = True,
)
