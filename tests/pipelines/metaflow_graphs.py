"""Metaflow's core test graphs, written as Metaflow flows.

Each class is one graph of ``test/core/graphs/*.json`` in Netflix/metaflow (the file name
is in its docstring), with the steps Metaflow's own tests put on it
(``test/core/tests/merge_artifacts.py``, ``basic_foreach.py``, ``wide_foreach.py``,
``nested_foreach.py``, ``switch_*.py``, ``*_in_switch.py``, ``recursive_switch*.py``).
They are written as a Metaflow user writes them; the only change is the import line
(``from metaflow import FlowSpec, Parameter, current, step``, and the exceptions of
``metaflow.exception``). ``test_metaflow_graphs.py`` runs them and checks what each must
produce. A module, so that worker processes can import the classes.

Not ported: ``parallel.json`` (``num_parallel=`` and ``@parallel`` start a gang of
multi-node tasks, which archivist does not have).
"""

from __future__ import annotations

from archivist import FlowSpec, Parameter, current, step
from archivist.errors import InvalidFlowError, InvalidInputError, MergeConflictError

# -- the merge_artifacts rules of Metaflow's MergeArtifactsTest, on every graph with a join


def set_merge_values(flow):
    """``start``: what the joins later merge, keep or must resolve."""
    flow.non_modified_passdown = "a"
    flow.modified_to_same_value = "b"
    flow.manual_merge_required = "c"
    flow.ignore_me = "d"


def modify_merge_values(flow):
    """A step inside a fan-out: values that differ per task, one that is the same in all.

    (Metaflow's test uses ``current.task_id``, unique in a run there; archivist numbers
    tasks within their step, so the task's ``current.pathspec`` is what differs.)"""
    flow.manual_merge_required = current.pathspec
    flow.ignore_me = current.pathspec
    flow.modified_to_same_value = "e"
    assert flow.non_modified_passdown == "a"


def merge_things(flow, inputs, exclude=()):
    """A join: the failing merges change nothing; the join's own value wins. ``exclude``:
    the flow's own per-branch attributes, which the join has read."""
    try:
        flow.merge_artifacts(inputs)
    except MergeConflictError:
        pass
    else:
        raise AssertionError("merge_artifacts merged values that differ between branches")
    assert not hasattr(flow, "non_modified_passdown")
    assert not hasattr(flow, "manual_merge_required")
    try:
        flow.merge_artifacts(inputs, exclude=["ignore_me"], include=["non_modified_passdown"])
    except InvalidInputError:
        pass
    else:
        raise AssertionError("merge_artifacts took include= and exclude= together")
    assert not hasattr(flow, "non_modified_passdown")
    flow.manual_merge_required = current.pathspec
    flow.merge_artifacts(inputs, exclude=["ignore_me", *exclude])
    assert flow.non_modified_passdown == "a"
    assert flow.modified_to_same_value == "e"
    assert flow.manual_merge_required == current.pathspec
    assert not hasattr(flow, "ignore_me")


def check_merged_at_end(flow):
    """``end``: not a join, so ``merge_artifacts`` is refused; every value made it."""
    try:
        flow.merge_artifacts([])
    except InvalidFlowError:
        pass
    else:
        raise AssertionError("merge_artifacts worked in a step that is not a join")
    assert flow.non_modified_passdown == "a"
    assert flow.modified_to_same_value == "e"
    assert hasattr(flow, "manual_merge_required")


# -- linear.json, branch.json, nested_branches.json ---------------------------------------


class LinearGraphFlow(FlowSpec):
    """linear.json: start -> a -> end."""

    @step
    def start(self):
        self.data = "start"
        self.numbers = [1, 2, 3]
        self.next(self.a)

    @step
    def a(self):
        assert self.data == "start"
        self.data = "a"
        self.total = sum(self.numbers)
        self.next(self.end)

    @step
    def end(self):
        assert self.data == "a" and self.total == 6


class BranchGraphFlow(FlowSpec):
    """branch.json: start splits into a and b, which join."""

    @step
    def start(self):
        set_merge_values(self)
        self.next(self.a, self.b)

    @step
    def a(self):
        modify_merge_values(self)
        self.side = "a"
        self.next(self.join)

    @step
    def b(self):
        modify_merge_values(self)
        self.side = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sides = [inputs.a.side, inputs.b.side]
        merge_things(self, inputs, exclude=["side"])
        self.next(self.end)

    @step
    def end(self):
        check_merged_at_end(self)


class NestedBranchesGraphFlow(FlowSpec):
    """nested_branches.json: three levels of two-way splits, joined level by level."""

    @step
    def start(self):
        set_merge_values(self)
        self.path = ""
        self.next(self.a, self.b)

    @step
    def a(self):
        self.path += "a"
        self.next(self.aa, self.ab)

    @step
    def b(self):
        self.path += "b"
        self.next(self.ba, self.bb)

    @step
    def aa(self):
        self.path += "a"
        self.next(self.aaa, self.aab)

    @step
    def ab(self):
        self.path += "b"
        self.next(self.aba, self.abb)

    @step
    def ba(self):
        self.path += "a"
        self.next(self.baa, self.bab)

    @step
    def bb(self):
        self.path += "b"
        self.next(self.bba, self.bbb)

    @step
    def aaa(self):
        modify_merge_values(self)
        self.leaf = self.path + "a"
        self.next(self.aaa_aab_join)

    @step
    def aab(self):
        modify_merge_values(self)
        self.leaf = self.path + "b"
        self.next(self.aaa_aab_join)

    @step
    def aba(self):
        modify_merge_values(self)
        self.leaf = self.path + "a"
        self.next(self.aba_abb_join)

    @step
    def abb(self):
        modify_merge_values(self)
        self.leaf = self.path + "b"
        self.next(self.aba_abb_join)

    @step
    def baa(self):
        modify_merge_values(self)
        self.leaf = self.path + "a"
        self.next(self.baa_bab_join)

    @step
    def bab(self):
        modify_merge_values(self)
        self.leaf = self.path + "b"
        self.next(self.baa_bab_join)

    @step
    def bba(self):
        modify_merge_values(self)
        self.leaf = self.path + "a"
        self.next(self.bba_bbb_join)

    @step
    def bbb(self):
        modify_merge_values(self)
        self.leaf = self.path + "b"
        self.next(self.bba_bbb_join)

    @step
    def aaa_aab_join(self, inputs):
        self.leaves = [i.leaf for i in inputs]
        merge_things(self, inputs, exclude=["leaf"])
        self.next(self.aa_ab_join)

    @step
    def aba_abb_join(self, inputs):
        self.leaves = [i.leaf for i in inputs]
        merge_things(self, inputs, exclude=["leaf"])
        self.next(self.aa_ab_join)

    @step
    def baa_bab_join(self, inputs):
        self.leaves = [i.leaf for i in inputs]
        merge_things(self, inputs, exclude=["leaf"])
        self.next(self.ba_bb_join)

    @step
    def bba_bbb_join(self, inputs):
        self.leaves = [i.leaf for i in inputs]
        merge_things(self, inputs, exclude=["leaf"])
        self.next(self.ba_bb_join)

    @step
    def aa_ab_join(self, inputs):
        self.leaves = [leaf for i in inputs for leaf in i.leaves]
        merge_things(self, inputs, exclude=["path"])
        self.next(self.a_b_join)

    @step
    def ba_bb_join(self, inputs):
        self.leaves = [leaf for i in inputs for leaf in i.leaves]
        merge_things(self, inputs, exclude=["path"])
        self.next(self.a_b_join)

    @step
    def a_b_join(self, inputs):
        self.leaves = [leaf for i in inputs for leaf in i.leaves]
        merge_things(self, inputs, exclude=["path"])
        self.next(self.end)

    @step
    def end(self):
        check_merged_at_end(self)


# -- foreach.json, small_foreach.json, wide_foreach (small_foreach.json), nested_foreach.json

#: Non-monotonic, as in Metaflow's BasicForeachTest: catches join-ordering bugs.
FOREACH_ITEMS = [26, 5, 10, 15, 25, 11, 22, 6, 19, 12, 16, 9, 28, 14, 24, 20, 30, 1, 13, 18,
                 2, 17, 21, 3, 29, 4, 27, 31, 8, 23, 0, 7]


class ForeachGraphFlow(FlowSpec):
    """foreach.json: a foreach over two inner steps; self.index stays the same along."""

    @step
    def start(self):
        set_merge_values(self)
        self.next(self.foreach_split)

    @step
    def foreach_split(self):
        self.my_index = None
        self.arr = FOREACH_ITEMS
        self.next(self.foreach_inner_first, foreach="arr")

    @step
    def foreach_inner_first(self):
        self.my_index = self.index
        assert self.input == self.arr[self.index]
        modify_merge_values(self)
        self.next(self.foreach_inner_second)

    @step
    def foreach_inner_second(self):
        assert self.my_index == self.index
        assert self.input == self.arr[self.index]
        self.my_input = self.input
        self.next(self.foreach_join)

    @step
    def foreach_join(self, inputs):
        self.got = [i.my_input for i in inputs]
        assert self.got == FOREACH_ITEMS
        merge_things(self, inputs, exclude=["my_index", "my_input"])
        self.next(self.end)

    @step
    def end(self):
        check_merged_at_end(self)


class SmallForeachGraphFlow(FlowSpec):
    """small_foreach.json: start -> foreach_split -> foreach_inner -> foreach_join -> end."""

    @step
    def start(self):
        set_merge_values(self)
        self.next(self.foreach_split)

    @step
    def foreach_split(self):
        self.arr = [1, 2, 3]
        self.next(self.foreach_inner, foreach="arr")

    @step
    def foreach_inner(self):
        modify_merge_values(self)
        self.square = self.input * self.input
        self.next(self.foreach_join)

    @step
    def foreach_join(self, inputs):
        self.squares = [i.square for i in inputs]
        merge_things(self, inputs, exclude=["square"])
        self.next(self.end)

    @step
    def end(self):
        check_merged_at_end(self)


class WideForeachGraphFlow(FlowSpec):
    """small_foreach.json with Metaflow's WideForeachTest: 1,200 tasks by default."""

    width = Parameter("width", default=1200)

    @step
    def start(self):
        self.next(self.foreach_split)

    @step
    def foreach_split(self):
        self.my_index = None
        self.arr = range(self.width)
        self.next(self.foreach_inner, foreach="arr")

    @step
    def foreach_inner(self):
        self.my_input = self.input
        self.next(self.foreach_join)

    @step
    def foreach_join(self, inputs):
        got = [i.my_input for i in inputs]
        assert got == list(range(self.width))
        self.count = len(got)
        self.next(self.end)

    @step
    def end(self):
        pass


class NestedForeachGraphFlow(FlowSpec):
    """nested_foreach.json: foreaches over 'abc', 'de' and 'fghijk' (36 inner tasks)."""

    @step
    def start(self):
        self.next(self.foreach_split_x)

    @step
    def foreach_split_x(self):
        self.x = "abc"
        self.next(self.foreach_split_y, foreach="x")

    @step
    def foreach_split_y(self):
        self.y = "de"
        self.next(self.foreach_split_z, foreach="y")

    @step
    def foreach_split_z(self):
        self.z = "fghijk"
        self.next(self.foreach_inner, foreach="z")

    @step
    def foreach_inner(self):
        [x, y, z] = self.foreach_stack()
        assert len(self.x) == x[1] and len(self.y) == y[1] and len(self.z) == z[1]
        assert x[2] == self.x[x[0]] and y[2] == self.y[y[0]] and z[2] == self.z[z[0]]
        self.combo = x[2] + y[2] + z[2]
        self.next(self.foreach_join_z)

    @step
    def foreach_join_z(self, inputs):
        self.combos = [i.combo for i in inputs]
        self.next(self.foreach_join_y)

    @step
    def foreach_join_y(self, inputs):
        self.combos = [c for i in inputs for c in i.combos]
        self.next(self.foreach_join_x)

    @step
    def foreach_join_x(self, inputs):
        self.combos = [c for i in inputs for c in i.combos]
        self.next(self.end)

    @step
    def end(self):
        pass


# -- the switch graphs ---------------------------------------------------------------------


class SwitchBasicGraphFlow(FlowSpec):
    """switch_basic.json: switch_step goes to one of a, b, c; all three lead to end."""

    condition = Parameter("condition", default="case2")

    @step
    def start(self):
        self.next(self.switch_step)

    @step
    def switch_step(self):
        self.next({"case1": self.a, "case2": self.b, "case3": self.c}, condition="condition")

    @step
    def a(self):
        self.result = "Path A taken"
        self.next(self.end)

    @step
    def b(self):
        self.result = "Path B taken"
        self.next(self.end)

    @step
    def c(self):
        self.result = "Path C taken"
        self.next(self.end)

    @step
    def end(self):
        assert self.result in ("Path A taken", "Path B taken", "Path C taken")


class SwitchNestedGraphFlow(FlowSpec):
    """switch_nested.json: a switch whose first case is another switch."""

    @step
    def start(self):
        self.condition1 = "case1"
        self.condition2 = "case2_2"
        self.next({"case1": self.switch2, "case2": self.b}, condition="condition1")

    @step
    def switch2(self):
        self.next({"case2_1": self.c, "case2_2": self.d}, condition="condition2")

    @step
    def b(self):
        self.result = "Direct path B"
        self.next(self.end)

    @step
    def c(self):
        self.result = "Nested path C"
        self.next(self.end)

    @step
    def d(self):
        self.result = "Nested path D"
        self.next(self.end)

    @step
    def end(self):
        assert self.result == "Nested path D"


class SwitchInBranchGraphFlow(FlowSpec):
    """switch_in_branch.json: branch a switches to c or d; the join gets b and one of them."""

    @step
    def start(self):
        self.condition = "case1"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next({"case1": self.c, "case2": self.d}, condition="condition")

    @step
    def b(self):
        self.data = "from_b"
        self.next(self.join)

    @step
    def c(self):
        self.data = "from_a_c"
        self.next(self.join)

    @step
    def d(self):
        self.data = "from_a_d"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.final_data = sorted([inp.data for inp in inputs])
        self.next(self.end)

    @step
    def end(self):
        assert self.final_data == ["from_a_c", "from_b"]


class SwitchInForeachGraphFlow(FlowSpec):
    """switch_in_foreach.json: each foreach task switches on its item's type."""

    @step
    def start(self):
        self.items = [
            {"id": 1, "type": "type_a", "data": 100},
            {"id": 2, "type": "type_b", "data": 200},
            {"id": 3, "type": "type_a", "data": 300},
        ]
        self.next(self.process_item, foreach="items")

    @step
    def process_item(self):
        self.item_type = self.input["type"]
        self.next({"type_a": self.handle_a, "type_b": self.handle_b}, condition="item_type")

    @step
    def handle_a(self):
        self.result = f"A({self.input['data'] * 2})"
        self.next(self.join)

    @step
    def handle_b(self):
        self.result = f"B({self.input['data'] / 2.0})"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = sorted([inp.result for inp in inputs])
        self.in_order = [inp.result for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        assert self.results == ["A(200)", "A(600)", "B(100.0)"]


class BranchInSwitchGraphFlow(FlowSpec):
    """branch_in_switch.json: one case splits and joins, the other skips; both reach end."""

    mode = Parameter("mode", default="process")

    @step
    def start(self):
        self.next({"process": self.process_branch, "skip": self.skip_path}, condition="mode")

    @step
    def process_branch(self):
        self.next(self.p1, self.p2)

    @step
    def p1(self):
        self.result = "p1_done"
        self.next(self.process_join)

    @step
    def p2(self):
        self.result = "p2_done"
        self.next(self.process_join)

    @step
    def process_join(self, inputs):
        self.final_data = sorted([inp.result for inp in inputs])
        self.final_result = "Processed"
        self.next(self.end)

    @step
    def skip_path(self):
        self.final_data = []
        self.final_result = "Skipped"
        self.next(self.end)

    @step
    def end(self):
        if self.mode == "process":
            assert self.final_data == ["p1_done", "p2_done"]
            assert self.final_result == "Processed"
        else:
            assert self.final_result == "Skipped"


class ForeachInSwitchGraphFlow(FlowSpec):
    """foreach_in_switch.json: one case is a foreach (and its join), the other skips."""

    @step
    def start(self):
        self.mode = "process"
        self.next({"process": self.process_items, "skip": self.skip_processing},
                  condition="mode")

    @step
    def process_items(self):
        self.items_to_process = ["item_1", "item_2"]
        self.next(self.do_work, foreach="items_to_process")

    @step
    def do_work(self):
        self.work_result = f"Processed {self.input}"
        self.next(self.join_work)

    @step
    def join_work(self, inputs):
        self.final_result = sorted([inp.work_result for inp in inputs])
        self.next(self.end)

    @step
    def skip_processing(self):
        self.final_result = "Skipped"
        self.next(self.end)

    @step
    def end(self):
        assert self.final_result == ["Processed item_1", "Processed item_2"]


class RecursiveSwitchGraphFlow(FlowSpec):
    """recursive_switch.json: loop_step runs again while its condition says "continue".

    ``fail_at`` (not in Metaflow's test, which raises ResumeFromHere the same way) makes
    the iteration with that count fail, to resume from it."""

    fail_at = Parameter("fail_at", default=0)

    @step
    def start(self):
        self.count = 0
        self.max_iterations = 10
        self.next(self.loop_step)

    @step
    def loop_step(self):
        self.count += 1
        if self.count == self.fail_at and current.origin_run_id is None:
            raise RuntimeError(f"failing at iteration {self.count}")
        self.loop_status = "continue" if self.count < self.max_iterations else "exit"
        self.next({"continue": self.loop_step, "exit": self.exit_loop}, condition="loop_status")

    @step
    def exit_loop(self):
        assert self.count == 10
        self.next(self.end)

    @step
    def end(self):
        assert self.count == 10


class RecursiveSwitchInsideForeachGraphFlow(FlowSpec):
    """recursive_switch_inside_foreach.json: each foreach task loops its own number of
    times."""

    @step
    def start(self):
        self.items = [
            {"id": "A", "iterations": 3},
            {"id": "B", "iterations": 5},
            {"id": "C", "iterations": 2},
        ]
        self.next(self.start_loop_for_item, foreach="items")

    @step
    def start_loop_for_item(self):
        self.item_id = self.input["id"]
        self.max_loops = self.input["iterations"]
        self.item_loop_count = 0
        self.next(self.loop_body)

    @step
    def loop_body(self):
        self.item_loop_count += 1
        self.should_continue = str(self.item_loop_count < self.max_loops)
        self.next({"True": self.loop_body, "False": self.exit_item_loop},
                  condition="should_continue")

    @step
    def exit_item_loop(self):
        assert self.max_loops == self.item_loop_count
        self.result = f"Item {self.item_id} finished after {self.item_loop_count} iterations."
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = sorted([inp.result for inp in inputs])
        self.next(self.end)

    @step
    def end(self):
        pass
