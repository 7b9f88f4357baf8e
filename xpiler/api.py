"""The public API: parse, lift, emit, translate.

``translate(src, to=...)`` returns code text (conventions.md). Directions available now:

* the identity (``to`` equal to the source dialect): parse -> IR -> emit, a normalising round trip;
* CUDA <-> HIP through the IR (:mod:`xpiler.passes.simt_port`).

Every other direction raises :class:`~xpiler.errors.NotImplementedDirection` naming the passes it
needs (loop recovery and detensorize to lower to sequential C; bind, cache and tensorize to raise it
to the target).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import dialects
from .errors import NotImplementedDirection, SourceError, TranslationError, UnsupportedError, XpilerError
from .launch import Launch

# Options translate() accepts; anything else is an error, never silently ignored.
KNOWN_OPTIONS = {"launch", "wavefront", "filename", "pipeline", "dump_dir", "verify", "entry", "tolerance"}


@dataclass
class Program:
    """A parsed program: its dialect, IR and what the IR kept verbatim."""

    dialect: str
    module: object
    verbatim: list = field(default_factory=list)
    unknown_calls: list = field(default_factory=list)
    filename: str = "<input>"
    text: str = ""


def parse(src, *, source: str | None = None, filename: str = "<input>") -> Program:
    """Parse and lift ``src``; the dialect is ``source`` or detected (conventions.md)."""
    from .frontend.lift import lift as _lift
    from .frontend.parser import check_text
    text = check_text(src, filename)
    dialect = dialects.resolve(text, source, filename if filename != "<input>" else None)
    result = _lift(text, dialect, filename)
    return Program(dialect, result.module, result.verbatim, result.unknown_calls, filename, text)


def lift(src, *, source: str | None = None, filename: str = "<input>"):
    """The IR module of ``src``."""
    return parse(src, source=source, filename=filename).module


def emit(module, to: str | None = None) -> str:
    """Print an IR module in ``to`` (default: its own dialect)."""
    from .emitters import emit as _emit
    return _emit(module, to)


@dataclass
class Translation:
    """What :func:`translate_with_trace` returns: the code and its evidence."""

    code: str
    source: str                 # source dialect
    target: str                 # target dialect
    pipeline: str               # the pipeline spec that ran (replayable)
    records: list = field(default_factory=list)  # one PassRecord per pass application
    notes: list = field(default_factory=list)    # why the pipeline differs from the default, if it does

    @property
    def verified(self) -> bool:
        """True only when every pass was verified by the oracle."""
        return bool(self.records) and all(r.verified for r in self.records)


LOWERING = "{host_entries}inline-device,loop-recovery,host-lower,detensorize"
# Raising sequential C to a target (pass docstrings say what each does).
RAISING = {
    "vnni": "dce,unit-arrays,outline,tensorize{{target=vnni}},bind{{target=vnni}},elide-mirrors,wide-subscripts,simd-jam,simd-unswitch,lane-bounds,byte-flags,c-prelude",
    "cuda": "outline,bind{{target=cuda}},tensorize{{target=cuda}},target-prelude",
    "hip": "outline,bind{{target=hip}},tensorize{{target=hip}},target-prelude",
    "bang": "block-constants,outline,cache{{target=bang}},bind{{target=bang}},tensorize{{target=bang}},pipeline{{target=bang}},target-prelude",
}

# Vector code (AVX-512 detensorized) raised to SIMT: one loop per lane, bound like any loop.
VECTOR_TO_LANES = "inline-parallel,inline-vector,loop-normalize,constant-fold,mask-bounds,broadcast-forward,contract-temporaries,lanes-outward,scalar-replace,dce"
# Lowered BANG (or CUDA/HIP) raised to SIMT: locals declared again in other blocks get names of their
# own (so the passes after can follow each name); staging copies through buffers too large for a block's
# shared memory (bind's 48 KB) are read from, or stored to, the arrays they copy; units of work dealt
# to the tasks in turn become one loop over the units (a block each, not one per task); the chunk loops
# through on-chip buffers (load a tile, compute on it, store it) fuse where legal, and the buffers
# they no longer need become scalars; the remaining buffers become shared memory in block mode.
BUFFERS_TO_LANES = "unique-names,forward-copies{larger_than=49152},task-units,contract-temporaries,dce"


def default_pipeline(source: str, target: str, *, wavefront: int = 64, program: Program | None = None,
                     launch=None) -> str:
    """The pipeline spec that translates ``source`` to ``target`` (raises when none exists yet)."""
    if source == target:
        return ""
    if {source, target} == {"cuda", "hip"}:
        return f"simt-port{{target={target}}}" if wavefront == 64 or target == "cuda" else \
            f"simt-port{{target={target} wavefront={wavefront}}}"
    return lower_and_raise(source, target, program=program, launch=launch, wavefront=wavefront)


def lower_and_raise(source: str, target: str, *, program: Program | None = None, launch=None,
                    wavefront: int = 64) -> str:
    """The general route: lower the source to sequential C, raise that to the target (for HIP with
    ``wavefront=32``, RDNA, without the MFMA tiles of ``tensorize{target=hip}``)."""
    if target not in RAISING:
        raise NotImplementedDirection(f"no raising passes to {target}")
    if program is not None and target != "vnni":
        from .intrinsics import REGISTRY
        from .ir import Call, walk
        atomics = sorted({n.func.id for n in walk(program.module) if isinstance(n, Call) and n.intrinsic
                          and REGISTRY[n.intrinsic].kind == "atomic" and hasattr(n.func, "id")})
        if atomics:  # lowering makes them plain updates; raising would run those concurrently
            raise UnsupportedError(f"translating {source} to {target}: atomics ({', '.join(atomics)}) are not "
                                   f"raised yet (sequential C has no atomicity to bind)")
    if source == "vnni":
        lowering = "detensorize" + ("," + VECTOR_TO_LANES if target in ("cuda", "hip") else "")
    elif program is None:
        raise NotImplementedDirection(f"translating {source} to {target} needs the program (for its host entries)")
    else:
        lowering = LOWERING.format(host_entries="".join(s + "," for s in _host_entry_specs(program, launch)))
        if target in ("cuda", "hip"):
            lowering += "," + BUFFERS_TO_LANES
    raising = RAISING[target].format()
    if target == "hip" and wavefront != 64:
        raising = raising.replace(",tensorize{target=hip}", "")
    return lowering + "," + raising


def _host_entry_specs(program: Program, launch) -> list[str]:
    """``host-entry{...}`` for every bare kernel of the program, with ``launch=`` when given, else the
    launch defaults of conventions.md."""
    from .passes.host_entry import HostEntry
    launched = program.module.launched
    launch = Launch.coerce(launch)
    specs = []
    for kernel in program.module.kernels:
        if kernel.name in launched:
            continue
        if program.dialect == "bang":
            if launch is not None and launch.is_bang:
                task_dim, func_type = launch.task_dim or (1, 1, 1), launch.func_type or "BLOCK"
            else:
                from .oracle.bang import default_launch
                task_dim, func_type = default_launch(program.text, kernel.name)
            entry = HostEntry(kernel=kernel.name, task_dim=tuple(task_dim), func_type=func_type)
        else:
            if launch is not None and launch.is_simt:
                grid, block = launch.grid, launch.block
            else:
                from .oracle import simt
                grid, block = simt.default_launch(simt._kernels(program.text)[0][kernel.name])
            entry = HostEntry(kernel=kernel.name, grid=tuple(grid), block=tuple(block))
        specs.append(entry.spec())
    return specs


def translate_with_trace(src, to: str, *, source: str | None = None, **options) -> Translation:
    """Like :func:`translate`, returning the code with the pipeline that ran and one record per pass
    (which implementation, how long, whether it was verified). Options: those of :func:`translate`,
    plus ``pipeline=`` (a spec string replacing the default pipeline), ``dump_dir=`` (write the
    program after every pass there, numbered, each in the dialect of its stage), and ``verify=``: the
    arguments of the host entry (numpy arrays and scalars, as for :func:`xpiler.run`) on which the
    source and the program after every pass are run and compared (:mod:`xpiler.verify`; ``entry=``
    names the host entry when the program has several, ``tolerance=(rtol, atol)`` overrides the
    per-dtype default)."""
    from .passes.manager import DumpInstrument, run_pipeline
    from .passes.registry import pipeline as make_pipeline
    target = dialects.canonical(to)
    unknown = set(options) - KNOWN_OPTIONS
    if unknown:
        raise XpilerError(f"translate: unknown option(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(KNOWN_OPTIONS))}")
    Launch.coerce(options.get("launch"))  # validated now so a bad launch= fails early and clearly
    filename = options.get("filename", "<input>")
    program = parse(src, source=source, filename=filename)
    spec = options.get("pipeline")
    if spec is None:
        spec = default_pipeline(program.dialect, target, wavefront=options.get("wavefront", 64), program=program,
                                launch=options.get("launch"))
    passes = make_pipeline(spec) if spec else []
    instruments = [DumpInstrument(options["dump_dir"])] if options.get("dump_dir") else []
    verifier = None
    if options.get("verify") is not None:
        from .verify import Verifier
        rtol, atol = options.get("tolerance") or (None, None)
        verifier = Verifier(list(options["verify"]), entry=options.get("entry"), launch=options.get("launch"),
                            rtol=rtol, atol=atol)
    fallback = None
    try:
        if passes:
            try:
                result = run_pipeline(program.module, passes, instruments=instruments, verifier=verifier)
            except UnsupportedError as error:
                # The direct CUDA <-> HIP port refuses what it cannot map exactly (warp-size
                # dependent code, tensor cores); the general route lowers to C and raises again.
                if options.get("pipeline") is not None or not spec.startswith("simt-port"):
                    raise
                fallback = f"simt-port refused ({error}); lowered to C and raised instead"
                spec = lower_and_raise(program.dialect, target, program=program, launch=options.get("launch"))
                result = run_pipeline(program.module, make_pipeline(spec), instruments=instruments, verifier=verifier)
            module, records = result.module, result.records
        else:
            module, records = program.module, []
            for instrument in instruments:
                instrument.before(0, None, module)
        if module.dialect != target:
            raise TranslationError(f"pipeline {spec!r} ends in {module.dialect}, not {target}")
        code = emit(module, target)
    except SourceError as error:
        if error.filename == "<input>" and filename != "<input>":
            error.filename = filename
            error.args = (error._format(),)
        raise
    return Translation(code, program.dialect, target, spec, records, notes=[fallback] if fallback else [])


def translate(src, to: str, *, source: str | None = None, **options) -> str:
    """Translate program text ``src`` to dialect ``to``; returns the translated program text.

    Options: ``launch=`` (bare kernels), ``wavefront=`` (HIP target: 64 or 32), ``filename=`` (for
    error messages), ``pipeline=`` (a pass pipeline spec replacing the default), ``dump_dir=``.
    """
    return translate_with_trace(src, to, source=source, **options).code
