"""``task-units``: the units of work a BANG kernel deals to its tasks in turn become one loop over the
units (on a GPU, one block per unit instead of one per task)."""

from __future__ import annotations

import numpy as np
import pytest

import xpiler
from xpiler import api, suite
from xpiler.passes.registry import pipeline

HEADER = """
#include <bang.h>
#define ROWS 45
#define COLS 64
"""

# Rows dealt to the 16 tasks of a UNION1 launch; each row staged through NRAM.
SCALE_ROWS = HEADER + """
__mlu_global__ void k(float *x, float *y) {
  __nram__ float row[COLS];
  for (int r = clusterId * 4 + coreId; r < ROWS; r += 16) {
    __memcpy(row, x + r * COLS, COLS * sizeof(float), GDRAM2NRAM);
    __bang_mul_scalar(row, row, 2.0f, COLS);
    __memcpy(y + r * COLS, row, COLS * sizeof(float), NRAM2GDRAM);
  }
}
"""


def lowered(src: str, *, units: bool, runnable: bool = False) -> str:
    """``src`` lowered to sequential C (as the BANG -> GPU pipeline does), then ``task-units``
    (``runnable``: with the definitions of the CNRT names its host entry uses)."""
    spec = api.default_pipeline("bang", "cuda", program=xpiler.parse(src, source="bang"))
    spec = spec[:spec.index(",forward-copies")] + (",task-units" if units else "") + (",c-prelude" if runnable else "")
    return xpiler.translate(src, source="bang", to="vnni", pipeline=spec)


def test_rows_dealt_to_the_tasks_are_one_loop_over_the_rows():
    code = lowered(SCALE_ROWS, units=True)
    assert "taskIdZ < taskDimZ" not in code
    assert "\n".join(line.strip() for line in code.splitlines()
                     if "for (" in line or "taskIdX =" in line or "float row" in line) == "\n".join([
        "for (int r = 0; r < ROWS; ++r) {",
        "unsigned taskIdX = (unsigned)(r % 16);",
        "float row[COLS];",                      # the task's buffer, now one per unit
        "for (int i = 0; i < COLS; ++i)",
        "for (int i = 0; i < COLS; ++i)",
        "for (int i = 0; i < COLS; ++i)",
    ])


def run_both(src: str, args: list, outputs: list[int]) -> None:
    results = []
    for units in (False, True):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        xpiler.run(lowered(src, units=units, runnable=True), copies, entry="k_kernel", lang="vnni")
        results.append([copies[k] for k in outputs])
    for before, after in zip(*results):
        np.testing.assert_array_equal(after, before)
    return results[1]


def test_the_flattened_program_computes_what_the_tasks_did():
    x = np.random.default_rng(0).standard_normal((45, 64)).astype(np.float32)
    y, = run_both(SCALE_ROWS, [x, np.full((45, 64), np.nan, np.float32)], [1])
    np.testing.assert_array_equal(y, 2 * x)


# Chunks: task t starts at t * CHUNK and strides by taskDim * CHUNK; the prologue preloads a table
# the units only read (so running it once per unit gives the same table).
CHUNKS = HEADER + """
#define CHUNK 128
__mlu_global__ void k(float *x, float *w, float *y, int n) {
  __nram__ float table[COLS];
  __nram__ float buf[CHUNK];
  __memcpy(table, w, COLS * sizeof(float), GDRAM2NRAM);
  for (int i = taskId * CHUNK; i < n; i += taskDim * CHUNK) {
    int len = n - i < CHUNK ? n - i : CHUNK;
    __memcpy(buf, x + i, len * sizeof(float), GDRAM2NRAM);
    for (int j = 0; j < len; ++j)
      buf[j] = buf[j] * table[j % COLS];
    __memcpy(y + i, buf, len * sizeof(float), NRAM2GDRAM);
  }
}
"""


def test_chunks_of_the_tasks_are_one_loop_over_the_chunks():
    code = lowered(CHUNKS, units=True)
    assert "for (int i = 0; i < n; i += 128) {" in code and "taskIdZ < taskDimZ" not in code
    rng = np.random.default_rng(1)
    n = 5000
    x, w = rng.standard_normal(n).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    y, = run_both(CHUNKS, [x, w, np.full(n, np.nan, np.float32), n], [2])
    np.testing.assert_array_equal(y, x * np.tile(w, n // 64 + 1)[:n])


# Blocks: task t takes rows 3t, 3t + 1, 3t + 2 (the last task none): the rows 0 .. 44 in order,
# the task the row's block.
BLOCKS = HEADER + """
__mlu_global__ void k(float *x, float *y) {
  int first = (clusterId * 4 + coreId) * 3;
  int last = first + 3 < ROWS ? first + 3 : ROWS;
  for (int r = first; r < last; ++r) {
    for (int j = 0; j < COLS; ++j)
      y[r * COLS + j] = x[r * COLS + j] + (float)coreId;
  }
}
"""


def test_blocks_of_the_tasks_are_one_loop_over_the_rows():
    code = lowered(BLOCKS, units=True)
    assert "for (int r = 0; r < 45; ++r) {" in code and "taskIdX = (unsigned)(r / 3);" in code
    assert "taskIdZ < taskDimZ" not in code
    x = np.random.default_rng(2).standard_normal((45, 64)).astype(np.float32)
    y, = run_both(BLOCKS, [x, np.full((45, 64), np.nan, np.float32)], [1])
    np.testing.assert_array_equal(y, x + (np.arange(45) // 3 % 4)[:, None].astype(np.float32))


# Each task's rows counted from 0 (``row = m0 + i``), the last task's fewer: a loop over the pairs
# (task, i), the rows a task does not have skipped.
PAIRS = HEADER + """
__mlu_global__ void k(float *x, float *y) {
  int m0 = (clusterId * 4 + coreId) * 3;
  int n = ROWS - m0 < 3 ? ROWS - m0 : 3;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < COLS; ++j)
      y[(m0 + i) * COLS + j] = x[(m0 + i) * COLS + j] * 2.0f;
  }
}
"""


def test_counted_units_of_every_task_are_one_loop_over_task_and_count():
    code = lowered(PAIRS, units=True)
    assert "for (int unit = 0; unit < 48; ++unit) {" in code and "int i = unit % 3;" in code
    assert "if (i < (n))" in code and "taskIdZ < taskDimZ" not in code
    x = np.random.default_rng(3).standard_normal((45, 64)).astype(np.float32)
    y, = run_both(PAIRS, [x, np.full((45, 64), np.nan, np.float32)], [1])
    np.testing.assert_array_equal(y, 2 * x)


# A task that returns early (lowered: a jump to the end of the task) does none of its units: each
# unit tests its task's condition.
EXITS = HEADER + """
__mlu_global__ void k(float *x, float *y, int busy) {
  int task = clusterId * 4 + coreId;
  if (task >= busy) return;
  for (int r = task; r < ROWS; r += 16)
    y[r] = x[r] * 2.0f;
}
"""


def test_a_task_returning_early_skips_its_units_in_the_flattened_loop():
    code = lowered(EXITS, units=True)
    assert "for (int r = 0; r < ROWS; ++r) {" in code and "if (!(task >= busy)) {" in code
    assert "goto" not in code and "taskIdZ < taskDimZ" not in code
    x = np.random.default_rng(4).standard_normal(45).astype(np.float32)
    y, = run_both(EXITS, [x, np.full(45, np.nan, np.float32), 10], [1])
    done = np.arange(45) % 16 < 10
    np.testing.assert_array_equal(y[done], 2 * x[done])
    assert np.isnan(y[~done]).all()


# Units (column tiles, two) that walk their row tiles: the row tiles of every unit are units too,
# however many rows there are (the count of row tiles is computed at run time).
TILES = HEADER + """
#define CT 32
__mlu_global__ void k(float *x, float *y, int rows) {
  __nram__ float blk[8 * CT];
  for (int u = clusterId * 4 + coreId; u < COLS / CT; u += 16) {
    int c0 = u * CT;
    for (int r0 = 0; r0 < rows; r0 += 8) {
      int rt = rows - r0 < 8 ? rows - r0 : 8;
      for (int i = 0; i < rt; ++i)
        for (int j = 0; j < CT; ++j)
          blk[i * CT + j] = x[(r0 + i) * COLS + c0 + j] * 2.0f;
      for (int i = 0; i < rt; ++i)
        for (int j = 0; j < CT; ++j)
          y[(r0 + i) * COLS + c0 + j] = blk[i * CT + j];
    }
  }
}
"""


def test_the_row_tiles_of_every_unit_are_units_too():
    code = lowered(TILES, units=True)
    assert "for (int u_1 = 0; u_1 < ((((rows) + 7) / 8) > 0 ? (COLS / CT) * (((rows) + 7) / 8) : 0); ++u_1) {" in code
    assert "int u = u_1 / (((rows) + 7) / 8);" in code and "int r0 = (u_1 % (((rows) + 7) / 8)) * 8;" in code
    x = np.random.default_rng(5).standard_normal((45, 64)).astype(np.float32)
    y, = run_both(TILES, [x, np.full((45, 64), np.nan, np.float32), 45], [1])
    np.testing.assert_array_equal(y, 2 * x)


# Balanced ranges sized at run time (mha, gemm_matmul_tiled): task t takes rows [r0, r1), the first
# rows % 16 tasks one row more; each row's scaled copy goes through a view of an NRAM tile.
RANGES = HEADER + """
__mlu_global__ void k(float *x, float *y, int rows) {
  __nram__ float tile[2 * COLS];
  int t = clusterId * 4 + coreId;
  int per = rows / taskDim, rem = rows % taskDim;
  int r0 = t * per + (t < rem ? t : rem);
  int r1 = r0 + per + (t < rem ? 1 : 0);
  for (int r = r0; r < r1; ++r) {
    float *half = tile + COLS;
    __memcpy(half, x + r * COLS, COLS * sizeof(float), GDRAM2NRAM);
    __bang_mul_scalar(half, half, 2.0f, COLS);
    __memcpy(y + r * COLS, half, COLS * sizeof(float), NRAM2GDRAM);
  }
}
"""


def test_balanced_ranges_sized_at_run_time_are_one_loop_over_the_rows():
    code = lowered(RANGES, units=True)
    assert "taskIdZ < taskDimZ" not in code and "taskIdX" not in code   # the unit's task is not needed
    # the first task's start to the last task's stop (proved to be every row once, by z3)
    assert "for (int r = (0 < rem ? 0 : rem); r < ((15 * per + (15 < rem ? 15 : rem)) + per + (15 < rem ? 1 : 0)); ++r) {" \
        in code
    assert "tile[COLS + i] = x[r * COLS + i];" in code   # the view read through its tile
    for rows in (45, 7, 0):
        x = np.random.default_rng(rows).standard_normal((max(rows, 1), 64)).astype(np.float32)
        y, = run_both(RANGES, [x, np.full((max(rows, 1), 64), np.nan, np.float32), rows], [1])
        np.testing.assert_array_equal(y[:rows], 2 * x[:rows])


# A task that reloads a buffer only when its unit's group changes (mha's K and V^T per head).
MEMO = HEADER + """
__mlu_global__ void k(float *x, float *y) {
  __nram__ float row[COLS];
  int loaded = -1;
  for (int r = clusterId * 4 + coreId; r < ROWS; r += 16) {
    int g = r / 4;
    if (g != loaded) {
      __memcpy(row, x + g * COLS, COLS * sizeof(float), GDRAM2NRAM);
      loaded = g;
    }
    __memcpy(y + r * COLS, row, COLS * sizeof(float), NRAM2GDRAM);
  }
}
"""


def test_a_buffer_loaded_once_per_group_is_loaded_by_every_unit():
    code = lowered(MEMO, units=True)
    assert "loaded" not in code and "for (int r = 0; r < ROWS; ++r) {" in code
    assert "\n".join(line.strip() for line in code[code.index("float row[COLS]"):].splitlines()[:5]) == "\n".join([
        "float row[COLS];",
        "int g = r / 4;",
        "{",                                            # the load, now unconditional
        "for (int i = 0; i < COLS; ++i)",
        "row[i] = x[g * COLS + i];",
    ])
    x = np.random.default_rng(3).standard_normal((12, 64)).astype(np.float32)
    y, = run_both(MEMO, [x, np.full((45, 64), np.nan, np.float32)], [1])
    np.testing.assert_array_equal(y, np.repeat(x, 4, axis=0)[:45])


# A row's argmax read back (softmax_rows): the index is 0 or a counter of the loop it took, so the
# read lies in the row the unit loaded.
ARGMAX = HEADER + """
__mlu_global__ void k(float *x, float *y) {
  __nram__ float row[COLS];
  for (int r = clusterId * 4 + coreId; r < ROWS; r += 16) {
    __memcpy(row, x + r * COLS, COLS * sizeof(float), GDRAM2NRAM);
    int m = 0;
    for (int i = 1; i < COLS; ++i)
      if (row[i] > row[m])
        m = i;
    y[r] = row[m];
  }
}
"""


# A helper inlined into the kernel (its body a block that ends the task) with the mode it is called
# with deciding which branch stages the row in the output buffer.
HELPER_MODE = HEADER + """
#define MODE_SCALE 0
#define MODE_SHIFT 1
__nram__ float row[COLS];
__nram__ float out[COLS];
__mlu_func__ void rows(float *x, float *y, int mode) {
  for (int r = clusterId * 4 + coreId; r < ROWS; r += 16) {
    __memcpy(row, x + r * COLS, COLS * sizeof(float), GDRAM2NRAM);
    if (mode == MODE_SCALE) {
      __bang_mul_scalar(out, row, 2.0f, COLS);
    } else {
      __bang_add_scalar(out, row, 1.0f, COLS);
    }
    __memcpy(y + r * COLS, out, COLS * sizeof(float), NRAM2GDRAM);
  }
}
__mlu_global__ void k(float *x, float *y) {
  rows(x, y, MODE_SCALE);
}
"""


def test_an_inlined_helper_whose_mode_picks_the_branch_is_one_loop_over_the_rows():
    code = lowered(HELPER_MODE, units=True)
    assert "taskIdZ < taskDimZ" not in code
    assert "for (int r_rows0 = 0; r_rows0 < ROWS; ++r_rows0) {" in code
    x = np.random.default_rng(7).standard_normal((45, 64)).astype(np.float32)
    y, = run_both(HELPER_MODE, [x, np.full((45, 64), np.nan, np.float32)], [1])
    np.testing.assert_array_equal(y, 2 * x)


def test_a_row_read_back_at_its_argmax_is_one_loop_over_the_rows():
    assert "for (int r = 0; r < ROWS; ++r) {" in lowered(ARGMAX, units=True)
    x = np.random.default_rng(4).standard_normal((45, 64)).astype(np.float32)
    y, = run_both(ARGMAX, [x, np.full(45, np.nan, np.float32)], [1])
    np.testing.assert_array_equal(y, x.max(axis=1))


# What a task carries from one unit to the next, or units that are not independent: unchanged.
KEPT = {
    "a scalar carried from one unit to the next (a cache of what is loaded)": """
__mlu_global__ void k(float *x, float *y) {
  __nram__ float row[COLS];
  int loaded = -1;
  for (int r = clusterId * 4 + coreId; r < ROWS; r += 16) {
    if (r / 4 != loaded) {
      __memcpy(row, x + (r / 4) * COLS, COLS * sizeof(float), GDRAM2NRAM);
      loaded = r / 4;
    }
    __memcpy(y + r * COLS, row, COLS * sizeof(float), NRAM2GDRAM);
  }
}""",
    "a memo of a load that reads what the units write (a load is not a function of its key)":
        MEMO[len(HEADER):].replace("__memcpy(row, x + g * COLS", "__memcpy(row, y + g * COLS"),
    "an argmax index changed through its address (it may leave the row)":
        ARGMAX[len(HEADER):].replace("    y[r] = row[m];", "    ((char *)&m)[1] = 1;\n    y[r] = row[m];"),
    "balanced ranges one row too long (the tasks' ranges overlap)": """
__mlu_global__ void k(float *x, float *y, int rows) {
  int t = clusterId * 4 + coreId;
  int per = rows / taskDim, rem = rows % taskDim;
  int r0 = t * per + (t < rem ? t : rem);
  for (int r = r0; r < r0 + per + 1; ++r)
    y[r] = x[r] * 2.0f;
}""",
    "balanced ranges compared with the unsigned taskId (C compares rem as unsigned)": """
__mlu_global__ void k(float *x, float *y, int rows) {
  int per = rows / taskDim, rem = rows % taskDim;
  int r0 = taskId * per + (taskId < rem ? taskId : rem);
  for (int r = r0; r < r0 + per + (taskId < rem ? 1 : 0); ++r)
    y[r] = x[r] * 2.0f;
}""",
    "a buffer the units read before they write it (a running sum over a task's rows)": """
__mlu_global__ void k(float *x, float *y) {
  __nram__ float acc[COLS];
  __nram__ float row[COLS];
  __bang_write_zero(acc, COLS);
  for (int r = clusterId * 4 + coreId; r < ROWS; r += 16) {
    __memcpy(row, x + r * COLS, COLS * sizeof(float), GDRAM2NRAM);
    __bang_add(acc, acc, row, COLS);
    __memcpy(y + r * COLS, acc, COLS * sizeof(float), NRAM2GDRAM);
  }
}""",
    "a buffer only partly written before a read of all of it": """
__mlu_global__ void k(float *x, float *y) {
  __nram__ float row[COLS];
  for (int r = clusterId * 4 + coreId; r < ROWS; r += 16) {
    __memcpy(row, x + r * COLS, (COLS / 2) * sizeof(float), GDRAM2NRAM);
    __memcpy(y + r * COLS, row, COLS * sizeof(float), NRAM2GDRAM);
  }
}""",
    "a prologue heavier than a unit (column sums computed once per task, then stored element by "
    "element: flattened, every element would compute all of them)": """
__mlu_global__ void k(float *x, float *y) {
  __nram__ float row[COLS];
  int t = clusterId * 4 + coreId;
  for (int j = 0; j < COLS; ++j) {
    float s = 0.0f;
    for (int r = 0; r < ROWS; ++r)
      s += x[r * COLS + j];
    row[j] = s;
  }
  for (int j = 0; j < COLS; ++j)
    y[t * COLS + j] = row[j] * (float)t;
}""",
    "units whose start the launch does not decide (an offset passed at run time)": """
__mlu_global__ void k(float *x, float *y, int off) {
  for (int r = coreId + off; r < ROWS; r += 16)
    y[r] = x[r] * 2.0f;
}""",
    "units of one task that write the same element": """
__mlu_global__ void k(float *x, float *y) {
  for (int r = clusterId * 4 + coreId; r < ROWS; r += 16)
    y[(clusterId * 4 + coreId) % 8] += x[r];
}""",
}


@pytest.mark.parametrize("why", KEPT)
def test_what_a_task_keeps_across_its_units_or_dependent_units_stay(why):
    src = HEADER + KEPT[why]
    assert lowered(src, units=True) == lowered(src, units=False)


def test_bang_maxpool_to_cuda_has_a_block_per_output_row():
    entry = [e for e in suite.entries("bang") if e.file == "maxpool.mlu"][0]
    code = xpiler.translate(entry.source, to="cuda", source="bang", launch=entry.launch)
    assert "__xp_b < (H / 2); __xp_b += gridDim.x" in code and "taskIdX" not in code  # 16 blocks before
    outcome = suite.check_program(entry, "cuda", src=code)
    assert outcome.passed, [o for o in outcome.outputs if not o.ok][:1]


def test_the_pass_is_registered_and_in_the_default_bang_to_gpu_pipeline():
    assert [str(p) for p in pipeline("task-units")] == ["task-units"]
    tr = xpiler.translate_with_trace(SCALE_ROWS, source="bang", to="cuda")
    assert tr.pipeline.split(",")[-8:-5] == ["forward-copies{larger_than=49152}", "task-units", "contract-temporaries"]
