"""The ``xpiler`` command line.

    xpiler translate FILE --to DIALECT [--from DIALECT] [-o OUT]
    xpiler parse FILE [--from DIALECT] [--json]
    xpiler passes
    xpiler --version

FILE may be ``-`` for standard input. Errors are one line on stderr and a non-zero exit status
(1: the program or the request is wrong; 2: bad command line or unreadable file; 70: an internal
error, which is a bug: set XPILER_DEBUG=1 for its traceback). Output files are written only when
the command succeeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ._version import __version__
from .dialects import ALIASES, DIALECTS

EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 70


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + message
        raise _UsageError(message)


def _dialect_arg(value: str) -> str:
    from .dialects import canonical
    from .errors import DialectError
    try:
        return canonical(value)
    except DialectError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xpiler", description="Translate tensor programs between CUDA, HIP, BANG C and VNNI C.")
    parser.add_argument("--version", action="version", version=f"xpiler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    names = ", ".join(DIALECTS) + f" (aliases: {', '.join(sorted(ALIASES))})"

    t = sub.add_parser("translate", help="translate a program to another dialect")
    t.add_argument("file", metavar="FILE", help="program to translate ('-' for standard input)")
    t.add_argument("--to", required=True, type=_dialect_arg, metavar="DIALECT", help=f"target dialect: {names}")
    t.add_argument("--from", dest="source", type=_dialect_arg, metavar="DIALECT",
                   help="source dialect (default: detected from the text)")
    t.add_argument("-o", "--output", metavar="OUT", help="write the result here instead of standard output")
    t.add_argument("--wavefront", type=int, choices=(32, 64), default=64,
                   help="HIP target wavefront size (64: CDNA, the default; 32: RDNA)")
    t.add_argument("--pipeline", metavar="SPEC", help="pass pipeline replacing the default (see `xpiler passes`)")
    t.add_argument("--dump-dir", metavar="DIR", help="write the program after every pass into DIR (numbered files)")
    t.add_argument("--trace", action="store_true", help="print the pipeline and one line per pass on stderr")

    sub.add_parser("passes", help="list the available passes (built-in and from plug-ins)")

    p = sub.add_parser("parse", help="show what xpiler understands of a program")
    p.add_argument("file", metavar="FILE", help="program to parse ('-' for standard input)")
    p.add_argument("--from", dest="source", type=_dialect_arg, metavar="DIALECT",
                   help="dialect (default: detected from the text)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _read(path: str) -> tuple[str | bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        with open(path, "rb") as f:
            return f.read(), path
    except OSError as e:
        raise _UsageError(f"cannot read {path}: {e.strerror or e}") from None


def _write(path: str, text: str) -> None:
    tmp = f"{path}.xpiler-tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise _UsageError(f"cannot write {path}: {e.strerror or e}") from None


def cmd_translate(args) -> int:
    from .api import translate_with_trace
    data, name = _read(args.file)
    source = args.source
    if source is None and name != "<stdin>":
        from .dialects import from_suffix
        by_suffix = from_suffix(name)
        source = by_suffix if by_suffix in ("bang", "hip") else None
    options = {"filename": name, "wavefront": args.wavefront}
    if args.pipeline is not None:
        options["pipeline"] = args.pipeline
    if args.dump_dir:
        options["dump_dir"] = args.dump_dir
    result = translate_with_trace(data, to=args.to, source=source, **options)
    if args.output:
        _write(args.output, result.code)
    else:
        sys.stdout.write(result.code)
    if args.trace:
        print(f"pipeline: {result.pipeline or '(none: identity)'}", file=sys.stderr)
        for record in result.records:
            print(f"  {record}", file=sys.stderr)
    return 0


def cmd_passes(args) -> int:
    from .passes.registry import available
    for name, cls in sorted(available().items()):
        import dataclasses
        params = " ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(cls))
        origin = "built-in" if cls.__module__.startswith("xpiler.") else cls.__module__
        print(f"{name:<20} {cls.summary or cls.__doc__.splitlines()[0] if cls.__doc__ else ''}")
        print(f"{'':<20} parameters: {params or 'none'}; from {origin}")
    return 0


def describe(program) -> dict:
    """What `xpiler parse` reports, as plain data."""
    from . import ir
    from .emitters import type_name, type_prefix

    def buffers(function):
        found = []
        for node in ir.walk(function):
            if isinstance(node, ir.Decl):
                for v in node.vars:
                    if node.scope != "local" or v.dims:
                        found.append({"name": v.name, "type": type_name(v.type), "scope": node.scope,
                                      "dims": [None if d is None else _expr_text(program.dialect, d) for d in v.dims]})
        return found

    functions = []
    for f in program.module.functions():
        if f.body is None:
            continue
        functions.append({
            "name": f.name, "kind": f.kind, "extern_c": f.extern_c,
            "params": [{"name": p.name, "type": type_name(p.type), "decl": type_prefix(p.type) + p.name} for p in f.params],
            "buffers": buffers(f),
            "builtins": sorted(ir.analysis.builtins_used(f)),
            "intrinsics": sorted({n.intrinsic for n in ir.walk(f) if isinstance(n, ir.Call) and n.intrinsic}),
            "barriers": sum(isinstance(n, ir.Barrier) for n in ir.walk(f)),
            "launches": sum(isinstance(n, ir.Launch) for n in ir.walk(f)),
        })
    return {
        "file": program.filename, "dialect": program.dialect, "functions": functions,
        "verbatim": [str(n) for n in program.verbatim],
        "unknown_intrinsics": [f"{line}:{col}: {name}" for line, col, name in program.unknown_calls],
    }


def _expr_text(dialect: str, expr) -> str:
    from .emitters import Printer
    return Printer(dialect).expr(expr)


def cmd_parse(args) -> int:
    from .api import parse
    data, name = _read(args.file)
    program = parse(data, source=args.source, filename=name)
    info = describe(program)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['file']}: dialect {info['dialect']}")
    for f in info["functions"]:
        params = ", ".join(p["decl"] for p in f["params"])
        linkage = '  [extern "C"]' if f["extern_c"] else ""
        print(f"  {f['kind']} {f['name']}({params}){linkage}")
        for b in f["buffers"]:
            dims = "".join(f"[{d if d is not None else ''}]" for d in b["dims"])
            print(f"    buffer {b['scope']:<8} {b['type']} {b['name']}{dims}")
        extras = []
        if f["builtins"]:
            extras.append("built-ins " + ", ".join(f["builtins"]))
        if f["intrinsics"]:
            extras.append("intrinsics " + ", ".join(f["intrinsics"]))
        if f["barriers"]:
            extras.append(f"{f['barriers']} barrier(s)")
        if f["launches"]:
            extras.append(f"{f['launches']} launch(es)")
        for e in extras:
            print(f"    {e}")
    print(f"  kept verbatim: {len(info['verbatim']) or 'nothing'}")
    for v in info["verbatim"]:
        print(f"    {v}")
    for u in info["unknown_intrinsics"]:
        print(f"  unknown intrinsic: {u}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .errors import XpilerError
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return {"translate": cmd_translate, "parse": cmd_parse, "passes": cmd_passes}[args.command](args)
    except _UsageError as e:
        print(f"xpiler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except XpilerError as e:
        print(f"xpiler: error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("xpiler: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as e:  # a bug: one line, traceback on request
        if os.environ.get("XPILER_DEBUG"):
            raise
        print(f"xpiler: internal error: {type(e).__name__}: {' '.join(str(e).split())} "
              "(a bug; set XPILER_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
