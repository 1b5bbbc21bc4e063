"""`python -m bench [NAME ...] [--scale N]`: run benchmarks, print `figure: value unit` lines.

Each benchmark is a module `bench/<name>.py` with `run(*, scale: int | None) -> Iterable[Figure]`;
`scale=None` means the benchmark's own default (1,000,000 where its issue names a million).
A module with its own flags has `add_arguments(parser)`, and its `run` also takes `args`.
Benchmarks run against the configured database (DATABASE_URL); PostgreSQL is the one that counts.
"""

import argparse
import importlib
import os
import sys
import time

NAMES = ["import", "schedule", "mailers", "batch", "optout_burst", "ivr", "dashboard", "soak"]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0], add_help=False
    )
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(NAMES)})"
    )
    parser.add_argument("--scale", type=int, default=None, help="number of accounts")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    known, rest = parser.parse_known_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cca_notices.settings")
    import django

    django.setup()
    names = known.names or NAMES
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(NAMES)}")
    modules = {}
    for name in names:
        module_name = f"bench.{'import_' if name == 'import' else name}"
        try:
            modules[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            print(f"# {name}: not built yet", file=sys.stderr)
    # Each benchmark parses its own flags, so two may both have `--seconds` with their own default;
    # a flag given on the command line applies to every named benchmark that knows it.
    own: dict[str, argparse.ArgumentParser] = {}
    for name, module in modules.items():
        if hasattr(module, "add_arguments"):
            own[name] = argparse.ArgumentParser(
                prog=f"python -m bench {name}", usage=argparse.SUPPRESS, add_help=False
            )
            module.add_arguments(own[name])
    if known.help:
        parser.print_help()
        for name, sub in own.items():
            text = sub.format_help().strip().removeprefix("options:").strip()
            print(f"\n{name}:\n  {text.removeprefix(name + ':').strip()}")
        return 0
    if rest and not own:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    parsed = {}
    leftover = None
    for name, sub in own.items():
        parsed[name], left = sub.parse_known_args(rest)
        leftover = set(left) if leftover is None else leftover & set(left)
    if leftover:
        flags = " ".join(a for a in rest if a in leftover)
        parser.error(f"unrecognized arguments: {flags}")
    status = 0
    for name, module in modules.items():
        started = time.perf_counter()
        print(f"# {name} (scale={known.scale or 'default'})", file=sys.stderr, flush=True)
        extra = {}
        if name in parsed:
            args = parsed[name]
            args.scale = known.scale
            extra = {"args": args}
        for figure, value, unit in module.run(scale=known.scale, **extra):
            print(f"{figure}: {value} {unit}", flush=True)
        print(f"# {name} took {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
