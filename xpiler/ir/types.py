"""Type inference for IR expressions.

Passes that rewrite expressions need to know what they denote: the element type a pointer argument
points to (``__bang_add(dst, a, b, n)`` over ``float``), whether a value is a pointer or an integer,
the C type a literal has. :class:`TypeEnv` is a chain of scopes (file scope, function parameters,
blocks) mapping names to their declared :class:`~xpiler.ir.nodes.Type` and array extents;
:meth:`TypeEnv.type_of` infers the type of an expression from declarations, parameters, casts,
literals, pointer arithmetic, indexing, member access and calls, with C's usual arithmetic
conversions. Arrays are typed as pointers to their elements (what they decay to).

Inference is best effort: ``None`` means "unknown" (a struct member, an undeclared name), never a
guess. Types are compared in canonical form (:func:`canonical`): qualifiers dropped and the
fixed-width and alias spellings mapped to one name (``int8_t`` is ``signed char``, ``unsigned`` is
``unsigned int``, ``__half`` is ``half``).

It also knows the value types of the platforms: SIMD vectors (``__m512`` is 16 ``float`` lanes,
``__m512i`` 64 bytes held as 16 ``int32_t`` lanes), AVX-512 masks (``__mmask16`` is ``uint16_t``)
and WMMA fragments (``wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major>``, see
:func:`fragment_info`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .nodes import (Assign, BinOp, Builtin, Call, Cast, Comma, Const, Decl, Function, Index, InitList, Member,
                    Module, Name, Paren, SizeOf, Ternary, Type, UnOp, ExternC, Param)

# --------------------------------------------------------------------------------------------------
# Canonical spellings and sizes (x86-64, LP64)

_ALIASES = {
    "int8_t": "signed char", "uint8_t": "unsigned char", "int16_t": "short", "uint16_t": "unsigned short",
    "int32_t": "int", "uint32_t": "unsigned int", "int64_t": "long", "uint64_t": "unsigned long",
    "unsigned": "unsigned int", "signed": "int", "signed int": "int", "short int": "short",
    "signed short": "short", "unsigned short int": "unsigned short", "long int": "long", "signed long": "long",
    "unsigned long int": "unsigned long", "long long int": "long long", "signed long long": "long long",
    "unsigned long long int": "unsigned long long", "size_t": "unsigned long", "ssize_t": "long",
    "ptrdiff_t": "long", "intptr_t": "long", "uintptr_t": "unsigned long", "int8": "signed char",
    "int16": "short", "__half": "half", "_Float16": "half", "float16_t": "half", "__fp16": "half",
    "uchar": "unsigned char", "uint": "unsigned int", "_Bool": "bool",
    "__mmask8": "unsigned char", "__mmask16": "unsigned short", "__mmask32": "unsigned int",
    "__mmask64": "unsigned long",
}

INTEGER_RANK = {
    "bool": 0, "char": 1, "signed char": 1, "unsigned char": 1, "short": 2, "unsigned short": 2,
    "int": 3, "unsigned int": 3, "long": 4, "unsigned long": 4, "long long": 5, "unsigned long long": 5,
}
UNSIGNED = {"bool", "unsigned char", "unsigned short", "unsigned int", "unsigned long", "unsigned long long"}
FLOAT_RANK = {"half": 1, "bfloat16_t": 1, "float": 2, "double": 3, "long double": 4}

SIZES = {"bool": 1, "char": 1, "signed char": 1, "unsigned char": 1, "short": 2, "unsigned short": 2, "int": 4,
         "unsigned int": 4, "long": 8, "unsigned long": 8, "long long": 8, "unsigned long long": 8,
         "half": 2, "bfloat16_t": 2, "float": 4, "double": 8, "long double": 16}

#: SIMD value types: name -> (storage element type, lanes). ``__m512i`` keeps 64 bytes as 16 int32 lanes.
VECTOR_TYPES = {
    "__m512": ("float", 16), "__m512i": ("int32_t", 16), "__m512d": ("double", 8),
    "__m256": ("float", 8), "__m256i": ("int32_t", 8), "__m256d": ("double", 4),
    "__m128": ("float", 4), "__m128i": ("int32_t", 4), "__m128d": ("double", 2),
}
#: AVX-512 mask types and the unsigned integer each one is.
MASK_TYPES = {"__mmask8": "uint8_t", "__mmask16": "uint16_t", "__mmask32": "uint32_t", "__mmask64": "uint64_t"}

_QUALS = {"const", "volatile", "__restrict__", "restrict", "__restrict", "static", "register", "struct"}

INT = Type("int")
UINT = Type("unsigned int")
LONG = Type("long")
ULONG = Type("unsigned long")
FLOAT = Type("float")
DOUBLE = Type("double")
BOOL = Type("bool")


def canonical_base(base: str) -> str:
    words = [w for w in base.split() if w not in _QUALS]
    text = " ".join(words)
    text = re.sub(r"^(std::)", "", text)
    return _ALIASES.get(text, text)


def canonical(t: Type | None) -> Type | None:
    """``t`` without qualifiers, its base in canonical spelling (``const int8_t *`` -> ``signed char *``)."""
    if t is None:
        return None
    return Type(canonical_base(t.base), t.pointer)


def same_type(a: Type | None, b: Type | None) -> bool:
    return a is not None and b is not None and canonical(a) == canonical(b)


def unqualified(t: Type) -> Type:
    """``t`` as written, without cv-qualifiers, pointer qualifiers or reference."""
    return Type(" ".join(w for w in t.base.split() if w not in _QUALS), t.pointer)


def is_pointer(t: Type | None) -> bool:
    return t is not None and t.pointer > 0


def is_integer(t: Type | None) -> bool:
    return t is not None and t.pointer == 0 and canonical_base(t.base) in INTEGER_RANK


def is_floating(t: Type | None) -> bool:
    return t is not None and t.pointer == 0 and canonical_base(t.base) in FLOAT_RANK


def is_arithmetic(t: Type | None) -> bool:
    return is_integer(t) or is_floating(t)


def is_unsigned(t: Type | None) -> bool:
    return is_integer(t) and canonical_base(t.base) in UNSIGNED


def sizeof(t: Type | None) -> int | None:
    """Size in bytes on x86-64, or None when unknown."""
    if t is None:
        return None
    if t.pointer:
        return 8
    base = t.base.split("[")[0].strip()
    if canonical_base(base) in SIZES:
        return SIZES[canonical_base(base)]
    if base in VECTOR_TYPES:
        elem, lanes = VECTOR_TYPES[base]
        return SIZES[canonical_base(elem)] * lanes
    return None


def integer_range(t: Type) -> tuple[int, int] | None:
    base = canonical_base(t.base)
    if t.pointer or base not in INTEGER_RANK:
        return None
    bits = 8 * SIZES[base]
    if base == "bool":
        return 0, 1
    if base in UNSIGNED:
        return 0, 2 ** bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def promote(t: Type | None) -> Type | None:
    """Integer promotion (``char``/``short``/``bool`` -> ``int``)."""
    if is_integer(t) and INTEGER_RANK[canonical_base(t.base)] < 3:
        return INT
    return t


def arithmetic(a: Type | None, b: Type | None) -> Type | None:
    """The usual arithmetic conversions of C (``_Float16`` ranks below ``float``)."""
    if a is None or b is None:
        return None
    if is_floating(a) or is_floating(b):
        fa = FLOAT_RANK.get(canonical_base(a.base), 0) if is_floating(a) else 0
        fb = FLOAT_RANK.get(canonical_base(b.base), 0) if is_floating(b) else 0
        return unqualified(a) if fa >= fb else unqualified(b)
    if not (is_integer(a) and is_integer(b)):
        return None
    a, b = canonical(promote(a)), canonical(promote(b))
    if a == b:
        return a
    ra, rb = INTEGER_RANK[a.base], INTEGER_RANK[b.base]
    ua, ub = a.base in UNSIGNED, b.base in UNSIGNED
    if ua == ub:
        return a if ra >= rb else b
    uns, sig = (a, b) if ua else (b, a)
    if INTEGER_RANK[uns.base] >= INTEGER_RANK[sig.base]:
        return uns
    if SIZES[sig.base] > SIZES[uns.base]:
        return sig
    return Type("unsigned " + sig.base)


# --------------------------------------------------------------------------------------------------
# WMMA fragments


@dataclass(frozen=True)
class FragmentInfo:
    """A ``wmma::fragment<use, M, N, K, T[, layout]>``: ``rows`` x ``cols`` elements of ``element``."""

    use: str            # matrix_a | matrix_b | accumulator
    m: int
    n: int
    k: int
    element: str        # storage element type (``precision::tf32`` is stored as float)
    layout: str | None  # row_major | col_major | None (accumulators)

    @property
    def rows(self) -> int:
        return self.k if self.use == "matrix_b" else self.m

    @property
    def cols(self) -> int:
        return self.k if self.use == "matrix_a" else self.n

    @property
    def size(self) -> int:
        return self.rows * self.cols


_FRAGMENT = re.compile(r"^(?:nvcuda::)?(?:wmma::)?fragment\s*<(.*)>$")


def fragment_info(t: Type | str | None) -> FragmentInfo | None:
    """The shape of a WMMA fragment type, or None when ``t`` is not one."""
    if t is None:
        return None
    base = t if isinstance(t, str) else t.base
    base = " ".join(w for w in base.split() if w not in _QUALS)
    m = _FRAGMENT.match(base.strip())
    if not m:
        return None
    parts = [p.strip() for p in m.group(1).split(",")]
    if len(parts) not in (5, 6):
        return None
    use = parts[0].split("::")[-1]
    try:
        dims = [int(p) for p in parts[1:4]]
    except ValueError:
        return None
    element = parts[4].split("::")[-1]
    element = {"tf32": "float", "__half": "half", "__nv_bfloat16": "bfloat16_t"}.get(element, parts[4])
    layout = parts[5].split("::")[-1] if len(parts) == 6 else None
    if use not in ("matrix_a", "matrix_b", "accumulator"):
        return None
    return FragmentInfo(use, dims[0], dims[1], dims[2], element, layout)


def vector_info(t: Type | str | None) -> tuple[str, int] | None:
    """``(element type, lanes)`` of a SIMD value type (not a pointer to one), else None."""
    if t is None:
        return None
    if isinstance(t, Type):
        if t.pointer:
            return None
        t = t.base
    base = " ".join(w for w in t.split() if w not in _QUALS)
    return VECTOR_TYPES.get(base)


# --------------------------------------------------------------------------------------------------
# Calls: result types of functions xpiler knows

_MATH_FLOAT = {"expf", "__expf", "logf", "__logf", "tanhf", "powf", "__powf", "sqrtf", "rsqrtf", "fmaxf", "fminf",
               "fabsf", "__fdividef", "erff", "sinf", "cosf", "__sinf", "__cosf", "floorf", "ceilf", "roundf",
               "rintf", "fmaf", "exp2f", "log2f", "truncf", "nearbyintf", "ldexpf", "__half2float", "__saturatef",
               "__frcp_rn", "__int2float_rn", "__uint2float_rn"}
_MATH_DOUBLE = {"exp", "log", "tanh", "pow", "sqrt", "fabs", "erf", "sin", "cos", "floor", "ceil", "round", "rint",
                "fma", "exp2", "log2", "trunc", "nearbyint", "ldexp", "fmax", "fmin"}
_HALF_RESULT = {"__float2half", "__float2half_rn", "__float2half_rz", "__float2half_rd", "__float2half_ru",
                "__int2half_rn", "__hadd", "__hsub", "__hmul", "__hdiv", "__hneg", "__habs", "__hmax", "__hmin",
                "__hfma", "__ushort_as_half", "__short2half_rn", "__uint2half_rn"}
_INT_RESULT = {"__half2int_rn", "__half2int_rz", "__float2int_rn", "__float2int_rz", "__float_as_int", "__hlt",
               "__hgt", "__hle", "__hge", "__heq", "__hne", "__popc", "__clz", "__ffs", "abs"}


def x86_result_type(name: str) -> Type | None:
    """Result type of an ``_mm*`` intrinsic from Intel's naming rules, or None (``void``)."""
    m = re.match(r"^_mm(512|256)?_(.*)$", name)
    if not m:
        return None
    width, op = m.group(1) or "128", m.group(2)
    suffix = {"512": "512", "256": "256", "128": "128"}[width]
    if op.startswith(("store", "stream", "mask_store", "mask_compressstoreu", "i32scatter")):
        return None
    if op.startswith("reduce_") or op.startswith("mask_reduce_"):
        if op.endswith("_ps"):
            return FLOAT
        if op.endswith("_pd"):
            return DOUBLE
        if op.endswith(("_epi32",)):
            return INT
        if op.endswith(("_epu32",)):
            return UINT
        return Type("long long")
    if op.startswith("cvtss_f32"):
        return FLOAT
    if op.startswith("cvtsd_f64"):
        return DOUBLE
    if op.startswith("cvtsi") and op.endswith("_si32"):
        return INT
    if "_mask" in op and op.split("_")[0] in ("cmp", "cmpeq", "cmpgt", "cmplt", "cmple", "cmpge", "cmpneq",
                                                "mask", "test", "testn", "movepi32", "movepi8", "kand", "kor"):
        lanes = {"512": 16, "256": 8, "128": 4}[width]
        if op.endswith(("epi8_mask", "epu8_mask")):
            lanes *= 4
        elif op.endswith(("epi16_mask", "epu16_mask")):
            lanes *= 2
        elif op.endswith(("pd_mask", "epi64_mask", "epu64_mask")):
            lanes //= 2
        return Type({4: "__mmask8", 8: "__mmask8", 16: "__mmask16", 32: "__mmask32", 64: "__mmask64", 2: "__mmask8"}[lanes])
    if op.endswith("_ps") or op.startswith("cast") and op.endswith("_ps" + suffix):
        return Type({"512": "__m512", "256": "__m256", "128": "__m128"}[width])
    if op.endswith("_pd"):
        return Type({"512": "__m512d", "256": "__m256d", "128": "__m128d"}[width])
    if re.search(r"_(epi|epu)(8|16|32|64)$|_si(128|256|512)$|_i32x4$|_i64x2$|_i32x8$|_i64x4$|_avx_epi32$", op):
        return Type({"512": "__m512i", "256": "__m256i", "128": "__m128i"}[width])
    return None


# --------------------------------------------------------------------------------------------------
# Environments


@dataclass(frozen=True)
class Var:
    """A declared name: its type as written and its array extents (``()`` for scalars/pointers)."""

    type: Type
    dims: tuple = ()
    kind: str = "local"   # local | param | global | function | macro
    value: object = None  # the integer value of a constant macro (``#define N 2048``)

    @property
    def value_type(self) -> Type:
        """The type the name has in an expression (arrays decay to pointers)."""
        t = unqualified(self.type) if not self.dims else self.type
        return replace(Type(t.base, t.pointer), pointer=t.pointer + len(self.dims)) if self.dims else \
            Type(unqualified(t).base, t.pointer)


class TypeEnv:
    """Nested scopes of declared names. ``child()`` opens a scope; lookups walk outwards."""

    def __init__(self, parent: "TypeEnv | None" = None):
        self.parent = parent
        self.names: dict[str, Var] = {}

    # ---- building ------------------------------------------------------------------------------
    @classmethod
    def for_module(cls, module: Module) -> "TypeEnv":
        env = cls()
        for item in module.items:
            env._top(item)
        env._macros(module)
        return env

    def _macros(self, module: Module) -> None:
        """Object-like macros defined once at file scope (never ``#undef``-ed) whose body is an integer
        constant expression become constants of type ``int`` (or ``long``) with their value."""
        from .nodes import Define, Verbatim, walk
        defines, undefined = {}, set()
        for n in walk(module):
            if isinstance(n, Define):
                defines.setdefault(n.name, []).append(n)
            elif isinstance(n, Verbatim):
                undefined.update(re.findall(r"#\s*undef\s+(\w+)", n.text))
        for name, found in defines.items():
            if len(found) != 1 or name in undefined or name in self.names:
                continue
            body = found[0].text[len(name):]
            if body[:1] == "(" or not body.strip():
                continue  # a function-like macro, or an empty one
            value = _eval_int(body.strip(), self)
            if value is not None:
                t = INT if -2 ** 31 <= value < 2 ** 31 else LONG
                self.names[name] = Var(t, (), "macro", value)

    def _top(self, item) -> None:
        if isinstance(item, ExternC):
            for i in item.items:
                self._top(i)
        elif isinstance(item, Function):
            self.names[item.name] = Var(item.ret, (), "function")
        elif isinstance(item, Decl):
            self.declare_decl(item, kind="global")

    def child(self) -> "TypeEnv":
        return TypeEnv(self)

    def declare(self, name: str, type: Type, dims=(), kind: str = "local") -> None:
        self.names[name] = Var(type, tuple(dims), kind)

    def declare_decl(self, decl: Decl, kind: str = "local") -> None:
        for d in decl.vars:
            self.declare(d.name, d.type, d.dims, kind)

    def declare_params(self, params: tuple[Param, ...]) -> None:
        for p in params:
            self.declare(p.name, p.type, p.dims, "param")

    def for_function(self, fn: Function) -> "TypeEnv":
        env = self.child()
        env.declare_params(fn.params)
        return env

    def lookup(self, name: str) -> Var | None:
        env = self
        while env is not None:
            if name in env.names:
                return env.names[name]
            env = env.parent
        return None

    def is_local(self, name: str) -> bool:
        """Declared in a function (a parameter or a local), not at file scope."""
        var = self.lookup(name)
        return var is not None and var.kind in ("local", "param")

    # ---- inference -----------------------------------------------------------------------------
    def type_of(self, e) -> Type | None:
        """The (unqualified) type of expression ``e``, arrays decayed to pointers; None if unknown."""
        t = self._type(e)
        return Type(unqualified(t).base, t.pointer) if t is not None else None

    def element_type(self, e) -> Type | None:
        """The type ``e`` points to (``float`` for a ``float *`` or a ``float[8]``), else None."""
        t = self.type_of(e)
        if t is None or t.pointer == 0:
            return None
        return Type(t.base, t.pointer - 1)

    def _type(self, e) -> Type | None:
        if isinstance(e, Const):
            return literal_type(e)
        if isinstance(e, Name):
            var = self.lookup(e.id)
            if var is not None:
                return var.value_type
            if e.id in ("INFINITY", "NAN", "HUGE_VALF", "FLT_MAX", "FLT_MIN", "FLT_EPSILON"):
                return FLOAT
            if e.id in ("true", "false"):
                return BOOL
            return None
        if isinstance(e, Builtin):
            return UINT if e.axis is not None else INT
        if isinstance(e, Paren):
            return self._type(e.inner)
        if isinstance(e, Cast):
            return unqualified(e.type) if not e.type.reference else Type(unqualified(e.type).base, e.type.pointer)
        if isinstance(e, SizeOf):
            return ULONG
        if isinstance(e, UnOp):
            t = self._type(e.operand)
            if e.op == "&":
                return Type(t.base, t.pointer + 1) if t is not None else None
            if e.op == "*":
                return Type(t.base, t.pointer - 1) if t is not None and t.pointer else None
            if e.op == "!":
                return BOOL
            if e.op in ("++", "--"):
                return t
            return promote(t) if t is not None and not t.pointer else t
        if isinstance(e, BinOp):
            return self._binop(e)
        if isinstance(e, Assign):
            return self._type(e.target)
        if isinstance(e, Ternary):
            a, b = self._type(e.then), self._type(e.other)
            if a is not None and b is not None and canonical(a) == canonical(b):
                return a
            if is_arithmetic(a) and is_arithmetic(b):
                return arithmetic(a, b)
            return a if a is not None and a.pointer else b if b is not None and b.pointer else None
        if isinstance(e, Comma):
            return self._type(e.right)
        if isinstance(e, Index):
            t = self._type(e.base)
            if t is not None and t.pointer:
                return Type(t.base, t.pointer - 1)
            info = vector_info(t)
            if info is not None:
                return Type(info[0])
            b = self._type(e.index)  # `i[p]`
            if b is not None and b.pointer:
                return Type(b.base, b.pointer - 1)
            return None
        if isinstance(e, Member):
            t = self._type(e.base)
            if t is not None and e.arrow and t.pointer:
                t = Type(t.base, t.pointer - 1)
            frag = fragment_info(t) if t is not None and not t.pointer else None
            if frag is not None:
                if e.field_name == "x":
                    return Type(frag.element, 1)
                if e.field_name in ("num_elements", "num_storage_elements"):
                    return INT
            if t is not None and t.base in ("dim3", "uint3") and e.field_name in ("x", "y", "z"):
                return UINT
            return None
        if isinstance(e, Call):
            return self._call(e)
        if isinstance(e, InitList):
            return None
        return None

    def _binop(self, e: BinOp) -> Type | None:
        a, b = self._type(e.left), self._type(e.right)
        op = e.op
        if op in ("<", "<=", ">", ">=", "==", "!=", "&&", "||"):
            return BOOL
        if op in ("+", "-"):
            if a is not None and a.pointer and b is not None and b.pointer and op == "-":
                return LONG
            if a is not None and a.pointer:
                return a
            if b is not None and b.pointer and op == "+":
                return b
        if op in ("<<", ">>"):
            return promote(a)
        return arithmetic(a, b)

    def _call(self, e: Call) -> Type | None:
        func = e.func
        name = func.id if isinstance(func, Name) else None
        if name is None:
            return None
        var = self.lookup(name)
        if var is not None and var.kind == "function":
            return var.type
        short = name.split("::")[-1]
        if short.startswith("__xp_") and e.template_args:
            return Type(e.template_args[0])
        if short == "__xp_float2half":
            return Type("half")
        if short == "__xp_lane16":
            return Type("short")
        if short in _MATH_FLOAT:
            return FLOAT
        if short in _MATH_DOUBLE:
            return DOUBLE
        if short in _HALF_RESULT:
            return Type("half")
        if short in _INT_RESULT:
            return INT
        if short in ("max", "min", "fmaxf", "fminf") and len(e.args) == 2:
            return arithmetic(self._type(e.args[0]), self._type(e.args[1]))
        if short.startswith("_mm"):
            return x86_result_type(short)
        if short in ("__bang_sum",) and e.args:
            return self.element_type(e.args[0])
        if short.startswith("atomic") and e.args:
            return self.element_type(e.args[0])
        return None


def literal_type(c: Const) -> Type | None:
    """The C type of a literal (``1`` int, ``1u`` unsigned, ``1.0f`` float, ``1.0`` double, ``'a'`` char)."""
    text = c.text.lower().replace("'", "") if not c.text.startswith("'") else c.text
    if c.text.startswith("'"):
        return Type("char")
    if c.text.startswith('"'):
        return Type("char", 1, ("const",))
    if c.text in ("true", "false"):
        return BOOL
    if c.text in ("nullptr", "NULL"):
        return Type("void", 1)
    if isinstance(c.value, bool):
        return BOOL
    if re.fullmatch(r"-?(0x[0-9a-f]+|[0-9]+)[ul]*", text):
        suffix = re.search(r"[ul]*$", text).group(0)
        value = abs(int_literal_value(text))
        unsigned = "u" in suffix
        longs = suffix.count("l")
        if longs >= 2:
            return Type("unsigned long long" if unsigned else "long long")
        if longs == 1:
            return ULONG if unsigned else LONG
        hexish = text.startswith("0x") or (len(text) > 1 and text.startswith("0"))
        if unsigned:
            return UINT if value < 2 ** 32 else ULONG
        if value < 2 ** 31:
            return INT
        if hexish and value < 2 ** 32:
            return UINT
        return LONG
    if isinstance(c.value, float) or re.fullmatch(r"[0-9.e+-]+[fl]?", text):
        if text.endswith("f"):
            return FLOAT
        if text.endswith("l"):
            return Type("long double")
        return DOUBLE
    return None


def int_literal_value(text: str) -> int:
    """The value of an integer literal's text (``0x10u`` -> 16, ``-7`` -> -7, ``017`` -> 15)."""
    t = text.lower().replace("'", "")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("-").rstrip("ul")
    if t.startswith("0x"):
        return sign * int(t, 16)
    if len(t) > 1 and t.startswith("0"):
        return sign * int(t, 8)
    return sign * int(t)


def _eval_int(text: str, env: "TypeEnv"):
    """The value of an integer constant expression over literals and known constant macros, with C's
    truncating ``/`` and ``%``; None when it is anything else."""
    tokens = re.findall(r"0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|[A-Za-z_]\w*|<<|>>|[-+*/%()~&|^]|\S", text)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom():
        t = take() if peek() is not None else None
        if t is None:
            raise ValueError
        if t == "(":
            v = expr(0)
            if take() != ")":
                raise ValueError
            return v
        if t in ("-", "+", "~"):
            v = atom()
            return -v if t == "-" else v if t == "+" else ~v
        if re.fullmatch(r"0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*", t):
            return int_literal_value(t)
        var = env.lookup(t)
        if var is not None and var.kind == "macro" and isinstance(var.value, int):
            return var.value
        raise ValueError

    prec = {"|": 1, "^": 2, "&": 3, "<<": 4, ">>": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}

    def expr(level):
        left = atom()
        while peek() in prec and prec[peek()] > level:
            op = take()
            right = expr(prec[op])
            if op in ("/", "%"):
                if right == 0:
                    raise ValueError
                q = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
                left = q if op == "/" else left - q * right
            elif op in ("<<", ">>"):
                if right < 0 or right >= 63:
                    raise ValueError
                left = left << right if op == "<<" else left >> right
            else:
                left = {"+": left + right, "-": left - right, "*": left * right, "&": left & right,
                        "|": left | right, "^": left ^ right}[op]
        return left

    try:
        value = expr(0)
    except (ValueError, IndexError):
        return None
    if pos != len(tokens) or not -2 ** 63 <= value < 2 ** 63:
        return None
    return value


class ScalarsInScope:
    """The scalars declared in scope (locals and parameters; not file-scope names), as a name -> type
    mapping (``get(name)``): a counter is ``int`` in one loop nest and ``unsigned`` in another."""

    def __init__(self, env: "TypeEnv"):
        self.env = env

    def get(self, name: str) -> Type | None:
        var = self.env.lookup(name)
        return unqualified(var.type) if var is not None and not var.dims and var.kind in ("local", "param") else None
