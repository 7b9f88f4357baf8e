"""Host raising: the device memory management of a raised program's host entries.

After :mod:`bind` the host entry of a program still speaks C: ``malloc`` / ``memcpy`` / ``free``
for the buffers the source allocated (for a lowered CUDA program: its ``cudaMalloc``s), host pointer
parameters passed straight to launches (a lowered bare BANG kernel, a VNNI function), and
``malloc``-ed scratch. This module rewrites it for the target runtime:

* ``malloc`` -> ``cudaMalloc`` / ``hipMalloc`` / ``cnrtMalloc``, ``free`` -> ``*Free``, ``memset`` of a
  device buffer -> ``*Memset``;
* ``memcpy`` -> ``*Memcpy`` with the direction given by where each side lives;
* every pointer parameter that device code uses directly gets a *mirror*: a device buffer of the
  size the kernels access (:func:`xpiler.synth.footprint.footprint`, exact, or an error), filled at
  entry and copied back at exit when a kernel may write it;
* BANG: a queue is created for the launches and synchronised before results are read.
"""

from __future__ import annotations

from dataclasses import replace

from xpiler import ir
from xpiler.emitters.host import root_pointer as root
from xpiler.errors import UnsupportedError
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import call_name, used_names
from xpiler.synth.footprint import FootprintError, footprint

API = {"cuda": "cuda", "hip": "hip", "bang": "cnrt"}
H2D = {"cuda": "cudaMemcpyHostToDevice", "hip": "hipMemcpyHostToDevice", "bang": "CNRT_MEM_TRANS_DIR_HOST2DEV"}
D2H = {"cuda": "cudaMemcpyDeviceToHost", "hip": "hipMemcpyDeviceToHost", "bang": "CNRT_MEM_TRANS_DIR_DEV2HOST"}
D2D = {"cuda": "cudaMemcpyDeviceToDevice", "hip": "hipMemcpyDeviceToDevice", "bang": "CNRT_MEM_TRANS_DIR_DEV2DEV"}
H2H = {"cuda": "cudaMemcpyHostToHost", "hip": "hipMemcpyHostToHost", "bang": "CNRT_MEM_TRANS_DIR_HOST2HOST"}


def _n(id_):
    return ir.Name(id_)


def _call(name, *args) -> ir.ExprStmt:
    return ir.ExprStmt(ir.Call(_n(name), tuple(args)))


def offset_of(expr, name: str):
    """``e`` for an argument ``name + e`` (0 for ``name``), else None."""
    expr = strip_parens(expr)
    if isinstance(expr, ir.Cast):
        return offset_of(expr.operand, name)
    if isinstance(expr, ir.Name) and expr.id == name:
        return ir.Const("0", 0)
    if isinstance(expr, ir.BinOp) and expr.op == "+" and isinstance(strip_parens(expr.left), ir.Name) and \
            strip_parens(expr.left).id == name:
        return expr.right
    return None


class EntryRaiser:
    def __init__(self, entry: ir.Function, target: str, sequential: dict, module: ir.Module, constants: dict):
        self.entry = entry
        self.target = target
        self.api = API[target]
        self.sequential = sequential      # kernel name -> its sequential function (before bind)
        self.module = module
        self.constants = constants
        self.params = {p.name: p for p in entry.params}
        self.pointer_params = {p.name for p in entry.params if p.type.is_pointer}
        self.device: set[str] = set()      # device buffers the entry allocates
        self.mirrors: dict[str, list] = {} # pointer parameter -> extents its device uses need
        self.local_arrays: dict[str, ir.Declarator] = {}  # arrays of the entry that kernels use
        self.inspectors: list[ir.Function] = []  # run-time extent inspectors the mirrors call
        self.locals = self.local_values()
        self.env = self.constant_env()
        # local pointers set from a pointer parameter: host memory under another name
        self.host_aliases = {v.name: root(v.init) for n in ir.walk(entry.body) if isinstance(n, ir.Decl) for v in n.vars
                             if v.type.pointer and not v.dims and v.init is not None and root(v.init) in self.pointer_params}

    def local_values(self) -> dict[str, ir.Expr]:
        """Single-assignment scalar locals of the entry and their initialisers (for hoisting sizes)."""
        from .bind import initializer_values
        decls = [n for n in ir.walk(self.entry.body) if isinstance(n, ir.Decl)]
        assigned = {strip_parens(n.target).id for n in ir.walk(self.entry.body)
                    if isinstance(n, ir.Assign) and isinstance(strip_parens(n.target), ir.Name)}
        pointers = {v.name for d in decls for v in d.vars if v.type.pointer}
        return initializer_values(decls, exclude=assigned | pointers)

    def constant_env(self) -> dict:
        """Values the entry gives its scalars and launch dimensions (``dim.x`` of a ``cnrtDim3_t``)."""
        from .bind import const_value
        env = dict(self.constants)
        members: dict[str, list] = {}
        for n in ir.walk(self.entry.body):
            if isinstance(n, ir.Assign) and n.op == "=" and isinstance(strip_parens(n.target), ir.Member):
                m = strip_parens(n.target)
                if isinstance(strip_parens(m.base), ir.Name):
                    members.setdefault(f"{strip_parens(m.base).id}.{m.field_name}", []).append(n.value)
        for name, value in self.locals.items():
            v = const_value(value, env)
            if v is not None:
                env[name] = v
        for n in ir.walk(self.entry.body):
            if isinstance(n, ir.Decl):
                for var in n.vars:
                    items = var.init.items if isinstance(var.init, ir.InitList) else var.ctor_args
                    if items is not None and var.type.base in ("dim3", "cnrtDim3_t"):
                        for axis, item in zip("xyz", tuple(items) + (ir.Const("1", 1),) * 3):
                            v = const_value(item, env)
                            if v is not None:
                                env[f"{var.name}.{axis}"] = v
        for name, values in members.items():
            v = const_value(values[0], env) if len(values) == 1 else None
            if v is not None:
                env[name] = v
        return env

    def call_constants(self, kernel: ir.Function, args) -> dict:
        """Constants for the footprint of ``kernel`` at one call: the module's, plus the parameters whose
        argument has a known value (``dim3`` arguments give ``name.x`` / ``.y`` / ``.z``)."""
        from .bind import const_value
        out = dict(self.constants)
        for p, a in zip(kernel.params, args):
            a = strip_parens(a)
            while isinstance(a, ir.Call) and call_name(a) == "dim3" and len(a.args) == 1 and \
                    isinstance(strip_parens(a.args[0]), ir.Call) and call_name(strip_parens(a.args[0])) == "dim3":
                a = strip_parens(a.args[0])  # dim3(dim3(256, 1, 1))
            if isinstance(a, ir.Call) and call_name(a) == "dim3":
                inner = strip_parens(a.args[0]) if len(a.args) == 1 else None
                for axis, item in zip("xyz", a.args + (ir.Const("1", 1),) * 3):
                    if isinstance(inner, ir.Name) and f"{inner.id}.x" in self.env:  # dim3(grid)
                        item = ir.Member(inner, axis)
                    v = const_value(item, self.env)
                    if v is not None:
                        out[f"{p.name}.{axis}"] = v
                continue
            v = const_value(a, self.env)
            if v is not None:
                out[p.name] = v
        return out

    # ---- analysis ----------------------------------------------------------------------------------
    def scan(self):
        for n in ir.walk(self.entry.body):
            if isinstance(n, ir.Assign) and n.op == "=" and isinstance(strip_parens(n.target), ir.Name):
                v = strip_parens(n.value)
                if isinstance(v, ir.Cast):
                    v = strip_parens(v.operand)
                if isinstance(v, ir.Call) and call_name(v) in ("malloc", "calloc"):
                    self.device.add(strip_parens(n.target).id)
            if isinstance(n, ir.Decl):
                for var in n.vars:
                    v = strip_parens(var.init) if var.init is not None else None
                    if isinstance(v, ir.Cast):
                        v = strip_parens(v.operand)
                    if isinstance(v, ir.Call) and call_name(v) in ("malloc", "calloc", "__xpiler_scratch"):
                        self.device.add(var.name)   # (bind's scratch memory is device memory already)
                    elif var.dims and self.passed_to_launch(var.name):
                        if len(var.dims) != 1 or any(d is None for d in var.dims):
                            raise UnsupportedError(f"host-raise: local array {var.name} of {self.entry.name} used by "
                                                   f"device code must be one-dimensional with a known extent")
                        self.local_arrays[var.name] = var
            if isinstance(n, ir.Launch):
                self.launch_uses(n)
            if isinstance(n, ir.Call) and call_name(n) == "memset" and len(n.args) == 3:
                r = root(n.args[0])
                if r in self.pointer_params:  # cleared on the device: a mirror covering the bytes set
                    offset = offset_of(n.args[0], r)
                    elem = self.params[r].type.pointee()
                    if offset is None:
                        raise UnsupportedError(f"host-raise: memset of {r} in {self.entry.name} at an address "
                                               f"that is not the parameter plus an offset")
                    count = ir.BinOp("/", ir.Paren(n.args[2]), ir.SizeOf(type=ir.Type(elem.base, elem.pointer)))
                    self.mirrors.setdefault(r, []).append(
                        count if _is_zero(offset) else ir.BinOp("+", ir.Paren(offset), ir.Paren(count)))

    def passed_to_launch(self, name: str) -> bool:
        return any(isinstance(n, ir.Launch) and any(root(a) == name for a in n.args) for n in ir.walk(self.entry.body))

    def local_array_code(self, var: ir.Declarator) -> list:
        """A device copy of a local array of the entry, initialised from it."""
        d = f"__xp_d_{var.name}"
        nbytes = ir.SizeOf(operand=_n(var.name))
        code = [ir.Decl((ir.Declarator(d, ir.Type(var.type.base, var.type.pointer + 1)),)),
                _call(f"{self.api}Malloc", ir.Cast(ir.Type("void", 2), ir.UnOp("&", _n(d))), nbytes)]
        if var.init is not None:
            code.append(_call(f"{self.api}Memcpy", _n(d), _n(var.name), nbytes, _n(H2D[self.target])))
        return code

    def launch_uses(self, launch: ir.Launch):
        from .bind import substitute
        kernel = self.sequential[launch.kernel.id]
        counts = None
        for param, arg in zip(kernel.params, launch.args):
            r = root(arg)
            if param.type.is_pointer and r in self.host_aliases:
                raise UnsupportedError(f"host-raise: the launch of {kernel.name} in {self.entry.name} passes {r}, a "
                                       f"local pointer into host memory ({self.host_aliases[r]}): the kernel "
                                       "could not read it; pass the parameter (plus an offset) instead")
            if r not in self.pointer_params:
                continue
            offset = offset_of(arg, r)
            if offset is None:
                raise UnsupportedError(f"host-raise: argument {r}... of the launch of {kernel.name} in "
                                       f"{self.entry.name} is not the parameter plus an offset")
            if counts is None:  # only kernels that read a host pointer need its extent
                counts, mapping = self.call_footprints(kernel, launch.args)
            if param.name not in counts:
                continue  # the kernel does not access it
            count = substitute(counts[param.name], mapping)
            self.mirrors.setdefault(r, []).append(ir.BinOp("+", ir.Paren(offset), ir.Paren(count))
                                                   if not _is_zero(offset) else count)

    def call_footprints(self, kernel: ir.Function, args) -> tuple[dict, dict]:
        """The element counts of the kernel's pointer parameters at one call, and the mapping that
        turns the names they use into the caller's expressions.

        The kernel alone is tried first. When its extents cannot be derived over its own parameters,
        they are derived over the entry's: the scalars the entry computes and passes (``full =
        cols / 16 * 16``, a tail mask) are related to each other there, and footprint executes the
        kernel in place from a wrapper that computes them as the entry does."""
        mapping = {p.name: a for p, a in zip(kernel.params, args)}
        # only the host pointers passed need a size (the entry's own arrays have theirs)
        pointers = [p.name for p, a in zip(kernel.params, args) if p.type.is_pointer and root(a) in self.pointer_params]
        inspected = list(self.inspectors)  # shared, so that names stay unique over the entry's launches
        try:
            counts = footprint(kernel, pointers, constants=self.call_constants(kernel, args), module=self.module,
                               inspectors=inspected)
            if len(inspected) == len(self.inspectors):
                return counts, mapping
        except FootprintError as error:
            counts, refusal = None, error
        # a closed form over the entry's scalars is preferred to an inspector
        wrapper, wrapper_mapping = self.call_wrapper(kernel, args)
        if wrapper is not None:
            module = replace(self.module, items=self.module.items + (kernel, wrapper))
            wrapped = [f"__xp_fp_{name}" for name in pointers]
            found = list(self.inspectors)
            try:
                counts_w = footprint(wrapper, wrapped, constants=self.constants, module=module,
                                     inspectors=found if counts is None else None)
                prefix = len("__xp_fp_")
                counts, mapping, inspected = {n[prefix:]: c for n, c in counts_w.items()}, wrapper_mapping, found
            except FootprintError:
                pass
        if counts is None:
            raise refusal  # the kernel's own reason is the one to report
        self.inspectors = inspected
        return counts, mapping

    def call_wrapper(self, kernel: ir.Function, args):
        """``void __xp_footprint(<entry scalars>, <kernel pointers>) { kernel(<arguments>); }`` with
        every scalar argument written over the entry's scalar parameters (through the entry's
        single-assignment locals, converted to their declared types), or None when no argument
        changes."""
        from .bind import substitute
        typed = self.typed_locals()
        scalars = {p.name: p for p in self.entry.params if not p.type.is_pointer and not p.dims}
        params, call_args, mapping, changed = [], [], {}, False
        for p, a in zip(kernel.params, args):
            name = f"__xp_fp_{p.name}"
            if not p.type.is_pointer and not p.dims:
                expanded = a
                for _ in range(8):  # locals defined from locals
                    if not used_names(expanded) & typed.keys():
                        break
                    expanded = substitute(expanded, typed)
                if used_names(expanded) <= scalars.keys():
                    changed |= expanded is not a
                    call_args.append(expanded)
                    continue
            params.append(ir.Param(name, p.type, p.dims))
            call_args.append(_n(name))
            mapping[name] = a
        if not changed:
            return None, {}
        used = set().union(*(used_names(a) for a in call_args))
        params = [scalars[n] for n in scalars if n in used] + params
        body = ir.Block((ir.ExprStmt(ir.Call(_n(kernel.name), tuple(call_args))),))
        return ir.Function("__xp_footprint", ir.Type("void"), tuple(params), body), mapping

    def typed_locals(self) -> dict[str, ir.Expr]:
        """The entry's single-assignment integer locals as ``(T)(initialiser)``."""
        out = {}
        for n in ir.walk(self.entry.body):
            if isinstance(n, ir.Decl):
                for v in n.vars:
                    if v.name in self.locals and v.init is not None and not v.dims and not v.type.pointer \
                            and v.type.base not in ("auto", "float", "double", "half"):
                        out[v.name] = ir.Cast(ir.Type(v.type.base), ir.Paren(v.init))
        return out

    # ---- rewriting ---------------------------------------------------------------------------------
    def is_device(self, expr) -> bool:
        r = root(expr)
        return r in self.device or r in self.mirrors or r == "__xp_device"

    def rewrite_call(self, c: ir.Call):
        name = call_name(c)
        a = c.args
        if name in ("malloc", "calloc"):
            return c  # handled at the assignment
        if name == "free" and a and self.is_device(a[0]):
            return ir.Call(_n(f"{self.api}Free"), a)
        if name == "memcpy" and len(a) == 3:
            dst, src = self.is_device(a[0]), self.is_device(a[1])
            if not dst and not src:
                return c
            kind = (D2D if dst and src else H2D if dst else D2H)[self.target]
            return ir.Call(_n(f"{self.api}Memcpy"), (a[0], a[1], a[2], _n(kind)))
        if name == "memset" and self.is_device(a[0]):
            if self.target == "bang":
                return ir.Call(_n("cnrtMemset"), a)
            return ir.Call(_n(f"{self.api}Memset"), a)
        return c

    def alloc(self, target_expr, call: ir.Call):
        size = call.args[0] if call_name(call) == "malloc" else ir.BinOp("*", ir.Paren(call.args[0]), ir.Paren(call.args[1]))
        stmt = ir.Call(_n(f"{self.api}Malloc"), (ir.Cast(ir.Type("void", 2), ir.UnOp("&", target_expr)), size))
        if call_name(call) == "calloc":
            return ir.Comma(stmt, ir.Call(_n(f"{self.api}Memset"), (target_expr, ir.Const("0", 0), size)))
        return stmt

    def rewrite(self) -> ir.Function:
        self.scan()
        rename = {p: f"__xp_d_{p}" for p in self.mirrors}

        def fn(n):
            if isinstance(n, ir.Assign) and n.op == "=" and isinstance(strip_parens(n.target), ir.Name) and \
                    strip_parens(n.target).id in self.device:
                v = strip_parens(n.value)
                if isinstance(v, ir.Cast):
                    v = strip_parens(v.operand)
                if isinstance(v, ir.Call) and call_name(v) in ("malloc", "calloc"):
                    return self.alloc(n.target, v)
            if isinstance(n, ir.Decl) and any(v.name in self.device and v.init is not None for v in n.vars):
                return n  # split below
            if isinstance(n, ir.Call):
                return self.rewrite_call(n)
            if isinstance(n, ir.Launch):
                return replace(n, args=tuple(ir.rename(a, rename) for a in n.args))
            return n
        body = ir.rewrite(self.entry.body, fn)
        body = self.split_device_decls(body)
        if self.local_arrays:
            arrays = {name: f"__xp_d_{name}" for name in self.local_arrays}

            def after_decl(n):
                if isinstance(n, ir.Launch):
                    return replace(n, args=tuple(ir.rename(a, arrays) for a in n.args))
                if not isinstance(n, ir.Block):
                    return n
                out = []
                for s in n.body:
                    out.append(s)
                    if isinstance(s, ir.Decl):
                        for v in s.vars:
                            if v.name in self.local_arrays:
                                out.extend(self.local_array_code(v))
                return replace(n, body=tuple(out)) if len(out) != len(n.body) else n
            body = ir.rewrite(body, after_decl)
        # memcpy arguments that name a mirrored parameter address its mirror
        body = ir.rewrite(body, lambda n: replace(n, args=tuple(ir.rename(a, rename) for a in n.args))
                          if isinstance(n, ir.Call) and call_name(n) in (f"{self.api}Memcpy", f"{self.api}Memset",
                                                                       f"{self.api}Free", "cnrtMemset") else n)
        prologue, epilogue = self.mirror_code(rename)
        if self.target == "bang":
            prologue = [ir.Decl((ir.Declarator("__xp_queue", ir.Type("cnrtQueue_t")),)),
                        _call("cnrtQueueCreate", ir.UnOp("&", _n("__xp_queue")))] + prologue
            epilogue = [_call("cnrtQueueSync", _n("__xp_queue"))] + epilogue + [_call("cnrtQueueDestroy", _n("__xp_queue"))]
        else:
            epilogue = [_call(f"{self.api}DeviceSynchronize")] + epilogue
        # every way out of the entry synchronises, copies results back and frees
        def fn(n):
            if isinstance(n, ir.Block) and any(isinstance(s, ir.Return) for s in n.body):
                out = []
                for s in n.body:
                    out.extend(epilogue + [s] if isinstance(s, ir.Return) else [s])
                return replace(n, body=tuple(out))
            if isinstance(n, (ir.If, ir.For, ir.While)):
                for f in ("then", "other", "body"):
                    child = getattr(n, f, None)
                    if isinstance(child, ir.Return):
                        n = replace(n, **{f: ir.Block(tuple(epilogue) + (child,))})
            return n
        body = ir.rewrite(body, fn)
        stmts = list(body.body)
        if stmts and isinstance(stmts[-1], ir.Return):
            return replace(self.entry, body=ir.Block(tuple(prologue + stmts)))
        return replace(self.entry, body=ir.Block(tuple(prologue + stmts + epilogue)))

    def split_device_decls(self, body):
        """``float *d = (float *)malloc(n);`` -> ``float *d; cudaMalloc((void **)&d, n);``"""
        def fn(n):
            if not isinstance(n, ir.Block):
                return n
            out, changed = [], False
            for s in n.body:
                if isinstance(s, ir.Decl) and any(v.name in self.device and v.init is not None for v in s.vars):
                    changed = True
                    for v in s.vars:
                        init = strip_parens(v.init) if v.init is not None else None
                        if isinstance(init, ir.Cast):
                            init = strip_parens(init.operand)
                        if v.name in self.device and isinstance(init, ir.Call) and call_name(init) in ("malloc", "calloc"):
                            out.append(ir.Decl((replace(v, init=None),), s.scope, s.storage))
                            out.append(ir.ExprStmt(self.alloc(_n(v.name), init)))
                        else:
                            out.append(ir.Decl((v,), s.scope, s.storage))
                else:
                    out.append(s)
            return replace(n, body=tuple(out)) if changed else n
        return ir.rewrite(body, fn)

    def mirror_code(self, rename):
        from .bind import substitute
        prologue, epilogue = [], []
        for p, extents in self.mirrors.items():
            param = self.params[p]
            elem = param.type.pointee()
            elem_type = ir.Type(elem.base, elem.pointer)
            count_name = f"__xp_n_{p}"
            counts = [substitute(e, self.locals) for e in extents]
            unknown = {n for e in counts for n in used_names(e)} - set(self.params) - set(self.constants) - \
                {"dim3"} - {f.name for f in self.inspectors}
            if unknown:
                raise UnsupportedError(f"host-raise: the size of {p} in {self.entry.name} depends on "
                                       f"{', '.join(sorted(unknown))}, which the entry computes late")
            prologue.append(ir.Decl((ir.Declarator(count_name, ir.Type("size_t"), init=ir.Cast(ir.Type("size_t"), ir.Paren(counts[0]))),)))
            for extra in counts[1:]:
                prologue.append(ir.If(ir.BinOp(">", ir.Cast(ir.Type("size_t"), ir.Paren(extra)), _n(count_name)),
                                      ir.ExprStmt(ir.Assign(_n(count_name), "=", ir.Cast(ir.Type("size_t"), ir.Paren(extra))))))
            nbytes = ir.BinOp("*", _n(count_name), ir.SizeOf(type=elem_type))
            d = rename[p]
            prologue.append(ir.Decl((ir.Declarator(d, ir.Type(elem.base, elem.pointer + 1)),)))
            prologue.append(_call(f"{self.api}Malloc", ir.Cast(ir.Type("void", 2), ir.UnOp("&", _n(d))), nbytes))
            prologue.append(_call(f"{self.api}Memcpy", _n(d), _n(p), nbytes, _n(H2D[self.target])))
            if "const" not in param.type.quals:
                epilogue.append(_call(f"{self.api}Memcpy", _n(p), _n(d), nbytes, _n(D2H[self.target])))
        for p in self.mirrors:
            epilogue.append(_call(f"{self.api}Free", _n(rename[p])))
        for name in self.local_arrays:
            epilogue.append(_call(f"{self.api}Free", _n(f"__xp_d_{name}")))
        return prologue, epilogue


def _is_zero(e) -> bool:
    e = strip_parens(e)
    return isinstance(e, ir.Const) and e.value == 0
