"""The z3 solver behind every analysis: its answers depend on the assertions and a resource limit,
never on the clock (xpiler/ir/smt.py says why)."""

import ast
import pathlib

import z3

import xpiler
from xpiler.ir import smt

ROOT = pathlib.Path(xpiler.__file__).resolve().parent.parent


def last_row_claim(ctx):
    """Negation of "row i < m of an n-wide matrix ends inside it": unsat, and nonlinear."""
    i, j, n, m = z3.Ints("i j n m", ctx)
    return [n >= 1, m >= 1, i >= 0, i < m, j >= 0, j < n, z3.Not(i * n + j < n * m)]


def test_a_query_costs_the_same_resources_in_every_context():
    outcomes = set()
    for _ in range(3):
        ctx = z3.Context()
        s = smt.solver(ctx)
        s.set("rlimit", 1_000_000)
        s.add(*last_row_claim(ctx))
        outcomes.add((str(s.check()), s.statistics().get_key_value("rlimit count")))
    [(result, _count)] = outcomes
    assert result == "unsat"


def test_a_spent_resource_limit_is_unknown_not_an_answer():
    ctx = z3.Context()
    x, y, z = z3.Ints("x y z", ctx)
    s = smt.solver(ctx)
    s.set("rlimit", 1000)
    s.add(x >= 1, y >= 1, z >= 1, x * x * y - 7 * y * y + 3 * x == 4 * z * z * z + 1)
    assert s.check() == z3.unknown
    assert s.reason_unknown() == "canceled"


def test_no_analysis_builds_a_solver_of_its_own():
    # z3.Solver() and SolverFor("QF_NIA") run z3's nonlinear strategy, whose SMT core has two seconds
    # of wall time before nlsat takes over: an analysis using them answers by the machine's load
    offenders = []
    for path in sorted([*(ROOT / "xpiler").rglob("*.py"), *(ROOT / "synth").rglob("*.py"),
                        *(ROOT / "passes").rglob("*.py")]):
        if path.name == "smt.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "z3" and \
                    node.func.attr in ("Solver", "SolverFor", "SimpleSolver"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: z3.{node.func.attr}")
    assert offenders == []
